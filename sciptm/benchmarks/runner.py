"""The benchmark runner shared by every field: tasks x models x seeds on saved, hashed splits.

Every (task, model, seed) result is written to its own file as soon as it is done
(atomically), so a killed run resumes and skips finished work; ``results.json``
then gathers rows, a mean +- std summary, split hashes and the environment.

>>> from sciptm.benchmarks import run
>>> res = run("chem", tasks=["esol"], models=["mean"], seeds=[0], out="results/doc")  # doctest: +SKIP
>>> res.summary  # doctest: +SKIP
"""
from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sciptm import metrics as metric_lib
from sciptm.benchmarks.environment import environment
from sciptm.benchmarks.fields import FIELDS, Field
from sciptm.benchmarks.layout import ResultsLayout
from sciptm.benchmarks.models import MODELS, build_model
from sciptm.benchmarks.models.spec import ModelSpec
from sciptm.benchmarks.taskdata import TaskData
from sciptm.domains import get_domain
from sciptm.errors import SkippedInputWarning
from sciptm.heads.tasks import MulticlassTask
from sciptm.progress import progress_bar
from sciptm.splits import Split, make_folds, make_split

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from sciptm.benchmarks.executors import Executor

#: metrics reported for every run of a task type, beside the task's own metric
EXTRA_METRICS = {
    "regression": ("rmse", "mse", "mae", "r2", "spearman", "pearson"),
    "multitask-regression": ("rmse", "mae", "r2"),
    "binary": ("roc_auc", "pr_auc", "accuracy"),
    "multitask-binary": ("roc_auc", "pr_auc"),
    "multiclass": ("accuracy",),
}
MAX_STORED_CLASSES = 50


def _is_csv(task: str) -> bool:
    return task.lower().endswith((".csv", ".csv.gz", ".sdf", ".sdf.gz")) or Path(task).is_file()


def load_task(task: str, fld: Field, input: str | None = None, targets: Sequence[str] | None = None,
              task_type: str | None = None):
    """A registered dataset by name, or a user's CSV (``input``/``targets``/``task_type`` required)."""
    from sciptm import datasets

    if _is_csv(task):
        if not input or not targets or not task_type:
            raise ValueError(f"{task}: a CSV task needs --input, --targets and --task-type")
        return datasets.from_csv(task, input=input, targets=list(targets), task=task_type, domain=fld.domain)
    return datasets.load(task, progress=False)


def check_task_names(tasks: Sequence[str]) -> None:
    """Raise :class:`~sciptm.registry.UnknownNameError` naming every task that is neither a CSV file nor a
    registered dataset."""
    from sciptm.data.cards import CARDS
    from sciptm.registry import UnknownNameError

    unknown = [t for t in tasks if not _is_csv(t) and t not in CARDS]
    if unknown:
        raise UnknownNameError(f"unknown dataset {', '.join(map(repr, unknown))}; known: {', '.join(CARDS)}")


def check_model_names(models: Sequence[str]) -> None:
    """Raise :class:`~sciptm.errors.ConfigError` (or ``UnknownNameError``) before any work for a hybrid probe
    (``<encoder>+rdkit2d:probe``, :mod:`sciptm.benchmarks.models.hybrid`) whose encoder or feature set cannot
    be named. Other names are checked by their model when it runs."""
    from sciptm.benchmarks.models import MODELS

    for name in models:
        if name in MODELS:
            continue
        spec = ModelSpec.parse(name)
        if spec.probe and spec.features:
            spec.check()


