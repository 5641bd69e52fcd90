"""RDKit side of the SMILES domain: parse, sanitize, standardize, canonicalize, randomize."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem.MolStandardize import rdMolStandardize

RDLogger.DisableLog("rdApp.*")  # reasons are collected per molecule instead of printed


def parse(smiles: str) -> Chem.Mol:
    """Parse and sanitize one SMILES; ``ValueError`` carrying RDKit's reason when it fails.

    >>> parse("C1CC").GetNumAtoms()
    Traceback (most recent call last):
    ...
    ValueError: RDKit could not parse the SMILES (syntax error or unclosed ring)
    """
    if not isinstance(smiles, str):
        raise TypeError(f"expected a SMILES string, got {type(smiles).__name__}")
    text = smiles.strip()
    if not text:
        raise ValueError("empty SMILES")
    inner = next((c for c in text if c.isspace()), None)
    if inner is not None:  # RDKit would read the part after it as a molecule name and drop it silently
        raise ValueError(f"whitespace ({inner!r}) inside the SMILES; one molecule per row, no spaces")
    mol = Chem.MolFromSmiles(text, sanitize=False)
    if mol is None:
        raise ValueError("RDKit could not parse the SMILES (syntax error or unclosed ring)")
    try:
        Chem.SanitizeMol(mol)
    except Exception as exc:  # RDKit raises several exception types
        # RDKit's reasons (valence, kekulization...) from a fresh parse; only on failure: the check is a
        # second sanitization pass (a quarter of a valid molecule's prepare time)
        problems = Chem.DetectChemistryProblems(Chem.MolFromSmiles(text, sanitize=False))
        if problems:
            raise ValueError("; ".join(p.Message() for p in problems)) from None
        raise ValueError(f"RDKit sanitization failed: {exc}") from None
    return mol


@dataclass(frozen=True)
class Standardizer:
    """Optional standardization steps, each a flag (all off by default)."""

    largest_fragment: bool = False
    neutralize: bool = False
    strip_stereo: bool = False

    def __call__(self, mol: Chem.Mol) -> Chem.Mol:
        if self.largest_fragment:
            mol = rdMolStandardize.LargestFragmentChooser(preferOrganic=True).choose(mol)
        if self.neutralize:
            mol = rdMolStandardize.Uncharger().uncharge(mol)
        if self.strip_stereo:
            mol = Chem.Mol(mol)
            Chem.RemoveStereochemistry(mol)
        return mol


def canonical(mol: Chem.Mol) -> str:
    """RDKit canonical isomeric SMILES."""
    return Chem.MolToSmiles(mol, canonical=True)


def randomized(smiles: str, rng: np.random.Generator) -> str:
    """A random valid SMILES of the same molecule (SMILES enumeration), reproducible from ``rng``."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() < 2:
        return smiles
    order = rng.permutation(mol.GetNumAtoms()).tolist()
    return Chem.MolToSmiles(Chem.RenumberAtoms(mol, order), canonical=False)
