"""Protein splits: sequence-identity cluster splits and ProteinGym-style position folds of DMS assays.

Registered in :data:`sciptm.splits.SPLITTERS` (this module is imported on the first lookup of one of its names), so
``sciptm bench protein --split cluster`` and ``make_split("cluster", smiles=sequences)`` read the same keys
(the ``smiles=`` argument of :func:`~sciptm.splits.make_split` carries the per-row inputs, here sequences).

``cluster``, ``cluster30``, ``cluster50``, ``cluster70``, ``cluster90``
    Sequences clustered at 50% (``cluster``) or the named identity, coverage 0.8
    (:func:`sciptm.domains.protein.clustering.cluster_sequences`: MMseqs2 when installed, else a greedy CD-HIT-like
    fallback); whole clusters go to train, valid or test (Chemprop's balanced rule: clusters larger than half
    the test size go to train, the rest are shuffled with the seed and filled in).
``contiguous``, ``modulo``
    ProteinGym's ``fold_contiguous_5`` / ``fold_modulo_5`` on the mutated positions: the sorted distinct
    positions are cut into 5 contiguous blocks, or dealt round-robin (rank mod 5). **The seed is the fold**
    (seeds 0-4), as for ``kfold`` in the runner. Positions are the residues where a variant differs from the
    wild type (the per-column consensus of the equal-length sequences, or ``wild_type=``). ProteinGym builds
    these folds on single mutants only; here multi-mutants are kept when all their positions fall in the test
    fold (test) or none does (train); the rest are ``excluded`` for that fold, so no mutated position is
    shared between train and test. A seeded 10% of train becomes valid (``valid_fraction``).

Example
-------
>>> from sciptm.splits import make_split
>>> wt = "MKTAYIAKQRQISFVKSHFS"
>>> seqs = [wt[:i] + "G" + wt[i + 1:] for i in range(20)]
>>> s = make_split("contiguous", smiles=seqs, seed=0, valid_fraction=0.0)
>>> s.test.tolist()
[0, 1, 2, 3]
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from sciptm.splits.core import DEFAULT_SIZES, SPLITTERS, Split, Splitter
from sciptm.splits.sizing import carve_valid, check_sizes, cut_counts

CLUSTER_IDENTITIES = {"cluster": 0.5, "cluster30": 0.3, "cluster50": 0.5, "cluster70": 0.7, "cluster90": 0.9}
SCHEMES = ("contiguous", "modulo")
_CLUSTER_CACHE: dict[tuple[str, float, float, str], tuple[np.ndarray, str]] = {}


# --------------------------------------------------------------------------- cluster split


def _clusters(sequences: Sequence[str], identity: float, coverage: float, method: str) -> tuple[np.ndarray, str]:
    """Cluster labels and the method that made them, cached per (sequences, identity, coverage, method)."""
    from sciptm.domains.protein.clustering import cluster_sequences, resolve_method

    used = resolve_method(method)  # type: ignore[arg-type]
    digest = hashlib.sha256("\n".join(map(str, sequences)).encode()).hexdigest()
    key = (digest, float(identity), float(coverage), used)
    if key not in _CLUSTER_CACHE:
        _CLUSTER_CACHE[key] = (cluster_sequences(sequences, identity, coverage, used), used)  # type: ignore[arg-type]
    return _CLUSTER_CACHE[key]


def cluster_split(sequences: Sequence[str], identity: float = 0.5, sizes: Sequence[float] = DEFAULT_SIZES,
                  seed: int = 0, coverage: float = 0.8, method: str = "auto", name: str = "cluster") -> Split:
    """Whole sequence-identity clusters to train, valid or test.

    Parameters
    ----------
    sequences: one amino-acid sequence per row.
    identity: clustering threshold in (0, 1] (e.g. 0.3 for remote homology, 0.5 by default).
    sizes: ``(train, valid, test)`` fractions summing to 1 (targets; whole clusters make them approximate).
    seed: shuffles the small clusters.
    coverage: minimum alignment coverage to join a cluster.
    method: ``auto`` (MMseqs2 if installed), ``mmseqs`` or ``greedy``.

    Returns
    -------
    A :class:`~sciptm.splits.Split` whose ``params`` record identity, coverage, the clustering method used and
    the number of clusters; no cluster spans two parts.

    Example
    -------
    >>> s = cluster_split(["MKTAYIAKQR"] * 3 + ["WWHHCCWWHH"] * 2 + ["PPGGSSPPGG"] * 5, identity=0.9,
    ...                   sizes=(0.5, 0.2, 0.3), method="greedy")
    >>> sorted(s.sizes.values())
    [2, 3, 5]
    """
    fr = check_sizes(sizes)
    labels, used = _clusters(sequences, identity, coverage, method)
    n = len(labels)
    n_train, n_valid, n_test = cut_counts(n, fr)
    groups = [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)] if n else []
    big = sorted((g for g in groups if len(g) > n_test / 2), key=lambda g: (-len(g), int(g[0])))
    small = [g for g in groups if len(g) <= n_test / 2]
    rng = np.random.default_rng(seed)
    small = [small[i] for i in rng.permutation(len(small))]
    parts: dict[str, list[np.ndarray]] = {"train": [], "valid": [], "test": []}
    counts = {"train": 0, "valid": 0, "test": 0}
    for g in big + small:
        if counts["train"] + len(g) <= n_train or not counts["train"]:
            where = "train"
        elif counts["valid"] + len(g) <= n_valid:
            where = "valid"
        else:
            where = "test"
        parts[where].append(g)
        counts[where] += len(g)
    cat = {k: np.sort(np.concatenate(v)) if v else np.zeros(0, dtype=np.int64) for k, v in parts.items()}
    params: dict[str, Any] = {"identity": float(identity), "coverage": float(coverage), "clustering": used,
                              "n_clusters": len(groups), "sizes": list(fr)}
    return Split(cat["train"], cat["valid"], cat["test"], method=name, seed=seed, params=params, n=n)


# --------------------------------------------------------------------------- position folds


def consensus(sequences: Sequence[str]) -> str:
    """The per-column most common residue of equal-length sequences (ties: alphabetical first).

    >>> consensus(["MKA", "MRA", "MKG"])
    'MKA'
    """
    seqs = [str(s) for s in sequences]
    if not seqs:
        raise ValueError("consensus of no sequences")
    lengths = {len(s) for s in seqs}
    if len(lengths) != 1:
        raise ValueError(f"position folds need equal-length variants of one protein; lengths are {sorted(lengths)[:5]}"
                         f"{'...' if len(lengths) > 5 else ''}")
    arr = np.frombuffer("".join(seqs).encode("ascii", "replace"), dtype=np.uint8).reshape(len(seqs), -1)
    out = []
    for col in arr.T:
        counts = np.bincount(col, minlength=256)
        out.append(chr(int(np.argmax(counts))))
    return "".join(out)


def mutated_positions(sequences: Sequence[str], wild_type: str | None = None) -> list[tuple[int, ...]]:
    """1-based positions where each sequence differs from ``wild_type`` (default: the consensus).

    >>> mutated_positions(["MKA", "MRA", "AKG"], wild_type="MKA")
    [(), (2,), (1, 3)]
    """
    wt = consensus(sequences) if wild_type is None else str(wild_type)
    out = []
    for i, s in enumerate(sequences):
        if len(s) != len(wt):
            raise ValueError(f"row {i}: length {len(s)} differs from the wild type's {len(wt)}")
        out.append(tuple(p + 1 for p, (a, b) in enumerate(zip(s, wt)) if a != b))
    return out


def positions_from_mutants(mutants: Sequence[str]) -> list[tuple[int, ...]]:
    """Positions named by ProteinGym mutant strings (``"A23G:L40P"`` -> ``(23, 40)``; ``""``/``"WT"`` -> ``()``).

    >>> positions_from_mutants(["A23G:L40P", "WT"])
    [(23, 40), ()]
    """
    from sciptm.domains.protein.mutations import parse_mutations

    return [tuple(sorted({m.position for m in parse_mutations(t)})) for t in mutants]


def position_fold_map(positions: Sequence[Sequence[int]], k: int = 5, scheme: str = "contiguous") -> dict[int, int]:
    """Position -> fold, as ProteinGym's ``create_folds_by_position_modulo`` / ``..._contiguous_...``."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
    distinct = sorted({int(p) for row in positions for p in row})
    if int(k) != k or k < 2 or len(distinct) < k:
        raise ValueError(f"k must be an integer between 2 and the number of mutated positions ({len(distinct)}), got {k}")
    if scheme == "modulo":
        return {p: r % k for r, p in enumerate(distinct)}
    size, extra = divmod(len(distinct), k)
    folds = [f for f in range(k) for _ in range(size + (f < extra))]
    return dict(zip(distinct, folds))


