"""One small registry used for domains, encoder architectures, tasks, metrics,
features, datasets and baseline models.

Adding an entry (``@REGISTRY.register("name")``) is the only step needed to
expose a new component: command-line choices and lookups read the keys.

Example
-------
>>> from sciptm.registry import Registry
>>> COLORS: Registry[str] = Registry("color")
>>> COLORS.add("red", "#f00")  # returns what it registered
'#f00'
>>> COLORS["red"]
'#f00'
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from sciptm.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from explicit string keys to objects of one kind.

    Keys are matched exactly (after lower-casing); there is no fuzzy matching. ``lazy`` maps names to the
    modules that register them: such a module is imported on the name's first lookup, and the name is listed
    by :meth:`keys` (and in unknown-name errors) before that.
    """

    def __init__(self, kind: str, lazy: dict[str, str] | None = None):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self.lazy: dict[str, str] = {k.lower(): v for k, v in (lazy or {}).items()}

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name``; registering a taken name is an error."""
        key = name.lower()
        if key in self._entries and self._entries[key] is not obj:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[key] = obj
        return obj

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(obj: T) -> T:
            return self.add(name, obj)

        return deco

    def get(self, name: str) -> T:
        """Look ``name`` up, raising :class:`UnknownNameError` listing the known keys."""
        key = str(name).lower()
        if key not in self._entries and key in self.lazy:
            importlib.import_module(self.lazy[key])
        if key not in self._entries:
            known = ", ".join(self.keys()) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {known}")
        return self._entries[key]

    __getitem__ = get

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def keys(self) -> list[str]:
        """Registered names (with the lazy ones not imported yet), sorted."""
        return sorted(set(self._entries) | set(self.lazy))

    def items(self) -> list[tuple[str, T]]:
        """``(name, entry)`` pairs, sorted by name."""
        return sorted(self._entries.items())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.keys()})"
