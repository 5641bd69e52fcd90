"""Prediction heads: small modules on top of the pooled encoder output."""
from sciptm.heads.mlp import MLPHead, PredictorModule

__all__ = ["MLPHead", "PredictorModule"]
