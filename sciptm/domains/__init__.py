"""Domain adapters (SMILES, protein, crystal) and their registry.

>>> from sciptm.domains import get_domain
>>> get_domain("smiles").to_text("OCC")
'CCO'
"""
from __future__ import annotations

from typing import Any

from sciptm.domains.base import Domain, PreparedInputs
from sciptm.registry import Registry

DOMAINS: Registry[type[Domain]] = Registry("domain")


def get_domain(spec: str | dict[str, Any] | Domain) -> Domain:
    """Build a domain from a name, a config dict (``{"name": ..., **settings}``) or pass one through."""
    if isinstance(spec, Domain):
        return spec
    if isinstance(spec, str):
        return DOMAINS.get(spec)()
    settings = dict(spec)
    name = settings.pop("name")
    return DOMAINS.get(name)(**settings)


import importlib  # noqa: E402

for _module in ("smiles", "protein", "crystal"):  # built-in domains register themselves on import
    try:
        importlib.import_module(f"sciptm.domains.{_module}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"sciptm.domains.{_module}":
            raise

__all__ = ["DOMAINS", "Domain", "PreparedInputs", "get_domain"]
