"""The :class:`Dataset` object and the public entry points ``load``, ``from_csv``,
``list_datasets`` and ``info``.

Example
-------
>>> import sciptm.datasets as sd
>>> ds = sd.load("esol")                     # doctest: +SKIP
>>> len(ds), ds.task, list(ds.targets.columns)  # doctest: +SKIP
(1128, 'regression', ['measured log solubility in mols per litre'])
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sciptm.data.cards import CARDS, DOMAIN_NAMES, TASK_TYPES, Card, FileSpec, SplitInfo, add_card
from sciptm.data.fetch import fetch_file, local_path
from sciptm.data.integrity import sha256_file
from sciptm.data.readers import READERS
from sciptm.data.splits import column_split, matbench_folds
from sciptm.errors import ConfigError, DataIntegrityError, InvalidFileError, MissingFileError


@dataclass(eq=False)
class Dataset:
    """A loaded dataset: a cleaned DataFrame plus the card that describes it.

    Attributes
    ----------
    name: the card name.
    card: the :class:`~sciptm.data.cards.Card`.
    df: all rows (``RangeIndex``), columns as the card says; multi-file datasets are
        concatenated in file order with the predefined split column added.
    file_sha256: verified SHA-256 of each data file, keyed by its card path.
    """

    name: str
    card: Card
    df: pd.DataFrame
    file_sha256: dict[str, str]
    progress: bool = field(default=True, repr=False)
    _folds: list[dict[str, np.ndarray]] | None = field(default=None, init=False, repr=False)

    def __len__(self) -> int:
        return len(self.df)

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, domain={self.domain!r}, task={self.task!r}, rows={len(self)}, "
                f"input={self.input_column!r}, targets={list(self.target_columns)})")

    @property
    def task(self) -> str:
        """Task type: regression, binary, multiclass, multitask-binary, multitask-regression or unlabeled."""
        return self.card.task

    @property
    def domain(self) -> str | None:
        """Domain registry name (``smiles``, ``protein``, ``crystal``)."""
        return self.card.domain

    @property
    def metric(self) -> str | None:
        """The card's headline metric (``rmse``, ``mae``, ``roc_auc``, ``spearman``, ``accuracy``)."""
        return self.card.metric

    @property
    def input_column(self) -> str:
        """Name of the input column."""
        return self.card.input

    @property
    def target_columns(self) -> tuple[str, ...]:
        """Names of the target columns (empty for unlabeled corpora)."""
        return self.card.targets

    @property
    def inputs(self) -> pd.Series:
        """The input column (SMILES, sequences, structure dicts, CIF text or formulas), length ``N``."""
        return self.df[self.card.input]

    @property
    def targets(self) -> pd.DataFrame:
        """Target columns ``N x T``; float with NaN for missing labels, except multiclass (integer labels)."""
        cols = list(self.card.targets)
        if self.card.task == "multiclass":
            return self.df[cols].copy()
        return self.df[cols].apply(pd.to_numeric, errors="raise").astype("float64")

    @property
    def data_sha256(self) -> str:
        """SHA-256 of the data file, or for several files the SHA-256 of their sorted ``path:sha`` lines."""
        if len(self.file_sha256) == 1:
            return next(iter(self.file_sha256.values()))
        lines = "".join(f"{k}:{v}\n" for k, v in sorted(self.file_sha256.items()))
        return hashlib.sha256(lines.encode()).hexdigest()

    @property
    def has_predefined_split(self) -> bool:
        """Whether the card declares a predefined split (column, per-split files or folds)."""
        return self.card.split.predefined is not None

    def predefined_split(self, fold: int | None = None) -> dict[str, np.ndarray]:
        """The dataset's own split as positional index arrays.

        Parameters
        ----------
        fold: for fold-based datasets (Matbench), which fold (``0..n-1``); returns ``train``/``test``.

        Returns
        -------
        dict with ``train``, ``test`` and, where the source has one, ``valid``.

        Raises
        ------
        ValueError
            when the card has no predefined split, or a fold is needed and not given.

        Example
        -------
        >>> import sciptm.datasets as sd
        >>> split = sd.load("flip_gb1_one_vs_rest").predefined_split()  # doctest: +SKIP
        >>> {k: len(v) for k, v in split.items()}  # doctest: +SKIP
        {'train': 25, 'valid': 3, 'test': 8705}
        """
        pre = self.card.split.predefined
        if pre is None:
            raise ValueError(f"dataset {self.name!r} has no predefined split; recommended: "
                             f"{self.card.split.recommended} ({self.card.split.source})")
        if pre.kind == "folds":
            folds = self.folds()
            if fold is None or not 0 <= fold < len(folds):
                raise ValueError(f"dataset {self.name!r} has {len(folds)} predefined folds; pass fold=0..{len(folds) - 1}")
            return folds[fold]
        if fold is not None:
            raise ValueError(f"dataset {self.name!r} has a single predefined split, not folds")
        return column_split(self.df, pre)

    def folds(self) -> list[dict[str, np.ndarray]]:
        """Official cross-validation folds (Matbench), each ``{"train": idx, "test": idx}``."""
        pre = self.card.split.predefined
        spec = self.card.folds_file
        if pre is None or pre.kind != "folds" or spec is None or pre.task_key is None:
            raise ValueError(f"dataset {self.name!r} has no predefined folds")
        if self._folds is None:  # the fold file is fetched and verified on first use only
            path, _ = fetch_file(self.card, spec, progress=self.progress)
            self._folds = matbench_folds(path, pre.task_key, len(self.df))
        return [{k: v.copy() for k, v in fold.items()} for fold in self._folds]

    def structures(self) -> list[Any]:
        """Inputs as pymatgen ``Structure`` objects (crystal datasets with structure dicts or CIF text).

        Raises
        ------
        ValueError
            for datasets whose inputs are not structures.
        """
        if self.card.input_kind not in ("structure", "cif"):
            raise ValueError(f"dataset {self.name!r} has {self.card.input_kind} inputs, not structures")
        from pymatgen.core import Structure

        if self.card.input_kind == "cif":
            return [Structure.from_str(text, fmt="cif") for text in self.inputs]
        return [Structure.from_dict(item) for item in self.inputs]


