"""Crystal domain: pymatgen adapter + symmetry-aware, setting-invariant token text.

``kind="structure"`` (default) writes a structure as space group, free lattice parameters
and one group per Wyckoff orbit (element, Wyckoff multiplicity+letter, binned free
coordinates) of the standardized conventional cell; supercells, origin shifts, site order and
rotations give the same text (see ``docs/crystal-tokens.md``). ``kind="composition"`` writes
the reduced formula as element/amount tokens (structures are reduced to their composition).

>>> from pymatgen.core import Lattice, Structure
>>> nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
>>> CrystalDomain().to_text(nacl)
'SG_225 a_5.6 Na 4a Cl 4b'
>>> CrystalDomain(kind="composition").to_text("Fe2O3")
'O n_3 Fe n_2'
"""
from __future__ import annotations

import os
import sys
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from multiprocessing import get_context
from typing import Any, Literal

import numpy as np
from pymatgen.core import Structure

from sciptm.domains import DOMAINS
from sciptm._util.items import as_list
from sciptm.domains.base import Domain, Errors, PreparedInputs
from sciptm.domains.crystal import adapter
from sciptm.domains.crystal.symmetry import CanonicalCell, canonical_cell
from sciptm.domains.crystal.tokens import (
    build_tokenizer,
    composition_from_text,
    composition_text,
    default_vocab,
    structure_tokens,
)
from sciptm.errors import InvalidInputError, InvalidRecord

Kind = Literal["structure", "composition"]
_PARALLEL_MIN_ITEMS = 64  # below this, worker start-up costs more than it saves


