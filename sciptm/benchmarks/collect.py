"""``results.json`` for a whole results folder: every finished run, from every ``sciptm bench`` invocation.

Several invocations into one ``--out`` (adding a model or a seed later) keep every run file; the summary
then covers all of them, not just the last grid. Each invocation is a *grid* with an id
(``<UTC time>-<6 hex of its tasks/models/seeds/split>``); ``results.json["grids"]`` lists them (command,
tasks, models, seeds, split) and every row and summary cell says which grid(s) its runs came from
(``"grid"`` / ``"grids"``). Run files written before grids were recorded are attributed to the earliest
recorded grid whose cells contain them, else to ``"unrecorded"``.

:func:`report_notes` turns a results folder into the remarks the report prints: which grid each cell came
from (when there are several), contiguous/position splits that leave many rows out of every part, and ridge
probes whose penalty sits at an edge of its search grid on every run.

>>> grid_id({"tasks": ["esol"], "models": ["mean"], "seeds": [0], "split": "scaffold"}, "2026-11-29T20:00:00+00:00")
'20261129T200000-c71448'
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sciptm import metrics as metric_lib
from sciptm.benchmarks.layout import ResultsLayout

logger = logging.getLogger(__name__)

UNRECORDED = "unrecorded"
#: share of a split's rows left out of every part above which the report remarks it
EXCLUDED_REMARK = 0.1


def grid_id(grid: dict[str, Any], created: str) -> str:
    """``<UTC time>-<6 hex>`` of an invocation: its time and a hash of its tasks, models, seeds and split."""
    key = json.dumps({k: grid.get(k) for k in ("tasks", "models", "seeds", "split", "sizes")}, sort_keys=True)
    stamp = "".join(ch for ch in created[:19] if ch.isdigit() or ch == "T")
    return f"{stamp}-{hashlib.sha256(key.encode()).hexdigest()[:6]}"


def previous_results(layout: ResultsLayout) -> dict[str, Any]:
    """The folder's current ``results.json`` (``{}`` when there is none or it cannot be read)."""
    try:
        return json.loads(layout.results_json.read_text())
    except (OSError, ValueError):
        return {}


def previous_grids(previous: dict[str, Any]) -> list[dict[str, Any]]:
    """The grids an existing ``results.json`` records; a file from before grids were recorded gives its one
    ``config`` as a grid."""
    if previous.get("grids"):
        return list(previous["grids"])
    config = previous.get("config")
    if not config:
        return []
    created = str(previous.get("created") or "")
    grid = {"tasks": config.get("tasks", []), "models": config.get("models", []), "seeds": config.get("seeds", []),
            "split": config.get("split"), "sizes": config.get("sizes")}
    return [{"id": grid_id(grid, created or "0"), "created": created, "command": previous.get("command"), **grid}]


def _contains(grid: dict[str, Any], task: str, model: str, seed: int) -> bool:
    return task in grid.get("tasks", []) and model in grid.get("models", []) and seed in grid.get("seeds", [])


