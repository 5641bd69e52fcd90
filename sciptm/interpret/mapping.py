"""Token scores -> science objects: SMILES atoms, protein residues, crystal sites.

SMILES: RDKit numbers atoms in the order their atom tokens appear in the SMILES string it
parses (bonds, branches, ring-closure digits and ``.`` carry no atom). sciptm's SMILES text is
RDKit canonical SMILES, so parsing that exact text (``explicit hydrogens kept``) gives the molecule
whose atom ``i`` is the ``i``-th atom token. Proteins: one token per residue between ``<cls>`` and
``<eos>``. Crystals: the token text is grouped into space group, lattice and one group per
symmetry-distinct site (Wyckoff orbit), see ``docs/crystal-tokens.md``.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from sciptm.interpret.result import TokenAttribution

_ORGANIC_ATOMS = frozenset({"B", "Br", "C", "Cl", "N", "O", "S", "P", "F", "I", "b", "c", "n", "o", "s", "p", "*"})
_WYCKOFF = re.compile(r"^\d+[a-zA-Z]$")
_LATTICE_PREFIXES = ("a_", "b_", "c_", "alpha_", "beta_", "gamma_")
_COORD_PREFIXES = ("x_", "y_", "z_")


# ---------------------------------------------------------------------- SMILES
def is_atom_token(token: str) -> bool:
    """Whether a SMILES regex token is an atom (bracket atom, organic-subset atom or ``*``).

    >>> [is_atom_token(t) for t in ["Cl", "[nH]", "c", "1", "=", "(", "%10"]]
    [True, True, True, False, False, False, False]
    """
    return token in _ORGANIC_ATOMS or (len(token) > 2 and token[0] == "[" and token[-1] == "]")


def smiles_mol(smiles: str):
    """The RDKit molecule whose atom indices follow the atom tokens of ``smiles`` (explicit H kept).

    >>> smiles_mol("[H]OC").GetNumAtoms()
    3
    """
    from rdkit import Chem

    params = Chem.SmilesParserParams()
    params.removeHs = False
    mol = Chem.MolFromSmiles(smiles, params)
    if mol is None:
        raise ValueError(f"RDKit could not parse {smiles!r}")
    return mol


def smiles_atom_spans(smiles: str) -> list[tuple[int, int]]:
    """Character spans of the atom tokens of ``smiles``; span ``i`` is RDKit atom ``i``.

    >>> smiles_atom_spans("OC(=O)c1ccccc1Cl")[-1]
    (14, 16)
    """
    from sciptm.domains.smiles.tokenizer import _PATTERN

    spans = [m.span() for m in _PATTERN.finditer(smiles) if is_atom_token(m.group())]
    n_atoms = smiles_mol(smiles).GetNumAtoms()
    if len(spans) != n_atoms:
        raise ValueError(f"{smiles!r}: {len(spans)} atom tokens but RDKit reads {n_atoms} atoms")
    return spans


def token_atoms(attribution: TokenAttribution) -> list[int | None]:
    """RDKit atom index of each token of a SMILES attribution (``None`` for non-atom tokens).

    >>> import numpy as np
    >>> a = TokenAttribution("OC", "OC", ["[CLS]", "O", "C", "[SEP]"], [(0, 0), (0, 1), (1, 2), (0, 0)],
    ...                      np.array([1, 0, 0, 1], bool), np.zeros(4), "integrated_gradients", "smiles")
    >>> token_atoms(a)
    [None, 0, 1, None]
    """
    _check_domain(attribution, "smiles")
    index = {span: i for i, span in enumerate(smiles_atom_spans(attribution.text))}
    return [None if sp else index.get(span) for span, sp in zip(attribution.spans, attribution.special)]


def atom_scores(attribution: TokenAttribution) -> np.ndarray:
    """Per-atom scores ``[n_atoms]`` of a SMILES attribution, in RDKit atom order of ``attribution.text``.

    Atoms cut off by truncation get NaN. Draw them with :func:`sciptm.interpret.draw_atom_attributions`.
    """
    n_atoms = smiles_mol(attribution.text).GetNumAtoms()
    out = np.full(n_atoms, np.nan)
    for atom, score in zip(token_atoms(attribution), attribution.scores):
        if atom is not None:
            out[atom] = score
    return out


def substructure_atoms(smiles: str, smarts: str) -> list[int]:
    """Sorted indices of the atoms of ``smiles`` (token order) matched by any hit of ``smarts``.

    >>> substructure_atoms("OC(=O)c1ccccc1[N+](=O)[O-]", "[N+](=O)[O-]")
    [9, 10, 11]
    """
    from rdkit import Chem

    pattern = Chem.MolFromSmarts(smarts)
    if pattern is None:
        raise ValueError(f"RDKit could not parse the SMARTS {smarts!r}")
    return sorted({i for match in smiles_mol(smiles).GetSubstructMatches(pattern) for i in match})


def substructure_share(attribution: TokenAttribution, smarts: str) -> tuple[float, float]:
    """``(share of the absolute atom attribution on the substructure's atoms, their share of the atoms)``.

    A model that uses the substructure puts more than its atom share of attribution on it
    (ratio > 1); ``(nan, 0.0)`` when the pattern does not match or all scores are 0.
    """
    scores = np.abs(np.nan_to_num(atom_scores(attribution)))
    atoms = substructure_atoms(attribution.text, smarts)
    if not atoms or scores.sum() == 0:
        return float("nan"), len(atoms) / len(scores)
    return float(scores[atoms].sum() / scores.sum()), len(atoms) / len(scores)


# ---------------------------------------------------------------------- proteins
def residue_scores(attribution: TokenAttribution) -> pd.DataFrame:
    """One row per residue: ``position`` (1-based), ``residue``, ``score``; special tokens dropped.

    >>> import numpy as np
    >>> a = TokenAttribution("MK", "MK", ["<cls>", "M", "K", "<eos>"], [(0, 0), (0, 1), (1, 2), (0, 0)],
    ...                      np.array([1, 0, 0, 1], bool), np.array([0, .5, -.2, 0]), "integrated_gradients", "protein")
    >>> residue_scores(a)["position"].tolist()
    [1, 2]
    """
    _check_domain(attribution, "protein")
    rows = [(s + 1, attribution.text[s:e], float(score))
            for (s, e), sp, score in zip(attribution.spans, attribution.special, attribution.scores) if not sp]
    return pd.DataFrame(rows, columns=["position", "residue", "score"])


# ---------------------------------------------------------------------- crystals
def _crystal_groups(tokens: list[str]) -> list[tuple[str, str | None, list[int]]]:
    """``(part, element, token indices)``: ``space_group``, ``lattice``, then one ``site`` per orbit
    (structure text) or one ``element`` per element (composition text)."""
    from sciptm.domains.crystal.tokens import element_symbols

    elements = set(element_symbols())
    groups: list[tuple[str, str | None, list[int]]] = []
    for i, tok in enumerate(tokens):
        if tok.startswith("SG_"):
            groups.append(("space_group", None, [i]))
        elif tok.startswith(_LATTICE_PREFIXES) and (not groups or groups[-1][0] in ("space_group", "lattice")):
            if groups and groups[-1][0] == "lattice":
                groups[-1][2].append(i)
            else:
                groups.append(("lattice", None, [i]))
        elif tok in elements:
            groups.append(("site", tok, [i]))
        elif groups and groups[-1][0] == "site":
            groups[-1][2].append(i)
        else:
            raise ValueError(f"unexpected crystal token {tok!r} at position {i}")
    if groups and not any(g[0] == "space_group" for g in groups):  # composition text: element + amount
        groups = [("element", el, idx) for _, el, idx in groups]
    return groups


def site_table(attribution: TokenAttribution, structure: Any = None) -> pd.DataFrame:
    """Per-site contributions of a crystal attribution, one row per token group.

    Rows: ``space_group``, ``lattice`` and one ``site`` row per symmetry-distinct site (Wyckoff orbit,
    in token order), or one ``element`` row per element for composition text. Columns: ``part``,
    ``site`` (1-based orbit number), ``element``, ``wyckoff``, ``multiplicity`` (sites in the
    conventional cell), ``tokens``, ``score`` (sum of the group's token scores), ``share`` (the
    group's share of the total absolute score). The scores of all rows sum to the total score of
    the non-special tokens. With the input ``structure`` (pymatgen), ``n_input_sites`` gives the
    number of sites of each orbit in that cell.

    Example
    -------
    >>> import numpy as np
    >>> toks = ["[CLS]", "SG_225", "a_5.6", "Na", "4a", "Cl", "4b", "[SEP]"]
    >>> a = TokenAttribution("NaCl", " ".join(toks[1:-1]), toks, [(0, 0)] * 8, np.array([1, 0, 0, 0, 0, 0, 0, 1], bool),
    ...                      np.array([0, .1, .1, .3, .1, .2, .2, 0]), "integrated_gradients", "crystal")
    >>> site_table(a)[["part", "tokens", "score"]].values.tolist()
    [['space_group', 'SG_225', 0.1], ['lattice', 'a_5.6', 0.1], ['site', 'Na 4a', 0.4], ['site', 'Cl 4b', 0.4]]
    """
    _check_domain(attribution, "crystal")
    content = np.flatnonzero(~attribution.special)
    tokens = [attribution.tokens[i] for i in content]
    scores = attribution.scores[content].astype(float)
    total_abs = float(np.abs(scores).sum()) or 1.0
    rows = []
    n_site = 0
    for part, element, idx in _crystal_groups(tokens):
        group = [tokens[i] for i in idx]
        wyckoff = next((t for t in group[1:] if _WYCKOFF.match(t)), None) if part == "site" else None
        if part == "site":
            n_site += 1
        rows.append({
            "part": part, "site": n_site if part == "site" else None, "element": element, "wyckoff": wyckoff,
            "multiplicity": int(re.match(r"\d+", wyckoff).group()) if wyckoff else None,
            "tokens": " ".join(group), "score": float(scores[idx].sum()),
            "share": float(np.abs(scores[idx]).sum() / total_abs),
        })
    table = pd.DataFrame(rows)
    if structure is not None and (table["part"] == "site").any():
        sites = table["part"] == "site"
        n_conv = table.loc[sites, "multiplicity"].sum()
        table["n_input_sites"] = None
        table.loc[sites, "n_input_sites"] = table.loc[sites, "multiplicity"] * len(structure) / n_conv
    return table


def _check_domain(attribution: TokenAttribution, domain: str) -> None:
    if attribution.domain != domain:
        raise ValueError(f"this is a {attribution.domain!r} attribution; the function needs a {domain!r} one")
