"""Calling the C training kernels from autograd functions: row ranges per thread (their parts run at once by
:func:`~sciptm.encoders.fused_attention.call_parts`, on PyTorch's OpenMP threads), buffers without deterministic
mode's NaN fill, and the once-only backward of functions that reuse their saved buffers.

Shared by :mod:`sciptm.training.fused_training` (attention, GELU, dropout + add + LayerNorm) and
:mod:`sciptm.training.packed_linear` (sciptm's GEMM).

>>> row_bounds(100)
[0, 100]
>>> with unfilled():
...     empty(2, 3).shape
torch.Size([2, 3])
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from sciptm.encoders.fused_attention import _SPLIT_MIN_ROWS as SPLIT_MIN_ROWS  # the inference kernels' threshold
from sciptm.encoders.fused_attention import call_parts


def ptr(t: torch.Tensor | None, offset: int = 0) -> int | None:
    """The address of element ``offset`` of ``t``'s storage from its data pointer (``None`` for ``None``), for
    a ctypes call."""
    return None if t is None else t.data_ptr() + offset * t.element_size()


def row_bounds(rows: int, min_rows: int = SPLIT_MIN_ROWS) -> list[int]:
    """Row ranges for ``torch.get_num_threads()`` threads, each of at least ``min_rows`` rows (default the
    threshold of :mod:`sciptm.encoders.fused_attention`; one range below it)."""
    parts = max(1, min(int(torch.get_num_threads()), rows // max(1, min_rows)))
    return [rows * k // parts for k in range(parts + 1)]


@contextmanager
def unfilled() -> Iterator[None]:
    """Allocations without the NaN fill of deterministic mode (``torch.use_deterministic_algorithms``, which the
    trainer's seeding turns on, fills every ``torch.empty``): the kernels write every element of the buffers
    made here, so the fill is only work (~5% of a ``tiny`` epoch)."""
    det = torch.utils.deterministic
    before = det.fill_uninitialized_memory
    det.fill_uninitialized_memory = False
    try:
        yield
    finally:
        det.fill_uninitialized_memory = before


def empty(*shape: int) -> torch.Tensor:
    """``torch.empty(*shape)`` inside :func:`unfilled` (for a buffer a kernel writes completely)."""
    with unfilled():
        return torch.empty(*shape)


def once(ctx: Any) -> None:
    """The backward of these functions reuses saved buffers: a second backward through one graph is refused."""
    if getattr(ctx, "done", False):
        raise RuntimeError("the fused training graph can be backpropagated once (retain_graph is not supported)")
    ctx.done = True


__all__ = ["SPLIT_MIN_ROWS", "call_parts", "empty", "once", "ptr", "row_bounds", "unfilled"]
