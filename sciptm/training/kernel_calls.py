"""Calling the C training kernels from autograd functions: row ranges per thread, buffers without deterministic
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

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch

from sciptm.encoders.fused_attention import _SPLIT_MIN_ROWS as SPLIT_MIN_ROWS  # the inference kernels' threshold
from sciptm.encoders.fused_attention import _run


def ptr(t: torch.Tensor | None, offset: int = 0) -> int | None:
    """The address of element ``offset`` of ``t``'s storage from its data pointer (``None`` for ``None``), for
    a ctypes call."""
    return None if t is None else t.data_ptr() + offset * t.element_size()


def row_bounds(rows: int) -> list[int]:
    """Row ranges for ``torch.get_num_threads()`` threads (one range below ``SPLIT_MIN_ROWS`` rows, the
    threshold of :mod:`sciptm.encoders.fused_attention`)."""
    parts = max(1, min(int(torch.get_num_threads()), rows // SPLIT_MIN_ROWS))
    return [rows * k // parts for k in range(parts + 1)]


def run(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` (ctypes calls, which release the GIL) at once, the first on this thread
    (:func:`sciptm.encoders.fused_attention._run`'s pool)."""
    return _run(calls)


def call_parts(fn: Callable[..., Any], args: list[tuple[Any, ...]]) -> list[Any]:
    """``fn(*a)`` for each argument tuple of ``args`` (one per thread's part): one part is called directly on
    this thread (no closure, no pool), several through :func:`run`."""
    if len(args) == 1:
        return [fn(*args[0])]
    return run([partial(fn, *a) for a in args])


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


__all__ = ["SPLIT_MIN_ROWS", "call_parts", "empty", "once", "ptr", "row_bounds", "run", "unfilled"]
