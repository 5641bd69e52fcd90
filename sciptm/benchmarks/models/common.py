"""Domain-independent baselines."""
from __future__ import annotations

from typing import Any

import numpy as np

from sciptm.benchmarks.models import MODELS
from sciptm.benchmarks.taskdata import TaskData
from sciptm.heads.tasks import MulticlassTask


class MeanModel:
    """Dummy predictor: training mean (regression), positive rate (binary) or class frequencies (multiclass)."""

    name = "mean"

    def __init__(self, options: dict[str, Any]):
        self.options = options

    def fit_predict(self, data: TaskData, seed: int) -> np.ndarray:
        y = data.y[data.train]
        n = len(data.test)
        if isinstance(data.task, MulticlassTask):
            labels = y[:, 0][~np.isnan(y[:, 0])].astype(int)
            n_classes = data.task.n_classes(data.y)
            freq = np.bincount(labels, minlength=n_classes) / max(len(labels), 1)
            return np.tile(freq, (n, 1))
        pred = np.tile(np.nanmean(y, axis=0), (n, 1))
        return pred[:, 0] if data.single else pred


MODELS.add("mean", MeanModel)
MODELS.add("dummy", MeanModel)
