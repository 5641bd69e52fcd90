"""SHA-256 checks for dataset files.

Every file is hashed in full at least once per process before it is used: a cached
copy corrupted in place with its size and modification time kept (bit rot, ``rsync -t``,
a restore from backup) is caught the first time a process reads it, and the checksum a
run records is the one of the bytes it read. Within one process a file is not hashed
again while its inode, size, mtime and ctime are unchanged (any write or ``touch``
changes the ctime, which no user tool can set back).

A cached file ``X`` also gets a sidecar ``X.sha256`` (JSON: ``sha256``, ``size``,
``mtime_ns``) recording the last verification; it is a record for people and tools,
never a reason to skip hashing in a new process.

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
from collections.abc import Iterable
from pathlib import Path

from sciptm._util.atomic import write_json_atomic
from sciptm.errors import DataIntegrityError

_CHUNK = 1 << 20

#: files this process has hashed: (resolved path, device, inode, size, mtime_ns, ctime_ns) -> sha256
_HASHED: dict[tuple[str, int, int, int, int, int], str] = {}


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
    write_json_atomic(side, {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}, indent=None)


def _stat_key(path: Path) -> tuple[str, int, int, int, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def forget_hashes() -> None:
    """Forget which files this process has hashed (the next check hashes them again, as a new process would)."""
    _HASHED.clear()


def remember_hash(path: Path, sha256: str) -> None:
    """Record that this process has just hashed ``path`` (e.g. while downloading it) as ``sha256``."""
    _HASHED[_stat_key(path)] = sha256


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
    use_sidecar: skip re-hashing a file this process already hashed and that is unchanged since
        (same inode, size, mtime and ctime), and refresh its ``.sha256`` sidecar; only for files
        sciptm owns (the cache), never for a shared mirror, which is hashed on every use.

    Raises
    ------
    DataIntegrityError
        when the file's checksum is none of ``accepted`` (or none is pinned).
    """
    if not accepted:
        raise DataIntegrityError(f"no sha256 is pinned for {path}; refusing to use an unverified file")
    key = _stat_key(path) if use_sidecar else None
    if key is not None:
        known = _HASHED.get(key)
        if known is not None and known in accepted:
            return known
    actual = sha256_file(path)
    if actual not in accepted:
        raise mismatch_error(path, accepted, actual)
    if key is not None:
        if _stat_key(path) == key:  # unchanged while it was hashed
            _HASHED[key] = actual
        write_sidecar(path, actual)
    return actual
