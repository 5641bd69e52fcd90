"""Published reference numbers, each with the protocol it was measured on.

The numbers live in ``references.yaml`` beside this module (transcribed from the project's
REFERENCES.md). For Matbench tasks, the leaderboard file of the data mirror
(``materials/matbench/leaderboard_matbench_v0.1.csv``) is read at report time when the mirror is
available (``SCIPTM_DATA_MIRROR``); it is never copied into the package.

A reference is comparable with our result only when both protocol ids are equal;
:func:`compare` marks every other one "different protocol".

Example
-------
>>> from sciptm.reports.references import load_references, references_for
>>> refs = references_for("esol", load_references())
>>> sorted({r.protocol for r in refs})[:2]
['chemprop-scaffold_balanced-811-3rep', 'deepchem-scaffold-811']
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sciptm.data.integrity import verify_file
from sciptm.data.locations import mirror_dir

REFERENCES_FILE = Path(__file__).with_name("references.yaml")
FIELDS = ("chem", "protein", "materials")
METRICS = ("rmse", "mae", "mse", "roc_auc", "spearman", "accuracy")
MATBENCH_PROTOCOL = "matbench-v0.1-5fold"
LEADERBOARD_PATH = "materials/matbench/leaderboard_matbench_v0.1.csv"
LEADERBOARD_SHA256 = "9a0418cc65fd955a42f1ea9148fc38e1f35135076f0b7abaa85cd777971ef9b1"
LEADERBOARD_SOURCE = "Matbench v0.1 leaderboard (data mirror: leaderboard_matbench_v0.1.csv)"
LEADERBOARD_BASELINES = ("RF-SCM/Magpie", "Dummy")
FORMULA_SUFFIX = "_formula"

_REQUIRED = ("field", "task", "model", "metric", "value", "protocol", "source")
_OPTIONAL = ("std", "note")


@dataclass(frozen=True)
class Reference:
    """One published number.

    Attributes
    ----------
    field, task, model, metric:
        ``task`` is a sciptm dataset name; ``metric`` a :mod:`sciptm.metrics` name
        (ROC-AUC as 0-1).
    value, std:
        The number and its spread (``None`` when the source gives none).
    protocol, protocol_text:
        Protocol id (compared with the results' ``protocol.id``) and its description.
    source, note:
        Where the number comes from, and caveats such as ``"unconfirmed"``.
    """

    field: str
    task: str
    model: str
    metric: str
    value: float
    protocol: str
    protocol_text: str
    source: str
    std: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    """A reference set beside one of our results.

    ``same_protocol`` is ``protocol == ours``; ``remarks`` lists "different protocol",
    "different metric" and input caveats, empty when the numbers are directly comparable.
    """

    reference: Reference
    same_protocol: bool
    same_metric: bool
    remarks: tuple[str, ...]


def _number(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: {key} must be a finite number, got {value!r}")
    return float(value)


def _parse_entry(i: int, raw: Any, protocols: dict[str, str]) -> Reference:
    where = f"references.yaml entry {i}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(raw).__name__}")
    missing = [k for k in _REQUIRED if k not in raw]
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if missing or unknown:
        raise ValueError(f"{where}: missing keys {missing}, unknown keys {unknown}")
    if raw["field"] not in FIELDS:
        raise ValueError(f"{where}: field must be one of {FIELDS}, got {raw['field']!r}")
    if raw["metric"] not in METRICS:
        raise ValueError(f"{where}: metric must be one of {METRICS}, got {raw['metric']!r}")
    if raw["protocol"] not in protocols:
        raise ValueError(f"{where}: protocol {raw['protocol']!r} is not defined under 'protocols'")
    value = _number(where, "value", raw["value"])
    if raw["metric"] in ("roc_auc", "accuracy") and not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}: {raw['metric']} must be in [0, 1] (divide x100 numbers by 100), got {value}")
    std = _number(where, "std", raw["std"]) if raw.get("std") is not None else None
    return Reference(field=raw["field"], task=str(raw["task"]), model=str(raw["model"]), metric=raw["metric"],
                     value=value, protocol=raw["protocol"], protocol_text=protocols[raw["protocol"]],
                     source=str(raw["source"]), std=std, note=str(raw.get("note") or ""))


def load_references(path: str | Path | None = None) -> list[Reference]:
    """Read and validate a references YAML file (default: the packaged ``references.yaml``).

    Raises
    ------
    ValueError
        naming the entry and the problem (missing key, unknown protocol, ROC-AUC above 1...).

    Example
    -------
    >>> refs = load_references()
    >>> min(r.value for r in refs if r.metric == "roc_auc") > 0.5
    True
    """
    raw = yaml.safe_load(Path(path or REFERENCES_FILE).read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get("protocols"), dict) or not isinstance(
            raw.get("references"), list):
        raise ValueError("references file must hold a 'protocols' mapping and a 'references' list")
    protocols = {str(k): " ".join(str(v).split()) for k, v in raw["protocols"].items()}
    return [_parse_entry(i, entry, protocols) for i, entry in enumerate(raw["references"])]


def leaderboard_file(mirror: str | Path | None = None) -> Path | None:
    """The Matbench leaderboard CSV in the data mirror, or ``None`` when no mirror has it."""
    root = Path(mirror) if mirror is not None else mirror_dir()
    if root is None:
        return None
    path = root / LEADERBOARD_PATH
    return path if path.is_file() else None


def matbench_leaderboard(mirror: str | Path | None = None, *, top: int = 5) -> list[Reference]:
    """Matbench v0.1 leaderboard rows from the data mirror: the ``top`` best per task plus the
    RF-SCM/Magpie and Dummy baselines. Empty when the mirror (or the file) is absent.

    Raises
    ------
    DataIntegrityError
        when the file's SHA-256 differs from the pinned one.

    Example
    -------
    >>> rows = matbench_leaderboard()  # doctest: +SKIP
    >>> rows[0].task, rows[0].model, rows[0].value  # doctest: +SKIP
    ('matbench_dielectric', 'MODNet (v0.1.12)', 0.2711)
    """
    path = leaderboard_file(mirror)
    if path is None:
        return []
    verify_file(path, (LEADERBOARD_SHA256,))
    df = pd.read_csv(path)
    df["metric"] = df["metric"].replace({"rocauc": "roc_auc"})  # the leaderboard's spelling -> sciptm's
    protocol_text = next(r.protocol_text for r in load_references() if r.protocol == MATBENCH_PROTOCOL)
    out: list[Reference] = []
    for task, group in df.groupby("task", sort=True):
        greater = group["metric"].iloc[0] == "roc_auc"
        group = group.sort_values("mean", ascending=not greater)
        keep = pd.concat([group.head(top), group[group["algorithm"].isin(LEADERBOARD_BASELINES)]])
        for row in keep.drop_duplicates("algorithm").itertuples(index=False):
            out.append(Reference(field="materials", task=str(task), model=str(row.algorithm), metric=str(row.metric),
                                 value=float(row.mean), std=float(row.std), protocol=MATBENCH_PROTOCOL,
                                 protocol_text=protocol_text, source=LEADERBOARD_SOURCE,
                                 note="mean +- std over 5 folds" + (
                                     "; models that submitted labels score balanced accuracy here"
                                     if row.metric == "roc_auc" else "")))
    return out


def all_references(mirror: str | Path | None = None) -> list[Reference]:
    """The packaged references, with the transcribed Matbench entries replaced by the mirror's
    leaderboard for every task the leaderboard covers (when the mirror is available)."""
    refs = load_references()
    board = matbench_leaderboard(mirror)
    covered = {r.task for r in board}
    return [r for r in refs if not (r.protocol == MATBENCH_PROTOCOL and r.task in covered)] + board


def references_for(task: str, references: Sequence[Reference], field: str | None = None) -> list[Reference]:
    """References for a sciptm task; ``<matbench task>_formula`` also gets its structure task's.

    >>> [r.model for r in references_for("hiv", load_references())]
    ['ECFP + RF', 'Chemprop v2']
    """
    base = task[: -len(FORMULA_SUFFIX)] if task.startswith("matbench_") and task.endswith(FORMULA_SUFFIX) else task
    return [r for r in references if r.task in (task, base) and (field is None or r.field == field)]


def fold_remark(task: str, protocol_id: str, n_runs: int) -> str:
    """The remark for one of our rows that averages fewer Matbench folds than the leaderboard's five
    (a ``--quick`` run scores fold 0 alone); ``""`` otherwise.

    >>> fold_remark("matbench_steels", MATBENCH_PROTOCOL, 1)
    'ours: 1 of 5 folds; the leaderboard values are means over all 5, not directly comparable'
    """
    if protocol_id != MATBENCH_PROTOCOL or not task.startswith("matbench_") or n_runs >= 5:
        return ""
    return (f"ours: {n_runs} of 5 folds; the leaderboard values are means over all 5, not directly "
            "comparable")


def compare(task: str, references: Sequence[Reference], protocol_id: str, metric: str) -> list[Comparison]:
    """Each reference of ``task`` with remarks on how it differs from our protocol and metric.

    >>> refs = load_references()
    >>> [c.remarks for c in compare("hiv", refs, "deepchem-scaffold-811", "roc_auc")]
    [(), ('different protocol',)]
    """
    out = []
    for ref in references_for(task, references):
        remarks = []
        same_protocol = ref.protocol == protocol_id
        same_metric = ref.metric == metric
        if not same_protocol:
            remarks.append("different protocol")
        if not same_metric:
            remarks.append("different metric")
        if ref.task != task:
            remarks.append(f"reference is {ref.task} (crystal structures); ours uses formulas only")
        out.append(Comparison(ref, same_protocol, same_metric, tuple(remarks)))
    return out
