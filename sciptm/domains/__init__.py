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


# Built-in domains register themselves on import.
from sciptm.domains import smiles as _smiles  # noqa: E402,F401

for _optional in ("protein", "crystal"):
    try:
        __import__(f"sciptm.domains.{_optional}")
    except ModuleNotFoundError as _exc:  # the module itself not written yet
        if _exc.name != f"sciptm.domains.{_optional}":
            raise

__all__ = ["DOMAINS", "Domain", "PreparedInputs", "get_domain"]