def position_folds(positions: Sequence[Sequence[int]], k: int = 5, scheme: str = "contiguous",
                   valid_fraction: float = 0.1, seed: int = 0) -> list[Split]:
    """All ``k`` position folds (see the module docstring): fold ``i`` tests the variants whose mutated
    positions all lie in position-fold ``i``; train holds those with none there (wild-type rows included).

    Parameters
    ----------
    positions: mutated positions per row (:func:`mutated_positions` or :func:`positions_from_mutants`).
    k: number of folds (ProteinGym: 5).
    scheme: ``contiguous`` or ``modulo``.
    valid_fraction: seeded share of each fold's train rows moved to valid.
    seed: seed of that carve (fold ``i`` uses ``default_rng([seed, i])``).

    Example
    -------
    >>> folds = position_folds([(1,), (2,), (3,), (4,), (1, 2), (1, 4)], k=2, valid_fraction=0.0)
    >>> [(f.train.tolist(), f.test.tolist(), f.excluded.tolist()) for f in folds]
    [([2, 3], [0, 1, 4], [5]), ([0, 1, 4], [2, 3], [5])]
    """
    if not 0 <= valid_fraction < 1:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    fold_of = position_fold_map(positions, k, scheme)
    touched = [{fold_of[int(p)] for p in row} for row in positions]
    out = []
    for i in range(k):
        test = np.array([r for r, f in enumerate(touched) if f == {i}], dtype=np.int64)
        train = np.array([r for r, f in enumerate(touched) if i not in f], dtype=np.int64)
        excluded = np.array([r for r, f in enumerate(touched) if i in f and len(f) > 1], dtype=np.int64)
        valid = np.zeros(0, dtype=np.int64)
        if valid_fraction:
            train, valid = carve_valid(train, valid_fraction, np.random.default_rng([seed, i]))
        params = {"k": int(k), "fold": i, "scheme": scheme, "valid_fraction": valid_fraction,
                  "n_positions": len(fold_of), "test_positions": sorted(p for p, f in fold_of.items() if f == i)}
        out.append(Split(train, valid, test, method=scheme, seed=i, params=params, n=len(positions),
                         excluded=excluded))
    return out