def column_split(df: Any, column: str, seed: int, name: str = "data", valid_fraction: float = 0.1) -> Split:
    """A split from the data's own column (``--split column:NAME``): cells ``train``/``valid``/``test`` give the
    parts; integer cells are folds, fold ``seed`` is the test set and a seeded ``valid_fraction`` of the rest
    becomes valid. Rows with an empty cell are in no part."""
    from sciptm.errors import ConfigError
    from sciptm.splits.sizing import carve_valid

    if column not in df.columns:
        raise ConfigError(f"{name}: split column {column!r} not found; columns are {list(df.columns)}")
    cells = df[column]
    text = cells.astype("string").str.strip().str.lower()
    present = cells.notna().to_numpy()
    if set(text[present].unique()) <= {"train", "valid", "test"}:
        parts = {p: np.flatnonzero((text == p).fillna(False).to_numpy()) for p in ("train", "valid", "test")}
        mode = "parts"
    else:
        folds = pd.to_numeric(cells, errors="coerce")
        bad = present & folds.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ConfigError(f"{name}: split column {column!r} row {row} holds {cells.iloc[row]!r}: expected "
                              "train/valid/test or an integer fold")
        known = sorted(int(f) for f in folds.dropna().unique())
        if int(seed) not in known:
            raise ConfigError(f"{name}: split column {column!r} has folds {known}; seed {seed} names none of them "
                              "(with a fold column the seed is the test fold)")
        test = np.flatnonzero((folds == int(seed)).to_numpy())
        train = np.flatnonzero((present & (folds != int(seed))).to_numpy())
        train, valid = carve_valid(train, valid_fraction, np.random.default_rng([int(seed), 1]))
        parts, mode = {"train": train, "valid": valid, "test": test}, "folds"
    return Split(train=parts["train"], valid=parts["valid"], test=parts["test"], method=f"column-{column}",
                 seed=int(seed), params={"column": column, "mode": mode}, n=len(df),
                 excluded=np.flatnonzero(~present))


def split_method(method: str, ds: Any) -> str:
    """The split a task gets: ``official`` is the card's predefined split (Matbench folds, FLIP sets) when
    it has one, else the card's recommended method (e.g. ``random`` for ``mp_formation_energy``)."""
    if method == "official":
        return "predefined" if ds.has_predefined_split else ds.card.split.recommended
    return method


def protocol_id(method: str, sizes: Sequence[float], ds: Any) -> str:
    method = split_method(method, ds)
    if method in ("predefined", "official"):
        return getattr(ds.card.split, "protocol_id", None) or f"{ds.name}-predefined"
    if method.startswith("column:"):
        return f"{ds.name}-column-{method.split(':', 1)[1]}"
    tag = "".join(str(round(s * 10)) for s in sizes)
    if method == "scaffold":
        return f"deepchem-scaffold-{tag}"  # identical indices to DeepChem's ScaffoldSplitter
    return f"sciptm-{method}-{tag}"


@dataclass(frozen=True)
class Job:
    """One (task, model, seed) run of a grid: small and picklable, so any executor can ship it to a worker.

    ``split`` is the split method the row reports, ``options`` the model's options from ``model_options``.
    """

    task: str
    model: str
    seed: int
    field: str
    split: str
    split_hash: str
    data_sha256: str
    protocol: str
    n_invalid: int
    options: dict[str, Any]


def score_job(job: Job, data: TaskData) -> dict[str, Any]:
    """Fit ``job.model`` on ``data``'s training part, predict its test part, and return the result row
    (metrics, sizes, split hash, timings, and the test labels and predictions)."""
    model = build_model(job.model, job.options)
    t0 = time.perf_counter()
    pred = np.asarray(model.fit_predict(data, job.seed), dtype=float)
    seconds = time.perf_counter() - t0
    y_true = data.y_true("test")
    names = [data.metric, *(m for m in EXTRA_METRICS.get(data.task_type, ()) if m != data.metric)]
    scores = {}
    for name in names:
        try:
            scores[name] = float(metric_lib.compute(name, y_true, pred))
        except ValueError as exc:  # e.g. a metric undefined for this layout
            scores[name] = float("nan")
            warnings.warn(f"{data.name}/{job.model}/seed{job.seed}: {name} not computed: {exc}", stacklevel=2)
    row = {
        "field": job.field, "task": data.name, "model": job.model, "split": job.split, "seed": job.seed,
        "metric": data.metric, "value": scores[data.metric], "metrics": scores, "task_type": data.task_type,
        "target_names": data.target_names, "n_train": int(len(data.train)), "n_valid": int(len(data.valid)),
        "n_test": int(len(data.test)), "n_invalid_inputs": job.n_invalid, "split_hash": job.split_hash,
        "data_sha256": job.data_sha256, "protocol": job.protocol,
        "seconds": round(seconds, 3), "device": _device(),
    }
    info = getattr(model, "info_", None)  # e.g. hyperparameters a baseline tuned on the training rows
    if info:
        row["model_info"] = info
    if not isinstance(data.task, MulticlassTask) or pred.shape[1] <= MAX_STORED_CLASSES:
        row["y_true"] = _jsonable(y_true)
        row["y_pred"] = _jsonable(pred)
    return row


def run_job(job: Job, data: TaskData) -> dict[str, Any]:
    """The function every executor runs per job: ``{"row": ...}``, or ``{"error": "Type: message"}`` when the
    model failed (one failing model must not stop the grid)."""
    try:
        return {"row": score_job(job, data)}
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 (reported in results.json, never lost)
        return {"error": f"{type(exc).__name__}: {exc}"}


