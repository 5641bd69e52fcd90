"""Text files that may be gzip-compressed, sniffed from their first bytes (not from the file name).

>>> import gzip, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "x.txt"     # no .gz suffix, gzip content
>>> _ = path.write_bytes(gzip.compress(b">a\\nMK\\n"))
>>> with open_text(path) as fh:
...     fh.read()
'>a\\nMK\\n'
"""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | Path) -> bool:
    """True when the file starts with the gzip magic bytes."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_text(path: str | Path, encoding: str = "utf-8") -> IO[str]:
    """Open a text file for reading, un-gzipping it when its first bytes say it is gzip."""
    if is_gzip(path):
        return gzip.open(path, "rt", encoding=encoding)
    return open(path, encoding=encoding)


__all__ = ["GZIP_MAGIC", "is_gzip", "open_text"]
