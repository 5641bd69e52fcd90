"""Per-row inputs in any container, as one list plus row ids.

>>> as_list("CCO")
(['CCO'], [0])
>>> import pandas as pd
>>> as_list(pd.Series(["CCO", "CCN"], index=["a", "b"]))
(['CCO', 'CCN'], ['a', 'b'])
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def as_list(items: Any) -> tuple[list[Any], list[Any]]:
    """Turn a list / tuple / numpy array / pandas Series / single string into ``(values, row_ids)``.

    Row ids are the pandas index labels for a Series, else positions.
    """
    try:
        import pandas as pd

        if isinstance(items, pd.Series):
            return items.tolist(), items.index.tolist()
        if isinstance(items, pd.DataFrame):
            raise TypeError("pass one column (a Series), not a whole DataFrame")
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        items = [items]
    values = list(items)
    return values, list(range(len(values)))


__all__ = ["as_list"]