class Runner:
    """Run one field's grid; see :func:`run`."""

    def __init__(self, field: str, out: str | Path, split: str | None = None, sizes: Sequence[float] | None = None,
                 model_options: dict[str, dict[str, Any]] | None = None, progress: bool = True):
        self.field = FIELDS.get(field)
        self.out = Path(out)
        self.layout = ResultsLayout(self.out)
        self.split = split or self.field.split
        self.sizes = tuple(sizes or self.field.sizes)
        self.model_options = model_options or {}
        self.progress = progress
        self.domain = get_domain(self.field.domain)
        self._domains: dict[str, Any] = {}
        self.failures: list[dict[str, Any]] = []
        #: gather finished run files only (``run(collect_only=True)``); nothing is computed
        self.collect_only = False
        self._caches: dict[str, dict[str, np.ndarray]] = {}

    # ------------------------------------------------------------------ data + splits
    def domain_for(self, ds: Any) -> Any:
        """The domain of a task: the field's, or the one its card's ``input_kind`` maps to in
        ``Field.input_domains`` (materials: ``composition`` -> crystal domain of kind composition)."""
        spec = self.field.input_domains.get(getattr(ds.card, "input_kind", None), self.field.domain)
        key = json.dumps(spec, sort_keys=True)
        if key not in self._domains:
            self._domains[key] = self.domain if spec == self.field.domain else get_domain(spec)
        return self._domains[key]

    def prepare(self, ds: Any) -> tuple[list[str], np.ndarray, list[Any]]:
        """Validate every input once; invalid rows are recorded, never silently lost."""
        domain = self.domain_for(ds)
        if self.field.cache_texts:  # slow domains: once per (data, domain settings), kept on disk
            from sciptm.benchmarks.textcache import prepare_cached

            t0 = time.perf_counter()
            prepared = prepare_cached(domain, ds.inputs.reset_index(drop=True), ds.data_sha256,
                                      n_jobs=self.field.prepare_jobs)
            log.info("  %s: %d/%d inputs valid (%.1f s)", ds.name, int(prepared.valid.sum()), prepared.n_total,
                     time.perf_counter() - t0)
            return prepared.texts, prepared.valid, prepared.invalid
        with warnings.catch_warnings():  # the invalid rows are counted in results.json instead
            warnings.simplefilter("ignore", SkippedInputWarning)
            prepared = domain.prepare(ds.inputs.reset_index(drop=True), errors="skip")
        return prepared.texts, prepared.valid, prepared.invalid

    def make_split(self, ds: Any, seed: int) -> Split:
        path = self.layout.split_file(ds.name, self.split, seed)
        if path.exists():
            return Split.load(path)
        n = len(ds.df)
        method = split_method(self.split, ds)
        if method.startswith("column:"):  # the data's own fold column (e.g. a user's protein CSV)
            split = column_split(ds.df, method.split(":", 1)[1], seed, ds.name)
        elif method in ("predefined", "official"):
            if ds.card.split.predefined is not None and ds.card.split.predefined.kind == "folds":
                parts = ds.predefined_split(fold=seed)
            else:
                parts = ds.predefined_split()
            split = Split(train=parts["train"], valid=parts.get("valid", np.array([], dtype=int)),
                          test=parts["test"], method="predefined", seed=seed, params={"source": ds.name}, n=n)
        elif method in ("kfold", "stratified_kfold"):
            labels = ds.targets.iloc[:, 0].to_numpy() if method == "stratified_kfold" else None
            split = make_folds(method, n=n, labels=labels, seed=0, valid_fraction=0.1)[seed]
        else:
            labels = ds.targets.iloc[:, 0].to_numpy() if method == "stratified" else None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SkippedInputWarning)
                split = make_split(method, n=n, smiles=ds.inputs.tolist(), labels=labels, seed=seed, sizes=self.sizes)
        split.save(path)
        return split

    def task_data(self, ds: Any, texts: list[str], valid: np.ndarray, split: Split) -> TaskData:
        rows = np.flatnonzero(valid)
        pos = np.full(len(valid), -1)
        pos[rows] = np.arange(len(rows))
        y = ds.targets.to_numpy(dtype=float, na_value=np.nan)[rows]

        def keep(idx: np.ndarray) -> np.ndarray:
            p = pos[np.asarray(idx, dtype=int)]
            return p[p >= 0]

        from sciptm.heads.tasks import TASKS

        # a user's CSV has no card metric: the field's metric for its task type (protein: Spearman), else the task's
        metric = ds.metric or self.field.metrics.get(ds.task) or TASKS.get(ds.task).default_metric
        domain = self.domain_for(ds)
        inputs = ds.inputs
        return TaskData(name=ds.name, task_type=ds.task, domain=domain.name, metric=metric,
                        target_names=list(ds.target_columns), texts=texts, y=y, rows=rows,
                        train=keep(split.train), valid=keep(split.valid), test=keep(split.test),
                        raw_inputs=list(inputs.to_numpy(dtype=object)[rows]), domain_config=domain.to_config())

    # ------------------------------------------------------------------ one run
    def run_file(self, task: str, model: str, seed: int) -> Path:
        """Where a run is written (:meth:`ResultsLayout.run_file`)."""
        return self.layout.run_file(task, model, seed)

    def job(self, ds: Any, model: str, seed: int, split: Split, n_invalid: int) -> Job:
        """The :class:`Job` of one grid cell (everything a worker needs besides the task's data)."""
        return Job(task=ds.name, model=model, seed=seed, field=self.field.name, split=split_method(self.split, ds),
                   split_hash=split.hash, data_sha256=ds.data_sha256, protocol=protocol_id(self.split, self.sizes, ds),
                   n_invalid=n_invalid,
                   options=dict(self.model_options.get(model, self.model_options.get("default", {}))))

    # ------------------------------------------------------------------ the grid
    def run(self, tasks: Sequence[str], models: Sequence[str], seeds: Sequence[int], command: str | None = None,
            csv_options: dict[str, Any] | None = None, executor: Executor | None = None) -> Path:
        """Run every missing (task, model, seed) with ``executor`` (default: one after the other in this
        process; :class:`~sciptm.benchmarks.executors.RayExecutor` for a Ray cluster), then :meth:`collect`."""
        from sciptm.benchmarks.executors import SerialExecutor

        executor = executor or SerialExecutor()
        check_task_names(tasks)  # a typo in the last task must not surface after hours of the first ones
        check_model_names(models)  # nor a model name that cannot run (e.g. an unknown side-feature set)
        self.out.mkdir(parents=True, exist_ok=True)
        self.grid = self.grid_record(tasks, models, seeds, command)  # this invocation (sciptm.benchmarks.collect)
        grid = [(t, m, s) for t in tasks for m in models for s in seeds]
        done = sum(self.layout.has_run(_task_name(t), m, s) for t, m, s in grid)
        where = "" if executor.name == "serial" else f" on {executor.name}"
        log.info("sciptm bench %s: %d runs (%d already done)%s -> %s", self.field.name, len(grid), done, where, self.out)
        bar = iter(progress_bar(range(len(grid)), f"bench {self.field.name}", self.progress, total=len(grid)))
        splits_meta: dict[str, Any] = {}
        jobs = self.jobs(tasks, models, seeds, csv_options or {}, splits_meta, bar)
        for job, outcome in executor.map(run_job, jobs):
            next(bar, None)
            self.record(job, outcome)
        for _ in bar:
            pass
        return self.collect(tasks, models, seeds, splits_meta, command)

    def jobs(self, tasks: Sequence[str], models: Sequence[str], seeds: Sequence[int], csv_options: dict[str, Any],
             splits_meta: dict[str, Any], bar: Iterator[Any] | None = None) -> Iterator[tuple[Job, TaskData]]:
        """Load each task once, make (or reload) its splits, and yield ``(job, data)`` for every run whose
        result file is missing; ``splits_meta`` is filled as tasks are loaded, finished runs advance ``bar``.
        The models of one (task, seed) share one :class:`TaskData` (and its feature cache)."""
        for task in tasks:
            ds = load_task(task, self.field, **csv_options)
            texts, valid, invalid = self.prepare(ds)
            splits_meta[ds.name] = {"method": split_method(self.split, ds), "seeds": {}, "n_invalid_inputs": len(invalid),
                                    "protocol": protocol_id(self.split, self.sizes, ds)}
            for seed in seeds:
                split = self.make_split(ds, seed)
                splits_meta[ds.name]["seeds"][str(seed)] = split.hash
                data = None
                for model in models:
                    if self.layout.has_run(ds.name, model, seed) or self.collect_only:
                        if bar is not None:
                            next(bar, None)
                        continue
                    if data is None:
                        data = self.task_data(ds, texts, valid, split)
                        data.cache = self._cache(ds.name)
                    yield self.job(ds, model, seed, split, len(invalid)), data

    def record(self, job: Job, outcome: dict[str, Any]) -> None:
        """Write a finished run's row to its :meth:`run_file` (atomically), or note its failure."""
        if "error" in outcome:  # one failing model must not stop the grid; it is reported
            self.failures.append({"task": job.task, "model": job.model, "seed": job.seed,
                                  "error": outcome["error"][:2000]})
            log.warning("  %12s %24s seed %s: FAILED %s", job.task, job.model, job.seed, outcome["error"][:300])
            return
        row = outcome["row"]
        if getattr(self, "grid", None):
            row.setdefault("grid", self.grid["id"])  # which invocation computed it (the report says)
        _write_json_atomic(self.run_file(job.task, job.model, job.seed), row)
        self.finished = getattr(self, "finished", 0) + 1
        log.info("  %12s %24s seed %s: %s = %.4f (%.0f s)", job.task, job.model, job.seed, row["metric"],
                 float("nan") if row["value"] is None else row["value"], row["seconds"])

    def _cache(self, task: str) -> dict[str, np.ndarray]:
        return self._caches.setdefault(task, {})

    def grid_record(self, tasks: Sequence[str], models: Sequence[str], seeds: Sequence[int],
                    command: str | None) -> dict[str, Any]:
        """This invocation as a grid of :mod:`sciptm.benchmarks.collect` (id, time, command, cells)."""
        from sciptm.benchmarks.collect import grid_id

        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        grid = {"tasks": [_task_name(t) for t in tasks], "models": list(models), "seeds": [int(s) for s in seeds],
                "split": self.split, "sizes": list(self.sizes)}
        return {"id": grid_id(grid, created), "created": created, "command": command, **grid}

    def collect(self, tasks: Sequence[str], models: Sequence[str], seeds: Sequence[int], splits_meta: dict[str, Any],
                command: str | None) -> Path:
        """Write ``results.json`` over every finished run in the folder, from this and earlier invocations
        (see :mod:`sciptm.benchmarks.collect`); ``missing`` lists this grid's unfinished cells."""
        from sciptm.benchmarks.collect import collect_folder, summarize

        current = getattr(self, "grid", None) or self.grid_record(tasks, models, seeds, command)
        rows, missing, grids, previous = collect_folder(self.layout, current, list(splits_meta), models, seeds)
        summary = summarize(rows)
        for task, meta in (previous.get("splits") or {}).items():  # tasks and seeds of earlier grids
            if task in splits_meta and meta.get("method") == splits_meta[task].get("method"):
                splits_meta[task]["seeds"] = {**meta.get("seeds", {}), **splits_meta[task]["seeds"]}
            elif task not in splits_meta and any(r["task"] == task for r in rows):
                splits_meta[task] = meta
        first = rows[0] if rows else {}
        result = {
            "field": self.field.name, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command, "config": {"tasks": list(splits_meta), "models": list(dict.fromkeys(
                                               [*models, *(r["model"] for r in rows)])),
                                           "seeds": sorted({*map(int, seeds), *(int(r["seed"]) for r in rows)}),
                                           "split": self.split, "sizes": list(self.sizes),
                                           "model_options": self.model_options},
            "grids": grids,
            "rows": rows, "summary": summary, "splits": splits_meta, "environment": environment(),
            "missing": missing, "failures": self.failures,
            "protocol": {"id": first.get("protocol"), "split": self.split, "sizes": list(self.sizes),
                         "description": _protocol_text(self.split, self.sizes, seeds)},
        }
        path = self.layout.results_json
        _write_json_atomic(path, result)
        return path


