"""Regression targets of multi-objective pretraining: descriptors and labels joined to a prepared corpus.

Objectives (config key ``objectives``) other than the language model regress a target vector of every corpus
item from the encoder's mean-pooled embedding (a small head, :mod:`sciptm.pretraining.heads`):

================ ========== ===================================================================================
objective        domain     targets
================ ========== ===================================================================================
``descriptors``  smiles     RDKit 2D descriptors (``sciptm.domains.smiles.features.rdkit2d``, ChemBERTa-2's "MTR")
``descriptors``  crystal    Magpie composition features (``sciptm.domains.crystal.features.magpie_from_texts``)
``formation_energy`` crystal the MP formation energy of the record (``label_file``, ``id_prop.csv`` of the corpus)
================ ========== ===================================================================================

Raw matrices are computed once per corpus split and cached on disk in chunks
(:func:`sciptm.features.cache.cached_rows`, namespace ``pretraining-<objective>``), so an interrupted run
or a resumed one never recomputes them. Standardization uses the mean and standard deviation of the
*training split*; columns that are constant or mostly missing there are dropped; standardized values are
clipped to ``[-clip, clip]``; missing values stay NaN and are left out of the loss.

Example
-------
>>> spec = TargetSpec.fit("descriptors", ["a", "b"], np.array([[1.0, 5.0], [3.0, 5.0]]), clip=5.0)
>>> spec.names, spec.transform(np.array([[2.0, 5.0]])).tolist()
(['a'], [[0.0]])
"""
from __future__ import annotations

import csv
import io
import json
import logging
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: a column is dropped when more than this fraction of its training values is missing
MAX_MISSING = 0.5