def _check_columns(card: Card, df: pd.DataFrame, source: str) -> None:
    if card.columns is not None and tuple(df.columns) != card.columns:
        raise DataIntegrityError(f"{source}: columns {list(df.columns)} differ from the card's {list(card.columns)}")
    needed = [card.input, *card.targets, *card.exclude_features]
    pre = card.split.predefined
    if pre is not None and pre.kind == "column":
        needed += [c for c in (pre.column, pre.valid_column) if c]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise DataIntegrityError(f"{source}: columns {missing} named by card {card.name!r} are missing; "
                                 f"found {list(df.columns)}")


def _read(card: Card, spec: FileSpec, path: Path, sha: str) -> pd.DataFrame:
    df = READERS.get(spec.format)(path, sha)
    if card.rename:
        df = df.rename(columns=card.rename)
    return df


def _assemble(card: Card, progress: bool) -> tuple[pd.DataFrame, dict[str, str]]:
    frames = []
    shas: dict[str, str] = {}
    pre = card.split.predefined
    for spec in card.data_files:
        path, sha = fetch_file(card, spec, progress=progress)
        shas[spec.file] = sha
        frame = _read(card, spec, path, sha)
        if pre is not None and pre.kind == "files":
            frame[pre.column] = spec.split
        frames.append(frame)
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return df.reset_index(drop=True), shas


def _get_card(name: str | Card) -> Card:
    return name if isinstance(name, Card) else CARDS.get(name)


def load(name: str | Card, *, progress: bool = True) -> Dataset:
    """Load a dataset by card name: verified files from cache, mirror or download.

    Parameters
    ----------
    name: a card name (``sciptm.datasets.list_datasets()``) or a :class:`Card`.
    progress: show a progress bar while downloading.

    Raises
    ------
    UnknownNameError
        for an unknown name (the message lists the known ones).
    DataIntegrityError
        for a checksum mismatch, or a file whose columns differ from the card.
    DataUnavailableError
        when a file is nowhere local and cannot be downloaded.

    Example
    -------
    >>> import sciptm.datasets as sd
    >>> ds = sd.load("tox21")  # doctest: +SKIP
    >>> ds.targets.shape, int(ds.targets.isna().sum().sum()) > 0  # doctest: +SKIP
    ((7831, 12), True)
    """
    card = _get_card(name)
    df, shas = _assemble(card, progress)
    _check_columns(card, df, f"dataset {card.name!r}")
    if card.n_rows is not None and len(df) != card.n_rows:
        raise DataIntegrityError(f"dataset {card.name!r}: {len(df)} rows, the card says {card.n_rows}")
    return Dataset(name=card.name, card=card, df=df, file_sha256=shas, progress=progress)


