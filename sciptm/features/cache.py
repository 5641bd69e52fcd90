"""Feature and embedding matrices cached on disk, so an interrupted run or a second model never recomputes them.

Rows are computed and stored in chunks of consecutive inputs (:data:`CHUNK` rows). Each chunk file is named by
the SHA-256 of the inputs it holds (their exact text) plus the producer's configuration (featurizer name and
settings, or an encoder fingerprint), so

- a run killed half-way keeps every finished chunk, and the next try computes only the rest;
- a second model reading the same features (``ecfp-rf`` then ``ecfp-mlp``) or the same embeddings reads them;
- changed data or a changed setting never reuses a stale file (the key changes).

Files live under ``<sciptm cache>/features/<namespace>/<key>.npy`` (``SCIPTM_CACHE``, see
:mod:`sciptm.data.locations`) and are written atomically; ``SCIPTM_FEATURE_CACHE=0`` turns the cache off. :mod:`sciptm.benchmarks.textcache` does the same
for the domain texts of a whole dataset column (keyed by the dataset's checksum).

>>> import numpy as np
>>> calls = []
>>> def lengths(texts):
...     calls.append(len(texts))
...     return np.array([[len(t)] for t in texts], dtype=np.float32)
>>> X = cached_rows("doc-lengths", {"v": 1}, ["CCO", "c1ccccc1"], lengths, cache=False)
>>> X.ravel().tolist(), calls
([3.0, 8.0], [2])
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sciptm._util.atomic import write_with_atomic
from sciptm.progress import Progress
from sciptm.settings import cache_root

logger = logging.getLogger(__name__)

FORMAT = 1
#: rows per cache file (bounds the work redone after an interruption)
CHUNK = 4096


def features_cache_dir() -> Path:
    """``<sciptm cache>/features`` (not created here)."""
    return cache_root() / "features"


def texts_sha256(texts: Sequence[str]) -> str:
    """SHA-256 of a list of input texts (length-prefixed, so ``["ab", "c"]`` and ``["a", "bc"]`` differ)."""
    h = hashlib.sha256()
    for t in texts:
        b = str(t).encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def config_key(namespace: str, config: dict[str, Any]) -> str:
    """A stable hex key of a producer's configuration (JSON with sorted keys)."""
    blob = json.dumps({"format": FORMAT, "namespace": namespace, "config": config}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _save(path: Path, array: np.ndarray) -> None:
    write_with_atomic(path, lambda fh: np.save(fh, array, allow_pickle=False))


def cached_rows(namespace: str, config: dict[str, Any], texts: Sequence[str],
                compute: Callable[[list[str]], np.ndarray], *, cache: bool | None = None, chunk: int = CHUNK,
                cache_dir: str | Path | None = None) -> np.ndarray:
    """``compute(texts)`` row-wise, read from / written to the disk cache chunk by chunk.

    Parameters
    ----------
    namespace: the producer's name (a folder of the cache), e.g. ``"ecfp"`` or ``"embeddings"``.
    config: everything else the rows depend on (featurizer settings, an encoder fingerprint...).
    texts: the inputs, one row each.
    compute: maps a list of inputs to an array with one row per input (any shape after the first axis).
    cache: ``False`` computes everything without touching the disk (default: on unless the environment
        variable ``SCIPTM_FEATURE_CACHE`` is ``0``/``false``/``no``).
    chunk: rows per cache file.
    cache_dir: root folder (default :func:`features_cache_dir`).

    Returns
    -------
    The stacked rows, ``len(texts) x ...``, in input order.
    """
    texts = list(texts)
    if cache is None:
        from sciptm import settings

        cache = settings.feature_cache()
    if not cache or not texts:
        return np.asarray(compute(texts))
    if chunk < 1:
        raise ValueError(f"chunk must be positive, not {chunk}")
    folder = (Path(cache_dir) if cache_dir is not None else features_cache_dir()) / namespace
    base = config_key(namespace, config)
    parts: list[np.ndarray] = []
    hits = 0
    starts = range(0, len(texts), chunk)
    # a bar (or, with SCIPTM_PROGRESS=always, a log line per tenth) when the rows span several cache files
    with Progress(len(texts), f"{namespace} rows", show=len(starts) > 1) as bar:
        for start in starts:
            part = texts[start:start + chunk]
            key = hashlib.sha256(f"{base}:{texts_sha256(part)}".encode()).hexdigest()
            path = folder / f"{key}.npy"
            rows = None
            if path.is_file():
                try:
                    rows = np.load(path, allow_pickle=False)
                except (OSError, ValueError) as exc:  # a damaged file: recompute it
                    logger.warning("ignoring unreadable cache file %s (%s)", path, exc)
                if rows is not None and rows.shape[0] != len(part):
                    logger.warning("ignoring cache file %s: %d rows for %d inputs", path, rows.shape[0], len(part))
                    rows = None
            if rows is None:
                rows = np.asarray(compute(part))
                if rows.shape[0] != len(part):
                    raise ValueError(f"{namespace}: compute returned {rows.shape[0]} rows for {len(part)} inputs")
                _save(path, rows)
            else:
                hits += 1
            parts.append(rows)
            bar.advance(len(part))
    n_chunks = len(parts)
    if hits:
        logger.info("%s: %d of %d chunks read from %s", namespace, hits, n_chunks, folder)
    return np.concatenate(parts, axis=0)


def module_fingerprint(module: Any) -> str:
    """SHA-256 of a torch module's parameters and buffers (names, dtypes, shapes, values)."""
    import torch

    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


__all__ = ["CHUNK", "cached_rows", "config_key", "features_cache_dir", "module_fingerprint", "texts_sha256"]
