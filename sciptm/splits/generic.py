"""Domain-free split methods: ``random``, ``stratified``, ``predefined``, ``kfold``, ``stratified_kfold``.

>>> predefined_split(["Train", "test", "train", "VAL"]).sizes
{'train': 2, 'valid': 1, 'test': 1}
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sciptm.splits.core import _EMPTY, DEFAULT_SIZES, SPLITTERS, Split, Splitter
from sciptm.splits.sizing import carve_valid, check_sizes, cut_counts

# --------------------------------------------------------------------------- random / stratified


def random_split(n: int, sizes: Sequence[float] = DEFAULT_SIZES, seed: int = 0) -> Split:
    """Seeded random split of ``n`` rows (``numpy.random.default_rng(seed).permutation``).

    >>> random_split(5, seed=1).sizes
    {'train': 4, 'valid': 0, 'test': 1}
    """
    fr = check_sizes(sizes)
    perm = np.random.default_rng(seed).permutation(n)
    n_train, n_valid, _ = cut_counts(n, fr)
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
    from sklearn.model_selection import StratifiedShuffleSplit  # deferred: importing the split core stays light

    y = _class_labels(labels)
    fr = check_sizes(sizes)
    n = len(y)
    n_train, n_valid, n_test = cut_counts(n, fr)
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
        train, valid = carve_valid(train, valid_fraction, np.random.default_rng(seed))
        params["valid_fraction"] = valid_fraction
    return Split(
        train, valid, parts["test"], method="predefined", seed=seed if valid_fraction else None,
        params=params, n=len(column), excluded=excluded,
    )


# --------------------------------------------------------------------------- k-fold


def _folds(
    method: str, n: int, k: int, seed: int, valid_fraction: float, folds: list[tuple[np.ndarray, np.ndarray]]
) -> list[Split]:
    out = []
    for i, (train, test) in enumerate(folds):
        valid = _EMPTY
        if valid_fraction:
            train, valid = carve_valid(train, valid_fraction, np.random.default_rng([seed, i]))
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
    from sklearn.model_selection import KFold

    _check_k(k, n, valid_fraction)
    folds = list(KFold(n_splits=k, shuffle=True, random_state=seed).split(np.arange(n)))
    return _folds("kfold", n, k, seed, valid_fraction, folds)


def stratified_kfold(labels: Any, k: int = 5, seed: int = 0, valid_fraction: float = 0.0) -> list[Split]:
    """Seeded ``StratifiedKFold`` cross-validation; otherwise as :func:`kfold`.

    >>> [f.sizes["test"] for f in stratified_kfold([0, 1] * 5, k=5)]
    [2, 2, 2, 2, 2]
    """
    from sklearn.model_selection import StratifiedKFold

    y = _class_labels(labels)
    _check_k(k, len(y), valid_fraction)
    folds = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.arange(len(y)), y))
    return _folds("stratified_kfold", len(y), k, seed, valid_fraction, folds)


# --------------------------------------------------------------------------- registration + front door


def _reg_random(*, n: int, seed: int, sizes: Sequence[float], **_: Any) -> Split:
    return random_split(n, sizes, seed)


def _reg_stratified(*, labels: Any, seed: int, sizes: Sequence[float], **_: Any) -> Split:
    return stratified_split(labels, sizes, seed)



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
    Splitter("predefined", _reg_predefined, needs="column"),
    Splitter("kfold", _reg_kfold, needs="n", folds=True),
    Splitter("stratified_kfold", _reg_stratified_kfold, needs="labels", folds=True),
):
    SPLITTERS.add(_splitter.name, _splitter)

__all__ = ["PART_ALIASES", "kfold", "predefined_split", "random_split", "stratified_kfold", "stratified_split"]
