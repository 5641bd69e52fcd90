"""Process-level memory settings for long CPU runs: glibc keeping freed buffers, and Python's cyclic garbage
collector kept away from the ~400,000 long-lived objects torch and transformers leave in a process.

Shared by the lean ``embed`` (:mod:`sciptm.encoders.lean`) and fine-tuning (:mod:`sciptm.training.trainer`,
:mod:`sciptm.training.fused_training`).

>>> import gc
>>> with collector_paused():
...     gc.isenabled()
False
>>> with long_lived_frozen():
...     gc.get_freeze_count() > 0
True
"""
from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterator

from sciptm.settings import flag

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off inside the block (back on after it when it was on).

    ``embed`` allocates a list per text and tensors per pack, none of them in reference cycles; with the collector
    on, those allocations trigger collections that walk every tracked object of the process (~400,000 with torch
    and transformers loaded). Paused, the count is settled by one collection after the block. Measured (int8
    ``embed``, 3,000 MOSES, 6 interleaved rounds each): the collector off for the whole call 0.95x / 0.98x in two
    runs; paused in :func:`token_ids` and :meth:`LeanEncoder.embed_sequences` only 0.99x (within noise).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextlib.contextmanager
def long_lived_frozen() -> Iterator[None]:
    """The objects that exist when the block starts moved out of the cyclic collector's passes (``gc.freeze``),
    and back after it; a caller's own freeze is left alone.

    For long loops (``fit``): the modules and the libraries' objects live through the loop, and the collector
    otherwise traverses all of them (~400k) every few training steps (3-5% of a ``tiny`` CPU step). Unlike
    :func:`collector_paused`, new garbage cycles are still collected.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


_MALLOC_TUNED: list[bool] = []


def keep_freed_memory() -> bool:
    """Stop glibc from handing freed activation buffers back to the OS after every batch (once per process).

    CPU inference allocates and frees multi-megabyte activations for every batch; with glibc's defaults a
    freed buffer at the top of the heap is trimmed (or was ``mmap``-ed) and the next batch page-faults the same
    memory in again (measured here: up to ~1 ms of system time per molecule for ``embed``, 20% of it). This
    sets ``M_TRIM_THRESHOLD`` to 1 GiB and ``M_MMAP_THRESHOLD`` to 32 MiB (its maximum) with ``mallopt``, so
    buffers are reused; the process keeps up to that much freed memory. Not glibc, or
    ``SCIPTM_MALLOC_TUNE=0``: nothing is changed. Returns whether the settings are in place.
    """
    if _MALLOC_TUNED:
        return _MALLOC_TUNED[0]
    ok = False
    if flag("SCIPTM_MALLOC_TUNE", True):
        try:
            import ctypes
            import ctypes.util

            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            m_trim_threshold, m_mmap_threshold = -1, -3
            ok = bool(libc.mallopt(m_trim_threshold, 1 << 30)) and bool(libc.mallopt(m_mmap_threshold, 32 << 20))
        except (OSError, AttributeError):
            ok = False
    logger.debug("glibc malloc thresholds for inference %s", "set" if ok else "left unchanged")
    _MALLOC_TUNED.append(ok)
    return ok


__all__ = ["collector_paused", "keep_freed_memory", "long_lived_frozen"]
