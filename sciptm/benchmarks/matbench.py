"""Matbench v0.1 submission files from a ``sciptm bench materials`` results folder.

The runner writes one file per (task, model, fold) with the test predictions in the order of the
fold's test rows; :func:`submission_dict` maps them to Matbench ids (``mb-<task>-<row+1>``,
zero-padded), adds Matbench's per-fold scores and the checksum that
``matbench.MatbenchBenchmark.from_file``/``from_dict`` verify, without importing matbench.
:func:`write_submission` saves it as ``results.json.gz``, the name and gzip format of the
submissions in the Matbench repository (matbench 0.6's ``from_file`` reads plain JSON only:
decompress first, or pass ``json.load(gzip.open(path))`` to ``from_dict``).

Only Matbench tasks with all five folds recorded for the model are included (Matbench rejects
partial tasks); ``*_formula`` variants and ``mp_formation_energy`` are not Matbench tasks.

Command line (after the benchmark runs): rebuild ``results.json`` over the whole grid, the report and
one submission per model::

    python -m sciptm.benchmarks.matbench benchmarks/materials/results --tasks matbench_steels \\
        --models dummy rf-composition --seeds 0 1 2 3 4

>>> matbench_scores([1.0, 2.0], [1.5, 2.0], "regression")["mae"]
0.25
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    max_error,
    mean_absolute_error,
    mean_squared_error,
    roc_auc_score,
)

from sciptm._util.atomic import atomic_path
from sciptm.benchmarks.layout import ResultsLayout
from sciptm.data.splits import matbench_ids
from sciptm.splits.core import Split

BENCHMARK = "matbench_v0.1"
MATBENCH_VERSION = "0.6"  # the matbench package version whose file layout this writes
N_FOLDS = 5
CLF_THRESHOLD = 0.5  # Matbench turns probabilities into labels with p > 0.5
#: Matbench's ``task_type`` of each sciptm task type
TASK_TYPES = {"regression": "regression", "binary": "classification"}


def matbench_scores(y_true: Sequence[float], y_pred: Sequence[float], task_type: str) -> dict[str, float]:
    """Matbench's per-fold scores: ``mae, rmse, mape, max_error`` (regression) or
    ``accuracy, balanced_accuracy, f1, rocauc`` (classification, ``y_pred`` = probabilities).

    MAPE skips rows with ``|y_true| <= 1e-5``, as Matbench does.
    """
    yt, yp = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if task_type == "regression":
        mask = np.abs(yt) > 1e-5
        return {"mae": float(mean_absolute_error(yt, yp)), "rmse": float(math.sqrt(mean_squared_error(yt, yp))),
                "mape": float(np.mean(np.fabs((yt[mask] - yp[mask]) / yt[mask]))),
                "max_error": float(max_error(yt, yp))}
    if task_type == "classification":
        truth, labels = yt.astype(bool), yp > CLF_THRESHOLD
        return {"accuracy": float(accuracy_score(truth, labels)),
                "balanced_accuracy": float(balanced_accuracy_score(truth, labels)),
                "f1": float(f1_score(truth, labels)), "rocauc": float(roc_auc_score(yt, yp))}
    raise ValueError(f"task_type must be 'regression' or 'classification', not {task_type!r}")


def _immutify(d: dict[str, Any]) -> dict[str, Any]:
    """matbench.util.immutify_dictionary: keys sorted at every level, lists as tuples."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out[k] = _immutify(v)
        elif isinstance(v, list):
            out[k] = tuple(v)
        else:
            out[k] = v
    return dict(sorted(out.items(), key=lambda item: item[0]))


def matbench_hash(d: dict[str, Any]) -> str:
    """The checksum Matbench stores under ``hash`` (SHA-256 of the key-sorted JSON, ``hash`` left out)."""
    return hashlib.sha256(json.dumps(_immutify({k: v for k, v in d.items() if k != "hash"})).encode()).hexdigest()


def fold_predictions(results_dir: str | Path, task: str, model: str, fold: int) -> dict[str, Any] | None:
    """One fold's predictions keyed by Matbench id, its truth and the run row; ``None`` when not run.

    Raises
    ------
    ValueError
        when the run is not on the official folds, or predictions are missing for test rows
        (invalid inputs cannot be submitted: Matbench needs every test id).
    """
    layout = ResultsLayout(results_dir)
    run_file = layout.find_run(task, model, fold)
    if run_file is None:
        return None
    row = json.loads(run_file.read_text())
    if row.get("protocol") != "matbench-v0.1-5fold":
        raise ValueError(f"{run_file}: protocol {row.get('protocol')!r} is not matbench-v0.1-5fold")
    split = next((s for s in map(Split.load, layout.split_files(task, fold)) if s.hash == row["split_hash"]), None)
    if split is None:
        raise ValueError(f"{task} fold {fold}: no split file with hash {row['split_hash']} in "
                         f"{layout.root / 'splits' / task}")
    pred = row.get("y_pred")
    if pred is None or len(pred) != len(split.test) or row.get("n_invalid_inputs", 0):
        raise ValueError(f"{task}/{model} fold {fold}: {len(pred or [])} predictions for {len(split.test)} test rows "
                         f"({row.get('n_invalid_inputs', 0)} invalid inputs); Matbench needs one per test id")
    if any(p is None or not math.isfinite(p) for p in pred):
        raise ValueError(f"{task}/{model} fold {fold}: non-finite predictions cannot be submitted")
    ids = matbench_ids(task, split.n)
    return {"data": {ids[int(r)]: float(p) for r, p in zip(split.test, pred)}, "y_true": row["y_true"],
            "y_pred": pred, "row": row}


