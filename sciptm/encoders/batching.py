"""Batches by token budget with dynamic padding (fair-esm style)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence


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
