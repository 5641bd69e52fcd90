"""Hyperparameter search (optuna) for any benchmark model, inside the training part of a split only.

The outer split is the benchmark's own (same method, seed and saved split file as ``sciptm bench``). The
search never sees its test rows, nor its validation rows: a new :class:`~sciptm.benchmarks.taskdata.TaskData`
is built from the *training rows alone* and split again (inner train / inner validation, same split method
when it applies); each trial fits the model on the inner train part with the trial's options and is scored on
the inner validation part. Fine-tuned encoders report their per-epoch validation score (early-stopping rows,
carved from the inner train part) so a median pruner stops poor trials early.

The best options are written as ``best_config.yaml`` in the layout of a benchmark's ``model_options``
(``{model: {option: value}}``), so ``sciptm bench chem --models ecfp-rf --model-options best_config.yaml``
(or ``model_options:`` in a bench config) uses them as they are. ``trials.csv`` lists every trial.

A search space maps an option name to one of:

- ``{low: 1e-5, high: 1e-3, log: true}``: a float (an int when ``low`` and ``high`` are both ints, or with
  ``type: int``; ``step`` optional);
- ``{choices: [none, encoder]}`` or a plain list ``[64, 128, 256]``: a categorical choice;
- any other value: fixed for every trial.

>>> space = parse_space({"lr": {"low": 1e-5, "high": 1e-3, "log": True}, "freeze": ["none", "encoder"], "epochs": 5})
>>> sorted((p.name, p.kind) for p in space.values())
[('epochs', 'fixed'), ('freeze', 'categorical'), ('lr', 'float')]
>>> tune("esol", "ecfp-rf", {"n_estimators": {"low": 50, "high": 500}}, n_trials=10, out="tune/esol")  # doctest: +SKIP
"""
from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sciptm import metrics as metric_lib
from sciptm.benchmarks.models import build_model
from sciptm.benchmarks.runner import Runner, load_task, split_method
from sciptm.benchmarks.taskdata import TaskData
from sciptm.progress import progress_bar
from sciptm.splits import make_split
from sciptm.training.trainer import epoch_callback

#: outer split methods the inner split copies (others, e.g. predefined folds, use ``random`` inside)
INNER_METHODS = ("random", "scaffold", "scaffold_balanced", "stratified")
_SCAFFOLD = ("scaffold", "scaffold_balanced")
_KINDS = ("float", "int", "categorical", "fixed")


@dataclass(frozen=True)
class Param:
    """One dimension of a search space (see :func:`parse_space`)."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    value: Any = None

    def suggest(self, trial: Any) -> Any:
        """This option's value for an optuna ``trial``."""
        if self.kind == "fixed":
            return self.value
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step, log=self.log)


def parse_space(space: Mapping[str, Any]) -> dict[str, Param]:
    """Read a search space mapping (from YAML); raises ``ValueError`` naming the bad entry."""
    if not isinstance(space, Mapping) or not space:
        raise ValueError("a search space must be a non-empty mapping of option name -> range, choices or value")
    out: dict[str, Param] = {}
    for name, spec in space.items():
        name = str(name)
        if isinstance(spec, (list, tuple)):
            spec = {"choices": list(spec)}
        if not isinstance(spec, Mapping) or not ({"low", "high", "choices", "type"} & set(spec)):
            out[name] = Param(name, "fixed", value=spec)
            continue
        extra = set(spec) - {"type", "low", "high", "log", "step", "choices"}
        if extra:
            raise ValueError(f"search space {name!r}: unknown key(s) {sorted(extra)}; use low/high/log/step, "
                             f"choices or type")
        if "choices" in spec:
            choices = tuple(spec["choices"])
            if not choices:
                raise ValueError(f"search space {name!r}: choices is empty")
            out[name] = Param(name, "categorical", choices=choices)
            continue
        if "low" not in spec or "high" not in spec:
            raise ValueError(f"search space {name!r}: a range needs both low and high")
        low, high = spec["low"], spec["high"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) or low > high:
            raise ValueError(f"search space {name!r}: low and high must be numbers with low <= high, "
                             f"not {low!r}, {high!r}")
        kind = spec.get("type") or ("int" if isinstance(low, int) and isinstance(high, int) else "float")
        if kind not in ("int", "float"):
            raise ValueError(f"search space {name!r}: type must be int or float for a range, not {kind!r}")
        log = bool(spec.get("log", False))
        if log and low <= 0:
            raise ValueError(f"search space {name!r}: a log range needs low > 0")
        out[name] = Param(name, kind, low=low, high=high, log=log, step=spec.get("step"))
    return out


