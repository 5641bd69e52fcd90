"""The data one benchmark run sees: validated inputs, targets and one split, for every model alike."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sciptm.heads.tasks import TASKS, Task


@dataclass
class TaskData:
    """One (task, split) after validation.

    ``texts`` are the domain texts (canonical SMILES, sequences, crystal token strings) of the rows in
    ``rows`` (indices into the dataset); ``y`` is ``N x T`` float (NaN = missing) for those rows.
    ``train/valid/test`` index into ``texts``/``y``; ``raw_inputs`` holds the dataset's inputs of those
    rows (formulas, structure dicts, CIF text) for models that featurize the originals.
    """

    name: str
    task_type: str
    domain: str
    metric: str
    target_names: list[str]
    texts: list[str]
    y: np.ndarray
    rows: np.ndarray
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    raw_inputs: list[Any] = field(default_factory=list)
    #: the domain's full config (``{"name": "crystal", "kind": "composition", ...}``); ``domain`` is its name
    domain_config: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, np.ndarray] = field(default_factory=dict)

    def part(self, which: str) -> tuple[list[str], np.ndarray]:
        idx = getattr(self, which)
        return [self.texts[i] for i in idx], self.y[idx]

    @property
    def task(self) -> Task:
        """The :class:`~sciptm.heads.tasks.Task` named by ``task_type`` (loss, probabilities, class count)."""
        return TASKS.get(self.task_type)

    @property
    def single(self) -> bool:
        """One target column (predictions ``[N]``, or ``N x C`` class probabilities for multiclass)."""
        return not self.task.multitask

    def y_true(self, which: str = "test") -> np.ndarray:
        """Labels in the layout metrics expect: ``[N]`` for one target, ``N x T`` for multitask."""
        y = self.y[getattr(self, which)]
        return y[:, 0] if self.single else y
