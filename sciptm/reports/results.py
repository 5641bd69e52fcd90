"""Reading a benchmark results folder, checked against its own records.

Layout written by the benchmark runner::

    <out>/
      runs/<task>/<model>/seed<k>.json      one per (task, model, seed), with test y_true / y_pred
      splits/<task>/<split>_seed<k>.json    the split files (sciptm.splits format)
      results.json                          rows, summary, splits, environment, protocol

:class:`BenchmarkResults` loads ``results.json`` and checks that the summary means agree with the
rows and that every split hash agrees across rows, ``results.json`` and the split files.

Example
-------
>>> from sciptm.reports import BenchmarkResults
>>> res = BenchmarkResults("bench-out")  # doctest: +SKIP
>>> res.table()  # doctest: +SKIP
       metric        ecfp-rf     ecfp-ridge
task
esol   rmse ↓  1.152 ± 0.061  1.310 ± 0.020
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sciptm.benchmarks.layout import ResultsLayout
from sciptm.errors import DataIntegrityError
from sciptm.splits.core import Split

RESULTS_FILE = "results.json"
ROW_KEYS = ("task", "model", "seed", "metric", "value", "task_type")
SUMMARY_KEYS = ("task", "model", "metric", "greater_is_better", "mean", "std", "n_seeds")
TASK_TYPES = ("regression", "binary", "multiclass", "multitask-binary", "multitask-regression")
_MEAN_TOLERANCE = 1e-6


def _need(where: str, record: Any, keys: tuple[str, ...]) -> None:
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [k for k in keys if k not in record]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")


def read_results_json(path: Path) -> dict[str, Any]:
    """Read and validate ``results.json`` (keys, task types, seeds as ints).

    Raises
    ------
    FileNotFoundError
        when the file is absent.
    ValueError
        naming the row or summary entry that lacks a key or holds a bad value.
    """
    if not path.is_file():
        raise FileNotFoundError(f"no {RESULTS_FILE} at {path}")
    raw = json.loads(path.read_text(encoding="utf-8"))
    _need(str(path), raw, ("rows", "summary"))
    for i, row in enumerate(raw["rows"]):
        _need(f"{path}: rows[{i}]", row, ROW_KEYS)
        if row["task_type"] not in TASK_TYPES:
            raise ValueError(f"{path}: rows[{i}] has task_type {row['task_type']!r}, expected one of {TASK_TYPES}")
        if isinstance(row["seed"], bool) or not isinstance(row["seed"], int):
            raise ValueError(f"{path}: rows[{i}] seed must be an integer, got {row['seed']!r}")
    for i, entry in enumerate(raw["summary"]):
        _need(f"{path}: summary[{i}]", entry, SUMMARY_KEYS)
    for task, info in (raw.get("splits") or {}).items():
        _need(f"{path}: splits[{task!r}]", info, ("method", "seeds"))
    return raw


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


class BenchmarkResults:
    """A benchmark results folder: rows, summary, splits and per-run predictions.

    Parameters
    ----------
    path:
        The results folder (holding ``results.json``), or the ``results.json`` file itself.

    Attributes
    ----------
    path: the folder. raw: the parsed ``results.json``.
    rows: one row per (task, model, seed), without ``y_true`` / ``y_pred``.
    summary: one row per (task, model): metric, greater_is_better, mean, std, n_seeds.

    Raises
    ------
    DataIntegrityError
        when a summary mean disagrees with its rows, or split hashes disagree.

    Example
    -------
    >>> res = BenchmarkResults("bench-out")  # doctest: +SKIP
    >>> res.summary[["task", "model", "mean"]]  # doctest: +SKIP
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        self.path = path.parent if path.name == RESULTS_FILE else path
        self.layout = ResultsLayout(self.path)
        self.raw = read_results_json(self.layout.results_json)
        # no finished run yet (collect-only on a fresh folder): empty frames that still have the columns
        self.rows = pd.DataFrame(self.raw["rows"], columns=None if self.raw["rows"] else list(ROW_KEYS))
        self.summary = pd.DataFrame(self.raw["summary"], columns=None if self.raw["summary"] else list(SUMMARY_KEYS))
        for column in ("mean", "std"):  # an empty summary (no finished run) has no columns
            self.summary[column] = self.summary[column].map(_float) if column in self.summary else pd.Series(dtype=float)
        self._check_summary()
        self._check_split_hashes()

    def __repr__(self) -> str:
        return (f"BenchmarkResults(path={str(self.path)!r}, field={self.field!r}, tasks={self.tasks}, "
                f"models={self.models})")

    # ----------------------------------------------------------------- metadata

    @property
    def field(self) -> str:
        """Field of the benchmark (``chem``, ``protein``, ``materials``)."""
        return str(self.raw.get("field") or "")

    @property
    def command(self) -> str:
        """The command line that produced the results."""
        return str(self.raw.get("command") or "")

    @property
    def created(self) -> str:
        """ISO time the results were written."""
        return str(self.raw.get("created") or "")

    @property
    def environment(self) -> dict[str, Any]:
        """Python, platform, packages, git commit, device, CPU count."""
        return dict(self.raw.get("environment") or {})

    @property
    def protocol(self) -> dict[str, Any]:
        """``{"id": ..., "description": ...}`` of the evaluation protocol."""
        return dict(self.raw.get("protocol") or {})

    @property
    def splits(self) -> dict[str, dict[str, Any]]:
        """Per task: ``{"method", "seeds": {seed (int): hash}}`` (and optional ``"protocol"``)."""
        out = {}
        for task, info in (self.raw.get("splits") or {}).items():
            out[task] = {**info, "seeds": {int(k): str(v) for k, v in info["seeds"].items()}}
        return out

    def protocol_id(self, task: str) -> str:
        """The protocol id of ``task``: ``splits[task]["protocol"]`` when the runner gives one,
        else ``protocol["id"]``."""
        return str(self.splits.get(task, {}).get("protocol") or self.protocol.get("id") or "")

    @property
    def tasks(self) -> list[str]:
        """Tasks in summary order."""
        return list(dict.fromkeys(self.summary["task"]))

    @property
    def models(self) -> list[str]:
        """Models in summary order."""
        return list(dict.fromkeys(self.summary["model"]))

    def seeds(self, task: str, model: str) -> list[int]:
        """Sorted seeds that have a row for ``(task, model)``."""
        sel = self.rows[(self.rows["task"] == task) & (self.rows["model"] == model)]
        return sorted(int(s) for s in sel["seed"])

    # ----------------------------------------------------------------- runs

    def run_path(self, task: str, model: str, seed: int) -> Path:
        """Path of one run file: the existing one (current or older folder name), else where it would be written."""
        return self.layout.find_run(task, model, seed) or self.layout.run_file(task, model, seed)

    def run(self, task: str, model: str, seed: int) -> dict[str, Any]:
        """The full run record of ``(task, model, seed)``, including test predictions.

        Raises
        ------
        FileNotFoundError
            when the run file is absent.
        """
        path = self.run_path(task, model, seed)
        if not path.is_file():
            raise FileNotFoundError(f"no run file for task={task!r} model={model!r} seed={seed}: {path}")
        record = json.loads(path.read_text(encoding="utf-8"))
        _need(str(path), record, ROW_KEYS)
        return record

    def predictions(self, task: str, model: str, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Test ``(y_true, y_pred)`` of one run as float arrays (``NaN`` for missing labels),
        or ``None`` when the run file holds none (e.g. multiclass with many classes).

        Raises
        ------
        ValueError
            when ``y_true`` and ``y_pred`` have different numbers of rows.
        """
        record = self.run(task, model, seed)
        if record.get("y_true") is None or record.get("y_pred") is None:
            return None
        y_true = np.array(record["y_true"], dtype=np.float64)
        y_pred = np.array(record["y_pred"], dtype=np.float64)
        if len(y_true) != len(y_pred):
            raise ValueError(f"{self.run_path(task, model, seed)}: y_true has {len(y_true)} rows, "
                             f"y_pred {len(y_pred)}")
        return y_true, y_pred

    # ----------------------------------------------------------------- views

    def table(self) -> pd.DataFrame:
        """Pivot of ``mean ± std`` strings: tasks (rows) x models (columns), plus a metric column.

        Example
        -------
        >>> BenchmarkResults("bench-out").table().loc["esol", "metric"]  # doctest: +SKIP
        'rmse ↓'
        """
        from sciptm.reports.tables import score_table

        return score_table(self.summary).to_frame()

    def _repr_html_(self) -> str:
        from sciptm.reports.notebook import results_html

        return results_html(self)

    def report(self, out_dir: str | Path | None = None) -> dict[str, Path]:
        """Write ``report.md``, ``report.html`` and figures (see :func:`sciptm.reports.build_report`)."""
        from sciptm.reports.writer import write_report

        return write_report(self, out_dir)

    # ----------------------------------------------------------------- checks

    def _check_summary(self) -> None:
        for entry in self.summary.itertuples(index=False):
            sel = self.rows[(self.rows["task"] == entry.task) & (self.rows["model"] == entry.model)]
            if sel.empty:
                raise DataIntegrityError(f"{self.path}: summary has task={entry.task!r} model={entry.model!r} "
                                         "but no row does")
            values = sel["value"].map(_float).to_numpy()
            mean = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
            if not (math.isnan(mean) and math.isnan(entry.mean)) and not math.isclose(
                    mean, entry.mean, rel_tol=_MEAN_TOLERANCE, abs_tol=_MEAN_TOLERANCE):
                raise DataIntegrityError(f"{self.path}: summary mean {entry.mean} of task={entry.task!r} "
                                         f"model={entry.model!r} differs from the mean of its rows ({mean})")

    def _check_split_hashes(self) -> None:
        splits = self.splits
        if "split_hash" in self.rows:
            for (task, seed), group in self.rows.groupby(["task", "seed"]):
                hashes = set(group["split_hash"].dropna())
                if len(hashes) > 1:
                    raise DataIntegrityError(f"{self.path}: task={task!r} seed={seed}: models were run on different "
                                             f"splits ({sorted(hashes)})")
                recorded = splits.get(task, {}).get("seeds", {}).get(int(seed))
                if hashes and recorded is not None and recorded not in hashes:
                    raise DataIntegrityError(f"{self.path}: task={task!r} seed={seed}: rows used split {hashes.pop()}, "
                                             f"results.json records {recorded}")
        for task, info in splits.items():
            for seed, recorded in info["seeds"].items():
                file = self.layout.split_file(task, info["method"], seed)
                actual = Split.load(file).hash if file.is_file() else recorded
                if actual != recorded:
                    raise DataIntegrityError(f"{file}: split hash {actual} differs from results.json ({recorded})")

    def split_file(self, task: str, seed: int) -> Path | None:
        """The split file of ``(task, seed)`` when it exists."""
        info = self.splits.get(task)
        if info is None:
            return None
        file = self.layout.split_file(task, info["method"], seed)
        return file if file.is_file() else None
