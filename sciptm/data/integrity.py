"""SHA-256 checks for dataset files, with an optional sidecar that skips re-hashing.

A cached file ``X`` may have a sidecar ``X.sha256`` (JSON: ``sha256``, ``size``,
``mtime_ns``) written after a full hash. The sidecar is trusted only while the
file's size and modification time are unchanged; otherwise the file is hashed again.

Example
-------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
>>> _ = p.write_bytes(b"abc")
>>> sha256_file(p)[:12]
'ba7816bf8f01'
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from sciptm.errors import DataIntegrityError

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def sidecar_path(path: Path) -> Path:
    """The sidecar file that records ``path``'s checksum."""
    return path.with_name(path.name + ".sha256")


def write_sidecar(path: Path, sha256: str) -> None:
    """Record ``sha256`` with ``path``'s current size and mtime (atomic replace)."""
    st = path.stat()
    side = sidecar_path(path)
    tmp = side.with_name(side.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
    os.replace(tmp, side)


def _sidecar_sha(path: Path) -> str | None:
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        rec = json.loads(side.read_text())
        st = path.stat()
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("size") != st.st_size or rec.get("mtime_ns") != st.st_mtime_ns:
        return None
    sha = rec.get("sha256")
    return sha if isinstance(sha, str) else None


def mismatch_error(path: Path | str, expected: Iterable[str], actual: str, extra: str = "") -> DataIntegrityError:
    """A :class:`DataIntegrityError` naming the file, the expected and the actual SHA-256."""
    want = " or ".join(expected) or "(none pinned)"
    msg = f"sha256 mismatch for {path}: expected {want}, got {actual}"
    return DataIntegrityError(msg + (f"; {extra}" if extra else ""))


def verify_file(path: Path, accepted: tuple[str, ...], *, use_sidecar: bool = False) -> str:
    """Check ``path`` against the accepted checksums and return its SHA-256.

    Parameters
    ----------
    path: the file.
    accepted: checksums that verify it (at least one).
    use_sidecar: trust (and refresh) a ``.sha256`` sidecar whose size and mtime match;
        only for files sciptm owns (the cache), never for a shared mirror.

    Raises
    ------
    DataIntegrityError
        when the file's checksum is none of ``accepted`` (or none is pinned).
    """
    if not accepted:
        raise DataIntegrityError(f"no sha256 is pinned for {path}; refusing to use an unverified file")
    if use_sidecar:
        known = _sidecar_sha(path)
        if known is not None and known in accepted:
            return known
    actual = sha256_file(path)
    if actual not in accepted:
        raise mismatch_error(path, accepted, actual)
    if use_sidecar:
        write_sidecar(path, actual)
    return actual
