"""Descriptor side-features fed to prediction heads beside the pooled embedding.

A featurizer takes the domain texts (outputs of ``Domain.to_text``) and returns a
float array ``N x F``; NaN marks a value that could not be computed (the predictor
imputes it from the training set). Register new ones in :data:`FEATURES`.

>>> from sciptm.features import FEATURES
>>> FEATURES["rdkit2d"](["CCO"]).shape[0]
1
"""
from __future__ import annotations

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


FEATURES: Registry[Featurizer] = Registry("feature set")

import importlib  # noqa: E402

for _module in ("rdkit2d", "composition"):  # built-in feature sets register themselves on import
    try:
        importlib.import_module(f"sciptm.features.{_module}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"sciptm.features.{_module}":
            raise

__all__ = ["FEATURES", "Featurizer"]
