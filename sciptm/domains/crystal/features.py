"""Magpie-style composition descriptors (Ward et al., npj Comput. Mater. 2, 16028 (2016)).

For each of 16 element properties taken from pymatgen's periodic table, six statistics over
the atoms of a composition, weighted by atomic fraction: mean, average absolute deviation
from the mean, minimum, maximum, range and mode (the value of the most abundant element);
plus the stoichiometry p-norms (p = 0, 2, 3, 5, 7, 10) and the fractions of valence
electrons in s, p, d and f orbitals: 16 x 6 + 6 + 4 = 106 features.

An element lacking a property in pymatgen's table (e.g. Pauling electronegativity of noble
gases, molar volume of heavy actinides) gets the median of that property over the elements
that have it, so the features are always finite.

>>> X = composition_features(["Fe2O3", "NaCl"])
>>> X.shape == (2, len(feature_names()))
True
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from pymatgen.core import Composition, Element

from sciptm.domains.crystal.tokens import composition_from_text
from sciptm.features import FEATURES, Featurizer

#: (feature name, pymatgen Element attribute, key in ``Element.data`` that must be present)
ELEMENT_PROPERTIES: tuple[tuple[str, str, str | None], ...] = (
    ("Number", "Z", None),
    ("MendeleevNumber", "mendeleev_no", "Mendeleev no"),
    ("AtomicWeight", "atomic_mass", "Atomic mass"),
    ("MeltingT", "melting_point", "Melting point"),
    ("Column", "group", None),
    ("Row", "row", None),
    ("AtomicRadius", "atomic_radius", "Atomic radius"),
    ("Electronegativity", "X", "X"),
    ("NsValence", "_s", None),
    ("NpValence", "_p", None),
    ("NdValence", "_d", None),
    ("NfValence", "_f", None),
    ("NValence", "_valence", None),
    ("MolarVolume", "molar_volume", "Molar volume"),
    ("IonizationEnergy", "ionization_energy", "Ionization energies"),
    ("ElectronAffinity", "electron_affinity", "Electron affinity"),
)
STATS = ("mean", "avg_dev", "min", "max", "range", "mode")
P_NORMS = (0, 2, 3, 5, 7, 10)
_ORBITAL = re.compile(r"^\d+([spdf])(\d+)$")


def feature_names() -> list[str]:
    """Names of the columns of :func:`composition_features`, in order."""
    names = [f"{stat}_{prop}" for prop, _, _ in ELEMENT_PROPERTIES for stat in STATS]
    names += [f"stoich_{p}norm" for p in P_NORMS]
    names += [f"frac_{o}Valence" for o in "spdf"]
    return names


def _valence_shells(el: Element) -> dict[str, float]:
    """Electrons outside the noble-gas core, per orbital type (``'[Ar].3d6.4s2'`` -> d 6, s 2)."""
    counts = {"s": 0.0, "p": 0.0, "d": 0.0, "f": 0.0}
    if not el.data.get("Electronic structure"):  # e.g. Og has no entry
        return {k: np.nan for k in counts}
    for part in el.electronic_structure.split("."):
        m = _ORBITAL.match(part.strip())
        if m:
            counts[m.group(1)] += float(m.group(2))
    return counts


def _element_value(el: Element, attr: str, data_key: str | None) -> float:
    if attr.startswith("_"):
        shells = _valence_shells(el)
        return float(sum(shells.values())) if attr == "_valence" else float(shells[attr[1:]])
    if data_key is not None:
        raw: Any = el.data.get(data_key)
        if raw is None or (isinstance(raw, str) and "no data" in raw.lower()):
            return np.nan
    value = getattr(el, attr)
    return np.nan if value is None else float(value)


@lru_cache(maxsize=1)
def element_table() -> np.ndarray:
    """``118 x P`` property table (row ``Z - 1``), missing values filled with the property median."""
    table = np.array(
        [[_element_value(Element.from_Z(z), attr, key) for _, attr, key in ELEMENT_PROPERTIES] for z in range(1, 119)],
        dtype=np.float64,
    )
    medians = np.nanmedian(table, axis=0)
    missing = np.isnan(table)
    table[missing] = np.take(medians, np.nonzero(missing)[1])
    return table


def composition_vector(comp: Composition) -> np.ndarray:
    """The 106 features of one composition.

    >>> composition_vector(Composition("NaCl"))[:2]  # mean and avg. deviation of Z
    array([14.,  3.])
    """
    el_amounts = comp.element_composition
    if el_amounts.num_atoms <= 0:
        raise ValueError("empty composition")
    zs = np.array([el.Z for el in el_amounts], dtype=int)
    frac = np.array([el_amounts.get_atomic_fraction(el) for el in el_amounts], dtype=np.float64)
    props = element_table()[zs - 1]  # E x P
    mean = frac @ props
    avg_dev = frac @ np.abs(props - mean)
    lo, hi = props.min(axis=0), props.max(axis=0)
    # mode: most abundant element (ties -> smaller value, as in Magpie)
    top = np.flatnonzero(np.isclose(frac, frac.max()))
    mode = props[top].min(axis=0)
    stats = np.stack([mean, avg_dev, lo, hi, hi - lo, mode], axis=1).reshape(-1)  # P*6, prop-major
    norms = [float(len(frac)) if p == 0 else float(np.sum(frac**p) ** (1.0 / p)) for p in P_NORMS]
    cols = {name: i for i, (name, _, _) in enumerate(ELEMENT_PROPERTIES)}
    shells = frac @ props[:, [cols["NsValence"], cols["NpValence"], cols["NdValence"], cols["NfValence"]]]
    total = shells.sum()
    vfrac = shells / total if total > 0 else np.zeros(4)
    return np.concatenate([stats, norms, vfrac])


def _as_composition(item: Any) -> Composition:
    if isinstance(item, Composition):
        return item
    from sciptm.domains.crystal.adapter import parse_composition

    return parse_composition(item)


def composition_features(compositions: Sequence[Any]) -> np.ndarray:
    """Magpie-style descriptors ``N x 106`` (see :func:`feature_names`).

    Accepts formulas, ``Composition`` objects and structures (anything the crystal domain's
    composition mode reads). Raises ``ValueError`` naming the row of an unreadable input.

    >>> composition_features(["Fe2O3"]).shape
    (1, 106)
    """
    rows = []
    for i, item in enumerate(compositions):
        try:
            rows.append(composition_vector(_as_composition(item)))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"row {i}: {item!r:.80}: {exc}") from None
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(feature_names()))


def magpie_from_texts(texts: Sequence[str]) -> np.ndarray:
    """Features of crystal-domain token texts (structure or composition kind); NaN rows where a
    text holds no element tokens."""
    out = np.full((len(texts), len(feature_names())), np.nan)
    for i, text in enumerate(texts):
        try:
            comp = composition_from_text(text)
        except ValueError:
            continue
        out[i] = composition_vector(comp)
    return out


FEATURES.add(
    "magpie",
    Featurizer("magpie", "crystal", magpie_from_texts,
               "Magpie-style element-property statistics of the composition (106 features)"),
)

__all__ = ["ELEMENT_PROPERTIES", "composition_features", "composition_vector", "element_table",
           "feature_names", "magpie_from_texts"]
