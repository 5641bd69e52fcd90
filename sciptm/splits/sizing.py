"""Part sizes shared by every splitter: checking fractions, DeepChem's cut points, carving a valid part.

>>> check_sizes((0.8, 0.1, 0.1))
(0.8, 0.1, 0.1)
>>> cut_counts(10, (0.8, 0.1, 0.1))
(8, 1, 1)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def check_sizes(sizes: Sequence[float]) -> tuple[float, float, float]:
    """``(train, valid, test)`` fractions as floats; ``ValueError`` unless three non-negative fractions summing to 1."""
    if len(sizes) != 3:
        raise ValueError(f"sizes must be three fractions (train, valid, test), got {tuple(sizes)}")
    fr = tuple(float(s) for s in sizes)
    if any(not np.isfinite(s) or s < 0 for s in fr) or abs(sum(fr) - 1.0) > 1e-6:
        raise ValueError(f"sizes must be non-negative fractions summing to 1, got {fr}")
    return fr  # type: ignore[return-value]


def cut_counts(n: int, sizes: tuple[float, float, float]) -> tuple[int, int, int]:
    """DeepChem's cutoffs: ``int(f_train * n)`` and ``int((f_train + f_valid) * n)``."""
    n_train = int(sizes[0] * n)
    n_valid = int((sizes[0] + sizes[1]) * n) - n_train
    return n_train, n_valid, n - n_train - n_valid


def carve_valid(train: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Move a seeded ``round(fraction * len(train))`` rows of ``train`` into valid."""
    n_valid = int(round(fraction * len(train)))
    perm = rng.permutation(len(train))
    return np.sort(train[perm[n_valid:]]), np.sort(train[perm[:n_valid]])


# the names sciptm <= 0.1 used inside the package
_check_sizes, _cut_counts, _carve = check_sizes, cut_counts, carve_valid

__all__ = ["carve_valid", "check_sizes", "cut_counts"]
