"""Predefined splits stored with a dataset: split columns, per-split files, Matbench folds.

All functions return positional row indices (``np.int64`` arrays) into the
dataset's DataFrame, which has a fresh ``RangeIndex``.

Example
-------
>>> import pandas as pd
>>> from sciptm.data.cards import PredefinedSplit
>>> df = pd.DataFrame({"set": ["train", "train", "test"], "validation": [None, True, None]})
>>> pre = PredefinedSplit(kind="column", column="set", values={"train": "train", "test": "test"},
...                       valid_column="validation")
>>> {k: v.tolist() for k, v in column_split(df, pre).items()}
{'train': [0], 'valid': [1], 'test': [2]}
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from sciptm.data.cards import SPLIT_NAMES, PredefinedSplit
from sciptm.data.readers import open_text


def _truthy(series: pd.Series) -> np.ndarray:
    text = series.astype("string").str.strip().str.lower()
    return text.isin(["true", "1", "yes"]).fillna(False).to_numpy(dtype=bool)


def column_split(df: pd.DataFrame, pre: PredefinedSplit) -> dict[str, np.ndarray]:
    """Split rows by the value in ``pre.column`` (and ``pre.valid_column`` inside train).

    Raises
    ------
    ValueError
        when the column is missing or a row's value is not one of the declared split values.
    """
    if pre.column is None or pre.column not in df.columns:
        raise ValueError(f"split column {pre.column!r} is not in the data (columns: {list(df.columns)})")
    values = pre.values or {name: name for name in SPLIT_NAMES}
    cells = df[pre.column].astype("string")
    known = cells.isin(list(values.values())).fillna(False).to_numpy(dtype=bool)
    if not known.all():
        bad = int(np.flatnonzero(~known)[0])
        raise ValueError(f"row {bad}: split column {pre.column!r} holds {df[pre.column].iloc[bad]!r}, "
                         f"not one of {sorted(values.values())}")
    out: dict[str, np.ndarray] = {}
    for name in SPLIT_NAMES:
        if name in values:
            out[name] = (cells == values[name]).fillna(False).to_numpy(dtype=bool)
    if pre.valid_column is not None:
        if pre.valid_column not in df.columns:
            raise ValueError(f"validation column {pre.valid_column!r} is not in the data")
        is_valid = _truthy(df[pre.valid_column])
        train = out.get("train", np.zeros(len(df), dtype=bool))
        out["valid"] = out.get("valid", np.zeros(len(df), dtype=bool)) | (train & is_valid)
        out["train"] = train & ~is_valid
    return {name: np.flatnonzero(out[name]).astype(np.int64) for name in SPLIT_NAMES if name in out}


def matbench_ids(task_key: str, n_rows: int) -> list[str]:
    """Matbench ids of rows ``0..n-1``: ``mb-<task>-<i+1>``, zero-padded to ``floor(log10(n))+1`` digits.

    >>> matbench_ids("matbench_steels", 312)[:2]
    ['mb-steels-001', 'mb-steels-002']
    """
    short = task_key.removeprefix("matbench_").replace("_", "-")
    width = int(math.floor(math.log10(n_rows))) + 1
    return [f"mb-{short}-{i + 1:0{width}d}" for i in range(n_rows)]


def matbench_folds(path: Path, task_key: str, n_rows: int) -> list[dict[str, np.ndarray]]:
    """Read the official Matbench v0.1 folds of ``task_key`` as positional indices.

    Parameters
    ----------
    path: ``matbench_v0.1_validation.json`` (plain or gzip).
    task_key: e.g. ``"matbench_steels"``.
    n_rows: rows of the dataset, in official order.

    Raises
    ------
    ValueError
        when the task is missing or a fold names an id outside ``0..n_rows-1``.
    """
    with open_text(path) as fh:
        raw = json.load(fh)
    splits = raw.get("splits", {})
    if task_key not in splits:
        raise ValueError(f"{path}: no folds for task {task_key!r}; tasks: {sorted(splits)}")
    position = {mbid: i for i, mbid in enumerate(matbench_ids(task_key, n_rows))}
    folds = []
    for fold_name in sorted(splits[task_key], key=lambda s: int(s.rsplit("_", 1)[-1])):
        fold = splits[task_key][fold_name]
        entry = {}
        for part in ("train", "test"):
            missing = [m for m in fold[part] if m not in position]
            if missing:
                raise ValueError(f"{path}: {task_key} {fold_name} {part} names {missing[0]!r}, which is not "
                                 f"one of the {n_rows} rows")
            entry[part] = np.sort(np.fromiter((position[m] for m in fold[part]), dtype=np.int64))
        folds.append(entry)
    return folds
