"""An encoder as a scikit-learn transformer: embeddings as features for any scikit-learn model.

>>> from sklearn.linear_model import Ridge
>>> from sklearn.pipeline import make_pipeline
>>> from sciptm.encoders.pipeline import EmbeddingTransformer
>>> pipe = make_pipeline(EmbeddingTransformer("sciptm/smiles-small"), Ridge())   # doctest: +SKIP
>>> pipe.fit(smiles, y).predict(["CCO"])                                          # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from sciptm.encoders.encoder import Encoder


class EmbeddingTransformer(TransformerMixin, BaseEstimator):
    """Pooled embeddings of a (frozen) :class:`~sciptm.Encoder` as a scikit-learn transformer.

    Parameters
    ----------
    encoder: an Encoder, or a shipped name / folder for :meth:`Encoder.from_pretrained` (loaded in ``fit``).
    batch_size, max_tokens, errors, long: passed to :meth:`Encoder.embed` (invalid rows with
        ``errors="skip"`` are NaN rows; ``long="chunk"`` reads long inputs whole).

    Attributes
    ----------
    encoder_: the resolved encoder; ``n_features_out_``: its embedding width.
    """

    def __init__(self, encoder: Encoder | str | Path = "sciptm/smiles-small", batch_size: int = 256,
                 max_tokens: int = 16384, errors: str = "raise", long: str = "truncate"):
        self.encoder = encoder
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.errors = errors
        self.long = long

    def fit(self, X: Any = None, y: Any = None) -> EmbeddingTransformer:
        """Resolve the encoder (nothing is trained)."""
        self.encoder_ = self.encoder if isinstance(self.encoder, Encoder) else Encoder.from_pretrained(self.encoder)
        self.n_features_out_ = self.encoder_.hidden_size
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Embeddings ``N x d`` (float32)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "encoder_")
        return self.encoder_.embed(X, batch_size=self.batch_size, max_tokens=self.max_tokens, errors=self.errors,
                                   long=self.long)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([f"embedding{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags
