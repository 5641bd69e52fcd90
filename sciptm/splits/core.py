"""Train / valid / test splits: seeded, hashable, saved as JSON, chosen by name.

Every splitter returns a :class:`Split` (k-fold splitters a list of them) holding row indices
into the dataset it was made for. Splitters are registered in :data:`SPLITTERS`, so
``make_split("scaffold", smiles=...)`` and the benchmark runner's ``--split NAME`` read the same
keys; registering a new :class:`Splitter` (e.g. a sequence-cluster split) is all it takes.

Methods
-------
``random``             seeded permutation cut at ``sizes`` (default 0.8 / 0.1 / 0.1).
``stratified``         seeded, keeps class ratios (``sklearn`` ``StratifiedShuffleSplit``).
``scaffold``           DeepChem's ``ScaffoldSplitter``, index for index (ignores the seed).
``scaffold_balanced``  Chemprop's balanced scaffold split (seeded).
``predefined``         a column of ``train`` / ``valid`` / ``test`` labels, or a saved split file.
``kfold``              seeded ``KFold``: fold ``i`` is the test part (cross-validation).
``stratified_kfold``   seeded ``StratifiedKFold``.

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

import hashlib
import json
import os
import random as _pyrandom
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold
from rdkit.rdBase import BlockLogs
from sklearn.model_selection import KFold, StratifiedKFold, StratifiedShuffleSplit

from sciptm.errors import DataIntegrityError, InvalidInputError, InvalidRecord, SkippedInputWarning
from sciptm.registry import Registry

PARTS = ("train", "valid", "test")
FILE_FORMAT = "sciptm-split"
FILE_VERSION = 1
HASH_CHARS = 16
DEFAULT_SIZES = (0.8, 0.1, 0.1)

_EMPTY = np.zeros(0, dtype=np.int64)


def _as_indices(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values if values is not None else _EMPTY)
    if arr.size == 0:
        return _EMPTY.copy()
    if arr.ndim != 1:
        raise ValueError(f"split part {name!r} must be a 1-D array of row indices, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"split part {name!r} holds non-integer indices")
    arr = arr.astype(np.int64)
    if (arr < 0).any():
        raise ValueError(f"split part {name!r} holds a negative index: {int(arr[arr < 0][0])}")
    return arr


@dataclass(eq=False)
class Split:
    """Row indices of one train / valid / test partition.

    Attributes
    ----------
    train, valid, test:
        ``int64`` row indices, in the order the splitter produced them (order carries no meaning
        for :attr:`hash`).
    method:
        Splitter name, e.g. ``"scaffold"``.
    seed:
        Seed used, ``None`` for deterministic splitters.
    params:
        Everything else that defines the split (sizes, fold, k...); JSON-serialisable.
    n:
        Number of rows of the dataset the indices point into (defaults to ``max index + 1``).
    excluded:
        Rows placed in no part (e.g. SMILES RDKit cannot parse in a scaffold split).

    Example
    -------
    >>> s = Split(train=[0, 1, 2], valid=[3], test=[4], method="manual")
    >>> s.labels().tolist()
    ['train', 'train', 'train', 'valid', 'test']
    """

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    method: str
    seed: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    n: int | None = None
    excluded: np.ndarray = field(default_factory=lambda: _EMPTY.copy())

    def __post_init__(self) -> None:
        self.train = _as_indices(self.train, "train")
        self.valid = _as_indices(self.valid, "valid")
        self.test = _as_indices(self.test, "test")
        self.excluded = _as_indices(self.excluded, "excluded")
        self.params = dict(self.params)
        parts = {"train": self.train, "valid": self.valid, "test": self.test, "excluded": self.excluded}
        everything = np.concatenate(list(parts.values()))
        if self.n is None:
            self.n = int(everything.max()) + 1 if everything.size else 0
        self.n = int(self.n)
        if everything.size and everything.max() >= self.n:
            raise ValueError(f"split index {int(everything.max())} is out of range for a dataset of {self.n} rows")
        values, counts = np.unique(everything, return_counts=True)
        if (counts > 1).any():
            row = int(values[counts > 1][0])
            where = [name for name, idx in parts.items() if row in idx]
            raise ValueError(f"row {row} is in more than one split part ({', '.join(where)}) or repeated")

    # ----------------------------------------------------------------- identity

    @property
    def hash(self) -> str:
        """First 16 hex characters (64 bits) of a SHA-256 over the method and the sorted
        train, valid and test indices (each as little-endian ``int64`` bytes)."""
        digest = hashlib.sha256(self.method.encode())
        for name in PARTS:
            digest.update(b"|" + name.encode() + b":")
            digest.update(np.sort(getattr(self, name)).astype("<i8").tobytes())
        return digest.hexdigest()[:HASH_CHARS]

    @property
    def sizes(self) -> dict[str, int]:
        """Row counts per part."""
        return {name: int(len(getattr(self, name))) for name in PARTS}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Split):
            return NotImplemented
        return (
            self.method == other.method
            and self.seed == other.seed
            and self.n == other.n
            and self.params == other.params
            and all(np.array_equal(getattr(self, p), getattr(other, p)) for p in (*PARTS, "excluded"))
        )

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        extra = f", excluded={len(self.excluded)}" if len(self.excluded) else ""
        return f"Split(method={self.method!r}, seed={self.seed}, n={self.n}, {sizes}{extra}, hash={self.hash!r})"

    # ----------------------------------------------------------------- views

    def labels(self) -> np.ndarray:
        """``[n]`` array of ``"train"`` / ``"valid"`` / ``"test"``, ``""`` for excluded rows."""
        out = np.full(self.n, "", dtype=object)
        for name in PARTS:
            out[getattr(self, name)] = name
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per dataset row: ``index`` and ``part`` (``"excluded"`` for rows in no part)."""
        labels = self.labels()
        labels[labels == ""] = "excluded"
        return pd.DataFrame({"index": np.arange(self.n), "part": labels})

    def select(self, data: Any) -> tuple[Any, Any, Any]:
        """``(train, valid, test)`` subsets of an array, DataFrame or list with ``n`` rows.

        >>> Split(train=[2, 0], valid=[1], test=[3], method="manual").select(["a", "b", "c", "d"])
        (['c', 'a'], ['b'], ['d'])
        """
        if len(data) != self.n:
            raise ValueError(f"split was made for {self.n} rows but the data has {len(data)}")
        if isinstance(data, (pd.DataFrame, pd.Series)):
            return tuple(data.iloc[getattr(self, p)] for p in PARTS)  # type: ignore[return-value]
        if isinstance(data, np.ndarray):
            return tuple(data[getattr(self, p)] for p in PARTS)  # type: ignore[return-value]
        return tuple([data[i] for i in getattr(self, p)] for p in PARTS)  # type: ignore[return-value]

    # ----------------------------------------------------------------- files

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what :meth:`save` writes)."""
        return {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "method": self.method,
            "seed": self.seed,
            "params": self.params,
            "n": self.n,
            "hash": self.hash,
            **{name: getattr(self, name).tolist() for name in (*PARTS, "excluded")},
        }

    def save(self, path: str | Path) -> Path:
        """Write the split as JSON (indices, method, seed, params, n, hash), atomically; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            text = json.dumps(self.to_dict(), indent=1)
        except TypeError as exc:
            raise TypeError(f"split params must be JSON-serialisable: {exc}") from None
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        tmp.write_text(text + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Split:
        """Read a file written by :meth:`save`, checking its stored hash against its indices.

        Raises
        ------
        DataIntegrityError
            The stored hash does not match the indices (the file was edited or corrupted).
        """
        path = Path(path)
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("format") != FILE_FORMAT:
            raise ValueError(f"{path} is not a sciptm split file (missing format={FILE_FORMAT!r})")
        missing = [k for k in ("method", "hash", *PARTS) if k not in record]
        if missing:
            raise ValueError(f"split file {path} lacks {', '.join(missing)}")
        split = cls(
            train=record["train"],
            valid=record["valid"],
            test=record["test"],
            method=record["method"],
            seed=record.get("seed"),
            params=record.get("params") or {},
            n=record.get("n"),
            excluded=record.get("excluded") or [],
        )
        if split.hash != record["hash"]:
            raise DataIntegrityError(
                f"split file {path}: stored hash {record['hash']} does not match its indices "
                f"(they hash to {split.hash}); the file was edited or corrupted"
            )
        return split


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Splitter:
    """A registered split method.

    Attributes
    ----------
    name:
        Registry key.
    fn:
        Called by :func:`make_split` / :func:`make_folds` with keyword arguments
        ``n, smiles, labels, column, seed, sizes`` plus method options.
    needs:
        Which input the method reads: ``"n"``, ``"smiles"``, ``"labels"`` or ``"column"``.
    folds:
        ``True`` when ``fn`` returns a list of :class:`Split` (cross-validation).
    """

    name: str
    fn: Callable[..., Split | list[Split]]
    needs: str
    folds: bool = False


SPLITTERS: Registry[Splitter] = Registry("split method")


def _check_sizes(sizes: Sequence[float]) -> tuple[float, float, float]:
    if len(sizes) != 3:
        raise ValueError(f"sizes must be three fractions (train, valid, test), got {tuple(sizes)}")
    fr = tuple(float(s) for s in sizes)
    if any(not np.isfinite(s) or s < 0 for s in fr) or abs(sum(fr) - 1.0) > 1e-6:
        raise ValueError(f"sizes must be non-negative fractions summing to 1, got {fr}")
    return fr  # type: ignore[return-value]


def _cut_counts(n: int, sizes: tuple[float, float, float]) -> tuple[int, int, int]:
    """DeepChem's cutoffs: ``int(f_train * n)`` and ``int((f_train + f_valid) * n)``."""
    n_train = int(sizes[0] * n)
    n_valid = int((sizes[0] + sizes[1]) * n) - n_train
    return n_train, n_valid, n - n_train - n_valid


# --------------------------------------------------------------------------- random / stratified


def random_split(n: int, sizes: Sequence[float] = DEFAULT_SIZES, seed: int = 0) -> Split:
    """Seeded random split of ``n`` rows (``numpy.random.default_rng(seed).permutation``).

    >>> random_split(5, seed=1).sizes
    {'train': 4, 'valid': 0, 'test': 1}
    """
    fr = _check_sizes(sizes)
    perm = np.random.default_rng(seed).permutation(n)
    n_train, n_valid, _ = _cut_counts(n, fr)
    return Split(
        perm[:n_train], perm[n_train:n_train + n_valid], perm[n_train + n_valid:],
        method="random", seed=seed, params={"sizes": list(fr)}, n=n,
    )


def _class_labels(labels: Any) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"stratified splits need one class label per row, got shape {arr.shape}")
    missing = pd.isna(arr)
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise ValueError(f"stratified split: row {row} has no class label")
    return arr


def stratified_split(labels: Any, sizes: Sequence[float] = DEFAULT_SIZES, seed: int = 0) -> Split:
    """Seeded split that keeps each class's share in train, valid and test.

    The test part is drawn first from all rows, then valid from the rest, each with
    ``sklearn.model_selection.StratifiedShuffleSplit``; part sizes match :func:`random_split`.

    >>> s = stratified_split([0] * 50 + [1] * 50, seed=0)
    >>> int(sum(i >= 50 for i in s.test))
    5
    """
    y = _class_labels(labels)
    fr = _check_sizes(sizes)
    n = len(y)
    n_train, n_valid, n_test = _cut_counts(n, fr)
    rows = np.arange(n)
    rest, test = rows, _EMPTY
    if n_test:
        sss = StratifiedShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)
        rest_pos, test_pos = next(sss.split(rows, y))
        rest, test = rows[rest_pos], rows[test_pos]
    train, valid = rest, _EMPTY
    if n_valid:
        sss = StratifiedShuffleSplit(n_splits=1, test_size=n_valid, random_state=seed)
        train_pos, valid_pos = next(sss.split(rest, y[rest]))
        train, valid = rest[train_pos], rest[valid_pos]
    return Split(train, valid, test, method="stratified", seed=seed, params={"sizes": list(fr)}, n=n)