def _protocol_text(split: str, sizes: Sequence[float], seeds: Sequence[int]) -> str:
    if split in ("predefined", "official"):
        return f"the datasets' own splits (official folds: seed k = fold k), seeds/folds {list(seeds)}"
    if split in ("kfold", "stratified_kfold"):
        return f"{split} (5 folds, seed k = fold k), folds {list(seeds)}; invalid inputs removed after splitting"
    parts = "/".join(str(round(s * 100)) for s in sizes)
    return f"{split} split {parts}, seeds {list(seeds)}; invalid inputs removed after splitting"


def _device() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu x{os.cpu_count()}"


def _task_name(task: str) -> str:
    if _is_csv(task):
        name = Path(task).name
        for suffix in (".gz", ".csv", ".sdf"):
            name = name.removesuffix(suffix)
        return name
    return task


def _jsonable(arr: np.ndarray) -> Any:
    return [None if (isinstance(v, float) and np.isnan(v)) else v for v in arr.tolist()] if arr.ndim == 1 else \
        [[None if np.isnan(v) else float(v) for v in row] for row in arr]


def _write_json_atomic(path: Path, obj: Any) -> None:
    """Strict JSON (NaN -> null), written atomically: nothing half-written and no temporary file left on error."""
    from sciptm._util.atomic import write_json_atomic

    write_json_atomic(path, obj, indent=1)


