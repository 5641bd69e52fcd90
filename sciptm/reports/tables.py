"""The score table: mean ± std per task (rows) and model (columns), best per task marked.

Renderers (:mod:`sciptm.reports.markdown`, :mod:`sciptm.reports.html`) draw a
:class:`ScoreTable`; :meth:`ScoreTable.to_frame` gives the plain pandas pivot.

Example
-------
>>> import pandas as pd
>>> summary = pd.DataFrame([
...     {"task": "esol", "model": "a", "metric": "rmse", "greater_is_better": False,
...      "mean": 1.2, "std": 0.1, "n_seeds": 3},
...     {"task": "esol", "model": "b", "metric": "rmse", "greater_is_better": False,
...      "mean": 0.9, "std": 0.05, "n_seeds": 3}])
>>> t = score_table(summary)
>>> t.cells[("esol", "b")].text, t.cells[("esol", "b")].best
('0.900 ± 0.050', True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

MISSING = "–"


def format_number(value: float) -> str:
    """Format a score with 3-4 significant digits (``0.823``, ``33.19``, ``324.0``); ``NaN`` as ``nan``.

    >>> format_number(0.82251), format_number(33.1918), format_number(323.98), format_number(0.02691)
    ('0.823', '33.19', '324.0', '0.0269')
    """
    if value is None or not math.isfinite(value):
        return "nan"
    size = abs(value)
    if size >= 100:
        return f"{value:.1f}"
    if size >= 10:
        return f"{value:.2f}"
    if size >= 0.1 or size == 0:
        return f"{value:.3f}"
    return f"{value:.3g}" if size >= 1e-3 else f"{value:.2e}"


def format_mean_std(mean: float, std: float | None) -> str:
    """``"mean ± std"`` (std to the mean's decimals), or the mean alone when ``std`` is missing or
    ``NaN`` (one seed).

    >>> format_mean_std(0.8, 0.0123), format_mean_std(33.1918, 7.3428), format_mean_std(0.8, None)
    ('0.800 ± 0.012', '33.19 ± 7.34', '0.800')
    """
    text = format_number(mean)
    if std is None or not math.isfinite(std):
        return text
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 3
    return f"{text} ± {std:.{decimals}f}"


def direction(greater_is_better: bool) -> str:
    """``"↑"`` when higher is better, else ``"↓"``."""
    return "↑" if greater_is_better else "↓"


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, whether it is the task's best, and the number of seeds."""

    text: str
    best: bool
    n_seeds: int


@dataclass(frozen=True)
class ScoreTable:
    """Tasks x models scores with per-task metric and direction.

    Attributes
    ----------
    tasks, models: row and column order (order of first appearance in the summary).
    metrics: task -> metric name. greater: task -> greater_is_better.
    cells: (task, model) -> :class:`Cell`; absent pairs were not run.
    """

    tasks: list[str]
    models: list[str]
    metrics: dict[str, str]
    greater: dict[str, bool]
    cells: dict[tuple[str, str], Cell]

    def metric_label(self, task: str) -> str:
        """Metric name with its direction, e.g. ``"rmse ↓"``."""
        return f"{self.metrics[task]} {direction(self.greater[task])}"

    def text(self, task: str, model: str) -> str:
        """Cell text, or ``"–"`` for a pair that was not run."""
        cell = self.cells.get((task, model))
        return cell.text if cell else MISSING

    def to_frame(self) -> pd.DataFrame:
        """Plain pivot: index ``task``, a ``metric`` column, then one column per model."""
        data = {"metric": [self.metric_label(t) for t in self.tasks]}
        for model in self.models:
            data[model] = [self.text(t, model) for t in self.tasks]
        return pd.DataFrame(data, index=pd.Index(self.tasks, name="task"))


def score_table(summary: pd.DataFrame) -> ScoreTable:
    """Build the :class:`ScoreTable` of a results summary.

    The best model of a task is the one with the highest mean when ``greater_is_better``, else the
    lowest; ties (equal means) are all marked; ``NaN`` means are never best.

    Raises
    ------
    ValueError
        when a task has rows with different metrics or directions.
    """
    tasks = list(dict.fromkeys(summary["task"]))
    models = list(dict.fromkeys(summary["model"]))
    metrics: dict[str, str] = {}
    greater: dict[str, bool] = {}
    cells: dict[tuple[str, str], Cell] = {}
    for task in tasks:
        sel = summary[summary["task"] == task]
        if sel["metric"].nunique() != 1 or sel["greater_is_better"].nunique() != 1:
            raise ValueError(f"task {task!r}: summary rows disagree on the metric or its direction")
        metrics[task] = str(sel["metric"].iloc[0])
        greater[task] = bool(sel["greater_is_better"].iloc[0])
        means = sel["mean"].astype(float).to_numpy()
        finite = means[np.isfinite(means)]
        best = (finite.max() if greater[task] else finite.min()) if finite.size else math.nan
        most = int(summary["n_seeds"].max())
        for row in sel.itertuples(index=False):
            is_best = bool(np.isfinite(row.mean) and np.isclose(row.mean, best, rtol=1e-12, atol=0.0))
            text = format_mean_std(row.mean, row.std) if row.n_seeds > 1 else format_mean_std(row.mean, math.nan)
            if row.n_seeds < most:  # a partial cell says how many seeds it holds
                text += f" (n={int(row.n_seeds)})"
            cells[(task, str(row.model))] = Cell(text, is_best, int(row.n_seeds))
    return ScoreTable(tasks, models, metrics, greater, cells)
