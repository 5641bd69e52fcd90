"""Substitution strings in ProteinGym style (``"A23G:L40P"``): parse, apply, check.

A mutation ``A23G`` says: the wild-type residue at position 23 (1-based) is ``A`` and
becomes ``G``. Several substitutions are joined with ``:``. Positions may be numbered
from an offset (ProteinGym numbers residues on the full-length protein while a DMS file
may hold only a domain): with ``offset=158``, position 159 is the first residue of
``wt``. ``""`` and ``"WT"`` mean the wild type itself (no substitution).

>>> apply_mutations("MKTAYIAK", "K2R:A4G")
'MRTGYIAK'
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, overload

from sciptm._util.items import as_list
from sciptm.domains.protein.alphabet import NONSTANDARD, STANDARD
from sciptm.errors import InvalidInputError, InvalidRecord

_RESIDUES = "".join(sorted(STANDARD | NONSTANDARD))
_TOKEN = re.compile(rf"([{_RESIDUES}])([1-9][0-9]*)([{_RESIDUES}])")
_WILD_TYPE = {"", "WT", "_WT"}


@dataclass(frozen=True)
class Mutation:
    """One substitution: wild-type residue, 1-based position (in the string's numbering), new residue."""

    wt: str
    position: int
    mut: str

    def __str__(self) -> str:
        return f"{self.wt}{self.position}{self.mut}"


@lru_cache(maxsize=1 << 14)
def _parse_token(tok: str, text: str) -> Mutation:
    match = _TOKEN.fullmatch(tok)
    if match is None:
        raise ValueError(f"cannot parse mutation {tok!r} in {text!r}: expected <wt residue><position><new residue>, "
                         "e.g. 'A23G', joined with ':'")
    return Mutation(match[1], int(match[2]), match[3])


def _parse(text: str) -> tuple[Mutation, ...]:
    tokens = text.upper().replace(" ", "").split(":")
    if len(tokens) == 1 and tokens[0] in _WILD_TYPE:
        return ()
    try:
        out = tuple(_parse_token(tok, "") for tok in tokens)
    except ValueError:
        bad = next(tok for tok in tokens if _TOKEN.fullmatch(tok) is None)
        _parse_token(bad, text)  # raises with the full string named
        raise
    if len({m.position for m in out}) != len(out):
        dup = next(m.position for k, m in enumerate(out) if m.position in {n.position for n in out[:k]})
        raise ValueError(f"position {dup} is mutated twice in {text!r}")
    return out


def parse_mutations(text: str) -> list[Mutation]:
    """Parse ``"A23G:L40P"`` into :class:`Mutation` objects (``""`` or ``"WT"`` -> ``[]``).

    Raises
    ------
    ValueError
        A token that is not ``<residue><position><residue>``, or a position given twice.

    Example
    -------
    >>> parse_mutations("A23G:L40P")
    [Mutation(wt='A', position=23, mut='G'), Mutation(wt='L', position=40, mut='P')]
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a mutation string like 'A23G:L40P', got {type(text).__name__}")
    return list(_parse(text))


def check_mutations(wt: str, mutations: Sequence[Mutation], offset: int = 0) -> None:
    """Raise ``ValueError`` unless every mutation's position lies in ``wt`` and names its residue.

    The message names the mutation, the position, the residue expected by the mutation and the
    residue found in the wild type.
    """
    for m in mutations:
        i = m.position - offset - 1
        if not 0 <= i < len(wt):
            raise ValueError(f"mutation {m}: position {m.position} is outside the wild type "
                             f"(positions {offset + 1}-{offset + len(wt)})")
        if wt[i] != m.wt:
            raise ValueError(f"mutation {m}: expected wild-type residue {m.wt!r} at position {m.position}, "
                             f"found {wt[i]!r}")


def _as_wild_type(wt: Any) -> str:
    from Bio.SeqRecord import SeqRecord

    if isinstance(wt, SeqRecord):
        wt = wt.seq
    if not isinstance(wt, str):
        wt = str(wt)
    return "".join(wt.split()).upper()


def _apply_one(wt: str, text: str, offset: int) -> str:
    mutations = _parse(text)
    check_mutations(wt, mutations, offset)
    seq = list(wt)
    for m in mutations:
        seq[m.position - offset - 1] = m.mut
    return "".join(seq)


@overload
def apply_mutations(wt: Any, mutants: str, offset: int = 0) -> str: ...
@overload
def apply_mutations(wt: Any, mutants: Sequence[str] | Any, offset: int = 0) -> list[str]: ...


def apply_mutations(wt: Any, mutants: Any, offset: int = 0) -> str | list[str]:
    """Mutated sequence(s): ``wt`` with the substitutions of each mutant string applied.

    Parameters
    ----------
    wt: wild-type sequence (``str``, ``Bio.Seq`` or ``Bio.SeqRecord``).
    mutants: one string like ``"A23G:L40P"`` (returns a string) or many (list, Series; returns a list).
    offset: numbering offset; position ``p`` refers to ``wt[p - offset - 1]``.

    Raises
    ------
    ValueError
        One mutant string that cannot be parsed or does not match ``wt`` (mutation, position,
        expected and found residue are named).
    InvalidInputError
        Many mutant strings, some invalid: every bad row is listed with its index and reason.

    Example
    -------
    >>> apply_mutations("MKTAYIAK", ["K2R", "T3A:Y5F"])
    ['MRTAYIAK', 'MKAAFIAK']
    >>> apply_mutations("MKTAYIAK", "T2A")
    Traceback (most recent call last):
    ...
    ValueError: mutation T2A: expected wild-type residue 'T' at position 2, found 'K'
    """
    wt = _as_wild_type(wt)
    if isinstance(mutants, str):
        return _apply_one(wt, mutants, offset)
    values, row_ids = as_list(mutants)
    out: list[str] = []
    bad: list[InvalidRecord] = []
    for rid, text in zip(row_ids, values):
        try:
            if not isinstance(text, str):
                raise ValueError(f"expected a mutation string, got {type(text).__name__}")
            out.append(_apply_one(wt, text, offset))
        except ValueError as exc:
            bad.append(InvalidRecord(rid, text, str(exc)))
    if bad:
        raise InvalidInputError(bad)
    return out


def infer_wild_type(mutants: Sequence[str] | Any, sequences: Sequence[str] | Any, offset: int = 0) -> str:
    """The wild type shared by a table of variants, found by reverting each row's substitutions.

    Useful for DMS files that list ``mutant`` and ``mutated_sequence`` but not the wild type.
    Raises ``ValueError`` naming the first row whose reverted sequence disagrees with row 0, or
    whose mutated residues are not the ones its mutant string names.

    Example
    -------
    >>> infer_wild_type(["K2R", "A4G"], ["MRTA", "MKTG"])
    'MKTA'
    """
    texts, row_ids = as_list(mutants)
    seqs, _ = as_list(sequences)
    if len(texts) != len(seqs) or not texts:
        raise ValueError(f"need as many mutant strings as sequences (got {len(texts)} and {len(seqs)}, at least 1)")
    reference: str | None = None
    for rid, text, seq in zip(row_ids, texts, seqs):
        chars = list(seq)
        for m in _parse(text):
            i = m.position - offset - 1
            if not 0 <= i < len(chars) or chars[i] != m.mut:
                found = chars[i] if 0 <= i < len(chars) else "nothing"
                raise ValueError(f"row {rid}: mutation {m} but the sequence has {found} at position {m.position}")
            chars[i] = m.wt
        reverted = "".join(chars)
        if reference is None:
            reference = reverted
        elif reverted != reference:
            diff = next((k for k, (a, b) in enumerate(zip(reverted, reference)) if a != b), min(len(reverted),
                                                                                             len(reference)))
            raise ValueError(f"row {rid}: reverting {text!r} gives a wild type that differs from row "
                             f"{row_ids[0]}'s at position {diff + offset + 1}")
    if reference is None:  # pragma: no cover - guarded above
        raise ValueError("no rows")
    return reference


__all__ = ["Mutation", "apply_mutations", "check_mutations", "infer_wild_type", "parse_mutations"]
