"""Evaluation metrics: one registry of scikit-learn / SciPy scores with a shape-aware front door.

Every metric is a thin wrapper over scikit-learn or SciPy; this module only decides which rows
and tasks are scored and how the per-task numbers are averaged.

Shapes accepted by :func:`compute`
----------------------------------
``y_true [N]``, ``y_pred [N]`` (or ``[N, 1]``)
    One task: regression values, positive-class probabilities or hard 0/1 labels.
``y_true [N, T]``, ``y_pred [N, T]``
    ``T`` tasks (multitask regression or multitask binary classification). ``NaN`` in ``y_true``
    marks a missing label; each task is scored on its labelled rows and the task scores are
    averaged (tasks whose score is undefined are left out of the mean; see below).
``y_true [N]`` integer labels, ``y_pred [N, C]`` with ``C >= 2``
    Multiclass class probabilities. ``accuracy`` takes the argmax; ``precision``, ``recall`` and
    ``f1`` are macro averages over classes on the argmax; ``roc_auc`` and ``pr_auc`` are macro
    one-vs-rest averages over the classes present in ``y_true`` (a class absent from ``y_true``
    has no positives and is skipped). When every class is present, ``roc_auc`` equals
    ``sklearn.metrics.roc_auc_score(y, p, multi_class="ovr", average="macro")``.

Rules
-----
* ``NaN`` labels are ignored, ``NaN`` predictions on labelled rows are an error.
* ``roc_auc`` / ``pr_auc`` are undefined on a task whose labels hold one class only; such tasks
  are skipped, and if no task is left the result is ``NaN``.
* Hard-label metrics (``kind == "label"``) on binary scores threshold at 0.5 (``p >= 0.5`` is
  positive), so probabilities and 0/1 labels both work. Zero divisions score 0 (sklearn's
  ``zero_division=0``).
* ``pearson``, ``spearman`` and ``r2`` are ``NaN`` on fewer than two rows or constant inputs.
* ``pr_auc`` is average precision (``sklearn.metrics.average_precision_score``), the step-wise
  PR-AUC estimate used by OGB and TDC.

Example
-------
>>> import numpy as np
>>> from sciptm import metrics
>>> y = np.array([[1.0, np.nan], [0.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
>>> p = np.array([[0.9, 0.2], [0.1, 0.5], [0.7, 0.7], [0.4, 0.3]])
>>> metrics.per_task("roc_auc", y, p)
[1.0, 0.5]
>>> metrics.compute("roc_auc", y, p)
0.75
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn import metrics as skm

from sciptm.errors import InvalidInputError, InvalidRecord
from sciptm.registry import Registry

KINDS = ("regression", "classification", "label")

ScoreFn = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Metric:
    """One named score.

    Attributes
    ----------
    name:
        Registry key.
    fn:
        ``fn(y_true [n], y_pred [n]) -> float`` on clean one-task arrays (no ``NaN``). For
        ``kind == "label"`` it receives hard labels, for ``"classification"`` scores.
    greater_is_better:
        Direction used for model selection and early stopping.
    kind:
        ``"regression"``, ``"classification"`` (needs scores / probabilities) or ``"label"``
        (needs hard labels).
    multiclass_fn:
        ``fn(y_true [n] int, y_pred)`` for multiclass inputs: ``y_pred`` is ``[n, C]``
        probabilities for ``"classification"`` metrics and ``[n]`` argmax labels for
        ``"label"`` metrics. ``None`` for regression metrics.
    """

    name: str
    fn: ScoreFn
    greater_is_better: bool
    kind: str
    multiclass_fn: Callable[[np.ndarray, np.ndarray], float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"metric {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")

    def is_better(self, new: float, old: float) -> bool:
        """Whether score ``new`` beats ``old`` in this metric's direction (``NaN`` never wins)."""
        if np.isnan(new):
            return False
        if np.isnan(old):
            return True
        return new > old if self.greater_is_better else new < old


METRICS: Registry[Metric] = Registry("metric")


def _add(metric: Metric) -> Metric:
    return METRICS.add(metric.name, metric)


# --------------------------------------------------------------------------- regression


def _rmse(t: np.ndarray, p: np.ndarray) -> float:
    return float(skm.root_mean_squared_error(t, p))