def resolve_grid(field: str, tasks: Sequence[str] | None = None, models: Sequence[str] | None = None,
                 seeds: Sequence[int] = (0,), quick: bool = False,
                 model_options: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The grid a :func:`run` call computes, with ``quick`` and the field's defaults filled in: ``tasks``,
    ``models``, ``seeds`` and ``model_options`` (``sciptm bench`` records them in ``resolved_config.yaml``)."""
    from sciptm.benchmarks.models import check_model_options

    fld = FIELDS.get(field)
    model_options = check_model_options(model_options) or None  # unknown options are refused, never ignored
    if quick:
        tasks = tasks or list(fld.quick_tasks)
        models = models or [m if _available(m) else str(ModelSpec.parse(m).with_base("tiny")) for m in fld.quick_models]
        seeds = list(seeds)[:1]
        model_options = {"default": dict(fld.quick_options), **(model_options or {})}
    return {"tasks": list(tasks or fld.tasks), "models": list(models or fld.models), "seeds": list(seeds),
            "model_options": model_options}


def run(field: str = "chem", tasks: Sequence[str] | None = None, models: Sequence[str] | None = None,
        split: str | None = None, seeds: Sequence[int] = (0,), out: str | Path = "results", quick: bool = False,
        model_options: dict[str, dict[str, Any]] | None = None, sizes: Sequence[float] | None = None,
        input: str | None = None, targets: Sequence[str] | None = None, task_type: str | None = None,
        progress: bool = True, command: str | None = None, report: bool = True, collect_only: bool = False,
        executor: Executor | None = None):
    """Run a benchmark grid and return :class:`sciptm.reports.BenchmarkResults`.

    ``quick=True`` uses the field's quick tasks/models, one seed and few epochs (the README's job).
    A CSV path in ``tasks`` is a user's dataset (``input``, ``targets`` and ``task_type`` then required).
    ``model_options`` maps a model name (or ``"default"``) to its options (epochs, lr, features...).
    ``collect_only=True`` computes nothing: it gathers the finished result files (missing ones are listed
    in ``results.json["missing"]``) and builds the report.
    ``executor`` runs the jobs (default: serially here; ``RayExecutor()`` runs them in parallel on Ray, with the
    same result files, resume behaviour and ``results.json``; see :mod:`sciptm.benchmarks.executors`).
    """
    fld = FIELDS.get(field)
    grid = resolve_grid(field, tasks, models, seeds, quick, model_options)
    tasks, models, seeds, model_options = grid["tasks"], grid["models"], grid["seeds"], grid["model_options"]
    runner = Runner(field, out, split, sizes, model_options, progress)
    runner.collect_only = collect_only
    csv_options = {"input": input, "targets": targets, "task_type": task_type} if input or targets or task_type else {}
    path = runner.run(list(tasks or fld.tasks), list(models or fld.models), list(seeds), command, csv_options,
                      executor)
    if runner.failures and not getattr(runner, "finished", 0):  # nothing computed: show the real error, not a table
        from sciptm.errors import RunsFailedError

        first = runner.failures[0]
        more = f"; {len(runner.failures) - 1} more in {path} ('failures')" if len(runner.failures) > 1 else ""
        raise RunsFailedError(f"every run failed ({len(runner.failures)}): {first['task']} / {first['model']} seed "
                              f"{first['seed']}: {first['error']}{more}")
    from sciptm.reports import BenchmarkResults, build_report

    if report:
        build_report(path.parent)
    return BenchmarkResults(path.parent)


def _available(model: str) -> bool:
    """False for a shipped encoder missing from this build (the quick list then uses ``tiny``)."""
    if model in MODELS:
        return True
    base = ModelSpec.parse(model).base
    if base.startswith("sciptm/"):
        from sciptm.encoders.hub import SHIPPED

        return base in SHIPPED
    return True
