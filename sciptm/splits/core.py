"""The split value object and the split-method registry (domain-free: no RDKit, no sklearn).

:class:`Split` holds row indices (train / valid / test, plus rows excluded from every part), hashes them and
saves them atomically as JSON. :data:`SPLITTERS` maps method names to :class:`Splitter` entries; the
generic methods live in :mod:`sciptm.splits.generic`, the domain ones (``scaffold``, ``scaffold_balanced``,
``cluster*``, ``contiguous``, ``modulo``) in ``sciptm.domains.*.splits``, and each module is imported on the
first lookup of one of its names.

>>> from sciptm.splits.core import make_split
>>> make_split("random", n=10, seed=0).sizes
{'train': 8, 'valid': 1, 'test': 1}
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sciptm._util.atomic import write_text_atomic
from sciptm.errors import DataIntegrityError
from sciptm.registry import Registry

if TYPE_CHECKING:
    import pandas as pd

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
        import pandas as pd  # deferred: the split core stays light

        return pd.DataFrame({"index": np.arange(self.n), "part": labels})

    def select(self, data: Any) -> tuple[Any, Any, Any]:
        """``(train, valid, test)`` subsets of an array, DataFrame or list with ``n`` rows.

        >>> Split(train=[2, 0], valid=[1], test=[3], method="manual").select(["a", "b", "c", "d"])
        (['c', 'a'], ['b'], ['d'])
        """
        if len(data) != self.n:
            raise ValueError(f"split was made for {self.n} rows but the data has {len(data)}")
        if hasattr(data, "iloc"):  # a pandas DataFrame or Series (pandas is not imported here)
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
        try:
            text = json.dumps(self.to_dict(), indent=1)
        except TypeError as exc:
            raise TypeError(f"split params must be JSON-serialisable: {exc}") from None
        return write_text_atomic(path, text + "\n")

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



#: built-in methods, imported on first use (the domain ones need RDKit, Biopython or MMseqs2)
BUILTIN_SPLITTERS = {
    **dict.fromkeys(("random", "stratified", "predefined", "kfold", "stratified_kfold"), "sciptm.splits.generic"),
    **dict.fromkeys(("scaffold", "scaffold_balanced"), "sciptm.domains.smiles.splits"),
    **dict.fromkeys(("cluster", "cluster30", "cluster50", "cluster70", "cluster90", "contiguous", "modulo"),
                    "sciptm.domains.protein.splits"),
}
SPLITTERS: Registry[Splitter] = Registry("split method", lazy=BUILTIN_SPLITTERS)


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
    inputs: Sequence[Any] | None = None,
    **kw: Any,
) -> Split:
    """Make one split by registry name (see :data:`SPLITTERS`).

    Parameters
    ----------
    method:
        A key of :data:`SPLITTERS`.
    n, inputs, labels, column:
        Per-row inputs; each method reads the one it needs (``n`` is taken from any of them). ``inputs`` are
        the per-row items a domain splitter groups (SMILES for ``scaffold``, sequences for ``cluster``);
        ``smiles=`` is its older name and still accepted.
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
    if inputs is not None and smiles is not None:
        raise TypeError("pass the per-row inputs once: inputs=... (smiles= is its older name)")
    splitter, result = _call(method, n, smiles if inputs is None else inputs, labels, column, seed, sizes, kw)
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

