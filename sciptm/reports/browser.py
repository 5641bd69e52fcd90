"""Headless Chromium: render a local HTML file to its DOM or to a PNG screenshot.

Uses the system's Chromium (Debian's ``chromium`` package, or ``SCIPTM_CHROMIUM``) with a private,
temporary profile and networking features off; nothing is downloaded.

Example
-------
>>> from sciptm.reports import screenshot
>>> screenshot("bench-out/report.html", "report.png")  # doctest: +SKIP
PosixPath('report.png')
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio")


def find_chromium() -> Path | None:
    """Path of a Chromium executable (``SCIPTM_CHROMIUM``, then ``chromium`` etc. on ``PATH``), or ``None``."""
    from sciptm import settings

    env = settings.chromium()
    if env is not None:
        return env if env.is_file() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def _run(html_path: str | Path, extra: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("no Chromium found: install Debian's 'chromium' package or set SCIPTM_CHROMIUM")
    page = Path(html_path).resolve()
    if not page.is_file():
        raise FileNotFoundError(f"no HTML file at {page}")
    with tempfile.TemporaryDirectory(prefix="sciptm-chromium-") as profile:
        cmd = [str(exe), *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited with {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return proc


def dump_dom(html_path: str | Path, *, timeout: float = 120.0) -> str:
    """The DOM of ``html_path`` after Chromium has loaded it, serialised as HTML.

    Raises
    ------
    FileNotFoundError
        when Chromium or the page is missing.
    RuntimeError
        when Chromium fails.
    """
    return _run(html_path, ["--dump-dom"], timeout).stdout


def screenshot(html_path: str | Path, png_path: str | Path, *, width: int = 1200, height: int = 2000,
               timeout: float = 120.0) -> Path:
    """Render ``html_path`` in headless Chromium and save a ``width`` x ``height`` PNG.

    Raises
    ------
    FileNotFoundError
        when Chromium or the page is missing.
    RuntimeError
        when Chromium fails or writes no PNG.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"window size must be positive, got {width}x{height}")
    out = Path(png_path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    proc = _run(html_path, [f"--screenshot={out}", f"--window-size={width},{height}"], timeout)
    if not out.is_file() or out.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot to {out}: {proc.stderr.strip()[-2000:]}")
    return out
