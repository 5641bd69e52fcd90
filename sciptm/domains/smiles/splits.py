"""Scaffold splits of molecules: DeepChem's ``scaffold`` and Chemprop's ``scaffold_balanced``.

Registered in :data:`sciptm.splits.SPLITTERS` (imported on the first lookup of either name), so
``make_split("scaffold", smiles=...)`` and ``sciptm bench chem --split scaffold_balanced`` read the same keys.

>>> murcko_scaffold("Cc1ccccc1CCN")
'c1ccccc1'
"""
from __future__ import annotations

import random as _pyrandom
import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold
from rdkit.rdBase import BlockLogs

from sciptm.errors import InvalidInputError, InvalidRecord, SkippedInputWarning
from sciptm.splits.core import DEFAULT_SIZES, SPLITTERS, Split, Splitter
from sciptm.splits.sizing import check_sizes, cut_counts


def murcko_scaffold(smiles: str) -> str | None:
    """Bemis-Murcko scaffold SMILES (no chirality) as DeepChem and Chemprop compute it.

    ``None`` when RDKit cannot parse ``smiles``; ``""`` for molecules without rings.

    >>> murcko_scaffold("Cc1ccccc1CCN")
    'c1ccccc1'
    """
    if not isinstance(smiles, str):
        return None
    return _murcko_cached(smiles)


@lru_cache(maxsize=1 << 17)
def _murcko_cached(smiles: str) -> str | None:
    """Cached so that re-splitting a dataset with new seeds does not re-parse every molecule."""
    with BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            return None
        return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)


_NO_SCAFFOLD = "?"  # stands for "RDKit cannot parse" in the disk cache (never a scaffold SMILES)
#: datasets at least this large keep their scaffolds in the disk cache (HIV: 41k molecules, ~20-40 s of RDKit)
DISK_CACHE_MIN = 2000


def _scaffolds(smiles: Sequence[str]) -> list[str | None]:
    """:func:`murcko_scaffold` of every row; for large datasets read from / written to the disk cache
    (:func:`sciptm.features.cache.cached_rows`, keyed by the SMILES and the RDKit version)."""
    if len(smiles) < DISK_CACHE_MIN or not all(isinstance(s, str) for s in smiles):
        return [murcko_scaffold(s) for s in smiles]
    import numpy as np
    import rdkit

    from sciptm.features.cache import cached_rows

    def compute(part: list[str]) -> np.ndarray:
        out = [murcko_scaffold(s) for s in part]
        return np.array([_NO_SCAFFOLD if s is None else s for s in out], dtype=str)

    stored = cached_rows("murcko", {"rdkit": rdkit.__version__, "chirality": False}, list(smiles), compute)
    return [None if s == _NO_SCAFFOLD else str(s) for s in stored.tolist()]


def _scaffold_groups(smiles: Sequence[str], invalid: str, method: str) -> tuple[dict[str, list[int]], list[int]]:
    """Scaffold -> row indices (first-appearance order) and the rows RDKit could not parse."""
    if invalid not in ("exclude", "raise"):
        raise ValueError(f"invalid must be 'exclude' or 'raise', got {invalid!r}")
    groups: dict[str, list[int]] = {}
    bad: list[int] = []
    for i, scaffold in enumerate(_scaffolds(smiles)):
        if scaffold is None:
            bad.append(i)
        else:
            groups.setdefault(scaffold, []).append(i)
    if bad:
        records = [InvalidRecord(i, smiles[i], "RDKit could not parse the SMILES") for i in bad]
        if invalid == "raise":
            raise InvalidInputError(records)
        shown = ", ".join(str(i) for i in bad[:20]) + (" ..." if len(bad) > 20 else "")
        warnings.warn(
            f"{method} split: {len(bad)} SMILES that RDKit cannot parse were left out of every part "
            f"(rows {shown}); see Split.excluded",
            SkippedInputWarning,
            stacklevel=3,
        )
    return groups, bad