# --------------------------------------------------------------------------- scaffolds


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


def _scaffold_groups(smiles: Sequence[str], invalid: str, method: str) -> tuple[dict[str, list[int]], list[int]]:
    """Scaffold -> row indices (first-appearance order) and the rows RDKit could not parse."""
    if invalid not in ("exclude", "raise"):
        raise ValueError(f"invalid must be 'exclude' or 'raise', got {invalid!r}")
    groups: dict[str, list[int]] = {}
    bad: list[int] = []
    for i, smi in enumerate(smiles):
        scaffold = murcko_scaffold(smi)
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
    fr = _check_sizes(sizes)
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
    fr = _check_sizes(sizes)
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


# --------------------------------------------------------------------------- predefined

PART_ALIASES = {
    "train": "train", "training": "train",
    "valid": "valid", "val": "valid", "validation": "valid", "dev": "valid",
    "test": "test", "testing": "test",
}


def predefined_split(column: Sequence[Any], *, valid_fraction: float = 0.0, seed: int = 0) -> Split:
    """Split from a column of part names (``train``/``valid``/``test``; also ``val``,
    ``validation``, ``dev``, any case). Empty or missing cells leave a row out of every part.

    With ``valid_fraction > 0`` and no valid rows in the column, a seeded share of the train
    rows becomes the valid part (fixed test, re-drawn valid, as in TDC benchmark groups).

    >>> predefined_split(["Train", "test", "train", "VAL"]).sizes
    {'train': 2, 'valid': 1, 'test': 1}
    """
    parts: dict[str, list[int]] = {"train": [], "valid": [], "test": []}
    excluded: list[int] = []
    for i, value in enumerate(column):
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
            excluded.append(i)
            continue
        key = PART_ALIASES.get(str(value).strip().lower())
        if key is None:
            raise ValueError(f"predefined split: row {i} has part {value!r}; expected one of {sorted(PART_ALIASES)}")
        parts[key].append(i)
    train, valid = np.asarray(parts["train"], dtype=np.int64), np.asarray(parts["valid"], dtype=np.int64)
    params: dict[str, Any] = {}
    if valid_fraction:
        if not 0 < valid_fraction < 1:
            raise ValueError(f"valid_fraction must be in (0, 1), got {valid_fraction}")
        if len(valid):
            raise ValueError("predefined split: the column already has valid rows; drop valid_fraction")
        train, valid = _carve(train, valid_fraction, np.random.default_rng(seed))
        params["valid_fraction"] = valid_fraction
    return Split(
        train, valid, parts["test"], method="predefined", seed=seed if valid_fraction else None,
        params=params, n=len(column), excluded=excluded,
    )