def inner_task(data: TaskData, fraction: float = 0.2, seed: int = 0, method: str = "random") -> TaskData:
    """The training rows of ``data`` alone, split again: inner ``train`` and an inner validation part held in
    ``test`` (so any benchmark model scores on it unchanged); ``valid`` is empty (fine-tuned encoders carve
    their early-stopping rows from the inner train part). The outer valid and test rows are not in it at all.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"inner validation fraction must be between 0 and 1, not {fraction}")
    keep = np.sort(np.asarray(data.train, dtype=int))
    if len(keep) < 4:
        raise ValueError(f"{data.name}: {len(keep)} training rows are too few to tune on")
    texts = [data.texts[i] for i in keep]
    y = data.y[keep]
    labels = y[:, 0] if method == "stratified" else None
    split = make_split(method, n=len(keep), smiles=texts, labels=labels, seed=seed, sizes=(1 - fraction, 0.0, fraction))
    inner_train = np.sort(np.concatenate([split.train, split.valid]).astype(int))
    return TaskData(name=data.name, task_type=data.task_type, domain=data.domain, metric=data.metric,
                    target_names=list(data.target_names), texts=texts, y=y, rows=np.asarray(data.rows)[keep],
                    train=inner_train, valid=np.array([], dtype=int), test=np.sort(np.asarray(split.test, dtype=int)),
                    raw_inputs=[data.raw_inputs[i] for i in keep] if data.raw_inputs else [],
                    domain_config=dict(data.domain_config))


@dataclass
class TuneResult:
    """What :func:`tune` found. ``best_options`` = fixed options + the best trial's values;
    ``trials`` has one row per trial (number, value, state, params_*); ``outer`` is the outer split's
    row layout (``train``/``valid``/``test`` dataset row indices) that the search stayed inside of."""

    model: str
    task: str
    metric: str
    greater_is_better: bool
    best_value: float
    best_params: dict[str, Any]
    best_options: dict[str, Any]
    trials: pd.DataFrame
    study: Any
    outer: dict[str, np.ndarray] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    #: the mean predictor's score on the same inner validation rows (``None`` when it cannot be scored)
    baseline_value: float | None = None

    @property
    def baseline_beats_all(self) -> bool:
        """True when the mean predictor scores at least as well as the best trial: nothing was learned."""
        if self.baseline_value is None:
            return False
        if self.greater_is_better:
            return self.baseline_value >= self.best_value
        return self.baseline_value <= self.best_value

    @property
    def best_config(self) -> dict[str, dict[str, Any]]:
        """``{model: best_options}``: a benchmark's ``model_options``."""
        return {self.model: dict(self.best_options)}


def _inner_method(outer: str, domain: str, inner_split: str | None) -> str:
    if inner_split:
        return inner_split
    if outer in INNER_METHODS and (outer not in _SCAFFOLD or domain == "smiles"):
        return outer
    return "random"


def _pruning_reporter(trial: Any, greater_is_better: bool) -> Callable[[dict[str, Any]], None]:
    """Report each epoch's validation score to optuna (signed to the study's direction) and prune."""
    import optuna

    def report(row: dict[str, Any]) -> None:
        score = row.get("valid_score")
        if score is None or math.isnan(score):
            return
        value = score if bool(row.get("greater_is_better")) == greater_is_better else -score
        trial.report(float(value), step=int(row["epoch"]))
        if trial.should_prune():
            raise optuna.TrialPruned(f"epoch {row['epoch']}: {value:.4g}")

    return report