def scaffold_split(
    smiles: Sequence[str], sizes: Sequence[float] = DEFAULT_SIZES, *, invalid: str = "exclude"
) -> Split:
    """Deterministic Bemis-Murcko scaffold split, identical to DeepChem 2.8's ``ScaffoldSplitter``.

    Algorithm (DeepChem's): group rows by scaffold, sort groups by ``(size, first row)``
    descending, then add whole groups to train while it stays within ``f_train * n``, else to
    valid while train + valid stays within ``(f_train + f_valid) * n``, else to test. ``n``
    counts every row, parsable or not.

    SMILES RDKit cannot parse (``Chem.MolFromSmiles`` returns ``None``) go into no part, as in
    DeepChem; they are listed in :attr:`Split.excluded` and a :class:`SkippedInputWarning` names
    them. ``invalid="raise"`` raises :class:`InvalidInputError` instead.

    >>> scaffold_split(["c1ccccc1C", "c1ccccc1O", "C1CCCCC1", "CCO"], (0.5, 0.25, 0.25)).sizes
    {'train': 2, 'valid': 1, 'test': 1}
    """
    fr = check_sizes(sizes)
    n = len(smiles)
    groups, bad = _scaffold_groups(smiles, invalid, "scaffold")
    ordered = sorted(groups.values(), key=lambda rows: (len(rows), rows[0]), reverse=True)
    train_cutoff = fr[0] * n
    valid_cutoff = (fr[0] + fr[1]) * n
    train: list[int] = []
    valid: list[int] = []
    test: list[int] = []
    for rows in ordered:
        if len(train) + len(rows) > train_cutoff:
            if len(train) + len(valid) + len(rows) > valid_cutoff:
                test += rows
            else:
                valid += rows
        else:
            train += rows
    return Split(train, valid, test, method="scaffold", seed=None, params={"sizes": list(fr)}, n=n, excluded=bad)


def scaffold_balanced_split(
    smiles: Sequence[str], sizes: Sequence[float] = DEFAULT_SIZES, seed: int = 0, *, invalid: str = "exclude"
) -> Split:
    """Seeded balanced scaffold split (Chemprop's ``scaffold_balanced``).

    The algorithm of Chemprop's ``scaffold_split(balanced=True)``: scaffold groups larger than
    half the valid size or half the test size are "big"; big groups and small groups are each
    shuffled with ``random.Random(seed)``, big ones placed first; then each group goes to train
    if it fits within ``f_train * n``, else to valid if it fits within ``f_valid * n``, else to
    test. Big scaffolds thus land in train and valid/test draw varied small scaffolds; different
    seeds give different splits. Unparsable SMILES are handled as in :func:`scaffold_split`.

    >>> s = scaffold_balanced_split(["c1ccccc1C", "c1ccccc1O", "C1CCCCC1", "CCO"], (0.5, 0.25, 0.25))
    >>> sorted(s.train.tolist())
    [0, 1]
    """
    fr = check_sizes(sizes)
    n = len(smiles)
    groups, bad = _scaffold_groups(smiles, invalid, "scaffold_balanced")
    train_size, valid_size, test_size = fr[0] * n, fr[1] * n, fr[2] * n
    big = [rows for rows in groups.values() if len(rows) > valid_size / 2 or len(rows) > test_size / 2]
    small = [rows for rows in groups.values() if not (len(rows) > valid_size / 2 or len(rows) > test_size / 2)]
    rng = _pyrandom.Random(seed)
    rng.shuffle(big)
    rng.shuffle(small)
    train: list[int] = []
    valid: list[int] = []
    test: list[int] = []
    for rows in big + small:
        if len(train) + len(rows) <= train_size:
            train += rows
        elif len(valid) + len(rows) <= valid_size:
            valid += rows
        else:
            test += rows
    return Split(
        train, valid, test, method="scaffold_balanced", seed=seed, params={"sizes": list(fr)}, n=n, excluded=bad
    )


def _reg_scaffold(*, smiles: Sequence[str], sizes: Sequence[float], invalid: str = "exclude", **_: Any) -> Split:
    return scaffold_split(smiles, sizes, invalid=invalid)


def _reg_scaffold_balanced(
    *, smiles: Sequence[str], seed: int, sizes: Sequence[float], invalid: str = "exclude", **_: Any
) -> Split:
    return scaffold_balanced_split(smiles, sizes, seed, invalid=invalid)


SPLITTERS.add("scaffold", Splitter("scaffold", _reg_scaffold, needs="smiles"))
SPLITTERS.add("scaffold_balanced", Splitter("scaffold_balanced", _reg_scaffold_balanced, needs="smiles"))

__all__ = ["murcko_scaffold", "scaffold_balanced_split", "scaffold_split"]
