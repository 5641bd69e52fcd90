"""Hybrid recipes: a frozen encoder's pooled embedding beside descriptor side features, head chosen by inner validation.

A hybrid probe never trains the encoder. For every input it reads

- ``E``: the frozen, mean-pooled encoder embedding (``d`` columns), and
- ``D``: a descriptor block (``rdkit2d`` for SMILES, ``magpie`` for crystals/compositions),

and fits two heads on the *training* rows only:

- ``linear``: ridge regression (``RidgeCV``) or a ridge classifier (``RidgeClassifierCV``, scores through a
  sigmoid) on ``[standardized E ; standardized, clipped D]``, penalty by leave-one-out on the fitted rows;
- ``rf``: a random forest on ``D`` (the classical descriptor baseline), and (``forests`` holds ``"both"``)
- ``rf-both``: a random forest on ``[E ; D]`` (``max_features`` 0.33 for regression, sqrt for classification).

Its prediction is ``w * linear + (1 - w) * forest``, with the forest and ``w`` taken from :data:`WEIGHTS`
(``w = 1`` is the linear head alone, ``w = 0`` the forest alone) by the task metric on **inner** rows that are never
test rows:

``valid``
    the split's validation rows (both heads fitted on the training rows, scored on the validation rows);
``oof``
    when there are no validation rows (Matbench folds): out-of-fold predictions of the training rows
    (``inner_folds``-fold cross-validation of the linear head, out-of-bag predictions of the forest); both heads
    are then fitted on all training rows.

What was chosen (``recipe``: ``linear``/``rf``/``blend``/``rf-both``/``blend-both``, ``w``, every candidate's inner
score keyed ``"<w>"`` for the descriptor forest and ``"both:<w>"`` for the other, penalties) is
returned as a JSON-able dict that the benchmark runner writes to the run file (``model_info``).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> E, D = rng.normal(size=(60, 4)), rng.normal(size=(60, 3))
>>> y = (E[:, :1] + D[:, :1]).astype(float)
>>> pred, info = fit_predict_hybrid(E, D, y, "regression", "rmse", np.arange(40), np.arange(40, 50),
...                                 np.arange(50, 60), seed=0, n_estimators=20)
>>> pred.shape, info["inner"], 0.0 <= info["w"] <= 1.0
((10,), 'valid', True)
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: blend weights of the linear head searched on the inner rows (0 = forest only, 1 = linear head only)
WEIGHTS = tuple(round(float(w), 2) for w in np.linspace(0.0, 1.0, 11))
#: the descriptor block of each domain when none is named
FIELD_FEATURES = {"smiles": "rdkit2d", "crystal": "magpie"}
#: standardized descriptors are clipped to this many standard deviations (RDKit's Ipc and friends are heavy-tailed)
CLIP = 6.0


#: ridge penalties searched by leave-one-out on the fitted rows (as :data:`sciptm.benchmarks.models.probe.ALPHAS`)
ALPHAS = tuple(float(a) for a in np.logspace(-2, 5, 15))


def _impute(train: np.ndarray, full: np.ndarray) -> np.ndarray:
    """NaN/inf -> the column median of ``train`` (0 for an all-missing column)."""
    full = np.where(np.isfinite(full), full, np.nan).astype(np.float64)
    train = full if train is None else np.where(np.isfinite(train), train, np.nan)
    with np.errstate(all="ignore"):
        med = np.nanmedian(np.where(np.isnan(train).all(0), 0.0, train), axis=0) if len(train) else 0.0
    return np.where(np.isnan(full), np.nan_to_num(med), full)


def design_matrix(E: np.ndarray, D: np.ndarray, fit_rows: np.ndarray) -> np.ndarray:
    """``[standardized E ; standardized D clipped to +-CLIP]``, statistics from ``fit_rows`` only."""
    blocks = []
    for X, clip in ((E, None), (D, CLIP)):
        X = _impute(np.asarray(X, dtype=np.float64)[fit_rows], np.asarray(X, dtype=np.float64))
        mu, sd = X[fit_rows].mean(0), X[fit_rows].std(0)
        Z = (X - mu) / np.where(sd > 0, sd, 1.0)
        blocks.append(np.clip(Z, -clip, clip) if clip else Z)
    return np.hstack(blocks)


def _linear(Z: np.ndarray, y: np.ndarray, fit: np.ndarray, predict: list[np.ndarray], classify: bool,
            alphas: Sequence[float], models: list[Any] | None = None) -> tuple[list[np.ndarray], float]:
    """Ridge head on ``Z[fit]`` (labelled rows of one target); predictions of each row set in ``predict``
    (the fitted estimator is appended to ``models`` when given)."""
    from sklearn.linear_model import RidgeClassifierCV, RidgeCV

    if classify:
        est = RidgeClassifierCV(alphas=tuple(alphas)).fit(Z[fit], y.astype(int))
    else:
        est = RidgeCV(alphas=tuple(alphas)).fit(Z[fit], y)
    if models is not None:
        models.append(est)
    return [linear_predict(est, Z[r], classify) for r in predict], float(est.alpha_)


def linear_predict(est: Any, Z: np.ndarray, classify: bool) -> np.ndarray:
    """A fitted ridge head's predictions: values, or a sigmoid of the classifier's decision function."""
    if not len(Z):
        return np.zeros(0)
    if classify:
        return 1.0 / (1.0 + np.exp(-est.decision_function(Z)))
    return np.asarray(est.predict(Z), dtype=float).reshape(-1)


def forest_predict(est: Any, D: np.ndarray, classify: bool) -> np.ndarray:
    """A fitted forest's predictions: values, or positive-class probabilities."""
    if not len(D):
        return np.zeros(0)
    return est.predict_proba(D)[:, 1] if classify else est.predict(D)


