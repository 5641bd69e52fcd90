"""SMILES domain: RDKit adapter + regex tokenizer.

>>> from sciptm.domains.smiles import SmilesDomain
>>> SmilesDomain(largest_fragment=True).to_text("CCO.[Na+].[Cl-]")
'CCO'
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from sciptm.domains import DOMAINS
from sciptm.domains.base import Domain
from sciptm.domains.smiles import adapter
from sciptm.domains.smiles.tokenizer import build_tokenizer, default_vocab, split_smiles, train_vocab


@DOMAINS.register("smiles")
class SmilesDomain(Domain):
    """Molecules as SMILES.

    Parameters
    ----------
    canonicalize: write RDKit canonical SMILES (default) or keep the input string.
    largest_fragment, neutralize, strip_stereo: standardization flags (default off).
    """

    name = "smiles"
    default_architecture = "roberta"
    max_length = 256

    def __init__(
        self,
        canonicalize: bool = True,
        largest_fragment: bool = False,
        neutralize: bool = False,
        strip_stereo: bool = False,
    ):
        super().__init__(
            canonicalize=canonicalize,
            largest_fragment=largest_fragment,
            neutralize=neutralize,
            strip_stereo=strip_stereo,
        )
        self._standardize = adapter.Standardizer(largest_fragment, neutralize, strip_stereo)
        self.canonicalize = canonicalize

    def to_text(self, item: object) -> str:
        if not isinstance(item, str):
            from rdkit import Chem

            if isinstance(item, Chem.Mol):
                return adapter.canonical(self._standardize(item))
            if item is None or (isinstance(item, float) and np.isnan(item)):
                raise ValueError("missing SMILES (empty cell)")
            raise TypeError(f"expected a SMILES string or RDKit Mol, got {type(item).__name__}")
        mol = adapter.parse(item)
        standardized = self._standardize(mol)
        if self.canonicalize or standardized is not mol:
            return adapter.canonical(standardized)
        return item.strip()

    def augment(self, text: str, rng: np.random.Generator) -> str:
        return adapter.randomized(text, rng)

    def build_tokenizer(self, vocab: Sequence[str] | None = None):
        return build_tokenizer(vocab, model_max_length=self.max_length)

    def train_vocab(self, corpus: Iterable[str], min_freq: int = 1) -> list[str]:
        return train_vocab(corpus, min_freq=min_freq)


__all__ = ["SmilesDomain", "build_tokenizer", "default_vocab", "split_smiles", "train_vocab"]
