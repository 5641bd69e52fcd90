"""RDKit 2D descriptors (``Descriptors.CalcMolDescriptors``: ~210 values per molecule)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem import Descriptors

from sciptm.features import FEATURES, Featurizer

DESCRIPTOR_NAMES: list[str] = [name for name, _ in Descriptors.descList]


def rdkit2d(smiles: Sequence[str]) -> np.ndarray:
    """RDKit 2D descriptors, ``N x len(DESCRIPTOR_NAMES)``; unparsable rows are all-NaN."""
    out = np.full((len(smiles), len(DESCRIPTOR_NAMES)), np.nan)
    for i, smi in enumerate(smiles):
        mol = Chem.MolFromSmiles(smi)
        if mol is None:
            continue
        values = Descriptors.CalcMolDescriptors(mol, missingVal=np.nan)
        out[i] = [values.get(name, np.nan) for name in DESCRIPTOR_NAMES]
    with np.errstate(invalid="ignore"):
        out[np.abs(out) > 1e12] = np.nan  # a few descriptors overflow on odd molecules
    return out


FEATURES.add("rdkit2d", Featurizer("rdkit2d", "smiles", rdkit2d, "RDKit 2D descriptors (Descriptors.descList)"))
