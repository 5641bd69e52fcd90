"""Every ``SCIPTM_*`` environment variable, in one place.

Values are read from the environment at call time (never at import), so tests and notebooks can change
them with ``monkeypatch.setenv`` / ``os.environ``. Nothing here creates folders.

=============================== ==========================================================================
variable                        meaning
=============================== ==========================================================================
``SCIPTM_CACHE``                root of sciptm's cache (datasets, features, text caches, pretraining runs);
                                default: ``$XDG_CACHE_HOME/sciptm`` or ``~/.cache/sciptm`` (Linux),
                                ``~/Library/Caches/sciptm`` (macOS), ``%LOCALAPPDATA%\\sciptm\\Cache``
                                (Windows). ``SCIPTM_CACHE_DIR`` is its deprecated older name.
``SCIPTM_DATA_MIRROR``          a read-only folder laid out like the data mirror (``chem/``, ``protein/``...)
``SCIPTM_DATA_URL``             a base URL laid out like the mirror, used instead of each card's URL
``SCIPTM_OFFLINE``              ``1``/``true``/``yes``/``on`` forbids downloads
``SCIPTM_EMBEDDED_DATA``        ``0``/``false``/``no``/``off`` ignores the quick-start files in the package
``SCIPTM_DOWNLOAD_DEADLINE``    seconds one download may take (default 3600)
``SCIPTM_DOWNLOAD_MIN_RATE``    bytes/s a download must keep after the rate window (default 1024; 0: off)
``SCIPTM_DOWNLOAD_RATE_WINDOW`` seconds before the minimum rate applies (default 30)
``SCIPTM_FEATURE_CACHE``        ``0``/``false``/``no``/``off`` turns the on-disk feature cache off
``SCIPTM_MAX_TOKENS``           tokens per embedding batch (default: chosen per device)
``SCIPTM_PROGRESS``             progress bars: ``auto`` (default), ``on`` or ``off``
``SCIPTM_CHROMIUM``             path of the Chromium used for report screenshots
``SCIPTM_LEAN_FORWARD``         ``0``/``false``/``no``/``off``: ``embed`` on CPU runs the ``transformers``
                                forward instead of the lean packed one (:mod:`sciptm.encoders.lean`)
``SCIPTM_MALLOC_TUNE``          ``0``/``false``/``no``/``off``: the lean ``embed`` leaves glibc's malloc
                                thresholds alone (by default it raises them once per process)
``SCIPTM_FAST_DROPOUT``         ``0``/``false``/``no``/``off``: fine-tuning uses PyTorch's dropout, not
                                :mod:`sciptm.training.fast_dropout` (fewer random draws on CPU)
``SCIPTM_FUSED_ATTENTION``      ``0``/``false``/``no``/``off``: the lean ``embed`` runs PyTorch's attention
                                instead of the C kernel compiled on first use
                                (:mod:`sciptm.encoders.fused_attention`)
``SCIPTM_FUSED_TRAINING``       ``0``/``false``/``no``/``off``: fine-tuning on CPU runs the ``transformers``
                                forward/backward instead of the packed one with C kernels
                                (:mod:`sciptm.training.fused_training`)
=============================== ==========================================================================

>>> import os
>>> os.environ["SCIPTM_OFFLINE"] = "yes"
>>> offline()
True
>>> del os.environ["SCIPTM_OFFLINE"]
>>> sorted(VARIABLES)[:2]
['SCIPTM_CACHE', 'SCIPTM_CACHE_DIR']
"""
from __future__ import annotations

import math
import os
import sys
import warnings
from pathlib import Path

from sciptm.errors import ConfigError