def _mse(t: np.ndarray, p: np.ndarray) -> float:
    return float(skm.mean_squared_error(t, p))


def _mae(t: np.ndarray, p: np.ndarray) -> float:
    return float(skm.mean_absolute_error(t, p))


def _degenerate(t: np.ndarray, p: np.ndarray) -> bool:
    """Fewer than two rows or a constant side: correlation / r2 undefined."""
    return len(t) < 2 or bool(np.ptp(t) == 0) or bool(np.ptp(p) == 0)


def _r2(t: np.ndarray, p: np.ndarray) -> float:
    if len(t) < 2 or np.ptp(t) == 0:
        return float("nan")
    return float(skm.r2_score(t, p))


def _pearson(t: np.ndarray, p: np.ndarray) -> float:
    if _degenerate(t, p):
        return float("nan")
    return float(stats.pearsonr(t, p).statistic)


def _spearman(t: np.ndarray, p: np.ndarray) -> float:
    if _degenerate(t, p):
        return float("nan")
    return float(stats.spearmanr(t, p).statistic)


_add(Metric("rmse", _rmse, greater_is_better=False, kind="regression"))
_add(Metric("mse", _mse, greater_is_better=False, kind="regression"))
_add(Metric("mae", _mae, greater_is_better=False, kind="regression"))
_add(Metric("r2", _r2, greater_is_better=True, kind="regression"))
_add(Metric("pearson", _pearson, greater_is_better=True, kind="regression"))
_add(Metric("spearman", _spearman, greater_is_better=True, kind="regression"))

# --------------------------------------------------------------------------- classification (scores)


def _two_classes(t: np.ndarray) -> bool:
    return len(np.unique(t)) == 2


def _roc_auc(t: np.ndarray, p: np.ndarray) -> float:
    if not _two_classes(t):
        return float("nan")
    return float(skm.roc_auc_score(t, p))


def _pr_auc(t: np.ndarray, p: np.ndarray) -> float:
    if not _two_classes(t):
        return float("nan")
    return float(skm.average_precision_score(t, p))


def _one_vs_rest(binary: ScoreFn) -> Callable[[np.ndarray, np.ndarray], float]:
    """Macro one-vs-rest average of ``binary`` over the classes present in ``y_true``."""

    def score(t: np.ndarray, proba: np.ndarray) -> float:
        present = np.unique(t).astype(int)
        if len(present) < 2:
            return float("nan")
        return float(np.mean([binary((t == c).astype(int), proba[:, c]) for c in present]))

    return score


_add(Metric("roc_auc", _roc_auc, greater_is_better=True, kind="classification",
            multiclass_fn=_one_vs_rest(_roc_auc)))
_add(Metric("pr_auc", _pr_auc, greater_is_better=True, kind="classification",
            multiclass_fn=_one_vs_rest(_pr_auc)))

# --------------------------------------------------------------------------- classification (labels)


def _accuracy(t: np.ndarray, p: np.ndarray) -> float:
    return float(skm.accuracy_score(t, p))


def _binary_or_macro(fn: Callable[..., float], average: str) -> ScoreFn:
    def score(t: np.ndarray, p: np.ndarray) -> float:
        return float(fn(t, p, average=average, zero_division=0.0))

    return score


for _name, _fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
    _add(Metric(_name, _binary_or_macro(_fn, "binary"), greater_is_better=True, kind="label",
                multiclass_fn=_binary_or_macro(_fn, "macro")))
_add(Metric("accuracy", _accuracy, greater_is_better=True, kind="label", multiclass_fn=_accuracy))

# --------------------------------------------------------------------------- front door


def _layout(metric: Metric, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[str, np.ndarray, np.ndarray]:
    """Return ``(mode, y_true, y_pred)`` with mode ``"tasks"`` (both ``[N, T]``) or ``"multiclass"``."""
    if y_true.ndim == 0 or y_pred.ndim == 0:
        raise ValueError("metrics need arrays of rows, got a scalar")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} rows but y_pred has {len(y_pred)}")
    if y_true.ndim == 2 and y_true.shape[1] == 1 and y_pred.ndim == 1:
        y_true = y_true[:, 0]
    if y_true.ndim == 1 and y_pred.ndim == 2 and y_pred.shape[1] >= 2:
        if metric.multiclass_fn is None:
            raise ValueError(
                f"metric {metric.name!r} is a regression metric but y_pred has shape {y_pred.shape} "
                "(class probabilities); give y_true and y_pred the same shape"
            )
        return "multiclass", y_true, y_pred
    if y_true.ndim == 1:
        y_true = y_true[:, None]
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    if y_true.ndim != 2 or y_true.shape != y_pred.shape:
        raise ValueError(
            f"cannot score y_true of shape {y_true.shape} against y_pred of shape {y_pred.shape}; "
            "expected [N] vs [N], [N, T] vs [N, T] or [N] integer labels vs [N, C] probabilities"
        )
    return "tasks", y_true, y_pred


