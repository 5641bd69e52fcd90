"""Models the benchmark runner can run side by side: baselines by name, and any sciptm encoder.

A benchmark model implements ``fit_predict(data: TaskData, seed: int) -> np.ndarray`` returning test-set
predictions: values (regression, ``[N]`` or ``N x T``), positive-class probabilities (binary ``[N]``,
multitask ``N x T``) or class probabilities (multiclass ``N x C``). Register a baseline with
``@MODELS.register("name")``; names that are not registered are treated as encoders
(``tiny``/``small`` = random init, a folder or a shipped/hub name = pretrained), fine-tuned, or as
frozen-encoder linear probes when they end in ``:probe`` (``tiny:probe``, ``sciptm/protein-small:probe``).
"""
from __future__ import annotations

import importlib
from typing import Any, Protocol

import numpy as np

from sciptm.benchmarks.taskdata import TaskData
from sciptm.registry import Registry


class BenchModel(Protocol):
    name: str

    def fit_predict(self, data: TaskData, seed: int) -> np.ndarray: ...


#: name -> factory ``(options: dict) -> BenchModel``
MODELS: Registry[Any] = Registry("benchmark model")

for _module in ("common", "chem", "protein", "materials", "deepchem_baseline", "zoo"):
    try:
        importlib.import_module(f"sciptm.benchmarks.models.{_module}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"sciptm.benchmarks.models.{_module}":
            raise


def build_model(name: str, options: dict[str, Any] | None = None) -> BenchModel:
    """A registered baseline, or an :class:`~sciptm.benchmarks.models.encoder.EncoderModel` for any other name."""
    options = dict(options or {})
    if name in MODELS:
        return MODELS.get(name)(options)
    from sciptm.benchmarks.models.spec import ModelSpec

    if ModelSpec.parse(name).probe:  # frozen encoder embeddings + RidgeCV (models/probe.py)
        from sciptm.benchmarks.models.probe import EmbeddingProbe

        return EmbeddingProbe(name, options)
    from sciptm.benchmarks.models.encoder import EncoderModel

    return EncoderModel(name, options)


__all__ = ["MODELS", "BenchModel", "build_model"]
