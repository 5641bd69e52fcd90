"""Streamed, verified, atomic downloads.

The response is streamed into a temporary file next to the destination while it
is hashed; only a file whose SHA-256 is accepted is moved into place with
:func:`os.replace`. A failed or corrupt download leaves nothing behind.

Example
-------
>>> from sciptm.data.download import download  # doctest: +SKIP
>>> download("http://127.0.0.1:8000/chem/SAMPL.csv", dest, ("ab5895d9...",))  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from sciptm.data.integrity import mismatch_error, write_sidecar

_CHUNK = 1 << 16


class DataUnavailableError(FileNotFoundError):
    """A dataset file that is in no cache or mirror and could not be downloaded."""


def _progress(total: int | None, label: str, show: bool):
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    console = Console(stderr=True)
    columns = [TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn()]
    # the bar is drawn on a terminal only; logs and captured output stay clean
    prog = Progress(*columns, console=console, transient=True, disable=not (show and console.is_terminal))
    task = prog.add_task(label, total=total)
    return prog, task


def download(url: str, dest: Path, accepted: tuple[str, ...], *, progress: bool = True,
             timeout: float = 60.0) -> str:
    """Download ``url`` to ``dest``, verify it, and return its SHA-256.

    Parameters
    ----------
    url: http(s) URL.
    dest: final path; its folder is created if needed.
    accepted: checksums that verify the file; a mismatch removes the partial file.
    progress: show a rich progress bar.

    Raises
    ------
    DataUnavailableError
        on HTTP or network errors (nothing is written).
    DataIntegrityError
        when the bytes do not match ``accepted`` (nothing is kept).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - http(s) from cards/env
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                raise DataUnavailableError(f"could not download {url}: {exc}") from exc
            with response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                prog, task = _progress(total, f"downloading {dest.name}", progress)
                with prog:
                    while True:
                        try:
                            block = response.read(_CHUNK)
                        except (OSError, http.client.HTTPException) as exc:
                            raise DataUnavailableError(f"download of {url} failed: {exc!r}") from exc
                        if not block:
                            break
                        out.write(block)
                        digest.update(block)
                        prog.update(task, advance=len(block))
                written = out.tell()
            if total is not None and written != total:
                raise DataUnavailableError(f"download of {url} was cut short: {written} of {total} bytes")
        actual = digest.hexdigest()
        if actual not in accepted:
            raise mismatch_error(url, accepted, actual, extra=f"the download was discarded (not kept at {dest})")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    write_sidecar(dest, actual)
    return actual
