"""Domain adapters (SMILES, protein, crystal) and their registry.

>>> from sciptm.domains import get_domain
>>> get_domain("smiles").to_text("OCC")
'CCO'
"""
from __future__ import annotations

import importlib
from typing import Any

from sciptm.domains.base import Domain, PreparedInputs
from sciptm.registry import Registry

DOMAINS: Registry[type[Domain]] = Registry("domain")


#: built-in domains, imported on first use so that e.g. SMILES work needs no pymatgen import
BUILTIN = {"smiles": "sciptm.domains.smiles", "protein": "sciptm.domains.protein", "crystal": "sciptm.domains.crystal",
           "reaction": "sciptm.domains.reaction"}
DOMAINS.lazy.update(BUILTIN)  # unknown-name errors list every built-in domain, imported or not


def domain_class(name: str) -> type[Domain]:
    """The registered class for ``name`` (importing a built-in domain on first use)."""
    key = str(name).lower()
    if key not in DOMAINS and key in BUILTIN:
        importlib.import_module(BUILTIN[key])
    return DOMAINS.get(key)


def get_domain(spec: str | dict[str, Any] | Domain) -> Domain:
    """Build a domain from a name, a config dict (``{"name": ..., **settings}``) or pass one through."""
    if isinstance(spec, Domain):
        return spec
    if isinstance(spec, str):
        return domain_class(spec)()
    settings = dict(spec)
    name = settings.pop("name")
    return domain_class(name)(**settings)

__all__ = ["BUILTIN", "DOMAINS", "Domain", "PreparedInputs", "domain_class", "get_domain"]