def folder_rows(layout: ResultsLayout) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Every finished run file under ``<root>/runs`` keyed by ``(task, model, seed)`` (the row's own fields)."""
    out: dict[tuple[str, str, int], dict[str, Any]] = {}
    for path in layout.run_files():
        try:
            row = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            logger.warning("skipping unreadable run file %s: %s", path, exc)
            continue
        if not isinstance(row, dict) or not {"task", "model", "seed", "metric", "value"} <= set(row):
            continue
        key = (str(row["task"]), str(row["model"]), int(row["seed"]))
        preferred = layout.find_run(*key)
        if key not in out or path == preferred:
            out[key] = row
    return out


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean +- std per (task, model) over seeds, with the grids the runs came from."""
    frame = pd.DataFrame(rows, columns=None if rows else ["task", "model", "metric", "value", "grid"])
    summary = []
    for (task, model), grp in frame.groupby(["task", "model"], sort=False):
        metric = grp["metric"].iloc[0]
        vals = grp["value"].astype(float)
        grids = sorted({str(g) for g in grp.get("grid", pd.Series([UNRECORDED] * len(grp))).fillna(UNRECORDED)})
        summary.append({"task": task, "model": model, "metric": metric,
                        "greater_is_better": metric_lib.METRICS.get(metric).greater_is_better,
                        "mean": float(vals.mean()), "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                        "n_seeds": int(len(vals)), "seeds": sorted(int(s) for s in grp["seed"]), "grids": grids})
    return summary


def collect_folder(layout: ResultsLayout, current: dict[str, Any], tasks: Sequence[str],
                   models: Sequence[str], seeds: Sequence[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                                         list[dict[str, Any]], dict[str, Any]]:
    """``(rows, missing, grids, previous)`` for a folder: rows of every finished run (predictions left out),
    the current grid's missing cells, the grids (earlier ones plus ``current``), and the old ``results.json``.

    ``current`` is this invocation's grid (``id``, ``created``, ``command``, ``tasks``, ``models``, ``seeds``,
    ``split``, ``sizes``); ``tasks`` are the task names it loaded.
    """
    previous = previous_results(layout)
    grids = [g for g in previous_grids(previous) if g.get("id") != current["id"]] + [current]
    found = folder_rows(layout)
    rows, missing, seen = [], [], set()

    def add(key: tuple[str, str, int], row: dict[str, Any]) -> None:
        row = {k: v for k, v in row.items() if k not in ("y_true", "y_pred")}
        if not row.get("grid"):
            row["grid"] = next((g["id"] for g in grids if _contains(g, *key)), UNRECORDED)
        rows.append(row)
        seen.add(key)

    for task in tasks:  # the current grid first, in its order
        for model in models:
            for seed in seeds:
                key = (task, model, int(seed))
                if key in found:
                    add(key, found[key])
                else:
                    missing.append({"task": task, "model": model, "seed": seed})
    for key in sorted(found, key=lambda k: (k[0] not in tasks, k[0], k[1], k[2])):
        if key not in seen:
            add(key, found[key])
    return rows, missing, grids, previous


# --------------------------------------------------------------------------- report remarks


def _grid_label(grid: dict[str, Any]) -> str:
    command = grid.get("command") or ""
    what = f"models {', '.join(grid.get('models', []))}; seeds {grid.get('seeds', [])}"
    return f"`{grid['id']}` ({what}" + (f"; `{command}`)" if command else ")")


def grid_notes(result: dict[str, Any]) -> list[str]:
    """Which grid each (task, model) cell came from, when the folder holds runs of more than one grid."""
    grids = result.get("grids") or []
    summary = result.get("summary") or []
    used = sorted({g for s in summary for g in s.get("grids", [])})
    if len(used) <= 1:
        return []
    by_id = {g["id"]: g for g in grids}
    notes = [f"This folder holds runs of {len(used)} `sciptm bench` invocations (grids); every cell below "
             "summarizes all finished runs in the folder:"]
    for gid in used:
        cells = [f"{s['task']}/{s['model']}" for s in summary if gid in s.get("grids", [])]
        label = _grid_label(by_id[gid]) if gid in by_id else f"`{gid}` (run files from before grids were recorded)"
        notes.append(f"grid {label}: {', '.join(cells)}")
    return notes


def split_notes(root: Path) -> list[str]:
    """Splits that leave more than :data:`EXCLUDED_REMARK` of the rows out of every part (e.g. a ``contiguous``
    position fold dropping the multi-mutants that straddle its test positions)."""
    from sciptm.splits import Split

    notes = []
    for path in ResultsLayout(root).all_split_files():
        try:
            split = Split.load(path)
        except Exception:  # noqa: BLE001 (a damaged split file is the runner's business, not the report's)
            continue
        n = int(split.n or 0)
        dropped = len(split.excluded)
        if n and dropped / n > EXCLUDED_REMARK:
            used = len(split.train) + len(split.valid) + len(split.test)
            notes.append(f"split `{split.method}` seed/fold {split.seed} of {path.parent.name} leaves {dropped:,} of "
                         f"{n:,} rows ({dropped / n:.0%}) out of every part (train {len(split.train):,}, valid "
                         f"{len(split.valid):,}, test {len(split.test):,}; {used:,} used): scores rest on the rest.")
    return notes


def ridge_notes(rows: list[dict[str, Any]]) -> list[str]:
    """Ridge probes whose chosen penalty sits at an edge of its search grid on every run of a (task, model)."""
    from sciptm.benchmarks.models.probe import ALPHAS

    cells: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        info = row.get("model_info") or {}
        alphas = info.get("alpha")
        if not alphas:
            continue
        lo, hi = info.get("alpha_grid") or [min(ALPHAS), max(ALPHAS)]
        edges = ["low" if np.isclose(a, lo) else "high" if np.isclose(a, hi) else "inside" for a in alphas]
        cells.setdefault((row["task"], row["model"]), []).extend(
            f"{e}:{lo:g}" if e == "low" else f"{e}:{hi:g}" if e == "high" else e for e in edges)
    notes = []
    for (task, model), edges in cells.items():
        if edges and all(e != "inside" for e in edges) and len(set(edges)) == 1:
            side, value = edges[0].split(":")
            notes.append(f"{task}/{model}: the ridge penalty chosen on the training rows is the {side}est of its "
                         f"grid ({value}) on every run ({len(edges)}); the best penalty may lie beyond the grid "
                         "(set the model's `alphas` option wider).")
    return notes


def report_notes(results_dir: str | Path) -> list[str]:
    """All remarks of :mod:`sciptm.benchmarks.collect` for a results folder (grids, splits, ridge edges)."""
    layout = ResultsLayout(results_dir)
    result = previous_results(layout)
    return grid_notes(result) + split_notes(layout.root) + ridge_notes(result.get("rows") or [])


__all__ = ["collect_folder", "folder_rows", "grid_id", "grid_notes", "previous_grids", "previous_results",
           "report_notes", "ridge_notes", "split_notes", "summarize"]
