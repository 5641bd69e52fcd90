"""Prediction tasks: each declares its output count, loss, default metric and how raw
outputs become predictions. Register new tasks in :data:`TASKS`.

Targets are always handled as a float array ``N x T`` with NaN marking a missing
label; the loss ignores missing labels (they are never treated as zero).

>>> from sciptm.tasks import TASKS
>>> TASKS["binary"].default_metric
'roc_auc'
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sciptm.registry import Registry


@dataclass(frozen=True)
class Task:
    """Base task: ``kind`` is ``regression``, ``binary`` or ``multiclass``."""

    name: str
    kind: str
    multitask: bool
    default_metric: str

    def n_outputs(self, n_targets: int, n_classes: int | None) -> int:
        if self.kind == "multiclass":
            if not n_classes or n_classes < 2:
                raise ValueError("a multiclass task needs at least 2 classes in the training labels")
            return n_classes
        return n_targets

    def check_targets(self, y: np.ndarray) -> None:
        """Raise ``ValueError`` naming the first bad row when labels do not fit the task."""
        if not self.multitask and y.shape[1] != 1:
            raise ValueError(f"task {self.name!r} takes one target column, got {y.shape[1]}; "
                             f"use 'multitask-{self.kind}'")
        if self.kind == "binary":
            bad = np.argwhere(~np.isnan(y) & (y != 0) & (y != 1))
            if len(bad):
                r, c = bad[0]
                raise ValueError(f"binary labels must be 0, 1 or NaN (missing); row {r}, target {c} is {y[r, c]!r}")

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean loss over the labelled entries of ``y`` (NaN = missing)."""
        if self.kind == "multiclass":
            target = y[:, 0]
            keep = ~torch.isnan(target)
            return F.cross_entropy(out[keep], target[keep].long())
        keep = ~torch.isnan(y)
        if not keep.any():
            return out.sum() * 0.0
        target = torch.where(keep, y, torch.zeros_like(y))
        if self.kind == "regression":
            err = F.mse_loss(out, target, reduction="none")
        else:
            err = F.binary_cross_entropy_with_logits(out, target, reduction="none")
        return err[keep].mean()

    def activate(self, out: torch.Tensor) -> torch.Tensor:
        """Raw outputs -> values (regression, standardized units) or probabilities."""
        if self.kind == "multiclass":
            return out.softmax(-1)
        if self.kind == "binary":
            return out.sigmoid()
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name}


TASKS: Registry[Task] = Registry("task")
TASKS.add("regression", Task("regression", "regression", False, "rmse"))
TASKS.add("multitask-regression", Task("multitask-regression", "regression", True, "rmse"))
TASKS.add("binary", Task("binary", "binary", False, "roc_auc"))
TASKS.add("multitask-binary", Task("multitask-binary", "binary", True, "roc_auc"))
TASKS.add("multiclass", Task("multiclass", "multiclass", False, "accuracy"))
