"""The domain contract: how a science object becomes a token string.

A *domain* (SMILES, protein, crystal) is an adapter plus a tokenizer factory.
Every domain subclasses :class:`Domain` and registers itself in
:data:`sciptm.domains.DOMAINS`; the encoder, heads, trainer and benchmark runners
only ever talk to this interface, so adding a domain touches one folder.

Data flow: ``raw item -> Domain.to_text(item) -> str -> Domain tokenizer -> ids``.
"""
from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from sciptm._util.items import as_list  # noqa: F401  (re-exported: lived here before sciptm 0.2)
from sciptm.errors import InvalidInputError, InvalidRecord, SkippedInputWarning

Errors = Literal["raise", "skip"]


@dataclass
class PreparedInputs:
    """Validated inputs: the token texts of the valid rows and a record of the rest.

    Attributes
    ----------
    texts: token texts of the valid rows, in input order.
    valid: boolean mask ``[N]`` over the original rows.
    invalid: one :class:`~sciptm.errors.InvalidRecord` per rejected row.
    """

    texts: list[str]
    valid: np.ndarray
    invalid: list[InvalidRecord] = field(default_factory=list)

    @property
    def n_total(self) -> int:
        return int(self.valid.shape[0])


class Domain(ABC):
    """Base class of domain adapters.

    Subclasses set ``name`` and ``default_architecture`` and implement
    :meth:`to_text` (one raw item -> token text, raising ``ValueError`` with a
    human reason when the item is invalid) and :meth:`build_tokenizer`.
    Settings passed to ``__init__`` are stored in the encoder config, so the
    adapter and the tokenizer always travel with the weights.
    """

    name: ClassVar[str] = ""
    default_architecture: ClassVar[str] = "roberta"
    #: default ``model_max_length`` (tokens, specials included)
    max_length: ClassVar[int] = 256

    def __init__(self, **settings: Any):
        self.settings: dict[str, Any] = dict(settings)

    # -- serialization ---------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """JSON-serializable description, ``{"name": ..., **settings}``."""
        return {"name": self.name, **self.settings}

    # -- per item ---------------------------------------------------------------
    @abstractmethod
    def to_text(self, item: Any) -> str:
        """Convert one raw item to the text the tokenizer reads; ``ValueError`` if invalid."""

    def augment(self, text: str, rng: np.random.Generator) -> str:
        """Return a randomized but equivalent text (training-time augmentation). Default: unchanged."""
        return text

    def describe(self, text: str) -> list[str]:
        """Token strings of ``text`` (for display); default uses the default tokenizer."""
        tok = self.build_tokenizer()
        return tok.convert_ids_to_tokens(tok(text)["input_ids"])

    def token_view(self, item: Any, tokenizer: Any = None):
        """One item's tokens and ids as a :class:`sciptm.domains.view.TokenView` (chips in Jupyter,
        ``.to_frame()`` for a table); ``tokenizer`` defaults to :meth:`build_tokenizer`."""
        from sciptm.domains.view import token_view

        return token_view(self, item, tokenizer)

    # -- tokenizer ----------------------------------------------------------------
    @abstractmethod
    def build_tokenizer(self, vocab: Sequence[str] | None = None):
        """Return a Hugging Face tokenizer (``PreTrainedTokenizerFast`` or compatible)."""

    def train_vocab(self, corpus: Iterable[Any], min_freq: int = 1) -> list[str]:
        """Vocabulary learned from a corpus (domains with fixed alphabets may return the default)."""
        raise NotImplementedError(f"domain {self.name!r} has a fixed vocabulary")

    # -- batches ------------------------------------------------------------------
    def prepare(self, items: Any, errors: Errors = "raise") -> PreparedInputs:
        """Validate and convert many items.

        ``errors="raise"`` raises :class:`~sciptm.errors.InvalidInputError` listing every bad
        row (index, value, reason); ``errors="skip"`` drops them, warns with
        :class:`~sciptm.errors.SkippedInputWarning` and records them in ``.invalid``.
        """
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors must be 'raise' or 'skip', not {errors!r}")
        values, row_ids = as_list(items)
        texts: list[str] = []
        valid = np.zeros(len(values), dtype=bool)
        invalid: list[InvalidRecord] = []
        for i, (rid, value) in enumerate(zip(row_ids, values)):
            try:
                texts.append(self.to_text(value))
                valid[i] = True
            except (ValueError, TypeError) as exc:
                invalid.append(InvalidRecord(rid, value, str(exc) or type(exc).__name__))
        if invalid and errors == "raise":
            raise InvalidInputError(invalid)
        if invalid:
            shown = "; ".join(str(r) for r in invalid[:5])
            more = f" (+{len(invalid) - 5} more)" if len(invalid) > 5 else ""
            warnings.warn(
                f"skipped {len(invalid)} of {len(values)} invalid {self.name} inputs: {shown}{more}",
                SkippedInputWarning,
                stacklevel=3,
            )
        return PreparedInputs(texts, valid, invalid)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return f"{type(self).__name__}({args})"
