"""Atomic file writes: write a temporary file beside the target, then ``os.replace`` it over the target.

A reader never sees a half-written file, and a crash (or an exception while writing) leaves the old file
in place and no temporary file behind.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "sub" / "x.json"
>>> write_json_atomic(path, {"a": 1}).read_text()
'{\\n "a": 1\\n}'
"""
from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on an exception it is removed.

    The parent folder is created. Use it when a library writes the file itself (``np.save``, ``gzip``,
    ``save_file``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            with contextlib.suppress(OSError):
                tmp.unlink()


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, inf) replaced by ``None``, so the JSON is strict (``null``, never
    the bare ``NaN`` that strict JSON readers reject). numpy scalars and arrays become Python values."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if type(obj).__module__ == "numpy" and hasattr(obj, "tolist"):
        return json_safe(obj.tolist())
    return obj


def write_json_atomic(path: str | Path, obj: Any, indent: int | None = 1, **kw: Any) -> Path:
    """``json.dumps(obj)`` written to ``path`` atomically (the JSON is built before the file is touched);
    NaN and infinities are written as ``null`` (see :func:`json_safe`)."""
    return write_text_atomic(path, json.dumps(json_safe(obj), indent=indent, allow_nan=False, **kw))


def write_with_atomic(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(binary file handle)`` on a temporary file, then move it over ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write(fh)
    return Path(path)


__all__ = ["atomic_path", "json_safe", "write_bytes_atomic", "write_json_atomic", "write_text_atomic",
           "write_with_atomic"]
