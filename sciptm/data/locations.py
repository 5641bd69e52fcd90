"""Where dataset files are looked for: cache folder, mirror folder, download base URL.

Everything is read from environment variables at call time (never at import), and
nothing is created here:

- ``SCIPTM_CACHE``: root of sciptm's cache; dataset files go to ``<root>/datasets``.
  Default: ``$XDG_CACHE_HOME/sciptm`` or ``~/.cache/sciptm`` (Linux),
  ``~/Library/Caches/sciptm`` (macOS), ``%LOCALAPPDATA%\\sciptm\\Cache`` (Windows).
- ``SCIPTM_DATA_MIRROR``: a read-only folder laid out like the project's data mirror
  (``chem/``, ``protein/``, ``materials/`` with canonical file names).
- ``SCIPTM_DATA_URL``: a base URL laid out like the mirror; when set, downloads use
  ``<base>/<folder>/<file>`` instead of each card's canonical URL.
- ``SCIPTM_OFFLINE``: ``1``/``true``/``yes`` forbids downloads.
- ``SCIPTM_EMBEDDED_DATA``: ``0``/``false``/``no`` ignores the quick-start files shipped in the package
  (``sciptm/data/embedded/``), e.g. to test downloads of ESOL or BBBP.

Example
-------
>>> from sciptm.data.locations import cache_root, dataset_cache_dir
>>> dataset_cache_dir() == cache_root() / "datasets"
True
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def cache_root() -> Path:
    """sciptm's cache root (``SCIPTM_CACHE`` or the platform's user cache folder)."""
    env = os.environ.get("SCIPTM_CACHE")
    if env:
        return Path(env).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "sciptm" / "Cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "sciptm"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else home / ".cache") / "sciptm"


def dataset_cache_dir() -> Path:
    """Folder of cached dataset files, laid out like the mirror (``<cache>/datasets``)."""
    return cache_root() / "datasets"


def derived_cache_dir() -> Path:
    """Folder for parsed forms of raw files (e.g. a CIF corpus as JSON lines)."""
    return dataset_cache_dir() / "_derived"


def mirror_dir() -> Path | None:
    """The data mirror named by ``SCIPTM_DATA_MIRROR``, or ``None`` when unset."""
    env = os.environ.get("SCIPTM_DATA_MIRROR")
    return Path(env).expanduser() if env else None


def url_base() -> str | None:
    """The download base URL override ``SCIPTM_DATA_URL``, or ``None`` to use canonical URLs."""
    env = os.environ.get("SCIPTM_DATA_URL")
    return env.rstrip("/") if env else None


def offline() -> bool:
    """Whether ``SCIPTM_OFFLINE`` forbids downloads."""
    return os.environ.get("SCIPTM_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def embedded_allowed() -> bool:
    """Whether the quick-start files shipped in the package may be used (``SCIPTM_EMBEDDED_DATA`` not off)."""
    return os.environ.get("SCIPTM_EMBEDDED_DATA", "").strip().lower() not in ("0", "false", "no", "off")
