"""Descriptor side-features fed to prediction heads beside the pooled embedding.

A featurizer takes the domain texts (outputs of ``Domain.to_text``) and returns a
float array ``N x F``; NaN marks a value that could not be computed (the predictor
imputes it from the training set). Register new ones in :data:`FEATURES`.

>>> from sciptm.features import FEATURES
>>> FEATURES["rdkit2d"](["CCO"]).shape[0]
1
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sciptm.registry import Registry


@dataclass(frozen=True)
class Featurizer:
    """A named descriptor calculator for one domain."""

    name: str
    domain: str
    fn: Callable[[Sequence[str]], np.ndarray]
    description: str = ""

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        out = np.asarray(self.fn(list(texts)), dtype=np.float64)
        out[~np.isfinite(out)] = np.nan
        return out


class _LazyRegistry(Registry[Featurizer]):
    """Imports the module of a built-in feature set on first lookup (RDKit or pymatgen only when used)."""

    builtin = {"rdkit2d": "sciptm.domains.smiles.features", "magpie": "sciptm.domains.crystal.features"}

    def get(self, name: str) -> Featurizer:
        key = str(name).lower()
        if key not in self._entries and key in self.builtin:
            importlib.import_module(self.builtin[key])
        if key not in self._entries and key.startswith("deepchem:"):  # a saved DeepChem featurizer (sciptm.interop)
            importlib.import_module("sciptm.interop.deepchem").register_featurizer_name(str(name))
        return super().get(key)

    __getitem__ = get

    def keys(self) -> list[str]:
        return sorted(set(self._entries) | set(self.builtin))


FEATURES: Registry[Featurizer] = _LazyRegistry("feature set")

__all__ = ["FEATURES", "Featurizer"]
