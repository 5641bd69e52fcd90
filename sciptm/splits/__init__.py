"""Train / valid / test splits: seeded, hashable, saved as JSON, chosen by name.

Every splitter returns a :class:`Split` (k-fold splitters a list of them) holding row indices
into the dataset it was made for. Splitters are registered in :data:`SPLITTERS`, so
``make_split("scaffold", smiles=...)`` and the benchmark runner's ``--split NAME`` read the same
keys; registering a new :class:`Splitter` (e.g. a sequence-cluster split) is all it takes.

This package is domain-free (no RDKit): :mod:`~sciptm.splits.core` (``Split``, the registry, ``make_split``),
:mod:`~sciptm.splits.sizing` (part sizes) and :mod:`~sciptm.splits.generic` (the methods below that need no
domain). The scaffold methods live in :mod:`sciptm.domains.smiles.splits` and the protein ones in
:mod:`sciptm.domains.protein.splits`; each is imported on the first lookup of one of its names.

Methods
-------
``random``             seeded permutation cut at ``sizes`` (default 0.8 / 0.1 / 0.1).
``stratified``         seeded, keeps class ratios (``sklearn`` ``StratifiedShuffleSplit``).
``scaffold``           DeepChem's ``ScaffoldSplitter``, index for index (ignores the seed).
``scaffold_balanced``  Chemprop's balanced scaffold split (seeded).
``predefined``         a column of ``train`` / ``valid`` / ``test`` labels, or a saved split file.
``kfold``              seeded ``KFold``: fold ``i`` is the test part (cross-validation).
``stratified_kfold``   seeded ``StratifiedKFold``.
``cluster*``, ``contiguous``, ``modulo``   protein splits (:mod:`sciptm.domains.protein.splits`).

Example
-------
>>> from sciptm.splits import make_split
>>> split = make_split("random", n=10, seed=0)
>>> split.sizes
{'train': 8, 'valid': 1, 'test': 1}
>>> make_split("random", n=10, seed=0).hash == split.hash
True
"""
from __future__ import annotations

import importlib
import warnings
from typing import Any

from sciptm.splits.core import (
    BUILTIN_SPLITTERS,
    DEFAULT_SIZES,
    FILE_FORMAT,
    FILE_VERSION,
    HASH_CHARS,
    PARTS,
    SPLITTERS,
    Split,
    Splitter,
    make_folds,
    make_split,
)
from sciptm.splits.generic import (
    PART_ALIASES,
    kfold,
    predefined_split,
    random_split,
    stratified_kfold,
    stratified_split,
)
from sciptm.splits.sizing import carve_valid, check_sizes, cut_counts

#: names that moved into a domain (kept here one release, with a DeprecationWarning)
_MOVED = {"murcko_scaffold": "sciptm.domains.smiles.splits", "scaffold_split": "sciptm.domains.smiles.splits",
          "scaffold_balanced_split": "sciptm.domains.smiles.splits",
          "_check_sizes": "sciptm.splits.sizing", "_cut_counts": "sciptm.splits.sizing",
          "_carve": "sciptm.splits.sizing"}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(f"sciptm.splits.{name} moved to {_MOVED[name]}.{name.lstrip('_')}; the old name will be "
                      "removed in the next release", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'sciptm.splits' has no attribute {name!r}")


__all__ = ["BUILTIN_SPLITTERS", "DEFAULT_SIZES", "FILE_FORMAT", "FILE_VERSION", "HASH_CHARS", "PARTS",
           "PART_ALIASES", "SPLITTERS", "Split", "Splitter", "carve_valid", "check_sizes", "cut_counts", "kfold",
           "make_folds", "make_split", "predefined_split", "random_split", "stratified_kfold", "stratified_split"]
