"""A planted-substructure check for attribution methods: label molecules by one substructure, fit a small
encoder from scratch, and see whether attributions land on that substructure's atoms.

>>> X, y = substructure_task(["CC[N+](=O)[O-]", "CCO", "CCN", "c1ccccc1[N+](=O)[O-]"], "[N+](=O)[O-]")
>>> sorted(y.tolist())
[0.0, 0.0, 1.0, 1.0]
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem

#: a 2-layer, 64-wide encoder: enough to learn one substructure in seconds on a CPU
SMALL_CHECK_SIZE = {"layers": 2, "hidden": 64, "heads": 4, "ffn": 128}


def substructure_task(smiles: Sequence[str], smarts: str, max_length: int = 90,
                      seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Balanced, shuffled ``(smiles, labels)``: label 1 when the molecule matches ``smarts``; as many
    non-matching molecules (drawn with ``seed``) as matching ones; SMILES longer than ``max_length`` dropped."""
    pattern = Chem.MolFromSmarts(smarts)
    if pattern is None:
        raise ValueError(f"invalid SMARTS {smarts!r}")
    texts = [t for t in smiles if len(t) <= max_length]
    label = np.array([Chem.MolFromSmiles(t).HasSubstructMatch(pattern) for t in texts])
    pos = np.flatnonzero(label)
    if not len(pos) or len(pos) > (~label).sum():
        raise ValueError(f"{len(pos)} of {len(texts)} molecules match {smarts!r}: need some, and fewer than half")
    rng = np.random.default_rng(seed)
    neg = rng.choice(np.flatnonzero(~label), len(pos), replace=False)
    idx = rng.permutation(np.r_[pos, neg])
    return [texts[i] for i in idx], label[idx].astype(float)


def fit_substructure_model(X: Sequence[str], y: np.ndarray, epochs: int = 12, seed: int = 0):
    """A binary :class:`~sciptm.PropertyPredictor` on a fresh :data:`SMALL_CHECK_SIZE` SMILES encoder."""
    import sciptm

    enc = sciptm.Encoder.from_config(domain="smiles", size=SMALL_CHECK_SIZE, seed=seed)
    model = sciptm.PropertyPredictor(enc, task="binary", epochs=epochs, lr=1e-3, head_lr=2e-3, batch_size=16,
                                     head_hidden=64, dropout=0.0, warmup_ratio=0.1, seed=seed)
    return model.fit(list(X), y)


__all__ = ["SMALL_CHECK_SIZE", "fit_substructure_model", "substructure_task"]
