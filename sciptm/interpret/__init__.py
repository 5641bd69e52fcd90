"""Interpretability: per-token attributions mapped to atoms, residues and crystal sites.

>>> import sciptm
>>> from sciptm import interpret
>>> enc = sciptm.Encoder.from_config(domain="smiles", size={"layers": 1, "hidden": 32, "heads": 2, "ffn": 64})
>>> model = sciptm.PropertyPredictor(enc, task="regression", epochs=1, head_hidden=16)
>>> model = model.fit(["CCO", "CCCO", "c1ccccc1", "CCN"], [0.1, 0.2, 0.9, 0.3])
>>> a = interpret.attribute(model, ["OCc1ccccc1"])[0]      # integrated gradients
>>> interpret.atom_scores(a).shape                         # one score per RDKit atom
(8,)
>>> png = interpret.draw_atom_attributions(a)              # PNG bytes (path=... writes a file)

Proteins: :func:`residue_scores`, :func:`plot_residue_heatmap`; crystals: :func:`site_table`.
"""
from sciptm.interpret.attributions import BASELINES, METHODS, attribute
from sciptm.interpret.draw import draw_atom_attributions, plot_residue_heatmap
from sciptm.interpret.mapping import (
    atom_scores,
    is_atom_token,
    residue_scores,
    site_table,
    smiles_atom_spans,
    smiles_mol,
    substructure_atoms,
    substructure_share,
    token_atoms,
)
from sciptm.interpret.result import TokenAttribution

__all__ = [
    "BASELINES",
    "METHODS",
    "TokenAttribution",
    "atom_scores",
    "attribute",
    "draw_atom_attributions",
    "is_atom_token",
    "plot_residue_heatmap",
    "residue_scores",
    "site_table",
    "smiles_atom_spans",
    "smiles_mol",
    "substructure_atoms",
    "substructure_share",
    "token_atoms",
]