def submission_dict(results_dir: str | Path, model: str, tasks: Sequence[str],
                    metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``MatbenchBenchmark.as_dict()`` layout for ``model``: every Matbench task of ``tasks`` with all
    five folds run (others are left out and listed in ``user_metadata['left_out']``)."""
    out_tasks: dict[str, Any] = {}
    left_out: dict[str, str] = {}
    for task in tasks:
        if not task.startswith("matbench_") or task.endswith("_formula"):
            left_out[task] = "not a Matbench v0.1 task"
            continue
        folds = [fold_predictions(results_dir, task, model, k) for k in range(N_FOLDS)]
        if any(f is None for f in folds):
            left_out[task] = f"folds run: {[k for k, f in enumerate(folds) if f is not None]} of 0-4"
            continue
        task_type = TASK_TYPES.get(folds[0]["row"]["task_type"])
        if task_type is None:
            left_out[task] = f"task type {folds[0]['row']['task_type']!r} has no Matbench equivalent"
            continue
        results = {}
        for k, fold in enumerate(folds):
            params = fold["row"].get("model_info") or {}
            results[f"fold_{k}"] = {"data": fold["data"], "parameters": json.loads(json.dumps(params)),
                                    "scores": matbench_scores(fold["y_true"], fold["y_pred"], task_type),
                                    "uncertainty": None}
        out_tasks[task] = {"@module": "matbench.task", "@class": "MatbenchTask", "benchmark_name": BENCHMARK,
                           "dataset_name": task, "results": results}
    user = {"algorithm": f"sciptm {model}", "left_out": left_out, **(metadata or {})}
    d = {"@module": "matbench.bench", "@class": "MatbenchBenchmark", "version": MATBENCH_VERSION,
         "tasks": _immutify(out_tasks), "user_metadata": user, "benchmark_name": BENCHMARK,
         "datestamp": datetime.now(UTC).strftime("%Y.%m.%d %H:%M.%S")}
    d["hash"] = matbench_hash(d)
    return d


def write_submission(results_dir: str | Path, model: str, tasks: Sequence[str], path: str | Path | None = None,
                     metadata: dict[str, Any] | None = None) -> Path:
    """Write ``<results_dir>/matbench/<model>/results.json.gz`` (or ``path``); see :func:`submission_dict`.

    Raises
    ------
    ValueError
        when no task has all five folds for ``model``.
    """
    d = submission_dict(results_dir, model, tasks, metadata)
    if not d["tasks"]:
        raise ValueError(f"{model}: no Matbench task has all 5 folds in {results_dir}: {d['user_metadata']['left_out']}")
    target = Path(path) if path else ResultsLayout(results_dir).submission_file(model)
    with atomic_path(target) as tmp, gzip.GzipFile(tmp, "wb", mtime=0) as fh:
        fh.write(json.dumps(d).encode())
    return target


def finalize(results_dir: str | Path, tasks: Sequence[str], models: Sequence[str], seeds: Sequence[int],
             field: str = "materials", command: str | None = None) -> dict[str, Any]:
    """Gather every finished run of the grid into ``results.json`` (runs not done are listed as missing),
    build the report and write one Matbench submission per model that has complete tasks."""
    from sciptm.benchmarks.runner import Runner, load_task, protocol_id, split_method
    from sciptm.reports import build_report

    runner = Runner(field, results_dir, progress=False)
    splits_meta: dict[str, Any] = {}
    for task in tasks:
        ds = load_task(task, runner.field)
        seeds_meta = {}
        n_invalid = 0
        for seed in seeds:
            runs = [runner.run_file(ds.name, m, seed) for m in models]
            done = [p for p in runs if p.exists()]
            if done:
                row = json.loads(done[0].read_text())
                seeds_meta[str(seed)], n_invalid = row["split_hash"], row.get("n_invalid_inputs", 0)
        splits_meta[ds.name] = {"method": split_method(runner.split, ds), "seeds": seeds_meta,
                                "n_invalid_inputs": n_invalid, "protocol": protocol_id(runner.split, runner.sizes, ds)}
    path = runner.collect(tasks, models, seeds, splits_meta, command)
    build_report(Path(results_dir))
    written = {}
    for model in models:
        try:
            written[model] = str(write_submission(results_dir, model, tasks))
        except ValueError as exc:
            written[model] = f"not written: {exc}"
    return {"results": str(path), "submissions": written}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sciptm.benchmarks.matbench", description=finalize.__doc__)
    parser.add_argument("results_dir")
    parser.add_argument("--tasks", nargs="+", required=True)
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(N_FOLDS)))
    args = parser.parse_args(argv)
    out = finalize(args.results_dir, args.tasks, args.models, args.seeds)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

__all__ = ["finalize", "fold_predictions", "matbench_hash", "matbench_scores", "submission_dict", "write_submission"]
