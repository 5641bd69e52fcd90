"""Prediction tasks, one class per task kind: each owns its output count, loss, activation, target checks and
probability output, so no other module branches on the task type. Register new tasks in :data:`TASKS`.

Targets are always handled as a float array ``N x T`` with NaN marking a missing
label; the loss ignores missing labels (they are never treated as zero).

>>> from sciptm.heads.tasks import TASKS
>>> TASKS["binary"].default_metric
'roc_auc'
>>> TASKS["multitask-binary"].kind, TASKS["multitask-binary"].is_classifier
('binary', True)
>>> import numpy as np
>>> TASKS["binary"].to_proba(np.array([0.0])).tolist()
[0.5]
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sciptm.registry import Registry

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Task:
    """A prediction task: ``name`` (the registry key), ``multitask`` (several target columns) and the
    ``default_metric``. Subclasses set ``kind`` and implement the kind-specific parts."""

    name: str
    multitask: bool
    default_metric: str
    #: ``regression``, ``binary`` or ``multiclass``
    kind: ClassVar[str] = ""
    #: predictions are probabilities (and metrics read them as such)
    is_classifier: ClassVar[bool] = False
    #: targets are standardized for training (and predictions mapped back)
    standardizes_targets: ClassVar[bool] = False

    def n_outputs(self, n_targets: int, n_classes: int | None) -> int:
        """Output units of the head: one per target (multiclass: one per class)."""
        return n_targets

    def n_classes(self, y: np.ndarray) -> int | None:
        """Number of classes the labels ``y`` (``N x T``, NaN = missing) imply; ``None`` unless multiclass."""
        return None

    def check_targets(self, y: np.ndarray) -> None:
        """Raise ``ValueError`` naming the first bad row when labels do not fit the task."""
        if not self.multitask and y.shape[1] != 1:
            raise ValueError(f"task {self.name!r} takes one target column, got {y.shape[1]}; "
                             f"use 'multitask-{self.kind}'")

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean loss over the labelled entries of ``y`` (NaN = missing)."""
        import torch

        keep = ~torch.isnan(y)
        if not keep.any():
            return out.sum() * 0.0
        target = torch.where(keep, y, torch.zeros_like(y))
        return self._elementwise_loss(out, target)[keep].mean()

    def _elementwise_loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def activate(self, out: torch.Tensor) -> torch.Tensor:
        """Raw outputs -> values (regression, standardized units) or probabilities (torch)."""
        return out

    def to_proba(self, raw: np.ndarray) -> np.ndarray:
        """Raw scores (logits, decision values) -> what the task predicts (numpy): values for regression,
        positive-class probabilities for binary, class probabilities (rows sum to 1) for multiclass."""
        return np.asarray(raw, dtype=float)

    def target_stats(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-target ``(mean, std)`` used to encode training targets: zeros and ones unless the task
        standardizes them (regression: NaN-aware mean and std of ``y``, a zero or undefined std becomes 1)."""
        n = np.shape(y)[1]
        return np.zeros(n), np.ones(n)

    def encode_targets(self, y: np.ndarray, stats: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Targets in training units (standardized for regression; labels unchanged otherwise)."""
        return np.asarray(y, dtype=float)

    def decode(self, raw: np.ndarray, stats: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Raw head outputs -> predictions in target units (regression) or probabilities (classification)."""
        return self.to_proba(raw)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name}


@dataclass(frozen=True)
class RegressionTask(Task):
    """Real-valued targets; mean squared error on standardized targets."""

    kind: ClassVar[str] = "regression"
    standardizes_targets: ClassVar[bool] = True

    def target_stats(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray(y, dtype=float)
        with warnings.catch_warnings():  # an all-NaN column: mean 0, std 1
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, std = np.nan_to_num(np.nanmean(y, axis=0)), np.nanstd(y, axis=0)
        std[~(std > 0)] = 1.0
        return mean, std

    def encode_targets(self, y: np.ndarray, stats: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        return (np.asarray(y, dtype=float) - stats[0]) / stats[1]

    def decode(self, raw: np.ndarray, stats: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        return np.asarray(raw, dtype=float) * stats[1] + stats[0]

    def _elementwise_loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.mse_loss(out, target, reduction="none")


@dataclass(frozen=True)
class BinaryTask(Task):
    """0/1 labels per target; binary cross-entropy on logits; probabilities through a sigmoid."""

    kind: ClassVar[str] = "binary"
    is_classifier: ClassVar[bool] = True

    def check_targets(self, y: np.ndarray) -> None:
        super().check_targets(y)
        bad = np.argwhere(~np.isnan(y) & (y != 0) & (y != 1))
        if len(bad):
            r, c = bad[0]
            raise ValueError(f"binary labels must be 0, 1 or NaN (missing); row {r}, target {c} is {y[r, c]!r}")

    def _elementwise_loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.binary_cross_entropy_with_logits(out, target, reduction="none")

    def activate(self, out: torch.Tensor) -> torch.Tensor:
        return out.sigmoid()

    def to_proba(self, raw: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.asarray(raw, dtype=float)))


@dataclass(frozen=True)
class MulticlassTask(Task):
    """One label column of class indices 0..C-1; cross-entropy; class probabilities through a softmax."""

    kind: ClassVar[str] = "multiclass"
    is_classifier: ClassVar[bool] = True

    def n_outputs(self, n_targets: int, n_classes: int | None) -> int:
        if not n_classes or n_classes < 2:
            raise ValueError("a multiclass task needs at least 2 classes in the training labels")
        return n_classes

    def n_classes(self, y: np.ndarray) -> int | None:
        labels = np.asarray(y, dtype=float)[:, 0] if np.ndim(y) == 2 else np.asarray(y, dtype=float)
        return int(np.nanmax(labels)) + 1 if np.isfinite(labels).any() else 0

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        target = y[:, 0]
        keep = ~torch.isnan(target)
        return F.cross_entropy(out[keep], target[keep].long())

    def activate(self, out: torch.Tensor) -> torch.Tensor:
        return out.softmax(-1)

    def to_proba(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        e = np.exp(raw - raw.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


TASKS: Registry[Task] = Registry("task")
TASKS.add("regression", RegressionTask("regression", False, "rmse"))
TASKS.add("multitask-regression", RegressionTask("multitask-regression", True, "rmse"))
TASKS.add("binary", BinaryTask("binary", False, "roc_auc"))
TASKS.add("multitask-binary", BinaryTask("multitask-binary", True, "roc_auc"))
TASKS.add("multiclass", MulticlassTask("multiclass", False, "accuracy"))

__all__ = ["TASKS", "BinaryTask", "MulticlassTask", "RegressionTask", "Task"]
