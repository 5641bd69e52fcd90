"""Progress bars (rich) that switch off cleanly when not wanted."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress_bar(items: Iterable[T], description: str, show: bool = True, total: int | None = None) -> Iterator[T]:
    """Iterate ``items`` with a rich progress bar when ``show`` is true."""
    if not show:
        yield from items
        return
    from rich.progress import track

    yield from track(items, description=description, total=total, transient=True)
