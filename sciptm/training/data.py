"""Training batches: texts + targets + side-features, tokenized per batch (dynamic padding)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class TrainData:
    """Validated training rows: ``texts [N]``, targets ``y N x T`` (NaN = missing), ``features N x F``."""

    texts: list[str]
    y: np.ndarray | None = None
    features: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.texts)


class Collator:
    """Turns a list of row indices into model tensors; applies seeded augmentation when training.

    Augmentation draws from ``default_rng([seed, epoch, row])``, so a batch's content does not depend
    on batch order or worker count and two runs with one seed are identical.
    """

    def __init__(self, tokenizer, data: TrainData, augment: Callable[[str, np.random.Generator], str] | None = None,
                 seed: int = 0):
        self.tokenizer = tokenizer
        self.data = data
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __call__(self, rows: Sequence[int]) -> dict[str, torch.Tensor]:
        texts = [self.data.texts[i] for i in rows]
        if self.augment is not None:
            texts = [self.augment(t, np.random.default_rng([self.seed, self.epoch, int(i)])) for t, i in zip(texts, rows)]
        enc = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt", return_token_type_ids=False)
        batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                 "rows": torch.as_tensor(list(rows), dtype=torch.long)}
        if self.data.y is not None:
            batch["y"] = torch.as_tensor(self.data.y[list(rows)], dtype=torch.float32)
        if self.data.features is not None:
            batch["features"] = torch.as_tensor(self.data.features[list(rows)], dtype=torch.float32)
        return batch
