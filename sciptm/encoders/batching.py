"""Batches that waste little compute on padding.

Two batchers, both pure functions of their arguments (so a run is reproducible from its seed):

- :func:`token_budget_batches` (inference): every row sorted by length, cut so that
  ``len(batch) * longest <= max_tokens`` (fair-esm style). Order does not matter for inference.
- :func:`bucketed_batches` (training): the rows are shuffled, the shuffled order is cut into pools of
  ``pool`` batches, each pool is sorted by length and cut into batches, and then the batches of the whole
  epoch are shuffled. Training stays stochastic (which rows meet in a batch and the batch order change
  every epoch), but each batch holds rows of similar length, so padding nearly vanishes.

:func:`default_max_tokens` picks the padded-token budget per batch for a device: cache-sized on CPU
(``4096``, measured 2.1x faster than ``16384`` for protein ``embed``), larger on GPUs. ``SCIPTM_MAX_TOKENS``
overrides it.

>>> batches = bucketed_batches([5, 30, 6, 29, 7, 31, 4, 28], batch_size=2, seed=0)
>>> sorted(len(b) for b in batches), padding_fraction([5, 30, 6, 29, 7, 31, 4, 28], batches) < 0.1
([2, 2, 2, 2], True)
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

#: padded tokens per batch on CPU: small enough for the activations to stay in cache
CPU_MAX_TOKENS = 4096
#: padded tokens per batch on an accelerator (per 16 GiB of device memory, capped at 4x)
GPU_MAX_TOKENS = 32768
#: batches per sorting pool in :func:`bucketed_batches`
POOL_BATCHES = 50


def default_max_tokens(device: Any = None) -> int:
    """Padded-token budget per batch for ``device`` (``"cpu"``, ``"cuda"``, a ``torch.device``...).

    ``SCIPTM_MAX_TOKENS`` (an integer) overrides the choice. On CPU it is :data:`CPU_MAX_TOKENS`; on a CUDA
    device :data:`GPU_MAX_TOKENS` per 16 GiB of its memory (between 1x and 4x); elsewhere ``16384``.

    >>> default_max_tokens("cpu") if "SCIPTM_MAX_TOKENS" not in os.environ else 4096
    4096
    """
    env = os.environ.get("SCIPTM_MAX_TOKENS")
    if env:
        try:
            value = int(env)
        except ValueError:
            raise ValueError(f"SCIPTM_MAX_TOKENS must be a positive integer, not {env!r}") from None
        if value < 1:
            raise ValueError(f"SCIPTM_MAX_TOKENS must be a positive integer, not {env!r}")
        return value
    kind = getattr(device, "type", None) or str(device or "cpu").split(":")[0]
    if kind == "cpu":
        return CPU_MAX_TOKENS
    if kind == "cuda":
        try:
            import torch

            index = getattr(device, "index", None) or 0
            gib = torch.cuda.get_device_properties(index).total_memory / 2**30
            return int(GPU_MAX_TOKENS * min(4.0, max(1.0, gib / 16.0)))
        except Exception:  # noqa: BLE001 - no CUDA runtime: keep the plain budget
            return GPU_MAX_TOKENS
    return 16384


def token_budget_batches(lengths: Sequence[int], max_tokens: int, max_batch: int) -> Iterator[list[int]]:
    """Yield lists of indices, longest first, so that ``len(batch) * longest <= max_tokens``.

    Sorting by length keeps padding small; a single item longer than the budget gets a batch of its own.

    >>> list(token_budget_batches([3, 10, 4, 9], max_tokens=20, max_batch=8))
    [[1, 3], [2, 0]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batch: list[int] = []
    longest = 0
    for i in order:
        new_longest = max(longest, lengths[i])
        if batch and (new_longest * (len(batch) + 1) > max_tokens or len(batch) >= max_batch):
            yield batch
            batch, new_longest = [], lengths[i]
        batch.append(i)
        longest = new_longest
    if batch:
        yield batch


def bucketed_batches(lengths: Sequence[int] | np.ndarray, batch_size: int, seed: int | Sequence[int], epoch: int = 0,
                     pool: int = POOL_BATCHES, drop_last: bool = False) -> list[list[int]]:
    """Length-bucketed, shuffled training batches of ``batch_size`` rows (indices into ``lengths``).

    A permutation drawn from ``default_rng([*seed, epoch])`` is cut into pools of ``pool * batch_size``
    rows; each pool is sorted by length (ties keep the shuffled order) and cut into batches; finally the
    order of all batches is shuffled with the same generator. Only the last pool can leave a short batch,
    which ``drop_last`` drops. ``pool=1`` gives plain shuffled batches (no bucketing).

    Parameters
    ----------
    lengths: tokens (or any length proxy) per row.
    batch_size: rows per batch.
    seed, epoch: the batches are a pure function of ``(seed, epoch, lengths)``.
    pool: batches per sorting pool; larger pools pad less but mix lengths less.
    drop_last: drop the one short batch when there is one.
    """
    if batch_size < 1 or pool < 1:
        raise ValueError(f"batch_size and pool must be positive, not {batch_size} and {pool}")
    lengths = np.asarray(lengths, dtype=np.int64)
    seeds = [int(s) for s in (seed if isinstance(seed, (list, tuple)) else [seed])]
    rng = np.random.default_rng([*seeds, int(epoch)])
    order = rng.permutation(len(lengths))
    width = pool * batch_size
    batches: list[list[int]] = []
    for start in range(0, len(order), width):
        part = order[start:start + width]
        if pool > 1:
            part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i:i + batch_size].tolist() for i in range(0, len(part), batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return [batches[k] for k in rng.permutation(len(batches))]


def padding_fraction(lengths: Sequence[int] | np.ndarray, batches: Sequence[Sequence[int]]) -> float:
    """Share of the padded tokens of ``batches`` that are padding (0 = no waste).

    >>> padding_fraction([2, 4], [[0, 1]])
    0.25
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    padded = sum(len(b) * int(lengths[list(b)].max()) for b in batches if len(b))
    real = sum(int(lengths[list(b)].sum()) for b in batches if len(b))
    return 0.0 if padded == 0 else 1.0 - real / padded


__all__ = ["CPU_MAX_TOKENS", "POOL_BATCHES", "bucketed_batches", "default_max_tokens", "padding_fraction",
           "token_budget_batches"]
