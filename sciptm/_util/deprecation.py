"""Old import paths kept one release: :func:`moved` makes an old module name an alias of the new one.

The old module object *is* the new one (``sys.modules`` alias), so private names, ``monkeypatch`` and
``isinstance`` keep working through either path; a :class:`DeprecationWarning` names the new path.
"""
from __future__ import annotations

import importlib
import sys
import warnings


def moved(old: str, new: str) -> None:
    """Alias module ``old`` to ``new`` (call from the old module's body) and warn once."""
    warnings.warn(f"{old} moved to {new}; the old import path will be removed in the next release",
                  DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
