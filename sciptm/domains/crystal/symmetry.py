"""Setting-invariant symmetry description of a crystal (spglib + a normalizer search).

Pipeline for one structure:

1. spglib standardizes the cell (``get_symmetry_dataset``, tolerance ``symprec`` in Å):
   conventional cell of the standard ITA setting, positions idealized to the symmetry.
   This removes supercells, rotations, site order and (most) cell choices.
2. What standardization leaves open is an element of the space group's *normalizer*:
   origin shifts such as (1/2, 1/2, 1/2) in Fm-3m (which swap Wyckoff 4a and 4b),
   axis permutations in e.g. Pmmm, and a free origin along polar axes (P4mm, P1...).
   :func:`normalizer` enumerates, once per space-group setting, every affine map
   ``x -> P x + t`` (``P`` a signed permutation, or a 6/mmm operation for hexagonal
   axes; ``t`` on a 1/24 grid) that maps the standard operations onto themselves.
3. :func:`canonical_cell` applies each normalizer coset and, for polar groups, each
   origin choice that puts one atom of a fixed, invariant orbit at the origin along
   the polar axes, and keeps the lexicographically smallest description
   (binned lattice parameters, then orbits sorted by element, multiplicity and binned
   representative coordinates). Each orbit's representative is its member with the
   smallest binned coordinates, so the choice among equivalent positions is canonical too.
4. spglib, run once more on the chosen cell with its atoms in a canonical order, gives the
   Wyckoff letters. The input of that call depends only on the canonical description, so the
   letters are invariant too; spglib normally keeps the (already standard) setting, so the
   letter matches the written coordinates, but it may pick an equivalent origin, in which case
   the letter names an equivalent position (e.g. 1c instead of 1b in P3m1).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import spglib
from spglib.error import SpglibError

#: fractional-coordinate bins per unit (special positions k/8, k/6, k/12, k/16, k/24 are bin centres)
COORD_BINS = 48
_T_GRID = 24  # normalizer translations: (1/24)^3 grid in hexagonal axes, (1/8)^3 otherwise
_IDEAL_SYMPREC = 1e-3  # Å; the standardized cell is idealized, so later passes use a tight tolerance


@dataclass(frozen=True)
class Orbit:
    """One symmetry-distinct site of the canonical cell.

    Attributes
    ----------
    z: atomic number.
    multiplicity: sites of the orbit in the conventional cell.
    letter: Wyckoff letter (spglib, standard setting).
    bins: binned fractional coordinates of the canonical representative (0..COORD_BINS-1).
    free: which of x, y, z are free parameters of the Wyckoff position.
    """

    z: int
    multiplicity: int
    letter: str
    bins: tuple[int, int, int]
    free: tuple[bool, bool, bool]


@dataclass(frozen=True)
class CanonicalCell:
    """The setting-invariant description the tokens are written from."""

    number: int  # space-group number (1..230)
    lengths: tuple[float, float, float]  # conventional a, b, c in Å
    angles: tuple[float, float, float]  # alpha, beta, gamma in degrees
    orbits: tuple[Orbit, ...]


@lru_cache(maxsize=1)
def wyckoff_multiplicities() -> dict[int, dict[str, int]]:
    """``{space-group number: {letter: multiplicity in the conventional cell}}`` (pymatgen/AFLOW table)."""
    import gzip
    import json
    from importlib import resources

    # the data folder is located without importing pymatgen.analysis.prototypes, whose import parses the
    # whole AFLOW prototype library (288 structures, seconds)
    path = resources.files("pymatgen.analysis").joinpath("prototypes").joinpath("wyckoff-position-multiplicities.json.gz")
    with path.open("rb") as fh, gzip.open(fh, "rt") as text:
        raw = json.load(text)
    return {int(sg): dict(v) for sg, v in raw.items() if int(sg) > 0}


@dataclass(frozen=True)
class _Normalizer:
    rotations: np.ndarray  # C x 3 x 3 (P of each coset representative)
    translations: np.ndarray  # C x 3
    polar: tuple[int, ...]  # axes along which the origin is free
    group_rotations: np.ndarray  # ops of G in this setting
    group_translations: np.ndarray


def _dataset(lattice: np.ndarray, positions: np.ndarray, numbers: np.ndarray, symprec: float, angle_tolerance: float):
    # _throw=True: spglib >= 2.5 raises SpglibError instead of returning None (its documented
    # replacement for the deprecated get_error_message())
    try:
        return spglib.get_symmetry_dataset((lattice, positions, numbers), symprec=symprec,
                                           angle_tolerance=angle_tolerance, _throw=True)
    except SpglibError as exc:
        raise ValueError(f"spglib could not determine the symmetry ({exc})") from None


def _closure(generators: list[np.ndarray]) -> np.ndarray:
    """All products of integer matrices generating a finite group."""
    group = {np.eye(3, dtype=int).tobytes(): np.eye(3, dtype=int)}
    frontier = list(group.values())
    while frontier:
        fresh = []
        for m in frontier:
            for gen in generators:
                prod = gen @ m
                if prod.tobytes() not in group:
                    group[prod.tobytes()] = prod
                    fresh.append(prod)
        frontier = fresh
    return np.array(sorted(group.values(), key=lambda m: tuple(m.ravel())))


@lru_cache(maxsize=2)
def _candidate_rotations(hexagonal: bool) -> np.ndarray:
    """6/mmm in hexagonal axes (24 matrices) or m-3m, the 48 signed permutation matrices."""
    inv = -np.eye(3, dtype=int)
    if hexagonal:
        six = np.array([[1, -1, 0], [1, 0, 0], [0, 0, 1]])
        two = np.array([[0, 1, 0], [1, 0, 0], [0, 0, -1]])
        return _closure([six, two, inv])
    four = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    three = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    return _closure([four, three, inv])


_NORMALIZERS: dict[int, _Normalizer] = {}
#: the shipped normalizer table (built by :func:`build_normalizer_table` from spglib's database)
TABLE_FILE = "normalizers.json"
_TABLE_FORMAT = 1


def _ops_key(g_rot: np.ndarray, g_trans: np.ndarray) -> str:
    """Order-independent key of a set of operations (rotations, translations in 24ths mod 1)."""
    import hashlib

    t24 = np.round(np.asarray(g_trans, dtype=float) * 24).astype(np.int64) % 24
    rows = np.unique(np.concatenate([np.asarray(g_rot, dtype=np.int64).reshape(len(g_rot), 9), t24], axis=1), axis=0)
    return hashlib.sha256(rows.tobytes()).hexdigest()[:16]


@lru_cache(maxsize=1)
def _shipped_table() -> dict[tuple[int, str], tuple[np.ndarray, np.ndarray, tuple[int, ...]]]:
    """``{(hall number, ops key): (rotations, translations, polar axes)}`` from the shipped JSON (may be empty)."""
    import json
    from importlib import resources

    try:
        raw = json.loads(resources.files("sciptm.domains.crystal").joinpath(TABLE_FILE).read_text())
    except (FileNotFoundError, OSError, ValueError):
        return {}
    if raw.get("format") != _TABLE_FORMAT:
        return {}
    table = {}
    for e in raw["entries"]:
        rot = np.asarray(e["rot"], dtype=int).reshape(-1, 3, 3)
        trans = np.asarray(e["t24"], dtype=float).reshape(-1, 3) / 24.0
        table[(int(e["hall"]), str(e["ops"]))] = (rot, trans, tuple(int(a) for a in e["polar"]))
    return table


def normalizer(hall_number: int, number: int, rotations: np.ndarray, translations: np.ndarray) -> _Normalizer:
    """Coset representatives of the (finite part of the) normalizer of one standard setting.

    ``rotations``/``translations`` are the operations of the group in that setting (centring
    included), as spglib reports them for a standardized cell. Cached per Hall number; for polar
    groups the continuous origin freedom is returned as ``polar`` axes instead of translations.
    The normalizers of the 230 standard settings are shipped precomputed (:data:`TABLE_FILE`, used when
    the operations match the table's, checked by an order-independent key), so a fresh process does not
    pay the search (up to 0.6 s per cubic group); other settings are searched on first use.
    """
    if hall_number in _NORMALIZERS:
        return _NORMALIZERS[hall_number]
    g_rot = np.asarray(rotations, dtype=int)
    g_trans = (np.round(np.asarray(translations, dtype=float) * 24) / 24) % 1.0
    shipped = _shipped_table().get((int(hall_number), _ops_key(g_rot, g_trans)))
    if shipped is not None:
        rot, trans, polar = shipped
        result = _Normalizer(rot, trans, polar, g_rot, g_trans)
        _NORMALIZERS[hall_number] = result
        return result
    result = _search_normalizer(number, g_rot, g_trans)
    _NORMALIZERS[hall_number] = result
    return result


def build_normalizer_table(path: str | None = None) -> dict:
    """Search the normalizer of the standard setting of every space group (spglib's database, the first Hall
    number of each group) and return / write the table :func:`normalizer` ships (JSON, ~20 s)."""
    import json

    import spglib

    entries, seen = [], set()
    for hall in range(1, 531):
        number = int(spglib.get_spacegroup_type(hall).number)
        if number in seen:
            continue
        seen.add(number)
        ops = spglib.get_symmetry_from_database(hall)
        g_rot = np.asarray(ops["rotations"], dtype=int)
        g_trans = (np.round(np.asarray(ops["translations"], dtype=float) * 24) / 24) % 1.0
        norm = _search_normalizer(number, g_rot, g_trans)
        entries.append({"hall": hall, "number": number, "ops": _ops_key(g_rot, g_trans),
                        "rot": norm.rotations.reshape(len(norm.rotations), 9).astype(int).tolist(),
                        "t24": np.round(norm.translations * 24).astype(int).reshape(-1, 3).tolist(),
                        "polar": list(norm.polar)})
    table = {"format": _TABLE_FORMAT, "spglib": spglib.__version__, "entries": entries}
    if path is not None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(table, fh, separators=(",", ":"))
    return table


def _search_normalizer(number: int, g_rot: np.ndarray, g_trans: np.ndarray) -> _Normalizer:
    """The normalizer search behind :func:`normalizer` (uncached)."""
    cand = _candidate_rotations(143 <= number <= 194)
    polar = tuple(i for i in range(3) if np.all(g_rot[:, :, i] == np.eye(3, dtype=int)[:, i]))
    steps = _T_GRID if 143 <= number <= 194 else 8  # 1/8 suffices outside hexagonal axes
    grid_1d = np.arange(steps) / steps
    axes = [np.zeros(1) if i in polar else grid_1d for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    eye = np.eye(3, dtype=int)
    rot_keys = {r.tobytes(): k for k, r in enumerate(g_rot)}
    # one op per distinct rotation plus every pure translation (centring) suffices
    # (non-identity rotations first: they shrink the translation grid fastest)
    pure = np.flatnonzero(np.all(g_rot == eye, axis=(1, 2)))
    check = [k for k in sorted(set(rot_keys.values())) if k not in set(pure)] + list(pure)
    found_rot: list[np.ndarray] = []
    found_t: list[np.ndarray] = []
    seen: set[int] = set()
    for p in cand:
        p_inv = np.round(np.linalg.inv(p)).astype(int)
        conj = np.einsum("ij,kjl,lm->kim", p, g_rot, p_inv)
        if any(c.tobytes() not in rot_keys for c in conj):
            continue
        alive = grid
        for k in check:  # the surviving grid shrinks fast, so all ops are cheap to check
            r2 = conj[k]
            targets = g_trans[np.all(g_rot == r2, axis=(1, 2))]  # all tau' of R' (centring copies)
            v = (p @ g_trans[k])[None, :] + alive - alive @ r2.T  # T x 3
            d = v[:, None, :] - targets[None, :, :]
            alive = alive[np.any(np.all(np.abs(d - np.round(d)) < 1e-6, axis=2), axis=1)]
            if not len(alive):
                break
        for t in alive:
            # one representative per coset g G: key = smallest code of g o h over h in G
            m = np.einsum("ij,kjl->kil", p, g_rot).reshape(len(g_rot), 9) + 1  # entries -1..1
            v = np.round(((g_trans @ p.T + t) % 1.0) * 24).astype(np.int64) % 24
            codes = (m @ (3 ** np.arange(9))) * 24**3 + (v @ np.array([24**2, 24, 1]))
            key = int(codes.min())
            if key not in seen:
                seen.add(key)
                found_rot.append(p)
                found_t.append(t)
    return _Normalizer(np.array(found_rot), np.array(found_t), polar, g_rot, g_trans)


def _lattice_params(lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lengths (C x 3) and angles in degrees (C x 3) of C lattices (C x 3 x 3, rows = vectors)."""
    lengths = np.linalg.norm(lat, axis=2)
    angles = np.empty_like(lengths)
    for i, (j, k) in enumerate(((1, 2), (0, 2), (0, 1))):
        cos = np.einsum("cj,cj->c", lat[:, j], lat[:, k]) / (lengths[:, j] * lengths[:, k])
        angles[:, i] = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return lengths, angles


def _oriented(lengths: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Lattice matrix of given parameters in a fixed orientation (a along x, b in the xy plane)."""
    a, b, c = lengths
    al, be, ga = np.radians(angles)
    cx = c * np.cos(be)
    cy = c * (np.cos(al) - np.cos(be) * np.cos(ga)) / np.sin(ga)
    cz = np.sqrt(max(c * c - cx * cx - cy * cy, 0.0))
    return np.array([[a, 0.0, 0.0], [b * np.cos(ga), b * np.sin(ga), 0.0], [cx, cy, cz]])


def lattice_bins(lengths: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Integer keys used to compare settings: 0.1 Å length bins, then 1-degree angle bins (negated,
    so obtuse monoclinic and triclinic angles are preferred, as in the ITA convention)."""
    return np.concatenate([np.round(lengths * 10.0), -np.round(angles)], axis=-1).astype(np.int64)


def _free_axes(y: np.ndarray, g_rot: np.ndarray, g_trans: np.ndarray) -> tuple[bool, bool, bool]:
    """Axes along which the Wyckoff position through ``y`` has a free parameter.

    The mean of the site-symmetry rotations projects onto the fixed subspace; axis ``i`` is free
    when row ``i`` of that projector is non-zero.
    """
    d = y @ g_rot.transpose(0, 2, 1) + g_trans - y  # ops x 3
    stab = np.all(np.abs(d - np.round(d)) < 1e-4, axis=1)
    proj = g_rot[stab].mean(axis=0)
    free = np.any(np.abs(proj) > 1e-8, axis=1)
    return (bool(free[0]), bool(free[1]), bool(free[2]))


def canonical_cell(
    lattice: np.ndarray,
    frac_coords: np.ndarray,
    numbers: np.ndarray,
    symprec: float = 0.1,
    angle_tolerance: float = 5.0,
) -> CanonicalCell:
    """Setting-invariant description of one periodic structure (see the module docstring).

    Example
    -------
    >>> import numpy as np
    >>> cell = canonical_cell(np.eye(3) * 4.2, np.array([[0, 0, 0], [0.5, 0.5, 0.5]]), np.array([11, 17]))
    >>> cell.number, [(o.z, o.multiplicity, o.letter) for o in cell.orbits]
    (221, [(11, 1, 'a'), (17, 1, 'b')])
    """
    ds = _dataset(lattice, frac_coords, numbers, symprec, angle_tolerance)
    std_lat = np.asarray(ds.std_lattice, dtype=float)
    std_pos = np.asarray(ds.std_positions, dtype=float) % 1.0
    std_z = np.asarray(ds.std_types, dtype=int)
    # a second pass on the standardized cell labels its atoms (orbits, Wyckoff letters)
    ds2 = _dataset(std_lat, std_pos, std_z, _IDEAL_SYMPREC, angle_tolerance)
    if ds2.number != ds.number:
        raise ValueError(f"symmetry is ambiguous at symprec={symprec}: space group {ds.number} vs {ds2.number}")
    norm = normalizer(int(ds2.hall_number), int(ds2.number), ds2.rotations, ds2.translations)
    orbit_of = np.unique(np.asarray(ds2.equivalent_atoms), return_inverse=True)[1]
    n_orbits = int(orbit_of.max()) + 1
    mult = np.bincount(orbit_of, minlength=n_orbits)
    orbit_z = np.zeros(n_orbits, dtype=np.int64)
    orbit_z[orbit_of] = std_z

    # candidate transforms: normalizer cosets x (polar) anchor atoms
    rots, trans = norm.rotations, norm.translations
    if norm.polar:
        # anchors: atoms of the invariant orbit class (element, multiplicity) with fewest atoms
        cls = orbit_z * 1024 + mult
        classes, counts = np.unique(cls[orbit_of], return_counts=True)
        chosen = classes[np.lexsort((classes, counts))[0]]
        anchors = np.flatnonzero(cls[orbit_of] == chosen)
    else:
        anchors = np.array([-1])
    n_c = len(rots) * len(anchors)
    y = np.einsum("cij,nj->cni", rots, std_pos) + trans[:, None, :]  # G x N x 3
    y = np.repeat(y, len(anchors), axis=0)
    if norm.polar:
        ax = list(norm.polar)
        anchor_idx = np.tile(anchors, len(rots))
        y[:, :, ax] -= y[np.arange(n_c), anchor_idx][:, None, ax]
    y %= 1.0
    bins = np.round(y * COORD_BINS).astype(np.int64) % COORD_BINS
    code = (bins[..., 0] * COORD_BINS + bins[..., 1]) * COORD_BINS + bins[..., 2]  # C x N
    order = np.argsort(orbit_of, kind="stable")
    starts = np.r_[0, np.cumsum(mult)[:-1]]
    rep_code = np.minimum.reduceat(code[:, order], starts, axis=1)  # C x n_orbits
    keys = np.sort((orbit_z * 1024 + mult)[None, :] * COORD_BINS**3 + rep_code, axis=1)

    new_lat = np.einsum("cji,jk->cik", np.linalg.inv(rots.astype(float)), std_lat)  # inv(P).T @ L
    lengths, angles = _lattice_params(new_lat)
    lat_keys = np.repeat(lattice_bins(lengths, angles), len(anchors), axis=0)
    table = np.concatenate([lat_keys, keys], axis=1)
    best = int(np.lexsort(table.T[::-1])[0])
    g = best // len(anchors)

    final_pos = y[best]
    # Wyckoff letters of the chosen cell, with atoms in a canonical order so that spglib's own
    # choices (it may still pick an equivalent origin) depend only on the canonical cell
    atom_class = (orbit_z * 1024 + mult)[orbit_of]
    order = np.lexsort((final_pos[:, 2], final_pos[:, 1], final_pos[:, 0], code[best], atom_class))
    ds3 = _dataset(_oriented(lengths[g], angles[g]), final_pos[order], std_z[order], _IDEAL_SYMPREC, angle_tolerance)
    if ds3.number != ds.number:
        raise ValueError(f"symmetry is ambiguous at symprec={symprec}: space group {ds.number} vs {ds3.number}")
    letters = np.empty(len(std_z), dtype=object)
    letters[order] = np.asarray(ds3.wyckoffs)
    orbits = []
    for o in range(n_orbits):
        members = np.flatnonzero(orbit_of == o)
        rep = members[np.argmin(code[best, members])]
        b = bins[best, rep]
        orbits.append(
            Orbit(
                z=int(orbit_z[o]),
                multiplicity=int(mult[o]),
                letter=str(letters[members[0]]),
                bins=(int(b[0]), int(b[1]), int(b[2])),
                free=_free_axes(final_pos[rep], norm.group_rotations, norm.group_translations),
            )
        )
    orbits.sort(key=lambda o: (o.z, o.multiplicity, o.bins, o.letter))
    return CanonicalCell(
        number=int(ds.number),
        lengths=tuple(float(v) for v in lengths[g]),
        angles=tuple(float(v) for v in angles[g]),
        orbits=tuple(orbits),
    )
