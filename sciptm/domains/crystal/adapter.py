"""pymatgen side of the crystal domain: turn user inputs into a validated ``Structure`` or ``Composition``.

Accepted structure inputs: ``pymatgen.core.Structure``/``IStructure``, their ``as_dict()``
dicts (Materials Project / Matbench JSON), CIF or POSCAR text, and paths to any file
pymatgen reads (``.cif``, ``POSCAR``, ``vasprun.xml``...). Composition inputs: formula
strings (``"Fe2O3"``), ``Composition`` objects, ``{"Fe": 2, "O": 3}`` dicts, or any
structure input (its composition is used).
"""
from __future__ import annotations

import hashlib
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Composition, Element, IStructure, Structure

DEFAULT_MIN_DISTANCE = 0.5  # Å; closer sites are treated as overlapping (a broken input)
#: pymatgen CIF remarks that describe a correct parse (it snapped 0.33333 to 1/3); not re-emitted
_BENIGN_CIF_NOTES = ("fractional coordinates rounded to ideal values",)


def _is_missing(item: Any) -> bool:
    return item is None or (isinstance(item, float) and math.isnan(item))


def _parse_text(text: str) -> Structure:
    """CIF or POSCAR text -> Structure, ``ValueError`` with pymatgen's reason if it fails."""
    fmt = "cif" if ("data_" in text or "_cell_length_a" in text) else "poscar"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            structure = Structure.from_str(text, fmt=fmt)
        except Exception as exc:  # pymatgen raises ValueError, IndexError, KeyError... on bad files
            notes = "; ".join(sorted({str(w.message).splitlines()[0] for w in caught}))
            detail = f" ({notes})" if notes else ""
            raise ValueError(f"could not parse {fmt.upper()} text: {exc or type(exc).__name__}{detail}") from None
    for w in caught:  # parsed fine: pass pymatgen's remarks on, except the benign rounding note
        if not any(note in str(w.message) for note in _BENIGN_CIF_NOTES):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return structure


def parse_structure(item: Any) -> Structure:
    """One structure input -> ``Structure`` (not yet validated, see :func:`validate_structure`).

    >>> parse_structure(Structure.from_spacegroup("Fm-3m", [[5.6, 0, 0], [0, 5.6, 0], [0, 0, 5.6]],
    ...                 ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])).composition.reduced_formula
    'NaCl'
    """
    if _is_missing(item):
        raise ValueError("missing structure (empty cell)")
    if isinstance(item, (Structure, IStructure)):
        return item if isinstance(item, Structure) else Structure.from_sites(item)
    if isinstance(item, Composition):
        raise ValueError("a Composition has no structure; use the crystal domain with kind='composition'")
    if isinstance(item, dict):
        if "lattice" not in item or "sites" not in item:
            raise ValueError("structure dict needs 'lattice' and 'sites' (pymatgen Structure.as_dict() format)")
        try:
            return Structure.from_dict(item)
        except Exception as exc:  # malformed dicts raise KeyError/TypeError/ValueError
            raise ValueError(f"could not read structure dict: {exc!r}") from None
    if isinstance(item, Path):
        return _from_file(item)
    if isinstance(item, str):
        text = item.strip()
        if not text:
            raise ValueError("empty structure text")
        if "\n" in text:
            return _parse_text(text)
        if os.path.isfile(text):
            return _from_file(Path(text))
        raise ValueError(
            f"{text[:40]!r} is not CIF/POSCAR text nor an existing file; "
            "for chemical formulas use the crystal domain with kind='composition'"
        )
    raise TypeError(f"expected a pymatgen Structure, structure dict, CIF/POSCAR text or path, got {type(item).__name__}")


def _from_file(path: Path) -> Structure:
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    if path.suffix.lower() == ".cif" or path.name.upper().startswith(("POSCAR", "CONTCAR")):
        return _parse_text(path.read_text())
    try:
        return Structure.from_file(path)
    except Exception as exc:  # pymatgen raises many types for unreadable files
        raise ValueError(f"could not read structure file {path.name}: {exc}") from None


