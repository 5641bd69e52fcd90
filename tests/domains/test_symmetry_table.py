"""The shipped normalizer table: same canonical cells as the search, and no search in a fresh process."""
from __future__ import annotations

import gzip
import json
from importlib import resources

import numpy as np
import pytest

from sciptm.domains.crystal import symmetry as S


@pytest.fixture(scope="module")
def prototypes():
    from pymatgen.core import Structure

    path = resources.files("pymatgen.analysis").joinpath("prototypes").joinpath("aflow_prototypes.json.gz")
    with path.open("rb") as fh, gzip.open(fh, "rt") as text:
        raw = json.load(text)
    return [Structure.from_dict(e["snl"]) for e in raw[::4]]  # 72 prototypes, many space groups


def _cells(structures):
    out = []
    for st in structures:
        try:
            out.append(S.canonical_cell(st.lattice.matrix, st.frac_coords, np.array(st.atomic_numbers)))
        except ValueError as exc:
            out.append(str(exc))
    return out


def test_shipped_normalizers_match_the_search_and_skip_it(monkeypatch, prototypes):
    searched: list[int] = []
    real_search = S._search_normalizer

    def counting(number, g_rot, g_trans):
        searched.append(number)
        return real_search(number, g_rot, g_trans)

    monkeypatch.setattr(S, "_NORMALIZERS", {})
    monkeypatch.setattr(S, "_search_normalizer", counting)
    with_table = _cells(prototypes)
    groups = {c.number for c in with_table if not isinstance(c, str)}
    assert len(groups) > 20
    assert searched == []  # every standard setting came from the table

    monkeypatch.setattr(S, "_NORMALIZERS", {})
    monkeypatch.setattr(S, "_shipped_table", lambda: {})
    searched_only = _cells(prototypes)
    assert len(searched) == len(groups)
    assert with_table == searched_only  # identical canonical cells (hence identical tokens)


def test_table_covers_every_space_group_once():
    table = S._shipped_table()
    numbers = sorted({h for h, _ in table})
    assert len(table) == 230 and len(numbers) == 230
    rot, trans, polar = table[(523, next(k for h, k in table if h == 523))]  # Fm-3m: a shift swaps 4a and 4b
    assert polar == () and any(np.abs(t).sum() > 0 for t in trans)
    _, _, polar_p1 = table[(1, next(k for h, k in table if h == 1))]  # P1: the origin is free along every axis
    assert polar_p1 == (0, 1, 2)
