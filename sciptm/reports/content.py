"""What a benchmark report says, gathered once (:func:`collect`) and rendered by :mod:`sciptm.reports.markdown`
and :mod:`sciptm.reports.html`: the score table, figures, splits, published references, notes, and the row
helpers both renderers share.

Figure choices, stated in every caption:

* regression / multitask-regression: parity plots, one panel per model, of the test predictions
  of the model's lowest seed (normally seed 0); multitask panels pool all labelled entries.
* binary: ROC curves of all models on one axis, lowest seed.
* multitask-binary: the same, micro-averaged: one curve over every labelled (row, target) entry.
* multiclass: no figure (the table has the score).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sciptm.heads.tasks import TASKS, MulticlassTask
from sciptm.reports.plots import Series, labelled, parity_png, roc_png
from sciptm.reports.references import Comparison, all_references, compare, fold_remark
from sciptm.reports.tables import ScoreTable, format_mean_std, format_number, score_table

if TYPE_CHECKING:
    from sciptm.reports.results import BenchmarkResults

REGRESSION = ("regression", "multitask-regression")
BINARY = ("binary", "multitask-binary")


@dataclass(frozen=True)
class FigureItem:
    """One PNG figure: file stem, task, ``"parity"`` or ``"roc"``, caption and bytes."""

    name: str
    task: str
    kind: str
    caption: str
    png: bytes = field(repr=False)


@dataclass(frozen=True)
class SplitRow:
    """One split used: task, method, seed, hash, part sizes and the protocol id of the task."""

    task: str
    method: str
    seed: int
    hash: str
    n_train: int | None
    n_valid: int | None
    n_test: int | None
    protocol: str


@dataclass(frozen=True)
class ReportContent:
    """Everything a renderer needs; built by :func:`collect`."""

    title: str
    field: str
    command: str
    created: str
    environment: dict[str, Any]
    protocol: dict[str, Any]
    table: ScoreTable
    task_types: dict[str, str]
    figures: list[FigureItem]
    splits: list[SplitRow]
    comparisons: dict[str, list[Comparison]]
    notes: list[str]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _seed_phrase(seeds: dict[str, int]) -> str:
    values = set(seeds.values())
    if len(values) == 1:
        return f"seed {values.pop()}"
    return "seeds " + ", ".join(f"{m}: {s}" for m, s in seeds.items())


def _series(res: BenchmarkResults, task: str, notes: list[str]) -> tuple[list[Series], dict[str, int]]:
    out, seeds = [], {}
    for model in res.models:
        available = res.seeds(task, model)
        if not available:
            continue
        seed = available[0]
        try:
            pred = res.predictions(task, model, seed)
        except FileNotFoundError as exc:
            notes.append(f"{task} / {model}: no figure ({exc})")
            continue
        if pred is None:
            notes.append(f"{task} / {model}: the run file holds no predictions; no figure")
            continue
        run = res.run(task, model, seed)
        out.append(Series(model, pred[0], pred[1], note=f"{run['metric']} {format_number(float('nan') if run['value'] is None else float(run['value']))}"))
        seeds[model] = seed
    return out, seeds


def _figures(res: BenchmarkResults, task_types: dict[str, str], notes: list[str]) -> list[FigureItem]:
    figures = []
    for task in res.tasks:
        kind = task_types[task]
        spec = TASKS.get(kind) if kind in TASKS.keys() else None
        if spec is None or isinstance(spec, MulticlassTask):
            notes.append(f"{task}: {kind} task; no figure")
            continue
        series, seeds = _series(res, task, notes)
        if not series:
            continue
        phrase = _seed_phrase(seeds)
        if not spec.is_classifier:
            pooled = "; all labelled entries of all targets pooled" if spec.multitask else ""
            caption = (f"{task}: parity plot of test predictions, {phrase} (not pooled over seeds){pooled}; "
                       "the panel note is that run's score.")
            figures.append(FigureItem(f"{_safe(task)}_parity", task, "parity", caption, parity_png(series, task)))
            continue
        micro = spec.multitask
        usable = []
        for s in series:
            if np.unique(labelled(s.y_true, s.y_pred)[0]).size < 2:
                notes.append(f"{task} / {s.model}: test labels hold one class; no ROC curve")
            else:
                usable.append(s)
        if not usable:
            continue
        how = ("micro-averaged over every labelled (row, target) entry; the table's score is the mean of "
               "per-target AUCs" if micro else "one curve per model")
        caption = f"{task}: ROC curves on the test set, {phrase} (not pooled over seeds), {how}."
        figures.append(FigureItem(f"{_safe(task)}_roc", task, "roc", caption, roc_png(usable, task, micro=micro)))
    return figures


def _split_rows(res: BenchmarkResults) -> list[SplitRow]:
    out = []
    for task, info in res.splits.items():
        for seed, split_hash in sorted(info["seeds"].items()):
            sel = res.rows[(res.rows["task"] == task) & (res.rows["seed"] == seed)]
            sizes = [int(sel[k].iloc[0]) if k in sel and len(sel) else None for k in ("n_train", "n_valid", "n_test")]
            out.append(SplitRow(task, str(info["method"]), seed, split_hash, *sizes, protocol=res.protocol_id(task)))
    return out


def collect(res: BenchmarkResults, mirror: str | Path | None = None) -> ReportContent:
    """Gather the report content of a results folder (figures are rendered here).

    Parameters
    ----------
    res: the loaded results.
    mirror: data mirror for the Matbench leaderboard; default ``SCIPTM_DATA_MIRROR``.
    """
    from sciptm.benchmarks.collect import report_notes

    notes: list[str] = report_notes(res.path)  # grids of the folder, splits leaving rows out, ridge at a grid edge
    table = score_table(res.summary)
    task_types = {t: str(res.rows.loc[res.rows["task"] == t, "task_type"].iloc[0]) for t in res.tasks}
    refs = all_references(mirror)
    comparisons = {t: compare(t, refs, res.protocol_id(t), table.metrics[t]) for t in res.tasks}
    title = f"sciptm benchmark: {res.field}" if res.field else "sciptm benchmark"
    return ReportContent(title=title, field=res.field, command=res.command, created=res.created,
                         environment=res.environment, protocol=res.protocol, table=table, task_types=task_types,
                         figures=_figures(res, task_types, notes), splits=_split_rows(res),
                         comparisons=comparisons, notes=notes)


# --------------------------------------------------------------------------- rows shared by the renderers

REFERENCE_HEADER = ("model", "metric", "value", "protocol", "source", "remarks")
SPLIT_HEADER = ("task", "seed", "method", "split hash", "train", "valid", "test", "protocol")


def reference_rows(content: ReportContent, task: str) -> list[tuple[str, ...]]:
    """Our models of ``task`` (source "sciptm, this run") followed by its published references."""
    table = content.table
    ours_protocol = next((s.protocol for s in content.splits if s.task == task), str(content.protocol.get("id") or ""))
    rows = [(model, table.metrics[task], table.text(task, model), ours_protocol, "sciptm, this run",
             fold_remark(task, ours_protocol, table.cells[(task, model)].n_seeds))
            for model in table.models if (task, model) in table.cells]
    for comp in content.comparisons.get(task, []):
        ref = comp.reference
        value = format_mean_std(ref.value, ref.std)
        remarks = "; ".join([*comp.remarks, *([ref.note] if ref.note else [])])
        rows.append((ref.model, ref.metric, value, ref.protocol, ref.source, remarks))
    return rows


def protocol_legend(content: ReportContent) -> list[tuple[str, str]]:
    """``(protocol id, description)`` of our protocol and of every reference protocol shown."""
    legend = {str(content.protocol.get("id") or ""): str(content.protocol.get("description") or "")}
    for comps in content.comparisons.values():
        for comp in comps:
            legend.setdefault(comp.reference.protocol, comp.reference.protocol_text)
    return [(k, v) for k, v in legend.items() if k]


def split_rows(content: ReportContent) -> list[tuple[str, ...]]:
    """One row per (task, seed) split, with its hash and part sizes."""
    def num(v: int | None) -> str:
        return "" if v is None else str(v)

    return [(s.task, str(s.seed), s.method, s.hash, num(s.n_train), num(s.n_valid), num(s.n_test), s.protocol)
            for s in content.splits]


def environment_rows(content: ReportContent) -> list[tuple[str, str]]:
    """``(key, value)`` pairs of the environment, packages as ``name version`` lines."""
    env = content.environment
    rows = [(k, str(env[k])) for k in ("python", "platform", "device", "cpu_count", "git_commit") if k in env]
    packages = env.get("packages") or {}
    rows += [(f"package {name}", str(version)) for name, version in sorted(packages.items())]
    return rows


__all__ = ["BINARY", "REFERENCE_HEADER", "REGRESSION", "SPLIT_HEADER", "FigureItem", "ReportContent", "SplitRow",
           "collect", "environment_rows", "protocol_legend", "reference_rows", "split_rows"]
