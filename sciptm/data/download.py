"""Streamed, verified, atomic downloads.

The response is streamed into a temporary file next to the destination while it
is hashed; only a file whose SHA-256 is accepted is moved into place with
:func:`os.replace`. A failed or corrupt download leaves nothing behind.

A server that stalls or drips bytes is abandoned: each read waits at most ``timeout``
seconds, the whole download at most ``deadline`` seconds (``SCIPTM_DOWNLOAD_DEADLINE``,
default 1 hour), and after the first ``rate_window`` seconds (``SCIPTM_DOWNLOAD_RATE_WINDOW``,
default 30) the average speed must stay above ``min_rate`` bytes per second
(``SCIPTM_DOWNLOAD_MIN_RATE``, default 1024; 0 switches the check off).

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
import time
import urllib.error
import urllib.request
from pathlib import Path

from sciptm.data.integrity import mismatch_error, remember_hash, write_sidecar
from sciptm.errors import DataUnavailableError

_CHUNK = 1 << 16

#: defaults of the environment variables that bound a download
DEFAULT_DEADLINE_S = 3600.0
DEFAULT_MIN_RATE = 1024.0
DEFAULT_RATE_WINDOW_S = 30.0


def _env_float(name: str, default: float) -> float:
    from sciptm import settings

    return float(settings.number(name, default))


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


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
             timeout: float = 60.0, deadline: float | None = None, min_rate: float | None = None,
             rate_window: float | None = None) -> str:
    """Download ``url`` to ``dest``, verify it, and return its SHA-256.

    Parameters
    ----------
    url: http(s) URL.
    dest: final path; its folder is created if needed.
    accepted: checksums that verify the file; a mismatch removes the partial file.
    progress: show a rich progress bar.
    timeout: seconds one read may wait for data.
    deadline: seconds the whole download may take (default ``$SCIPTM_DOWNLOAD_DEADLINE`` or 3600).
    min_rate: bytes per second the download must average once ``rate_window`` seconds have passed
        (default ``$SCIPTM_DOWNLOAD_MIN_RATE`` or 1024; 0 disables the check).
    rate_window: grace period before ``min_rate`` applies (default ``$SCIPTM_DOWNLOAD_RATE_WINDOW`` or 30).

    Raises
    ------
    DataUnavailableError
        on HTTP or network errors, a server slower than ``min_rate`` or a download past its
        ``deadline`` (nothing is written).
    DataIntegrityError
        when the bytes do not match ``accepted`` (nothing is kept).
    """
    deadline = _env_float("SCIPTM_DOWNLOAD_DEADLINE", DEFAULT_DEADLINE_S) if deadline is None else deadline
    min_rate = _env_float("SCIPTM_DOWNLOAD_MIN_RATE", DEFAULT_MIN_RATE) if min_rate is None else min_rate
    rate_window = (_env_float("SCIPTM_DOWNLOAD_RATE_WINDOW", DEFAULT_RATE_WINDOW_S) if rate_window is None
                   else rate_window)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    start = time.monotonic()
    hint = ("set SCIPTM_DOWNLOAD_DEADLINE / SCIPTM_DOWNLOAD_MIN_RATE to allow a slower server, or put the file "
            "in $SCIPTM_DATA_MIRROR")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                # no single wait may outlast the whole download's deadline
                response = urllib.request.urlopen(url, timeout=max(0.001, min(timeout, deadline)))  # noqa: S310
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                raise DataUnavailableError(f"could not download {url}: {exc}") from exc
            with response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                of_total = f" of {_fmt_bytes(total)}" if total is not None else ""
                prog, task = _progress(total, f"downloading {dest.name}", progress)
                with prog:
                    while True:
                        try:
                            block = response.read1(_CHUNK)  # returns whatever has arrived: a dripping server
                        except TimeoutError as exc:        # cannot keep one read busy forever
                            raise DataUnavailableError(
                                f"download of {url} stalled: no data for {min(timeout, deadline):g} s after "
                                f"{_fmt_bytes(out.tell())}{of_total}; {hint}") from exc
                        except (OSError, http.client.HTTPException) as exc:
                            raise DataUnavailableError(f"download of {url} failed: {exc!r}") from exc
                        if not block:
                            break
                        out.write(block)
                        digest.update(block)
                        prog.update(task, advance=len(block))
                        elapsed = time.monotonic() - start
                        done = out.tell()
                        if elapsed > deadline and (total is None or done < total):
                            raise DataUnavailableError(
                                f"download of {url} abandoned: not finished after {deadline:g} s "
                                f"({_fmt_bytes(done)}{of_total} received); {hint}")
                        if min_rate > 0 and elapsed > rate_window and done / elapsed < min_rate:
                            raise DataUnavailableError(
                                f"download of {url} abandoned: the server is too slow ({_fmt_bytes(done / elapsed)}/s "
                                f"over {elapsed:.1f} s, {_fmt_bytes(done)}{of_total} received; the minimum is "
                                f"{_fmt_bytes(min_rate)}/s); {hint}")
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
    remember_hash(dest, actual)
    return actual