def validate_structure(structure: Structure, min_distance: float = DEFAULT_MIN_DISTANCE) -> Structure:
    """Reject structures the tokenizer cannot describe; returns the structure unchanged.

    Raises ``ValueError`` for: no sites, partial occupancies, non-element species (dummy
    ``X``), a degenerate lattice, or two sites (or a site and its periodic image) closer
    than ``min_distance`` Å.
    """
    if len(structure) == 0:
        raise ValueError("structure has no sites")
    if not (np.isfinite(structure.lattice.matrix).all() and np.isfinite(structure.frac_coords).all()):
        raise ValueError("lattice or site coordinates are not finite numbers")
    if not structure.is_ordered:
        raise ValueError("disordered structure (partial occupancies) is not supported; order it first")
    for site in structure:
        el = getattr(site.specie, "element", site.specie)
        if not isinstance(el, Element):
            raise ValueError(f"unknown element {str(site.specie)!r}")
    if not structure.lattice.volume > 1e-3:
        raise ValueError(f"degenerate lattice (volume {structure.lattice.volume:.3g} Å^3)")
    shortest = float(np.linalg.norm(structure.lattice.lll_matrix, axis=1).min())
    if shortest < min_distance:
        raise ValueError(f"lattice vector of {shortest:.3f} Å: every site overlaps its own periodic image")
    if len(structure) > 1:
        dist = structure.distance_matrix
        np.fill_diagonal(dist, np.inf)
        i, j = np.unravel_index(int(np.argmin(dist)), dist.shape)
        if dist[i, j] < min_distance:
            raise ValueError(
                f"overlapping sites: {structure[i].species_string} #{i} and {structure[j].species_string} #{j} "
                f"are {dist[i, j]:.3f} Å apart (< {min_distance} Å)"
            )
    return structure


def parse_composition(item: Any) -> Composition:
    """One composition input (formula, ``Composition``, element dict, or any structure input)."""
    if _is_missing(item):
        raise ValueError("missing composition (empty cell)")
    if isinstance(item, Composition):
        comp = item
    elif isinstance(item, str) and "\n" not in item.strip() and not os.path.isfile(item.strip()):
        text = item.strip()
        if not text:
            raise ValueError("empty formula")
        try:
            comp = Composition(text)
        except Exception as exc:  # pymatgen raises ValueError/KeyError for unknown symbols
            raise ValueError(f"could not parse formula {text!r}: {exc}") from None
    elif isinstance(item, dict) and not ("lattice" in item and "sites" in item):
        try:
            comp = Composition(item)
        except Exception as exc:
            raise ValueError(f"could not read composition dict: {exc}") from None
    else:
        comp = parse_structure(item).composition
    comp = comp.element_composition
    unknown = [str(k) for k in comp if not isinstance(k, Element)]
    if unknown:  # pymatgen reads unknown symbols ("Xx2") as dummy species
        raise ValueError(f"unknown element {unknown[0].rstrip('0+-')!r}")
    if comp.num_atoms <= 0:
        raise ValueError("empty composition")
    if any(n < 0 for n in comp.values()):
        raise ValueError("negative amount in composition")
    if not all(math.isfinite(n) for n in comp.values()) or not math.isfinite(comp.num_atoms):
        raise ValueError("amount in composition is not a finite number")
    return comp


def structure_digest(structure: Structure) -> str:
    """A hash of lattice, species and (wrapped) coordinates, used as the cache key."""
    h = hashlib.sha1()
    h.update(np.round(structure.lattice.matrix, 5).tobytes())
    h.update(np.asarray(structure.atomic_numbers, dtype=np.int16).tobytes())
    h.update(np.round(np.mod(structure.frac_coords, 1.0), 5).tobytes())
    return h.hexdigest()