def _carve(train: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Move a seeded ``round(fraction * len(train))`` rows of ``train`` into valid."""
    n_valid = int(round(fraction * len(train)))
    perm = rng.permutation(len(train))
    return np.sort(train[perm[n_valid:]]), np.sort(train[perm[:n_valid]])


# --------------------------------------------------------------------------- k-fold


def _folds(
    method: str, n: int, k: int, seed: int, valid_fraction: float, folds: list[tuple[np.ndarray, np.ndarray]]
) -> list[Split]:
    out = []
    for i, (train, test) in enumerate(folds):
        valid = _EMPTY
        if valid_fraction:
            train, valid = _carve(train, valid_fraction, np.random.default_rng([seed, i]))
        params = {"k": k, "fold": i, "valid_fraction": valid_fraction}
        out.append(Split(train, valid, test, method=method, seed=seed, params=params, n=n))
    return out


def _check_k(k: int, n: int, valid_fraction: float) -> None:
    if int(k) != k or k < 2 or k > n:
        raise ValueError(f"k must be an integer between 2 and the number of rows ({n}), got {k}")
    if not 0 <= valid_fraction < 1:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")


def kfold(n: int, k: int = 5, seed: int = 0, valid_fraction: float = 0.0) -> list[Split]:
    """Seeded k-fold cross-validation: fold ``i``'s test part is ``KFold(k, shuffle=True,
    random_state=seed)``'s ``i``-th fold. Valid is empty (Matbench style) unless
    ``valid_fraction > 0`` carves a seeded share of each fold's train rows.

    Matbench's own folds are ``kfold(n, 5, seed=18012019)``.

    >>> [f.sizes["test"] for f in kfold(10, k=5)]
    [2, 2, 2, 2, 2]
    """
    _check_k(k, n, valid_fraction)
    folds = list(KFold(n_splits=k, shuffle=True, random_state=seed).split(np.arange(n)))
    return _folds("kfold", n, k, seed, valid_fraction, folds)


def stratified_kfold(labels: Any, k: int = 5, seed: int = 0, valid_fraction: float = 0.0) -> list[Split]:
    """Seeded ``StratifiedKFold`` cross-validation; otherwise as :func:`kfold`.

    >>> [f.sizes["test"] for f in stratified_kfold([0, 1] * 5, k=5)]
    [2, 2, 2, 2, 2]
    """
    y = _class_labels(labels)
    _check_k(k, len(y), valid_fraction)
    folds = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.arange(len(y)), y))
    return _folds("stratified_kfold", len(y), k, seed, valid_fraction, folds)


# --------------------------------------------------------------------------- registration + front door


def _reg_random(*, n: int, seed: int, sizes: Sequence[float], **_: Any) -> Split:
    return random_split(n, sizes, seed)


def _reg_stratified(*, labels: Any, seed: int, sizes: Sequence[float], **_: Any) -> Split:
    return stratified_split(labels, sizes, seed)


def _reg_scaffold(*, smiles: Sequence[str], sizes: Sequence[float], invalid: str = "exclude", **_: Any) -> Split:
    return scaffold_split(smiles, sizes, invalid=invalid)


def _reg_scaffold_balanced(
    *, smiles: Sequence[str], seed: int, sizes: Sequence[float], invalid: str = "exclude", **_: Any
) -> Split:
    return scaffold_balanced_split(smiles, sizes, seed, invalid=invalid)


def _reg_predefined(
    *, column: Sequence[Any] | None, seed: int, path: str | Path | None = None, valid_fraction: float = 0.0, **_: Any
) -> Split:
    if path is not None:
        return Split.load(path)
    if column is None:
        raise ValueError("the predefined split needs column=... (part names per row) or path=... (a split file)")
    return predefined_split(column, valid_fraction=valid_fraction, seed=seed)


def _reg_kfold(*, n: int, seed: int, k: int = 5, valid_fraction: float = 0.0, **_: Any) -> list[Split]:
    return kfold(n, k, seed, valid_fraction)


def _reg_stratified_kfold(
    *, labels: Any, seed: int, k: int = 5, valid_fraction: float = 0.0, **_: Any
) -> list[Split]:
    return stratified_kfold(labels, k, seed, valid_fraction)


for _splitter in (
    Splitter("random", _reg_random, needs="n"),
    Splitter("stratified", _reg_stratified, needs="labels"),
    Splitter("scaffold", _reg_scaffold, needs="smiles"),
    Splitter("scaffold_balanced", _reg_scaffold_balanced, needs="smiles"),
    Splitter("predefined", _reg_predefined, needs="column"),
    Splitter("kfold", _reg_kfold, needs="n", folds=True),
    Splitter("stratified_kfold", _reg_stratified_kfold, needs="labels", folds=True),
):
    SPLITTERS.add(_splitter.name, _splitter)


_OPTIONS = {"k", "valid_fraction", "invalid", "path", "fold"}


def _call(
    method: str,
    n: int | None,
    smiles: Sequence[str] | None,
    labels: Any,
    column: Sequence[Any] | None,
    seed: int,
    sizes: Sequence[float],
    kw: dict[str, Any],
) -> tuple[Splitter, Split | list[Split]]:
    splitter = SPLITTERS.get(method)
    unknown = set(kw) - _OPTIONS
    if unknown:
        raise TypeError(f"unknown split option(s) {sorted(unknown)}; known: {sorted(_OPTIONS)}")
    lengths = {name: len(v) for name, v in (("smiles", smiles), ("labels", labels), ("column", column)) if v is not None}
    if n is not None:
        lengths["n"] = int(n)
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs disagree on the number of rows: {lengths}")
    given = {"smiles": smiles, "labels": labels, "column": column}
    if splitter.needs != "n" and given[splitter.needs] is None and not (splitter.name == "predefined" and "path" in kw):
        raise ValueError(f"split method {splitter.name!r} needs {splitter.needs}=...")
    if splitter.needs == "n" and not lengths:
        raise ValueError(f"split method {splitter.name!r} needs n=... (or any per-row input)")
    rows = next(iter(lengths.values()), None)
    options = {k: v for k, v in kw.items() if k != "fold"}
    result = splitter.fn(n=rows, smiles=smiles, labels=labels, column=column, seed=seed, sizes=sizes, **options)
    return splitter, result


def make_split(
    method: str,
    *,
    n: int | None = None,
    smiles: Sequence[str] | None = None,
    labels: Any = None,
    column: Sequence[Any] | None = None,
    seed: int = 0,
    sizes: Sequence[float] = DEFAULT_SIZES,
    **kw: Any,
) -> Split:
    """Make one split by registry name (see :data:`SPLITTERS`).

    Parameters
    ----------
    method:
        A key of :data:`SPLITTERS`.
    n, smiles, labels, column:
        Per-row inputs; each method reads the one it needs (``n`` is taken from any of them).
    seed:
        Seed for seeded methods (ignored by ``scaffold``).
    sizes:
        ``(train, valid, test)`` fractions summing to 1.
    **kw:
        Method options: ``k`` and ``fold`` (required) for k-fold methods, ``valid_fraction``,
        ``invalid`` (``"exclude"``/``"raise"`` for scaffold methods), ``path`` (``predefined``).

    Example
    -------
    >>> make_split("kfold", n=20, k=4, fold=1, seed=3).params
    {'k': 4, 'fold': 1, 'valid_fraction': 0.0}
    """
    splitter, result = _call(method, n, smiles, labels, column, seed, sizes, kw)
    if not splitter.folds:
        if "fold" in kw:
            raise TypeError(f"split method {splitter.name!r} has no folds; drop fold=")
        return result  # type: ignore[return-value]
    if "fold" not in kw:
        raise TypeError(f"split method {splitter.name!r} is cross-validation: pass fold=i or use make_folds")
    folds: list[Split] = result  # type: ignore[assignment]
    fold = kw["fold"]
    if not isinstance(fold, (int, np.integer)) or not 0 <= fold < len(folds):
        raise ValueError(f"fold must be an integer in [0, {len(folds)}), got {fold!r}")
    return folds[int(fold)]


def make_folds(
    method: str,
    *,
    n: int | None = None,
    labels: Any = None,
    seed: int = 0,
    k: int = 5,
    valid_fraction: float = 0.0,
) -> list[Split]:
    """All folds of a cross-validation method (``kfold``, ``stratified_kfold``).

    >>> len(make_folds("kfold", n=30, k=3))
    3
    """
    splitter, result = _call(
        method, n, None, labels, None, seed, DEFAULT_SIZES, {"k": k, "valid_fraction": valid_fraction}
    )
    if not splitter.folds:
        raise ValueError(f"split method {splitter.name!r} is not cross-validation; use make_split")
    return result  # type: ignore[return-value]


import sciptm.domains.protein.splits  # noqa: E402,F401  (registers the cluster and position-fold splitters)
