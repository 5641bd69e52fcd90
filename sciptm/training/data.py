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
    on batch order or worker count and two runs with one seed are identical. Without augmentation the
    texts are tokenized once (on first use, or from ``ids``) and every batch is padded from those ids, so
    an epoch costs no tokenizer call; the tensors equal those of tokenizing the batch.
    """

    def __init__(self, tokenizer, data: TrainData, augment: Callable[[str, np.random.Generator], str] | None = None,
                 seed: int = 0, ids: list[list[int]] | None = None):
        self.tokenizer = tokenizer
        self.data = data
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self._ids = ids
        self._pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._left = getattr(tokenizer, "padding_side", "right") == "left"

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def ids(self) -> list[list[int]]:
        """Token ids of every row (special tokens added, truncated to the tokenizer's maximum length)."""
        if self._ids is None:
            self._ids = tokenize_ids(self.tokenizer, self.data.texts)
        return self._ids

    def _padded(self, rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        ids = self.ids
        rows_ids = [ids[i] for i in rows]
        width = max(len(r) for r in rows_ids)
        tokens = np.full((len(rows_ids), width), self._pad, dtype=np.int64)
        mask = np.zeros((len(rows_ids), width), dtype=np.int64)
        for r, row in enumerate(rows_ids):
            span = slice(width - len(row), width) if self._left else slice(0, len(row))
            tokens[r, span] = row
            mask[r, span] = 1
        return torch.from_numpy(tokens), torch.from_numpy(mask)

    def __call__(self, rows: Sequence[int]) -> dict[str, torch.Tensor]:
        if self.augment is not None:
            texts = [self.augment(self.data.texts[i], np.random.default_rng([self.seed, self.epoch, int(i)]))
                     for i in rows]
            enc = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt",
                                 return_token_type_ids=False)
            input_ids, attention_mask = enc["input_ids"], enc["attention_mask"]
        else:
            input_ids, attention_mask = self._padded(rows)
        batch = {"input_ids": input_ids, "attention_mask": attention_mask,
                 "rows": torch.as_tensor(list(rows), dtype=torch.long)}
        if self.data.y is not None:
            batch["y"] = torch.as_tensor(self.data.y[list(rows)], dtype=torch.float32)
        if self.data.features is not None:
            batch["features"] = torch.as_tensor(self.data.features[list(rows)], dtype=torch.float32)
        return batch


def tokenize_ids(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids per text, special tokens added, truncated to the tokenizer's maximum length (one call)."""
    if not len(texts):
        return []
    return tokenizer(list(texts), add_special_tokens=True, truncation=True, verbose=False)["input_ids"]
