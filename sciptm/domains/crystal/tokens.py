"""Crystal token vocabulary, token text writers and the composition parser.

Structure text (whitespace-separated)::

    SG_<n>  <lattice tokens>  { <element> <mult><letter> [x_<k>] [y_<k>] [z_<k>] }  per orbit

* ``SG_225``: space-group number.
* Lattice tokens of the conventional standard cell, only the parameters the crystal system
  leaves free: cubic ``a``; tetragonal/trigonal/hexagonal ``a c``; orthorhombic ``a b c``;
  monoclinic ``a b c beta``; triclinic ``a b c alpha beta gamma``. Lengths are binned at
  0.1 Å (``a_5.6``, clipped to [1, 60] Å), angles at 1 degree (``beta_101``).
* One group per symmetry-distinct site (Wyckoff orbit), sorted by atomic number, multiplicity,
  then coordinates: element symbol, Wyckoff multiplicity + letter (``4a``), and the binned
  fractional coordinates (48 bins per unit, ``x_12`` = 12/48) of the free parameters only.

Composition text: ``<element> <amount>`` pairs in order of atomic number; amounts of the reduced
formula as ``n_<k>`` (integers 1..99) or, when fractional or larger, as atomic percentages
``pct_<p>`` (``pct_0.1`` .. ``pct_0.9`` in steps of 0.1, then ``pct_1`` .. ``pct_100``).

>>> from pymatgen.core import Composition
>>> composition_text(Composition("Fe2O3"))
'O n_3 Fe n_2'
>>> composition_from_text("SG_225 a_5.6 Na 4a Cl 4b").formula
'Na4 Cl4'
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from pymatgen.core import Composition, Element
from tokenizers import pre_tokenizers
from transformers import PreTrainedTokenizerFast

from sciptm.domains.crystal.symmetry import COORD_BINS, CanonicalCell, wyckoff_multiplicities

from sciptm.domains.wordlevel import SPECIAL_TOKENS, wordlevel_tokenizer
LENGTH_RANGE = (1.0, 60.0)  # Å, 0.1 Å bins
MAX_INT_AMOUNT = 99
_WYCKOFF = re.compile(r"^(\d+)([a-zA-Z])$")


def crystal_system_params(number: int) -> tuple[str, ...]:
    """Names of the free lattice parameters of the conventional cell of space group ``number``."""
    if not 1 <= number <= 230:
        raise ValueError(f"space-group number must be 1..230, got {number}")
    if number <= 2:
        return ("a", "b", "c", "alpha", "beta", "gamma")
    if number <= 15:
        return ("a", "b", "c", "beta")
    if number <= 74:
        return ("a", "b", "c")
    if number <= 194:
        return ("a", "c")
    return ("a",)


def _length_token(axis: str, value: float) -> str:
    v = min(max(round(value * 10) / 10, LENGTH_RANGE[0]), LENGTH_RANGE[1])
    return f"{axis}_{v:.1f}"


def _length_values() -> list[str]:
    lo, hi = (round(v * 10) for v in LENGTH_RANGE)
    return [f"{k / 10:.1f}" for k in range(lo, hi + 1)]


def _pct_values() -> list[str]:
    return [f"0.{k}" for k in range(1, 10)] + [str(k) for k in range(1, 101)]


def _pct_token(fraction: float) -> str:
    p = fraction * 100.0
    if p < 0.95:
        return f"pct_0.{min(max(round(p * 10), 1), 9)}"
    return f"pct_{min(round(p), 100)}"


@lru_cache(maxsize=1)
def element_symbols() -> tuple[str, ...]:
    """Element symbols H..Og in order of atomic number."""
    return tuple(Element.from_Z(z).symbol for z in range(1, 119))


@lru_cache(maxsize=1)
def default_vocab() -> tuple[str, ...]:
    """The fixed vocabulary, built deterministically (same list on every machine).

    Order: special tokens, ``SG_1..SG_230``, lattice-length tokens for a/b/c, angle tokens,
    elements H..Og, Wyckoff tokens of all 230 groups (sorted by multiplicity, letter),
    coordinate bins, integer amounts, percentage amounts.
    """
    vocab = list(SPECIAL_TOKENS)
    vocab += [f"SG_{n}" for n in range(1, 231)]
    lengths = _length_values()
    for axis in ("a", "b", "c"):
        vocab += [f"{axis}_{v}" for v in lengths]
    for angle in ("alpha", "beta", "gamma"):
        vocab += [f"{angle}_{d}" for d in range(0, 181)]
    vocab += list(element_symbols())
    wyck = {(m, letter) for table in wyckoff_multiplicities().values() for letter, m in table.items()}
    vocab += [f"{m}{letter}" for m, letter in sorted(wyck, key=lambda t: (t[0], t[1].lower(), t[1]))]
    for axis in ("x", "y", "z"):
        vocab += [f"{axis}_{k}" for k in range(COORD_BINS)]
    vocab += [f"n_{k}" for k in range(1, MAX_INT_AMOUNT + 1)]
    vocab += [f"pct_{p}" for p in _pct_values()]
    if len(set(vocab)) != len(vocab):  # pragma: no cover - guards the construction above
        raise RuntimeError("crystal vocabulary has duplicate tokens")
    return tuple(vocab)


def structure_tokens(cell: CanonicalCell) -> list[str]:
    """Token list of a :class:`~sciptm.domains.crystal.symmetry.CanonicalCell`."""
    values = dict(zip(("a", "b", "c"), cell.lengths)) | dict(zip(("alpha", "beta", "gamma"), cell.angles))
    out = [f"SG_{cell.number}"]
    for name in crystal_system_params(cell.number):
        v = values[name]
        out.append(_length_token(name, v) if name in ("a", "b", "c") else f"{name}_{min(max(round(v), 0), 180)}")
    for orbit in cell.orbits:
        out.append(Element.from_Z(orbit.z).symbol)
        out.append(f"{orbit.multiplicity}{orbit.letter}")
        out += [f"{axis}_{b}" for axis, b, free in zip("xyz", orbit.bins, orbit.free) if free]
    return out


def composition_tokens(comp: Composition) -> list[str]:
    """Token list of a composition (reduced formula; see the module docstring)."""
    if comp.num_atoms <= 0:
        raise ValueError("empty composition")
    reduced = comp.reduced_composition if _all_integer(comp) else comp.fractional_composition
    amounts = sorted(((el.Z, el.symbol, float(n)) for el, n in reduced.element_composition.items()))
    integer = _all_integer(reduced) and max(n for *_, n in amounts) <= MAX_INT_AMOUNT
    total = sum(n for *_, n in amounts)
    out: list[str] = []
    for _, symbol, n in amounts:
        out += [symbol, f"n_{round(n)}" if integer else _pct_token(n / total)]
    return out


def _all_integer(comp: Composition) -> bool:
    return all(abs(n - round(n)) < 1e-6 for n in comp.values())


def composition_text(comp: Composition) -> str:
    """Composition token text, e.g. ``'O n_3 Fe n_2'`` for Fe2O3."""
    return " ".join(composition_tokens(comp))


def composition_from_text(text: str) -> Composition:
    """Recover the composition from a crystal token text (either kind).

    Structure texts give the conventional-cell formula (element x Wyckoff multiplicity);
    composition texts give the reduced formula (percent amounts as atomic fractions).

    >>> composition_from_text("O n_3 Fe n_2").reduced_formula
    'Fe2O3'
    """
    symbols = set(element_symbols())
    amounts: dict[str, float] = {}
    current: str | None = None
    for tok in text.split():
        if tok in symbols:
            current = tok
            continue
        if current is None:
            continue
        m = _WYCKOFF.match(tok)
        if m:
            amounts[current] = amounts.get(current, 0.0) + int(m.group(1))
        elif tok.startswith("n_"):
            amounts[current] = amounts.get(current, 0.0) + int(tok[2:])
        elif tok.startswith("pct_"):
            amounts[current] = amounts.get(current, 0.0) + float(tok[4:]) / 100.0
        else:
            continue
        current = None
    if not amounts:
        raise ValueError(f"no element/amount tokens in {text[:80]!r}")
    return Composition(amounts)


def build_tokenizer(vocab: Sequence[str] | None = None, model_max_length: int = 512) -> PreTrainedTokenizerFast:
    """WordLevel ``PreTrainedTokenizerFast`` over the crystal vocabulary with ``[CLS] $A [SEP]`` framing.

    >>> tok = build_tokenizer()
    >>> tok.convert_ids_to_tokens(tok("SG_225 a_5.6 Na 4a Cl 4b")["input_ids"])
    ['[CLS]', 'SG_225', 'a_5.6', 'Na', '4a', 'Cl', '4b', '[SEP]']
    """
    vocab = list(vocab) if vocab is not None else list(default_vocab())
    return wordlevel_tokenizer(vocab, pre_tokenizers.WhitespaceSplit(), model_max_length)


__all__ = [
    "SPECIAL_TOKENS",
    "build_tokenizer",
    "composition_from_text",
    "composition_text",
    "composition_tokens",
    "crystal_system_params",
    "default_vocab",
    "element_symbols",
    "structure_tokens",
]