def from_csv(path: str | Path, *, input: str, targets: Sequence[str] = (), task: str,
             name: str | None = None, metric: str | None = None, domain: str | None = None,
             input_kind: str | None = None, sep: str = ",") -> Dataset:
    """Wrap a user's own CSV file as a :class:`Dataset` (SHA-256 computed from the file).

    Parameters
    ----------
    path: the CSV file (``.gz`` is decompressed), or an SD file (``.sdf``: columns ``name``, ``smiles`` and
        its SD properties).
    input: the input column.
    targets: the target columns (none for ``task="unlabeled"``).
    task: regression, binary, multiclass, multitask-binary, multitask-regression or unlabeled.
    name: dataset name (default: the file stem).
    metric, domain, input_kind: recorded on the card.

    Raises
    ------
    ValueError
        for an unknown task or domain, or columns missing from the file.

    Example
    -------
    >>> import sciptm.datasets as sd
    >>> ds = sd.from_csv("my.csv", input="smiles", targets=["y"], task="regression")  # doctest: +SKIP
    """
    path = Path(path)
    if task not in TASK_TYPES:
        raise ConfigError(f"task must be one of {TASK_TYPES}, got {task!r}")
    if domain is not None and domain not in DOMAIN_NAMES:
        raise ConfigError(f"domain must be one of {DOMAIN_NAMES} or None, got {domain!r}")
    if isinstance(targets, str):
        targets = [targets]
    targets = tuple(targets)
    if task != "unlabeled" and not targets:
        raise ConfigError(f"task {task!r} needs at least one target column")
    if not path.is_file():
        raise MissingFileError(f"no such file: {path}")
    from sciptm.data.readers import is_sdf, read_sdf

    # an SD file gives the columns name, smiles and its SD properties (sciptm.data.readers.read_sdf)
    try:
        df = read_sdf(path) if is_sdf(path) else pd.read_csv(path, sep=sep, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidFileError(f"{path}: not a readable CSV file: {reason}") from None
    missing = [c for c in (input, *targets) if c not in df.columns]
    if missing:
        raise InvalidFileError(f"{path}: columns {missing} not found; the file has {list(df.columns)}")
    sha = sha256_file(path)
    card = Card(
        name=name or path.name.split(".")[0], domain=domain, input_kind=input_kind,
        description=f"user data from {path}",
        files=(FileSpec(file=str(path), sha256=sha, format="csv.gz" if path.suffix == ".gz" else "csv",
                        in_mirror=False),),
        input=input, targets=targets, task=task, metric=metric,
        split=SplitInfo(recommended="random", source="user data: no recommended split"),
        n_rows=len(df),
    )
    return Dataset(name=card.name, card=card, df=df.reset_index(drop=True), file_sha256={str(path): sha})


def list_datasets(domain: str | None = None) -> pd.DataFrame:
    """One row per card: name, domain, input_kind, task, metric, n_rows, split, local.

    ``local`` says whether every file is already in the cache or the mirror (unverified).

    Example
    -------
    >>> import sciptm.datasets as sd
    >>> table = sd.list_datasets("smiles")
    >>> "esol" in set(table["name"])
    True
    """
    if domain is not None and domain not in DOMAIN_NAMES:
        raise ValueError(f"domain must be one of {DOMAIN_NAMES}, got {domain!r}")
    rows = []
    for name, card in CARDS.items():
        if domain is not None and card.domain != domain:
            continue
        pre = card.split.predefined
        rows.append({
            "name": name, "domain": card.domain, "input_kind": card.input_kind, "task": card.task,
            "metric": card.metric, "n_rows": card.n_rows,
            "split": card.split.recommended + (f" ({pre.kind})" if pre is not None else ""),
            "local": all(local_path(card, spec) is not None for spec in card.files),
        })
    columns = ["name", "domain", "input_kind", "task", "metric", "n_rows", "split", "local"]
    table = pd.DataFrame(rows, columns=columns)
    table["n_rows"] = table["n_rows"].astype("Int64")
    return table


def info(name: str) -> dict[str, Any]:
    """The card of ``name`` as a plain dict (``info(name)["path"]`` is its YAML file).

    Example
    -------
    >>> import sciptm.datasets as sd
    >>> sd.info("hiv")["targets"]
    ('HIV_active',)
    """
    return CARDS.get(name).to_dict()


__all__ = ["CARDS", "Card", "Dataset", "add_card", "from_csv", "info", "list_datasets", "load"]