@DOMAINS.register("crystal")
class CrystalDomain(Domain):
    """Inorganic crystals as symmetry-aware token text.

    Parameters
    ----------
    kind: ``"structure"`` (symmetry tokens) or ``"composition"`` (formula tokens).
    symprec: spglib distance tolerance in Å (0.1, as used by the Materials Project).
    angle_tolerance: spglib angle tolerance in degrees.
    min_distance: sites closer than this (Å) make the input invalid (overlapping atoms).
    n_jobs: worker processes used by :meth:`to_texts` and :meth:`prepare` (runtime only,
        not saved with the model); ``-1`` means all CPU cores.
    cache_size: structures whose text is kept in memory (keyed by input text or structure hash).
    """

    name = "crystal"
    default_architecture = "roberta"
    max_length = 512

    def __init__(
        self,
        kind: Kind = "structure",
        symprec: float = 0.1,
        angle_tolerance: float = 5.0,
        min_distance: float = adapter.DEFAULT_MIN_DISTANCE,
        n_jobs: int = 1,
        cache_size: int = 65536,
    ):
        if kind not in ("structure", "composition"):
            raise ValueError(f"kind must be 'structure' or 'composition', not {kind!r}")
        if not symprec > 0:
            raise ValueError(f"symprec must be positive, got {symprec}")
        super().__init__(kind=kind, symprec=float(symprec), angle_tolerance=float(angle_tolerance),
                         min_distance=float(min_distance))
        self.kind = kind
        self.symprec = float(symprec)
        self.angle_tolerance = float(angle_tolerance)
        self.min_distance = float(min_distance)
        self.n_jobs = n_jobs
        self.cache_size = int(cache_size)
        self.max_length = 512 if kind == "structure" else 128
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()

    # ------------------------------------------------------------------ one item
    def to_text(self, item: Any) -> str:
        """Token text of one structure or composition; ``ValueError`` with the reason if invalid."""
        key = self._text_key(item)
        if key is not None and key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if self.is_token_text(item):  # already this domain's text (prepared once, e.g. by a benchmark runner)
            return " ".join(item.split())
        if self.kind == "composition":
            return composition_text(adapter.parse_composition(item))
        structure = self.structure(item)
        skey = ("h", adapter.structure_digest(structure))
        text = self._cache.get(skey)
        if text is None:
            text = " ".join(structure_tokens(self.canonical(structure)))
            self._remember(skey, text)
        if key is not None:
            self._remember(key, text)
        return text

    def is_token_text(self, item: Any) -> bool:
        """Whether ``item`` is already a token text of this domain's kind, so that
        ``to_text(to_text(x)) == to_text(x)`` as for SMILES and sequences.

        Structure texts start with ``SG_<n>``; composition texts alternate element and amount
        tokens (``n_<k>``/``pct_<p>``); every token must be in the default vocabulary. A CIF,
        POSCAR, file path or chemical formula never passes.

        >>> CrystalDomain().is_token_text("SG_225 a_5.6 Na 4a Cl 4b"), CrystalDomain().is_token_text("NaCl")
        (True, False)
        """
        if not isinstance(item, str) or "\n" in item:
            return False
        tokens = item.split()
        if len(tokens) < 2 or not set(tokens) <= _vocab_set():
            return False
        if self.kind == "structure":
            return tokens[0].startswith("SG_")
        return len(tokens) % 2 == 0 and all(t.startswith(("n_", "pct_")) for t in tokens[1::2])

    def structure(self, item: Any) -> Structure:
        """Parse and validate one structure input (see :mod:`sciptm.domains.crystal.adapter`)."""
        return adapter.validate_structure(adapter.parse_structure(item), self.min_distance)

    def canonical(self, structure: Structure) -> CanonicalCell:
        """The setting-invariant symmetry description of a validated structure."""
        return canonical_cell(
            structure.lattice.matrix, structure.frac_coords, structure.atomic_numbers,
            symprec=self.symprec, angle_tolerance=self.angle_tolerance,
        )

    def _text_key(self, item: Any) -> tuple[str, str] | None:
        return ("s", item) if isinstance(item, str) and self.kind == "structure" else None

    def _remember(self, key: tuple[str, str], text: str) -> None:
        self._cache[key] = text
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    # ------------------------------------------------------------------ many items
    def to_texts(self, items: Any, n_jobs: int | None = None) -> list[str]:
        """Token texts of many items, in order, using ``n_jobs`` processes (default: the domain's).

        Raises :class:`~sciptm.errors.InvalidInputError` listing every invalid row.

        >>> CrystalDomain(kind="composition").to_texts(["NaCl", "Fe2O3"])
        ['Na n_1 Cl n_1', 'O n_3 Fe n_2']
        """
        values, row_ids = as_list(items)
        results = self._convert(values, n_jobs)
        bad = [InvalidRecord(rid, v, reason) for rid, v, (_, reason) in zip(row_ids, values, results) if reason]
        if bad:
            raise InvalidInputError(bad)
        return [text for text, _ in results]

    def prepare(self, items: Any, errors: Errors = "raise") -> PreparedInputs:
        """As :meth:`Domain.prepare`; with ``n_jobs > 1`` the symmetry analysis runs in parallel first."""
        values, _ = as_list(items)
        if self._workers(self.n_jobs) > 1 and len(values) >= _PARALLEL_MIN_ITEMS:
            self._convert(values, self.n_jobs)  # fills the cache; invalid rows are re-diagnosed below
        return super().prepare(items, errors)

    def _workers(self, n_jobs: int | None) -> int:
        n = self.n_jobs if n_jobs is None else n_jobs
        return max(1, (os.cpu_count() or 1) if n == -1 else int(n))

    def _convert(self, values: Sequence[Any], n_jobs: int | None) -> list[tuple[str | None, str | None]]:
        """``(text, None)`` or ``(None, reason)`` per value."""
        workers = self._workers(n_jobs)
        if workers <= 1 or len(values) < _PARALLEL_MIN_ITEMS or self.kind == "composition":
            return [_convert_one(self, v) for v in values]
        todo = [i for i, v in enumerate(values) if (k := self._text_key(v)) is None or k not in self._cache]
        out: list[tuple[str | None, str | None]] = [(None, None)] * len(values)
        for i in set(range(len(values))) - set(todo):
            out[i] = (self._cache[self._text_key(values[i])], None)
        chunk = max(1, min(64, len(todo) // (workers * 4) or 1))
        batches = [todo[i:i + chunk] for i in range(0, len(todo), chunk)]
        config = self.to_config()
        with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as pool:
            for idx, res in zip(batches, pool.map(_convert_batch, [config] * len(batches),
                                                  [[values[i] for i in b] for b in batches])):
                for i, r in zip(idx, res):
                    out[i] = r
                    key = self._text_key(values[i])
                    if r[0] is not None and key is not None:
                        self._remember(key, r[0])
                    elif r[0] is not None and isinstance(values[i], Structure):
                        self._remember(("h", adapter.structure_digest(values[i])), r[0])
        return out

    def augment(self, text: str, rng: np.random.Generator) -> str:
        """Pretraining view of a structure text: its reduced composition text (``'O n_3 Fe n_2'``).

        Both kinds share one vocabulary, so an encoder pretrained with this view reads structure
        and composition tasks alike. Composition texts are returned unchanged.

        >>> CrystalDomain().augment("SG_225 a_5.6 Na 4a Cl 4b", np.random.default_rng(0))
        'Na n_1 Cl n_1'
        """
        if not text.startswith("SG_"):
            return text
        return composition_text(composition_from_text(text).reduced_composition)

    def with_kind(self, kind: Kind) -> CrystalDomain:
        """The same settings with another input kind (``structure`` or ``composition``)."""
        return self if kind == self.kind else CrystalDomain(**{**self.settings, "kind": kind})

    # ------------------------------------------------------------------ tokenizer
    def build_tokenizer(self, vocab: Sequence[str] | None = None):
        return build_tokenizer(vocab, model_max_length=self.max_length)


@lru_cache(maxsize=1)
def _vocab_set() -> frozenset[str]:
    return frozenset(default_vocab())


def _mp_context():
    """``fork`` on Linux (workers start in milliseconds and inherit the symmetry caches; they only
    run numpy/spglib code), ``spawn`` elsewhere (each worker imports sciptm, seconds)."""
    return get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _convert_one(domain: CrystalDomain, value: Any) -> tuple[str | None, str | None]:
    try:
        return domain.to_text(value), None
    except (ValueError, TypeError) as exc:
        return None, str(exc) or type(exc).__name__


def _convert_batch(config: dict[str, Any], values: list[Any]) -> list[tuple[str | None, str | None]]:
    settings = {k: v for k, v in config.items() if k != "name"}
    domain = CrystalDomain(**settings, cache_size=0)
    return [_convert_one(domain, v) for v in values]


__all__ = [
    "CrystalDomain",
    "build_tokenizer",
    "canonical_cell",
    "composition_from_text",
    "composition_text",
    "default_vocab",
]