#: every variable sciptm reads, with a one-line meaning (the table above)
VARIABLES: dict[str, str] = {
    "SCIPTM_CACHE": "root of sciptm's cache",
    "SCIPTM_CACHE_DIR": "deprecated name of SCIPTM_CACHE",
    "SCIPTM_DATA_MIRROR": "read-only data mirror folder",
    "SCIPTM_DATA_URL": "download base URL laid out like the mirror",
    "SCIPTM_OFFLINE": "forbid downloads",
    "SCIPTM_EMBEDDED_DATA": "use the quick-start files shipped in the package",
    "SCIPTM_DOWNLOAD_DEADLINE": "seconds one download may take",
    "SCIPTM_DOWNLOAD_MIN_RATE": "bytes/s a download must keep",
    "SCIPTM_DOWNLOAD_RATE_WINDOW": "seconds before the minimum rate applies",
    "SCIPTM_FEATURE_CACHE": "on-disk feature cache",
    "SCIPTM_MAX_TOKENS": "tokens per embedding batch",
    "SCIPTM_PROGRESS": "progress bars: auto, on, off",
    "SCIPTM_CHROMIUM": "Chromium executable for screenshots",
    "SCIPTM_LEAN_FORWARD": "lean packed forward for embed on CPU",
    "SCIPTM_MALLOC_TUNE": "raise glibc malloc thresholds for the lean embed",
    "SCIPTM_FAST_DROPOUT": "fast CPU dropout while fine-tuning",
    "SCIPTM_FUSED_ATTENTION": "fused C attention kernel for the lean embed",
    "SCIPTM_FUSED_TRAINING": "packed fine-tuning forward/backward with C kernels on CPU",
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def env(name: str) -> str | None:
    """The stripped value of ``name`` (one of :data:`VARIABLES`), ``None`` when unset or empty."""
    if name not in VARIABLES:
        raise KeyError(f"{name} is not a sciptm setting; known: {', '.join(VARIABLES)}")
    value = os.environ.get(name, "").strip()
    return value or None


def flag(name: str, default: bool) -> bool:
    """A boolean variable: ``1/true/yes/on`` or ``0/false/no/off`` (any case); ``default`` when unset."""
    value = env(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of {'/'.join(_TRUE)} or {'/'.join(_FALSE)}, not {value!r}")


def number(name: str, default: float, *, integer: bool = False, minimum: float = 0.0) -> float:
    """A non-negative number (``integer=True``: a whole number >= ``minimum``); ``default`` when unset."""
    value = env(name)
    if value is None:
        return default
    try:
        out = int(value) if integer else float(value)
    except ValueError:
        raise ConfigError(f"{name} must be {'an integer' if integer else 'a number'}, not {value!r}") from None
    if math.isnan(out) or out < minimum:
        raise ConfigError(f"{name} must be >= {minimum:g}, not {value!r}")
    return out


def cache_root() -> Path:
    """sciptm's cache root: ``SCIPTM_CACHE`` (or the deprecated ``SCIPTM_CACHE_DIR``), else the platform's user
    cache folder."""
    value = env("SCIPTM_CACHE")
    if value is None and env("SCIPTM_CACHE_DIR") is not None:
        warnings.warn("SCIPTM_CACHE_DIR is deprecated: set SCIPTM_CACHE (one cache root for datasets, features "
                      "and pretraining runs)", DeprecationWarning, stacklevel=2)
        value = env("SCIPTM_CACHE_DIR")
    if value is not None:
        return Path(value).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "sciptm" / "Cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "sciptm"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else home / ".cache") / "sciptm"


def mirror_dir() -> Path | None:
    """The data mirror named by ``SCIPTM_DATA_MIRROR``, or ``None`` when unset."""
    value = env("SCIPTM_DATA_MIRROR")
    return Path(value).expanduser() if value else None


def url_base() -> str | None:
    """The download base URL override ``SCIPTM_DATA_URL``, or ``None`` to use canonical URLs."""
    value = env("SCIPTM_DATA_URL")
    return value.rstrip("/") if value else None


def offline() -> bool:
    """Whether ``SCIPTM_OFFLINE`` forbids downloads (any value other than a true word means no)."""
    return (env("SCIPTM_OFFLINE") or "").lower() in _TRUE


def embedded_data() -> bool:
    """Whether the quick-start files shipped in the package are used (``SCIPTM_EMBEDDED_DATA``, default on)."""
    return (env("SCIPTM_EMBEDDED_DATA") or "1").lower() not in _FALSE


def feature_cache() -> bool:
    """Whether computed features are cached on disk (``SCIPTM_FEATURE_CACHE``, default on)."""
    return (env("SCIPTM_FEATURE_CACHE") or "1").lower() not in _FALSE


def chromium() -> Path | None:
    """The Chromium named by ``SCIPTM_CHROMIUM`` (``None`` when unset)."""
    value = env("SCIPTM_CHROMIUM")
    return Path(value).expanduser() if value else None


__all__ = ["VARIABLES", "cache_root", "chromium", "embedded_data", "env", "feature_cache", "flag", "mirror_dir",
           "number", "offline", "url_base"]
