"""Benchmark runners (chemistry, proteins, materials), baselines and the shared grid runner.

Names load on first use, so :mod:`sciptm.benchmarks.layout` (read by the reports) costs no model imports.
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "FIELDS": "sciptm.benchmarks.fields",
    "Field": "sciptm.benchmarks.fields",
    "MODELS": "sciptm.benchmarks.models",
    "build_model": "sciptm.benchmarks.models",
    "ResultsLayout": "sciptm.benchmarks.layout",
    "Runner": "sciptm.benchmarks.runner",
    "run": "sciptm.benchmarks.runner",
}

__all__ = ["FIELDS", "MODELS", "Field", "ResultsLayout", "Runner", "build_model", "run"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sciptm.benchmarks' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