def _check_finite_predictions(y_pred: np.ndarray, rows: np.ndarray, task: int | None) -> None:
    bad = rows[~np.isfinite(y_pred)]
    if len(bad):
        where = "" if task is None else f" (task {task})"
        raise InvalidInputError(
            [InvalidRecord(int(i), "nan/inf", f"prediction is not finite{where}") for i in bad],
            message=f"y_pred is not finite at row {int(bad[0])}{where}"
            + (f" and {len(bad) - 1} more rows" if len(bad) > 1 else ""),
        )


def _check_binary_labels(t: np.ndarray, rows: np.ndarray, metric: Metric, task: int) -> None:
    bad = ~np.isin(t, (0.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"metric {metric.name!r} needs 0/1 labels; task {task} has {t[i]!r} at row {int(rows[i])}"
        )


def _task_score(metric: Metric, t: np.ndarray, p: np.ndarray, task: int) -> float:
    rows = np.flatnonzero(~np.isnan(t))
    if len(rows) == 0:
        return float("nan")
    t, p = t[rows], p[rows]
    _check_finite_predictions(p, rows, task)
    if metric.kind != "regression":
        _check_binary_labels(t, rows, metric, task)
        t = t.astype(int)
    if metric.kind == "label":
        p = (p >= 0.5).astype(int)
    return metric.fn(t, p)


def _multiclass_score(metric: Metric, t: np.ndarray, proba: np.ndarray) -> float:
    rows = np.flatnonzero(~np.isnan(t))
    if len(rows) == 0:
        return float("nan")
    t, proba = t[rows], proba[rows]
    if not np.isfinite(proba).all():
        _check_finite_predictions(proba.sum(axis=1), rows, None)
    n_classes = proba.shape[1]
    bad = (t != np.round(t)) | (t < 0) | (t >= n_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"multiclass labels must be integers in [0, {n_classes}); got {t[i]!r} at row {int(rows[i])}"
        )
    t = t.astype(int)
    fn = metric.multiclass_fn
    if fn is None:  # guarded in _layout; kept for type narrowing
        raise ValueError(f"metric {metric.name!r} has no multiclass form")
    if metric.kind == "label":
        return fn(t, proba.argmax(axis=1))
    return fn(t, proba)


def per_task(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> list[float]:
    """Score each task separately; ``NaN`` where a task has no labels or the score is undefined.

    A single task or a multiclass problem gives a one-element list.

    >>> per_task("mae", [[1.0, 2.0], [3.0, float("nan")]], [[1.5, 2.0], [3.0, 9.0]])
    [0.25, 0.0]
    """
    metric = METRICS.get(name)
    mode, t, p = _layout(metric, np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float))
    if mode == "multiclass":
        return [_multiclass_score(metric, t, p)]
    return [_task_score(metric, t[:, j], p[:, j], j) for j in range(t.shape[1])]


def compute(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Score predictions with metric ``name``, averaging over tasks whose score is defined.

    Returns ``NaN`` when no task can be scored (e.g. ``roc_auc`` with one class everywhere).

    >>> compute("rmse", [1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    1.1547005383792515
    """
    scores = np.asarray(per_task(name, y_true, y_pred), dtype=float)
    defined = scores[~np.isnan(scores)]
    return float(defined.mean()) if len(defined) else float("nan")


def compute_all(names: Iterable[str], y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """:func:`compute` for several metrics: ``{name: score}``.

    >>> compute_all(["accuracy", "f1"], [0, 1, 1, 0], [0.2, 0.9, 0.4, 0.1])
    {'accuracy': 0.75, 'f1': 0.6666666666666666}
    """
    return {name: compute(name, y_true, y_pred) for name in names}
