"""Token texts of a whole dataset, computed once per (data file, domain settings) and kept on disk.

Crystal symmetry analysis runs at about 25-40 structures/s per core, so a benchmark runner that
re-validated ``mp_formation_energy`` (36,737 structures) on every call would spend minutes before
its first model. :func:`prepare_cached` validates every input once (in ``n_jobs`` processes when the
domain offers ``to_texts(items, n_jobs)``), stores texts, the valid mask and the invalid rows as
gzipped JSON under ``<sciptm cache>/benchmarks/texts/<key>.json.gz`` and reads that file on later
calls. The key is the SHA-256 of the dataset's data checksum, the input column, the row count and
the domain's settings (``Domain.to_config()``), so a changed file or a changed ``symprec`` never
reuses stale texts.

>>> import pandas as pd
>>> from sciptm.domains import get_domain
>>> dom = get_domain({"name": "crystal", "kind": "composition"})
>>> prep = prepare_cached(dom, pd.Series(["NaCl", "Xx2"]), data_sha256="0" * 64, cache=False)
>>> prep.texts, prep.valid.tolist(), prep.invalid[0].index
(['Na n_1 Cl n_1'], [True, False], 1)
"""
from __future__ import annotations

import gzip
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sciptm._util.atomic import atomic_path
from sciptm.data.locations import cache_root
from sciptm.domains.base import Domain, PreparedInputs
from sciptm.errors import InvalidInputError, InvalidRecord, SkippedInputWarning

FORMAT = 1
#: rows converted per ``to_texts`` call (bounds the work redone when a chunk holds an invalid row)
CHUNK = 2048
_MAX_VALUE_CHARS = 200  # invalid values are stored shortened (a CIF can be kilobytes)


def texts_cache_dir() -> Path:
    """``<sciptm cache>/benchmarks/texts`` (not created here)."""
    return cache_root() / "benchmarks" / "texts"


def texts_key(data_sha256: str, domain_config: dict[str, Any], column: str, n_rows: int) -> str:
    """Cache key of one dataset column under one domain configuration (hex SHA-256)."""
    blob = json.dumps({"format": FORMAT, "data": data_sha256, "domain": domain_config, "column": column,
                       "n": int(n_rows)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _convert(domain: Domain, values: list[Any], n_jobs: int) -> tuple[list[str], np.ndarray, list[InvalidRecord]]:
    to_texts = getattr(domain, "to_texts", None)
    if to_texts is None or n_jobs in (0, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedInputWarning)
            prep = domain.prepare(values, errors="skip")
        return prep.texts, prep.valid, prep.invalid
    texts: list[str] = []
    valid = np.zeros(len(values), dtype=bool)
    invalid: list[InvalidRecord] = []
    for start in range(0, len(values), CHUNK):
        part = values[start:start + CHUNK]
        try:
            good, part_texts = list(range(len(part))), to_texts(part, n_jobs=n_jobs)
        except InvalidInputError as exc:
            bad = {int(r.index) for r in exc.records}
            invalid += [InvalidRecord(start + int(r.index), r.value, r.reason) for r in exc.records]
            good = [i for i in range(len(part)) if i not in bad]
            part_texts = to_texts([part[i] for i in good], n_jobs=n_jobs) if good else []
        texts += part_texts
        valid[[start + i for i in good]] = True
    return texts, valid, invalid


def prepare_cached(domain: Domain, inputs: pd.Series, data_sha256: str, *, n_jobs: int = 1, cache: bool = True,
                   cache_dir: str | Path | None = None) -> PreparedInputs:
    """Validate every input of a dataset column once; later calls read the texts from disk.

    Parameters
    ----------
    domain: the domain that converts the inputs (its ``to_config()`` is part of the key).
    inputs: the input column, one item per row; invalid rows are recorded, never dropped silently.
    data_sha256: checksum of the dataset's data (``Dataset.data_sha256``).
    n_jobs: worker processes, for domains with ``to_texts(items, n_jobs)`` (the crystal domain).
    cache: ``False`` computes without reading or writing the disk cache.
    cache_dir: folder of the cache files (default :func:`texts_cache_dir`).

    Returns
    -------
    PreparedInputs with the texts of the valid rows, the ``[N]`` valid mask and the invalid records
    (row positions; values shortened to 200 characters when read from the cache).
    """
    values = list(inputs)
    folder = Path(cache_dir) if cache_dir is not None else texts_cache_dir()
    path = folder / f"{texts_key(data_sha256, domain.to_config(), str(inputs.name), len(values))}.json.gz"
    if cache and path.is_file():
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            stored = json.load(fh)
        valid = np.asarray(stored["valid"], dtype=bool)
        if valid.shape[0] != len(values) or int(valid.sum()) != len(stored["texts"]):
            raise ValueError(f"text cache {path} does not match the data ({len(values)} rows): delete it")
        return PreparedInputs(stored["texts"], valid, [InvalidRecord(i, v, r) for i, v, r in stored["invalid"]])
    texts, valid, invalid = _convert(domain, values, n_jobs)
    if cache:
        with atomic_path(path) as tmp, gzip.open(tmp, "wt", encoding="utf-8") as fh:
            json.dump({"format": FORMAT, "domain": domain.to_config(), "data_sha256": data_sha256,
                       "texts": texts, "valid": valid.astype(int).tolist(),
                       "invalid": [[r.index, str(r.value)[:_MAX_VALUE_CHARS], r.reason] for r in invalid]}, fh)
    return PreparedInputs(texts, valid, invalid)


__all__ = ["prepare_cached", "texts_cache_dir", "texts_key"]