@dataclass
class TargetSpec:
    """One objective's targets: kept column names and the training-split standardization."""

    objective: str
    names: list[str]
    mean: np.ndarray
    std: np.ndarray
    clip: float
    dropped: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, objective: str, names: Sequence[str], raw: np.ndarray, clip: float) -> TargetSpec:
        """Standardization from the training rows ``raw`` (``N x F``); drops constant / mostly-NaN columns."""
        raw = np.asarray(raw, dtype=np.float64)
        finite = np.isfinite(raw)
        missing = 1.0 - finite.mean(axis=0) if raw.shape[0] else np.ones(raw.shape[1])
        safe = np.where(finite, raw, np.nan)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(safe, axis=0)
                std = np.nanstd(safe, axis=0)
        nan_cols = [n for n, m in zip(names, missing) if m > MAX_MISSING]
        const_cols = [n for n, m, s in zip(names, missing, std) if m <= MAX_MISSING and not (s > 1e-12)]
        keep = np.array([(m <= MAX_MISSING) and (s > 1e-12) for m, s in zip(missing, std)], dtype=bool)
        return cls(objective, [n for n, k in zip(names, keep) if k], mean[keep], std[keep], float(clip),
                   {"mostly_missing": nan_cols, "constant": const_cols, "_keep": list(map(bool, keep))})

    @property
    def keep(self) -> np.ndarray:
        return np.asarray(self.dropped["_keep"], dtype=bool)

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Standardized, clipped float32 targets of the kept columns (NaN stays NaN)."""
        x = np.asarray(raw, dtype=np.float64)[:, self.keep]
        x = np.where(np.isfinite(x), x, np.nan)
        with np.errstate(invalid="ignore"):
            z = np.clip((x - self.mean) / self.std, -self.clip, self.clip)
        return z.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"objective": self.objective, "names": self.names, "mean": self.mean.tolist(),
                "std": self.std.tolist(), "clip": self.clip,
                "dropped": {k: v for k, v in self.dropped.items() if not k.startswith("_")}}


@dataclass
class Targets:
    """Every regression objective of a run, concatenated column-wise."""

    specs: list[TargetSpec]
    train: np.ndarray
    val: np.ndarray

    @property
    def slices(self) -> dict[str, slice]:
        out, start = {}, 0
        for spec in self.specs:
            out[spec.objective] = slice(start, start + len(spec.names))
            start += len(spec.names)
        return out

    @property
    def width(self) -> int:
        return int(sum(len(s.names) for s in self.specs))

    def to_dict(self) -> dict[str, Any]:
        return {"objectives": [s.to_dict() for s in self.specs], "train_rows": int(self.train.shape[0]),
                "val_rows": int(self.val.shape[0])}


# --------------------------------------------------------------------------------------- raw producers
def _descriptor_producer(domain: str) -> tuple[list[str], Callable[[list[str]], np.ndarray], str]:
    if domain == "smiles":
        from sciptm.domains.smiles import features as smiles_features

        return list(smiles_features.DESCRIPTOR_NAMES), smiles_features.rdkit2d, "rdkit2d"
    if domain == "crystal":
        from sciptm.domains.crystal import features as crystal_features

        return list(crystal_features.feature_names()), crystal_features.magpie_from_texts, "magpie"
    from sciptm.errors import ConfigError

    raise ConfigError(f"objective 'descriptors' has no descriptor set for domain {domain!r} (smiles, crystal)")


def _cached_piece(args: tuple[str, list[str], str | None]) -> np.ndarray:
    """One chunk-aligned piece of :func:`raw_descriptors` (a worker process's unit of work)."""
    from sciptm.features.cache import cached_rows

    domain, piece, cache_dir = args
    names, fn, featurizer = _descriptor_producer(domain)
    return cached_rows(f"pretraining-{featurizer}", {"featurizer": featurizer, "names": names}, piece,
                       lambda part: np.asarray(fn(part), dtype=np.float64), cache=True, cache_dir=cache_dir)


def raw_descriptors(domain: str, texts: Sequence[str], cache_dir: str | Path | None = None,
                    log: Callable[[str], None] | None = None, workers: int = 1) -> tuple[list[str], np.ndarray, str]:
    """``(names, N x F raw matrix, featurizer name)`` of the domain's descriptor set, cached on disk in chunks
    of :data:`sciptm.features.cache.CHUNK` rows; ``workers > 1`` computes chunks in that many processes
    (same chunk boundaries, so the cache files are the same either way)."""
    from sciptm.features.cache import CHUNK

    names, _, featurizer = _descriptor_producer(domain)
    log = log or logger.info
    texts = list(texts)
    pieces = [texts[i:i + CHUNK] for i in range(0, len(texts), CHUNK)]
    folder = str(cache_dir) if cache_dir is not None else None
    jobs = [(domain, piece, folder) for piece in pieces]
    parts: list[np.ndarray] = []
    if workers > 1 and len(pieces) > 1:
        import multiprocessing

        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ctx.Pool(min(workers, len(pieces))) as pool:
            for part in pool.imap(_cached_piece, jobs):
                parts.append(part)
                log(f"targets: {featurizer} of {sum(len(p) for p in parts)} / {len(texts)} items")
    else:
        for job in jobs:
            parts.append(_cached_piece(job))
            log(f"targets: {featurizer} of {sum(len(p) for p in parts)} / {len(texts)} items")
    if not parts:
        return names, np.zeros((0, len(names))), featurizer
    return names, np.concatenate(parts, axis=0), featurizer


def read_labels(spec: str, resolve: Callable[[str], Path | None]) -> dict[str, float]:
    """``{record id: value}`` from a header-less ``id,value`` CSV, given as a path or ``<archive>::<member>``.

    Ids are matched with and without a ``.cif`` suffix (CIF member names ``123.cif`` vs ids ``123``).
    """
    archive, sep, member = spec.partition("::")
    if sep:
        path = resolve(archive)
        with tarfile.open(path, mode="r|*") as tar:
            text = None
            for entry in tar:
                if entry.isfile() and (entry.name == member or entry.name.endswith("/" + member)
                                       or Path(entry.name).name == member):
                    handle = tar.extractfile(entry)
                    text = handle.read().decode("utf-8") if handle is not None else None
                    break
        if text is None:
            from sciptm.errors import MissingFileError

            raise MissingFileError(f"label file: no member {member!r} in {path}")
    else:
        text = resolve(spec).read_text(encoding="utf-8")
    out: dict[str, float] = {}
    for row in csv.reader(io.StringIO(text)):
        if len(row) < 2 or not row[0].strip():
            continue
        try:
            out[row[0].strip()] = float(row[1])
        except ValueError:
            continue  # a header line
    return out


def _label_of(labels: dict[str, float], record_id: str) -> float:
    rid = record_id.strip()
    if rid in labels:
        return labels[rid]
    stem = rid[:-4] if rid.lower().endswith(".cif") else rid
    return labels.get(stem, float("nan"))


def default_label_file(train_source: str) -> str:
    """The ``id_prop.csv`` member of a CIF archive corpus (CGCNN layout)."""
    return f"{train_source}::id_prop.csv"


def build_targets(cfg, corpus, log: Callable[[str], None] | None = None) -> Targets | None:
    """The regression targets of ``cfg``'s objectives for ``corpus`` (``None`` when there are none).

    Raw values are computed (or read from the feature cache) for the train and validation splits; the
    standardization is fitted on the training split only. A summary lands in ``<corpus>/targets-*.json``.
    """
    objectives = cfg.regression_objectives()
    if not objectives:
        return None
    from sciptm.domains import get_domain

    log = log or logger.info
    domain = get_domain(cfg.domain).name
    cache_dir = cfg.cache_root() / "features"
    specs, train_parts, val_parts = [], [], []
    for objective in objectives:
        if objective == "descriptors":
            texts_train = corpus.train.take(range(len(corpus.train)))
            texts_val = corpus.val.take(range(len(corpus.val)))
            log(f"targets: descriptors of {len(texts_train)} train + {len(texts_val)} val items ({domain})")
            workers = cfg.workers if cfg.workers > 0 else 1
            names, raw_train, _ = raw_descriptors(domain, texts_train, cache_dir, log, workers)
            _, raw_val, _ = raw_descriptors(domain, texts_val, cache_dir, log, workers)
        elif objective == "formation_energy":
            if domain != "crystal":
                from sciptm.errors import ConfigError

                raise ConfigError(f"objective 'formation_energy' needs the crystal domain, not {domain!r}")
            spec_file = cfg.label_file or default_label_file(cfg.train_source)
            labels = read_labels(spec_file, cfg.resolve)
            names = ["formation_energy"]
            raw_train = np.array([[_label_of(labels, r)] for r in corpus.record_ids("train")], dtype=np.float64)
            raw_val = np.array([[_label_of(labels, r)] for r in corpus.record_ids("val")], dtype=np.float64)
            log(f"targets: formation energy of {np.isfinite(raw_train).sum()} / {len(raw_train)} train items "
                f"from {spec_file}")
        else:  # pragma: no cover - the config validates names
            raise ValueError(f"unknown regression objective {objective!r}")
        spec = TargetSpec.fit(objective, names, raw_train, cfg.target_clip)
        specs.append(spec)
        train_parts.append(spec.transform(raw_train))
        val_parts.append(spec.transform(raw_val))
        dropped = spec.dropped
        log(f"targets: {objective}: {len(spec.names)} of {len(names)} columns kept "
            f"({len(dropped['constant'])} constant, {len(dropped['mostly_missing'])} mostly missing dropped)")
    targets = Targets(specs, np.concatenate(train_parts, axis=1), np.concatenate(val_parts, axis=1))
    try:
        (Path(corpus.folder) / f"targets-{'-'.join(objectives)}.json").write_text(json.dumps(targets.to_dict()))
    except OSError:
        pass
    return targets


__all__ = ["TargetSpec", "Targets", "build_targets", "default_label_file", "raw_descriptors", "read_labels"]
