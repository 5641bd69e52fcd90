"""The deterministic data stream: the batch of global step ``s`` is a pure function of ``(seed, s)``.

Epoch ``e`` visits the training items in the order ``permutation(seed, e)``; step ``s`` takes the
``s % steps_per_epoch``-th slice of its epoch's order. With ``bucket_pool = P > 1`` (the default) that order
is cut into pools of ``P`` batches, each pool is sorted by token count and cut into batches, and the batches
of a pool are visited in the order ``permutation(seed, e, pool)``: batches hold items of similar length
(little padding) while which items meet and when stays random. Augmentation, cropping and masking draw from a
generator seeded by ``(seed, s)``. So a resumed run only needs the step number to continue with exactly
the batches an uninterrupted run would have seen, whatever the number of DataLoader workers.

Example
-------
>>> batches = StepBatches(corpus, collator, batch_size=64, seed=0)  # doctest: +SKIP
>>> first = batches[0]; again = batches[0]                             # doctest: +SKIP
>>> bool((first["input_ids"] == again["input_ids"]).all())            # doctest: +SKIP
True
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sciptm.domains import Domain
from sciptm.pretraining.collate import Collator
from sciptm.pretraining.corpus import TextCorpus

_PERMUTATION, _BATCH, _EVAL, _BUCKET = 0, 1, 2, 3  # independent random streams derived from the seed


class StepBatches(torch.utils.data.Dataset):
    """Map-style dataset whose item ``s`` is the training batch of step ``s`` (use with a step sampler).

    Parameters
    ----------
    corpus: the training split.
    collator: turns texts into tensors (cropping, masking).
    batch_size: items per step (the last partial batch of an epoch is dropped).
    seed: the run's seed.
    domain, augment, augment_probability: ``domain.augment(text, rng)`` applied with this probability
        (SMILES enumeration) when ``augment`` is true.
    bucket_pool: batches per length-sorting pool (1 = no bucketing; see the module docstring). Items are
        sorted by token count (one tokenizer call per pool of ``bucket_pool`` steps, cached).
    targets: ``len(corpus) x F`` regression targets (multi-objective pretraining); row ``i`` belongs to
        corpus item ``i`` and rides along as ``batch["targets"]`` (float32, NaN = missing), in the same
        length-bucketed batches as the texts.
    """

    def __init__(self, corpus: TextCorpus, collator: Collator, batch_size: int, seed: int,
                 domain: Domain | None = None, augment: bool = False, augment_probability: float = 0.5,
                 bucket_pool: int = 1, targets: np.ndarray | None = None):
        if len(corpus) < batch_size:
            raise ValueError(f"the training corpus has {len(corpus)} items, fewer than one batch of {batch_size}")
        if augment and domain is None:
            raise ValueError("augment=True needs the domain whose augment() to apply")
        self.corpus, self.collator = corpus, collator
        self.batch_size, self.seed = batch_size, seed
        self.domain, self.augment, self.augment_probability = domain, augment, augment_probability
        self.steps_per_epoch = len(corpus) // batch_size
        if bucket_pool < 1:
            raise ValueError(f"bucket_pool must be >= 1, got {bucket_pool}")
        self.bucket_pool = int(bucket_pool)
        if targets is not None and len(targets) != len(corpus):
            raise ValueError(f"targets have {len(targets)} rows for a corpus of {len(corpus)} items")
        self.targets = targets
        self._order: tuple[int, np.ndarray] | None = None
        self._pool: tuple[tuple[int, int], np.ndarray, np.ndarray] | None = None

    def position(self, step: int) -> dict[str, int]:
        """Where step ``step`` reads: ``{"epoch": e, "batch_in_epoch": b}``."""
        epoch, batch = divmod(int(step), self.steps_per_epoch)
        return {"epoch": epoch, "batch_in_epoch": batch}

    def order(self, epoch: int) -> np.ndarray:
        if self._order is None or self._order[0] != epoch:
            rng = np.random.default_rng([self.seed, _PERMUTATION, epoch])
            self._order = (epoch, rng.permutation(len(self.corpus)).astype(np.int64))
        return self._order[1]

    def indices(self, step: int) -> np.ndarray:
        """Corpus indices of the items of step ``step``."""
        pos = self.position(step)
        epoch, b, size = pos["epoch"], pos["batch_in_epoch"], self.batch_size
        if self.bucket_pool <= 1:
            return self.order(epoch)[b * size:(b + 1) * size]
        pool = b // self.bucket_pool
        if self._pool is None or self._pool[0] != (epoch, pool):
            first = pool * self.bucket_pool
            n_batches = min(self.bucket_pool, self.steps_per_epoch - first)
            members = self.order(epoch)[first * size:(first + n_batches) * size]
            members = members[np.argsort(self._lengths(members), kind="stable")]
            visit = np.random.default_rng([self.seed, _BUCKET, epoch, pool]).permutation(n_batches)
            self._pool = ((epoch, pool), members, visit)
        _, members, visit = self._pool
        k = int(visit[b - pool * self.bucket_pool])
        return members[k * size:(k + 1) * size]

    def _lengths(self, members: np.ndarray) -> np.ndarray:
        """Tokens per item (cut at the collator's room), one tokenizer call per pool; bytes without a tokenizer."""
        tokenizer = getattr(self.collator, "tokenizer", None)
        if tokenizer is None:
            ranges = self.corpus.ranges[members]
            return ranges[:, 1] - ranges[:, 0]
        ids = tokenizer(self.corpus.take(members), add_special_tokens=False, verbose=False)["input_ids"]
        room = getattr(self.collator, "room", None) or 10**9
        return np.fromiter((min(len(i), room) for i in ids), dtype=np.int64, count=len(ids))

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, _BATCH, int(step)])
        index = self.indices(step)
        texts = self.corpus.take(index)
        if self.augment:
            texts = [self.domain.augment(t, rng) if rng.random() < self.augment_probability else t for t in texts]
        batch = self.collator(texts, rng)
        if self.targets is not None:
            batch["targets"] = torch.from_numpy(np.ascontiguousarray(self.targets[index], dtype=np.float32))
        return batch

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_order"] = None
        state["_pool"] = None
        return state


def fixed_batches(corpus: TextCorpus, collator: Collator, size: int, batch_size: int, seed: int,
                  by_length: bool = False, targets: np.ndarray | None = None) -> list[dict[str, torch.Tensor]]:
    """Validation batches: a seeded subset of ``size`` items, masked once with seeded generators, so every
    evaluation of a run (and of the untrained model) scores the very same masked tokens.
    ``by_length`` orders the items by length first (less padding); ``targets`` (one row per corpus item)
    add ``batch["targets"]``."""
    rng = np.random.default_rng([seed, _EVAL])
    n = min(size, len(corpus))
    chosen = np.sort(rng.choice(len(corpus), size=n, replace=False))
    if by_length:
        ranges = corpus.ranges[chosen]
        chosen = chosen[np.argsort(ranges[:, 1] - ranges[:, 0], kind="stable")]
    texts = corpus.take(chosen)
    out = []
    for i in range(0, n, batch_size):
        batch = collator(texts[i:i + batch_size], np.random.default_rng([seed, _EVAL, i]))
        if targets is not None:
            batch["targets"] = torch.from_numpy(np.ascontiguousarray(targets[chosen[i:i + batch_size]],
                                                                     dtype=np.float32))
        out.append(batch)
    return out