def _forest(classify: bool, n_estimators: int, seed: int, n_jobs: int, max_features: Any, oob: bool) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if classify else RandomForestRegressor
    extra = {} if max_features is None else {"max_features": max_features}
    return cls(n_estimators=n_estimators, n_jobs=n_jobs, random_state=seed, oob_score=oob, **extra)


def _single_class_value(labels: np.ndarray, classify: bool) -> float | None:
    """The constant a classifier target predicts when its training rows hold fewer than two classes, else None."""
    if classify and len(np.unique(labels)) < 2:
        return float(labels[0]) if len(labels) else 0.5
    return None


def forest_component(D: np.ndarray, y: np.ndarray, classify: bool, train: np.ndarray, inner: np.ndarray | None,
                     test: np.ndarray, seed: int, n_estimators: int = 500, n_jobs: int = 1,
                     max_features: Any = None, models: list[Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The forest head on ``D``, one forest per target column on its labelled training rows.

    Returns ``(inner_pred, test_pred)``: ``inner_pred`` has one row per ``inner`` row (forest fitted on ``train``)
    or, with ``inner=None``, one row per ``train`` row holding its out-of-bag prediction (NaN if never out of bag).
    Positive-class probabilities for classifiers. ``models`` receives one fitted forest (or a constant) per target.
    """
    D = _impute(np.asarray(D, dtype=np.float64)[train], np.asarray(D, dtype=np.float64))
    rows = train if inner is None else inner
    inner_pred = np.full((len(rows), y.shape[1]), np.nan)
    test_pred = np.full((len(test), y.shape[1]), np.nan)
    for t in range(y.shape[1]):
        keep = train[~np.isnan(y[train, t])]
        labels = y[keep, t]
        value = _single_class_value(labels, classify)
        if value is not None:
            inner_pred[:, t], test_pred[:, t] = value, value
            if models is not None:
                models.append(value)
            continue
        est = _forest(classify, n_estimators, seed, n_jobs, max_features, oob=inner is None)
        est.fit(D[keep], labels.astype(int) if classify else labels)
        if models is not None:
            models.append(est)
        test_pred[:, t] = forest_predict(est, D[test], classify)
        if inner is None:
            oob = est.oob_decision_function_[:, 1] if classify else est.oob_prediction_
            pos = {int(r): i for i, r in enumerate(train)}
            inner_pred[[pos[int(r)] for r in keep], t] = np.asarray(oob, dtype=float).reshape(-1)
        else:
            inner_pred[:, t] = forest_predict(est, D[inner], classify)
    return inner_pred, test_pred


def linear_component(Z: np.ndarray, y: np.ndarray, classify: bool, train: np.ndarray, inner: np.ndarray | None,
                     test: np.ndarray, seed: int, alphas: Sequence[float] | None = None,
                     inner_folds: int = 5, models: list[Any] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """The linear head on ``Z`` per target: ``(inner_pred, test_pred, chosen penalties)``; as
    :func:`forest_component`, with ``inner=None`` giving ``inner_folds``-fold out-of-fold predictions of ``train``."""
    from sklearn.model_selection import KFold

    alphas = tuple(alphas or ALPHAS)
    rows = train if inner is None else inner
    inner_pred = np.full((len(rows), y.shape[1]), np.nan)
    test_pred = np.full((len(test), y.shape[1]), np.nan)
    chosen: list[float] = []
    for t in range(y.shape[1]):
        keep = train[~np.isnan(y[train, t])]
        labels = y[keep, t]
        value = _single_class_value(labels, classify)
        if value is not None:
            inner_pred[:, t], test_pred[:, t] = value, value
            if models is not None:
                models.append(value)
            continue
        if inner is None:
            pos = {int(r): i for i, r in enumerate(train)}
            folds = KFold(n_splits=min(inner_folds, len(keep)), shuffle=True, random_state=seed)
            for a, b in folds.split(keep):
                if classify and len(np.unique(labels[a])) < 2:
                    inner_pred[[pos[int(r)] for r in keep[b]], t] = float(labels[a][0])
                    continue
                (part,), _ = _linear(Z, labels[a], keep[a], [keep[b]], classify, alphas)
                inner_pred[[pos[int(r)] for r in keep[b]], t] = part
            (test_pred[:, t],), alpha = _linear(Z, labels, keep, [test], classify, alphas, models)
        else:
            (inner_pred[:, t], test_pred[:, t]), alpha = _linear(Z, labels, keep, [inner, test], classify, alphas,
                                                                 models)
        chosen.append(alpha)
    return inner_pred, test_pred, chosen


def _metric_spec(metric: str) -> Any:
    from sciptm import metrics as metric_lib

    return metric_lib.METRICS.get(metric)


def both_matrix(E: np.ndarray, D: np.ndarray) -> np.ndarray:
    """``[E ; D]`` as float64, the input of the ``rf-both`` forest (missing values imputed inside the forest head)."""
    return np.hstack([np.asarray(E, dtype=np.float64), np.asarray(D, dtype=np.float64)])


def select_weight(y_inner: np.ndarray, linear: np.ndarray, forest: np.ndarray, metric: str,
                  weights: Sequence[float] = WEIGHTS) -> tuple[float, dict[str, float]]:
    """The blend weight of the linear head with the best ``metric`` on the inner rows, and every weight's score.

    Rows where either head has no prediction (a row never out of bag) are left out; ties keep the smaller weight.
    """
    from sciptm import metrics as metric_lib

    spec = metric_lib.METRICS.get(metric)
    y = np.array(y_inner, dtype=float)
    y[np.isnan(linear) | np.isnan(forest)] = np.nan  # unscored cells: missing labels and missing predictions
    ok = ~np.isnan(y).all(axis=1)
    scores: dict[str, float] = {}
    for w in weights:
        blend = np.nan_to_num(w * linear + (1.0 - w) * forest)
        yy, pp = (y[ok, 0], blend[ok, 0]) if y.shape[1] == 1 else (y[ok], blend[ok])
        scores[f"{w:g}"] = float(metric_lib.compute(metric, yy, pp))
    finite = {k: v for k, v in scores.items() if np.isfinite(v)}
    if not finite:
        return 1.0, scores
    best = (max if spec.greater_is_better else min)(finite, key=lambda k: finite[k])
    return float(best), scores


def fit_predict_hybrid(E: np.ndarray, D: np.ndarray, y: np.ndarray, task: str, metric: str, train: np.ndarray,
                       valid: np.ndarray | None, test: np.ndarray, seed: int = 0, *, n_estimators: int = 500,
                       n_jobs: int = 1, max_features: Any = None, alphas: Sequence[float] | None = None,
                       weights: Sequence[float] = WEIGHTS, inner_folds: int = 5,
                       forest: tuple[np.ndarray, np.ndarray] | None = None,
                       forests: Sequence[str] = ("descriptors",),
                       models: dict[str, list[Any]] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Fit the hybrid on ``train``, choose the head on the inner rows (``valid`` if non-empty, else out-of-fold
    predictions of ``train``), and predict ``test``.

    Parameters
    ----------
    E, D: ``N x d`` embeddings and ``N x f`` descriptors of the same rows (NaN/inf allowed in ``D``).
    y: ``N x T`` targets (NaN = missing); only ``train`` and inner rows are read.
    task: a :data:`sciptm.heads.tasks.TASKS` name (regression and binary kinds; multiclass is refused).
    metric: the :mod:`sciptm.metrics` name the blend weight is chosen by.
    forest: precomputed :func:`forest_component` output for the same rows and settings (shared across encoders).
    forests: the forest heads to try: ``"descriptors"`` (on ``D``) and/or ``"both"`` (on ``[E ; D]``).
    models: if given, receives the fitted heads per target under ``"linear"``, ``"forest"`` and ``"forest-both"``.

    Returns
    -------
    ``(test predictions, info)``: predictions ``[N_test]`` for one target (``N_test x T`` otherwise); ``info`` is the
    recipe record (see the module docstring). ``info["inner_rows"]`` lists the inner row indices.
    """
    from sciptm.errors import ConfigError
    from sciptm.heads.tasks import TASKS, MulticlassTask

    kind = TASKS.get(task)
    if isinstance(kind, MulticlassTask):
        raise ConfigError(f"hybrid probes handle regression and binary tasks, not {task!r}")
    y = np.asarray(y, dtype=float).reshape(len(y), -1)
    train, test = np.asarray(train, dtype=int), np.asarray(test, dtype=int)
    inner = np.asarray(valid, dtype=int) if valid is not None and len(valid) else None
    if len(np.intersect1d(train, test)) or (inner is not None and len(np.intersect1d(inner, test))):
        raise ConfigError("hybrid probe: test rows overlap the training/validation rows")
    classify = kind.is_classifier
    Z = design_matrix(E, D, train)
    unknown = sorted(set(forests) - {"descriptors", "both"})
    if unknown or not forests:
        raise ConfigError(f"hybrid probe: forests must be 'descriptors' and/or 'both', got {list(forests)!r}")
    lin_models = None if models is None else models.setdefault("linear", [])
    lin_inner, lin_test, chosen = linear_component(Z, y, classify, train, inner, test, seed, alphas, inner_folds,
                                                   lin_models)
    inner_rows = train if inner is None else inner
    spec = _metric_spec(metric)
    scores: dict[str, float] = {}
    best: tuple[float, str, float, np.ndarray] | None = None  # (score, forest, w, test prediction)
    for name in forests:
        keep = None if models is None else models.setdefault("forest" if name == "descriptors" else "forest-both", [])
        if name == "descriptors":
            out = forest if forest is not None else forest_component(
                D, y, classify, train, inner, test, seed, n_estimators, n_jobs, max_features, keep)
        else:
            out = forest_component(both_matrix(E, D), y, classify, train, inner, test, seed, n_estimators, n_jobs,
                                   None if classify else 0.33, keep)
        w, part = select_weight(y[inner_rows], lin_inner, out[0], metric, weights)
        prefix = "" if name == "descriptors" else "both:"
        scores.update({prefix + k: v for k, v in part.items()})
        score = part[f"{w:g}"]
        if best is None or (np.isfinite(score) and not np.isfinite(best[0])) or (
                np.isfinite(score) and (score > best[0] if spec.greater_is_better else score < best[0])):
            best = (score, name, w, w * lin_test + (1.0 - w) * out[1])
    assert best is not None
    score, name, w, pred = best
    suffix = "" if name == "descriptors" else "-both"
    recipe = "linear" if w == 1.0 else ("rf" if w == 0.0 else "blend") + suffix
    info: dict[str, Any] = {
        "recipe": recipe, "w": w, "forest": name if w < 1.0 else None,
        "inner": "valid" if inner is not None else f"oof-{inner_folds}fold+oob",
        "n_inner": int(len(inner_rows)), "selection_metric": metric, "inner_scores": scores,
        "inner_key": ("" if name == "descriptors" else "both:") + f"{w:g}", "inner_score": score,
        "linear": "ridge-classifier (sigmoid)" if classify else "ridge", "alpha": chosen,
        "rf": {"n_estimators": int(n_estimators), "max_features": max_features, "forests": list(forests),
               "max_features_both": "sqrt" if classify else 0.33},
        "n_embedding": int(np.asarray(E).shape[1]), "n_descriptors": int(np.asarray(D).shape[1]),
        "inner_rows": inner_rows.tolist(),
    }
    return (pred[:, 0] if not kind.multitask else pred), info


class HybridProbe:
    """Frozen encoder embedding ++ descriptors, head chosen by inner validation (scikit-learn estimator style).

    Parameters
    ----------
    encoder: an encoder name or folder (``sciptm/smiles-small``, ``rxnfp/bert-pretrained``) or an
        :class:`~sciptm.Encoder`.
    task: ``regression``, ``binary``, ``multitask-regression`` or ``multitask-binary``.
    features: the descriptor block (default: ``rdkit2d`` for SMILES encoders, ``magpie`` for crystal ones).
    n_estimators, max_features, n_jobs: the descriptor forest.
    weights: blend weights of the linear head searched on the inner rows.
    inner_folds: folds of the out-of-fold inner predictions when ``fit`` gets no ``valid`` rows.
    forests: forest heads tried: ``"descriptors"`` (on the descriptors) and/or ``"both"`` (embedding ++ descriptors).
    seed: forest and fold seed.

    >>> from sciptm.hybrid import HybridProbe
    >>> from sklearn.base import clone
    >>> clone(HybridProbe("tiny", task="regression", n_estimators=50)).get_params()["n_estimators"]
    50
    """

    def __init__(self, encoder: Any = "sciptm/smiles-small", task: str = "regression", features: str | None = None,
                 pooling: str = "mean", n_estimators: int = 500, max_features: Any = None, n_jobs: int = 1,
                 weights: Sequence[float] = WEIGHTS, inner_folds: int = 5, alphas: Sequence[float] | None = None,
                 forests: Sequence[str] = ("descriptors", "both"), seed: int = 0):
        self.encoder = encoder
        self.task = task
        self.features = features
        self.pooling = pooling
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.n_jobs = n_jobs
        self.weights = weights
        self.inner_folds = inner_folds
        self.alphas = alphas
        self.forests = forests
        self.seed = seed

    # scikit-learn's parameter protocol (clone, get_params/set_params) without importing sklearn at module level
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        import inspect

        return {k: getattr(self, k) for k in inspect.signature(type(self).__init__).parameters if k != "self"}

    def set_params(self, **params: Any) -> HybridProbe:
        for k, v in params.items():
            if k not in self.get_params():
                raise ValueError(f"HybridProbe has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def _encoder(self) -> Any:
        from sciptm.encoders import SIZES, Encoder

        if not isinstance(self.encoder, str):
            return self.encoder
        if self.encoder in SIZES:
            return Encoder.from_config(domain="smiles", size=self.encoder, seed=self.seed, pooling=self.pooling)
        return Encoder.from_pretrained(self.encoder, pooling=self.pooling)

    def _blocks(self, X: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        from sciptm.features import FEATURES

        enc = self.encoder_ if hasattr(self, "encoder_") else self._encoder()
        self.encoder_ = enc
        texts = enc.prepare(list(X)).texts
        features = self.features or FIELD_FEATURES.get(enc.domain.name)
        if features is None:
            from sciptm.errors import ConfigError

            raise ConfigError(f"no default descriptor block for a {enc.domain.name} encoder: pass features=...")
        E = enc.embed(texts, long="chunk")
        D = FEATURES[features](texts)
        return np.asarray(E, dtype=np.float64), np.asarray(D, dtype=np.float64)

    def fit(self, X: Sequence[Any], y: Any, valid: tuple[Sequence[Any], Any] | None = None) -> HybridProbe:
        """Fit on ``X, y``; the head is chosen on ``valid`` (inputs, targets) or on out-of-fold predictions of
        ``X``. The chosen recipe is in ``recipe_``; both heads are fitted on ``X`` only."""
        X = list(X)
        Xv, yv = (list(valid[0]), valid[1]) if valid is not None else ([], None)
        y_all = np.asarray(y, dtype=float).reshape(len(X), -1)
        if Xv:
            y_all = np.vstack([y_all, np.asarray(yv, dtype=float).reshape(len(Xv), -1)])
        E, D = self._blocks(X + Xv)
        train, inner = np.arange(len(X)), np.arange(len(X), len(X) + len(Xv))
        self.models_: dict[str, list[Any]] = {}
        _, info = fit_predict_hybrid(E, D, y_all, self.task, self._metric(), train, inner, np.array([], dtype=int),
                                     self.seed, n_estimators=self.n_estimators, n_jobs=self.n_jobs,
                                     max_features=self.max_features, alphas=self.alphas, weights=self.weights,
                                     inner_folds=self.inner_folds, forests=tuple(self.forests), models=self.models_)
        self.train_blocks_ = (E[train], D[train])
        self.recipe_ = {k: v for k, v in info.items() if k != "inner_rows"}
        return self

    def _metric(self) -> str:
        from sciptm.heads.tasks import TASKS

        return TASKS.get(self.task).default_metric

    def _predict(self, X: Sequence[Any]) -> np.ndarray:
        from sciptm.heads.tasks import TASKS

        if not hasattr(self, "recipe_"):
            from sciptm.predictor import NotFittedError

            raise NotFittedError("this HybridProbe is not fitted yet: call fit()")
        E0, D0 = self.train_blocks_
        E1, D1 = self._blocks(list(X))
        train = np.arange(len(E0))
        E, D = np.vstack([E0, E1]), np.vstack([D0, D1])
        Z = design_matrix(E, D, train)[len(E0):]  # the training rows' statistics, as at fit time
        both = self.recipe_.get("forest") == "both"
        Dn = _impute(both_matrix(E0, D0), both_matrix(E, D))[len(E0):] if both else _impute(D0, D)[len(E0):]
        classify = TASKS.get(self.task).is_classifier
        w = float(self.recipe_["w"])
        forests = self.models_["forest-both" if both else "forest"] if w < 1.0 else self.models_["linear"]
        cols = []
        for lin, rf in zip(self.models_["linear"], forests):
            a = np.full(len(E1), lin) if isinstance(lin, float) else linear_predict(lin, Z, classify)
            b = 0.0 if w == 1.0 else np.full(len(E1), rf) if isinstance(rf, float) else forest_predict(rf, Dn, classify)
            cols.append(w * a + (1.0 - w) * b)
        pred = np.stack(cols, axis=1)
        return pred if TASKS.get(self.task).multitask else pred[:, 0]

    def predict(self, X: Sequence[Any]) -> np.ndarray:
        """Predicted values (regression) or positive-class probabilities (binary)."""
        return self._predict(X)

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        """Positive-class probabilities of a binary task (as :meth:`predict`)."""
        return self._predict(X)


__all__ = ["ALPHAS", "FIELD_FEATURES", "WEIGHTS", "HybridProbe", "both_matrix", "design_matrix", "fit_predict_hybrid", "forest_component",
           "forest_predict", "linear_component", "linear_predict", "select_weight"]
