"""Where dataset files are looked for: cache folder, mirror folder, download base URL.

Everything is read from environment variables at call time (never at import, through
:mod:`sciptm.settings`, which lists every ``SCIPTM_*`` variable), and nothing is created here:

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

from pathlib import Path

from sciptm import settings


def cache_root() -> Path:
    """sciptm's cache root (``SCIPTM_CACHE`` or the platform's user cache folder; see :mod:`sciptm.settings`)."""
    return settings.cache_root()


def dataset_cache_dir() -> Path:
    """Folder of cached dataset files, laid out like the mirror (``<cache>/datasets``)."""
    return cache_root() / "datasets"


def derived_cache_dir() -> Path:
    """Folder for parsed forms of raw files (e.g. a CIF corpus as JSON lines)."""
    return dataset_cache_dir() / "_derived"


def mirror_dir() -> Path | None:
    """The data mirror named by ``SCIPTM_DATA_MIRROR``, or ``None`` when unset."""
    return settings.mirror_dir()


def url_base() -> str | None:
    """The download base URL override ``SCIPTM_DATA_URL``, or ``None`` to use canonical URLs."""
    return settings.url_base()


def offline() -> bool:
    """Whether ``SCIPTM_OFFLINE`` forbids downloads."""
    return settings.offline()


def embedded_allowed() -> bool:
    """Whether the quick-start files shipped in the package may be used (``SCIPTM_EMBEDDED_DATA`` not off)."""
    return settings.embedded_data()
