"""The materials benchmark field (Matbench v0.1 tasks + ``mp_formation_energy``) and its baselines.

One field, two input kinds: composition tasks (``matbench_expt_gap``...) are read by the crystal
domain of kind ``composition``, structure tasks (``matbench_phonons``, ``mp_formation_energy``)
by kind ``structure``; the runner picks the domain from each card's ``input_kind`` through
``Field.input_domains``. Symmetry analysis of structures is slow, so texts are cached on disk
(``Field.cache_texts``, see :mod:`sciptm.benchmarks.textcache`).

Baselines registered here:

``rf-composition``
    Magpie-style composition features (106, :mod:`sciptm.domains.crystal.features`) + random forest,
    the shape of Matbench's RF-SCM/Magpie without the sine Coulomb matrix. ``max_features`` and
    ``min_samples_leaf`` are chosen on the training rows only, by the out-of-bag score of the
    task metric (Matbench's rule: tune inside the training fold); the chosen pair is refit with
    ``n_estimators`` trees on those rows and recorded in the run file (``model_info``).

``dummy`` (in :mod:`sciptm.benchmarks.models.common`): training mean, or the positive-class rate
as a constant probability for classification.

>>> from sciptm.benchmarks.fields import FIELDS
>>> FIELDS.get("materials").input_domains["composition"]["kind"]
'composition'
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from sciptm import metrics as metric_lib
from sciptm.benchmarks.fields import FIELDS, Field
from sciptm.benchmarks.models import MODELS
from sciptm.benchmarks.models.sklearn_models import impute
from sciptm.benchmarks.taskdata import TaskData
from sciptm.heads.tasks import MulticlassTask

MATBENCH_TASKS = ("matbench_phonons", "matbench_expt_gap", "matbench_expt_is_metal", "matbench_steels",
                  "matbench_glass")
_CRYSTAL_STRUCTURE = {"name": "crystal", "kind": "structure"}

FIELDS.add("materials", Field(
    name="materials", domain="crystal",
    tasks=(*MATBENCH_TASKS, "mp_formation_energy"),
    models=("dummy", "rf-composition", "tiny", "tiny+magpie"),
    split="official",  # Matbench folds (seeds 0-4 = folds 0-4); mp_formation_energy: seeded random 80/10/10
    quick_tasks=("matbench_steels", "matbench_phonons"), quick_models=("dummy", "rf-composition", "sciptm/crystal-small:probe"),
    quick_options={"epochs": 10, "patience": 4},
    input_domains={"composition": {"name": "crystal", "kind": "composition"},
                   "structure": _CRYSTAL_STRUCTURE, "cif": _CRYSTAL_STRUCTURE},
    cache_texts=True, prepare_jobs=2,
))

#: ``max_features`` x ``min_samples_leaf`` candidates searched by out-of-bag score
DEFAULT_GRID: dict[str, tuple[Any, ...]] = {"max_features": (0.33, "sqrt", 1.0), "min_samples_leaf": (1, 3)}


def magpie_matrix(data: TaskData) -> np.ndarray:
    """Magpie features ``N x 106`` of every row of ``data``.

    Composition tasks are featurized from the original formulas (exact amounts; the token text
    rounds fractional amounts to percent bins), structure tasks from their token texts, whose
    Wyckoff multiplicities give the exact conventional-cell composition.
    """
    from sciptm.features import FEATURES
    from sciptm.domains.crystal.features import composition_features

    if data.domain_config.get("kind") == "composition" and len(data.raw_inputs) == len(data.texts):
        return composition_features(data.raw_inputs)
    return FEATURES["magpie"](data.texts)


class CompositionRF:
    """Magpie features + random forest with out-of-bag tuning on the training rows.

    Options: ``n_estimators`` (final forest, 500), ``tune_estimators`` (trees per candidate, 150),
    ``n_jobs`` (2), ``grid`` (mapping like :data:`DEFAULT_GRID`), ``use_valid`` (True: a split's
    validation rows join the training rows, as the forest needs no early stopping).
    """

    name = "rf-composition"

    def __init__(self, options: dict[str, Any]):
        self.options = dict(options)
        self.info_: dict[str, Any] = {}

    def fit_predict(self, data: TaskData, seed: int) -> np.ndarray:
        if not data.single or isinstance(data.task, MulticlassTask):
            raise ValueError(f"rf-composition handles single-target regression/binary tasks, not {data.task_type!r}")
        if "magpie" not in data.cache:
            data.cache["magpie"] = magpie_matrix(data).astype(np.float32)
        X = data.cache["magpie"]
        fit_rows = np.concatenate([data.train, data.valid]) if self.options.get("use_valid", True) else data.train
        y = data.y[fit_rows, 0]
        keep = ~np.isnan(y)
        Xtr, Xte = impute(X[fit_rows][keep], X[data.test])
        y = y[keep]
        classify = data.task.is_classifier
        if classify:
            y = y.astype(int)
            if len(np.unique(y)) < 2:
                return np.full(len(data.test), float(y[0]) if len(y) else 0.5)
        best, scores = self.tune(Xtr, y, classify, data.metric, seed)
        forest = self._forest(classify, int(self.options.get("n_estimators", 500)), seed, oob=False, **best)
        forest.fit(Xtr, y)
        self.info_ = {"tuned_on": "out-of-bag score on the training rows", "metric": data.metric, "chosen": best,
                      "oob_scores": scores, "n_fit_rows": len(y), "n_features": int(X.shape[1])}
        return forest.predict_proba(Xte)[:, 1] if classify else forest.predict(Xte)

    def tune(self, X: np.ndarray, y: np.ndarray, classify: bool, metric: str,
             seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The grid point with the best out-of-bag ``metric`` (training rows only) and all scores."""
        grid = self.options.get("grid") or DEFAULT_GRID
        spec = metric_lib.METRICS.get(metric)
        n_trees = int(self.options.get("tune_estimators", 150))
        scores: list[dict[str, Any]] = []
        for max_features in grid["max_features"]:
            for leaf in grid["min_samples_leaf"]:
                params = {"max_features": max_features, "min_samples_leaf": int(leaf)}
                forest = self._forest(classify, n_trees, seed, oob=True, **params)
                forest.fit(X, y)
                oob = forest.oob_decision_function_[:, 1] if classify else forest.oob_prediction_
                seen = np.isfinite(oob)
                value = float(metric_lib.compute(metric, y[seen].astype(float), oob[seen]))
                scores.append({**params, "oob": value})
        pick = (max if spec.greater_is_better else min)(scores, key=lambda s: s["oob"])
        return {k: v for k, v in pick.items() if k != "oob"}, scores

    def _forest(self, classify: bool, n_estimators: int, seed: int, oob: bool, **params: Any) -> Any:
        cls = RandomForestClassifier if classify else RandomForestRegressor
        return cls(n_estimators=n_estimators, n_jobs=int(self.options.get("n_jobs", 2)), random_state=seed,
                   oob_score=oob, **params)


MODELS.add("rf-composition", CompositionRF)

__all__ = ["DEFAULT_GRID", "MATBENCH_TASKS", "CompositionRF", "magpie_matrix"]