# --------------------------------------------------------------------------- registration


def _reg_cluster(name: str):
    def fn(*, smiles: Sequence[str], seed: int, sizes: Sequence[float], **_: Any) -> Split:
        return cluster_split(smiles, CLUSTER_IDENTITIES[name], sizes, seed, name=name)
    return fn


def _reg_position(scheme: str):
    def fn(*, smiles: Sequence[str], seed: int, k: int = 5, valid_fraction: float = 0.1, **_: Any) -> Split:
        if not isinstance(seed, (int, np.integer)) or not 0 <= seed < k:
            raise ValueError(f"split {scheme!r}: the seed is the fold index, so it must be in 0..{k - 1}; got {seed}")
        return position_folds(mutated_positions(smiles), k, scheme, valid_fraction, seed=0)[int(seed)]
    return fn


for _name in CLUSTER_IDENTITIES:
    SPLITTERS.add(_name, Splitter(_name, _reg_cluster(_name), needs="smiles"))
for _scheme in SCHEMES:
    SPLITTERS.add(_scheme, Splitter(_scheme, _reg_position(_scheme), needs="smiles"))

__all__ = ["CLUSTER_IDENTITIES", "SCHEMES", "cluster_split", "consensus", "mutated_positions", "position_fold_map",
           "position_folds", "positions_from_mutants"]
