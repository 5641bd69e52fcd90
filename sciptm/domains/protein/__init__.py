"""Protein domain: amino-acid sequences with ESM-2's alphabet and tokenizer.

Accepts plain strings, ``Bio.Seq.Seq`` and ``Bio.SeqRecord.SeqRecord`` objects (the
record id is named in error messages). FASTA files and the chains of PDB/mmCIF
files are read with :func:`sciptm.domains.protein.io.read_fasta` and
:func:`sciptm.domains.protein.io.read_structure_sequences`.

>>> from sciptm.domains.protein import ProteinDomain
>>> ProteinDomain().to_text("mqyk lilng")
'MQYKLILNG'
>>> ProteinDomain(nonstandard="map").to_text("MUB")
'MCD'
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from Bio.Seq import MutableSeq, Seq
from Bio.SeqRecord import SeqRecord

from sciptm.domains import DOMAINS
from sciptm.domains.base import Domain, Errors, PreparedInputs
from sciptm.domains.protein.alphabet import (
    ESM_VOCAB,
    NONSTANDARD,
    NONSTANDARD_MAP,
    STANDARD,
    Nonstandard,
    clean_sequence,
)
from sciptm.domains.protein.tokenizer import build_tokenizer


@DOMAINS.register("protein")
class ProteinDomain(Domain):
    """Proteins as one-letter amino-acid sequences (ESM-2 alphabet, one token per residue).

    Sequences are uppercased, whitespace is removed and one trailing stop ``*`` is dropped; any
    other character makes the row invalid, with its 1-based position named.

    Parameters
    ----------
    nonstandard: what to do with X, B, Z, U, O: ``"keep"`` (default; ESM-2 has tokens for them),
        ``"map"`` (B->D, Z->E, U->C, O->K, X kept) or ``"reject"`` (the row is invalid).
    """

    name = "protein"
    default_architecture = "esm"
    max_length = 1024

    def __init__(self, nonstandard: Nonstandard = "keep"):
        if nonstandard not in ("keep", "map", "reject"):
            raise ValueError(f"nonstandard must be 'keep', 'map' or 'reject', not {nonstandard!r}")
        super().__init__(nonstandard=nonstandard)
        self.nonstandard: Nonstandard = nonstandard

    def to_text(self, item: Any) -> str:
        record_id = None
        if isinstance(item, SeqRecord):
            record_id = item.id
            item = item.seq
        if isinstance(item, (Seq, MutableSeq)):
            try:
                item = str(item)
            except ValueError as exc:  # Bio.Seq.UndefinedSequenceError: length known, content not
                raise ValueError(_named(record_id, f"sequence content is undefined ({exc})")) from None
        if item is None or (isinstance(item, float) and np.isnan(item)):
            raise ValueError(_named(record_id, "missing sequence (empty cell)"))
        if not isinstance(item, str):
            raise TypeError(f"expected a protein sequence (str, Bio.Seq or Bio.SeqRecord), got {type(item).__name__}")
        try:
            return clean_sequence(item, self.nonstandard)
        except ValueError as exc:
            raise ValueError(_named(record_id, str(exc))) from None

    def prepare(self, items: Any, errors: Errors = "raise") -> PreparedInputs:
        """As :meth:`Domain.prepare`; a single ``Seq``/``SeqRecord`` counts as one item, not as letters."""
        if isinstance(items, (Seq, MutableSeq, SeqRecord)):
            items = [items]
        return super().prepare(items, errors=errors)

    def build_tokenizer(self, vocab: Sequence[str] | None = None):
        return build_tokenizer(vocab, model_max_length=self.max_length)

    def train_vocab(self, corpus: Iterable[Any], min_freq: int = 1) -> list[str]:
        """Proteins use ESM-2's fixed vocabulary; returns it (the corpus is not read)."""
        return list(ESM_VOCAB)


def _named(record_id: str | None, reason: str) -> str:
    return f"record {record_id!r}: {reason}" if record_id else reason


__all__ = [
    "ESM_VOCAB",
    "NONSTANDARD",
    "NONSTANDARD_MAP",
    "STANDARD",
    "ProteinDomain",
    "build_tokenizer",
    "clean_sequence",
]
