"""Benchmark runners (chemistry, proteins, materials), baselines and the shared grid runner."""
from sciptm.benchmarks.fields import FIELDS, Field
from sciptm.benchmarks.models import MODELS, build_model
from sciptm.benchmarks.runner import Runner, run

__all__ = ["FIELDS", "MODELS", "Field", "Runner", "build_model", "run"]
