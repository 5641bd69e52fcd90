"""Random-forest / ridge baselines over any feature matrix, one model per target (missing labels skipped)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from sciptm.benchmarks.taskdata import TaskData
from sciptm.heads.tasks import MulticlassTask


def impute(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Fill NaN with the training column median (0 for all-NaN columns)."""
    with np.errstate(all="ignore"):
        med = np.nanmedian(np.where(np.isnan(train).all(0), 0.0, train), axis=0) if train.size else 0.0
    med = np.nan_to_num(med)
    return [np.where(np.isnan(a), med, a) for a in (train, *others)]


def per_target_fit_predict(data: TaskData, X: np.ndarray, make: Callable[[bool, int], Any], seed: int) -> np.ndarray:
    """Fit one estimator per target column on its labelled training rows; predict the test rows.
    ``make(classify, seed)`` returns a fresh classifier (``classify=True``) or regressor."""
    Xtr, Xte = impute(X[data.train], X[data.test])
    y = data.y[data.train]
    cols = []
    for t in range(y.shape[1]):
        keep = ~np.isnan(y[:, t])
        classify = data.task.is_classifier
        labels = y[keep, t]
        if classify and len(np.unique(labels)) < 2:
            value = labels[0] if len(labels) else 0.5
            cols.append(np.full(len(data.test), float(value)))
            continue
        est = make(classify, seed)
        est.fit(Xtr[keep], labels.astype(int) if classify else labels)
        if isinstance(data.task, MulticlassTask):
            proba = est.predict_proba(Xte)
            full = np.zeros((len(Xte), data.task.n_classes(data.y)))
            full[:, est.classes_.astype(int)] = proba
            return full
        cols.append(est.predict_proba(Xte)[:, 1] if classify else est.predict(Xte))
    pred = np.stack(cols, axis=1)
    return pred[:, 0] if data.single else pred


def random_forest(n_estimators: int = 500, n_jobs: int = -1) -> Callable[[bool, int], Any]:
    def make(classify: bool, seed: int) -> Any:
        cls = RandomForestClassifier if classify else RandomForestRegressor
        return cls(n_estimators=n_estimators, n_jobs=n_jobs, random_state=seed)

    return make