def tune(task: str, model: str, space: Mapping[str, Any], field: str = "chem", n_trials: int = 20, seed: int = 0,
         split: str | None = None, inner_valid: float = 0.2, inner_split: str | None = None,
         model_options: Mapping[str, Any] | None = None, metric: str | None = None, timeout: float | None = None,
         prune: bool = True, startup_trials: int = 5, out: str | Path | None = None, progress: bool = True,
         input: str | None = None, targets: Sequence[str] | None = None, task_type: str | None = None) -> TuneResult:
    """Search ``space`` for ``model`` on ``task`` with optuna (TPE sampler seeded by ``seed``).

    Parameters
    ----------
    task, field, split, seed: the outer benchmark split (``split=None``: the field's), as in ``sciptm bench``;
        a CSV path as ``task`` needs ``input``, ``targets`` and ``task_type``.
    model: any benchmark model name (``ecfp-rf``, ``tiny``, ``sciptm/smiles-small``...).
    space: option name -> range / choices / fixed value (see :func:`parse_space`).
    model_options: fixed options for every trial (the search space wins on shared keys).
    inner_valid, inner_split: share of the training rows held out to score trials, and the inner split method
        (``None``: the outer method when it is random/scaffold/stratified, else random).
    metric: objective (default: the task's metric); its direction comes from the metric registry.
    timeout: stop starting new trials after this many seconds.
    prune, startup_trials: median pruning on per-epoch validation scores after ``startup_trials`` trials.
    out: folder for ``best_config.yaml``, ``trials.csv`` and the outer split file (``None``: nothing written).

    Returns
    -------
    :class:`TuneResult`.
    """
    import optuna

    from sciptm.benchmarks.models import check_model_options

    params = parse_space(space)
    fixed = dict(model_options or {})
    check_model_options({model: {**fixed, **dict.fromkeys(space or {})}})  # fixed and searched options the model reads
    if n_trials < 1:
        raise ValueError(f"n_trials must be at least 1, not {n_trials}")
    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(field, out if out is not None else tmp, split, progress=False)
        csv_options = {"input": input, "targets": targets, "task_type": task_type} if input or targets or task_type \
            else {}
        ds = load_task(task, runner.field, **csv_options)
        texts, valid, _ = runner.prepare(ds)
        outer_split = runner.make_split(ds, seed)
        data = runner.task_data(ds, texts, valid, outer_split)
    method = _inner_method(split_method(runner.split, ds), data.domain, inner_split)
    inner = inner_task(data, inner_valid, seed, method)
    inner.cache = {}  # features (ECFP...) of the inner rows, computed once for all trials
    metric = metric or data.metric
    greater = metric_lib.METRICS.get(metric).greater_is_better
    y_true = inner.y_true("test")
    baseline = _mean_baseline(inner, seed, metric, y_true)

    def objective(trial: Any) -> float:
        options = {**fixed, **{name: p.suggest(trial) for name, p in params.items()}}
        with epoch_callback(_pruning_reporter(trial, greater) if prune else (lambda row: None)):
            pred = np.asarray(build_model(model, options).fit_predict(inner, seed), dtype=float)
        value = float(metric_lib.compute(metric, y_true, pred))
        if math.isnan(value):
            raise optuna.TrialPruned(f"{metric} is NaN on the inner validation rows")
        return value

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar and trials.csv say it instead
    start = time.perf_counter()
    try:
        sampler = optuna.samplers.TPESampler(seed=seed)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=startup_trials) if prune else optuna.pruners.NopPruner()
        study = optuna.create_study(direction="maximize" if greater else "minimize", sampler=sampler, pruner=pruner,
                                    study_name=f"{data.name}-{model}")
        for _ in progress_bar(range(n_trials), f"tune {model} on {data.name}", progress, total=n_trials):
            study.optimize(objective, n_trials=1)
            if timeout is not None and time.perf_counter() - start >= timeout:
                break
    finally:
        optuna.logging.set_verbosity(verbosity)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise ValueError(f"no trial of {model} on {data.name} finished ({len(study.trials)} pruned or failed)")
    best = study.best_trial
    best_params = {name: best.params[name] for name, p in params.items() if p.kind != "fixed"}
    best_options = {**fixed, **{name: p.value for name, p in params.items() if p.kind == "fixed"}, **best_params}
    result = TuneResult(model=model, task=data.name, metric=metric, greater_is_better=greater,
                        best_value=float(best.value), best_params=best_params, best_options=best_options,
                        trials=study.trials_dataframe(attrs=("number", "value", "state", "params", "duration")),
                        study=study, baseline_value=baseline,
                        outer={"train": data.rows[data.train], "valid": data.rows[data.valid],
                               "test": data.rows[data.test]})
    if out is not None:
        result.files = write_results(result, out, inner_method=method, n_inner=(len(inner.train), len(inner.test)),
                                     seed=seed, split=split_method(runner.split, ds))
    return result


def write_results(result: TuneResult, out: str | Path, **about: Any) -> dict[str, Path]:
    """``best_config.yaml`` (``{model: options}``, with a comment saying where it comes from) and
    ``trials.csv`` in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    head = (f"# sciptm tune: {result.model} on {result.task}, best inner-validation {result.metric} = "
            f"{result.best_value:.6g} over {len(result.trials)} trials\n"
            f"# {', '.join(f'{k}={v}' for k, v in about.items())}\n"
            f"# use as a benchmark's model_options (sciptm bench --model-options best_config.yaml)\n")
    if result.baseline_beats_all:
        head += (f"# note: the mean predictor scores {result.baseline_value:.6g} on the same rows, as well as or "
                 f"better than every trial\n")
    best = out / "best_config.yaml"
    best.write_text(head + yaml.safe_dump(_plain(result.best_config), sort_keys=False))
    trials = out / "trials.csv"
    result.trials.to_csv(trials, index=False)
    return {"best_config": best, "trials": trials}


def _mean_baseline(inner: TaskData, seed: int, metric: str, y_true: np.ndarray) -> float | None:
    """The mean predictor's ``metric`` on the inner validation rows: the floor every trial should beat."""
    try:
        pred = np.asarray(build_model("mean", {}).fit_predict(inner, seed), dtype=float)
        value = float(metric_lib.compute(metric, y_true, pred))
    except (ValueError, TypeError):  # a metric that a constant prediction cannot be scored with
        return None
    return None if math.isnan(value) else value


def _plain(obj: Any) -> Any:
    """numpy scalars -> Python (YAML-safe)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


__all__ = ["Param", "TuneResult", "inner_task", "parse_space", "tune", "write_results"]
