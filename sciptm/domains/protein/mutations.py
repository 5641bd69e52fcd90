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


def parse_table(texts: Sequence[Any], wt: str, offset: int = 0):
    """Parse and check many mutant strings at once (vectorized; the fast path of zero-shot scoring).

    Each distinct substitution token (``"A23G"``) is parsed once, however many variants share it; the
    position range, the wild-type residue and repeated positions are checked with array operations.

    Returns
    -------
    ``(rows, positions, wt_residues, mut_residues, bad)``: one entry per substitution of the valid rows
    (row number, 0-based position in ``wt``, residues as 1-character strings), and the sorted row numbers
    that failed any check. Re-parse those with :func:`parse_mutations` / :func:`check_mutations` for the
    reason (wild-type rows, ``""``/``"WT"``, contribute no substitution).

    >>> rows, pos, w, m, bad = parse_table(["K2R:A4G", "WT", "K2X", "T2A"], "MKTAYIAK")
    >>> rows.tolist(), pos.tolist(), m.tolist(), bad.tolist()
    ([0, 0, 2], [1, 3, 1], ['R', 'G', 'X'], [3])
    """
    import numpy as np
    import pandas as pd

    values = list(texts)
    n = len(values)
    try:  # all strings (the usual case): one C-level join, no per-row Python
        joined = "\n".join(values)
        is_str = np.ones(n, dtype=bool)
    except TypeError:
        is_str = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=n)
        joined = "\n".join(v if ok else "" for v, ok in zip(values, is_str))
    # one joined string split once: strings are not tracked by the garbage collector, per-row lists would be
    # (a collection pass over a process holding a torch model costs more than the parsing itself)
    joined = joined.upper().replace(" ", "")
    if n and joined.count("\n") == n - 1:
        # the row of each token follows from the order of the separators ("\n" ends a row, ":" a token)
        raw = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
        seps = raw[(raw == 10) | (raw == 58)]
        tok_rows = np.concatenate([[0], np.cumsum(seps == 10)]).astype(np.int64)
        flat = np.array(joined.replace("\n", ":").split(":"), dtype=object)
        n_tokens = np.bincount(tok_rows, minlength=n).astype(np.int64)
    else:  # a newline inside a mutant string (always invalid): row by row
        cleaned = [v.upper().replace(" ", "") if ok else "" for v, ok in zip(values, is_str)]
        n_tokens = np.fromiter((c.count(":") + 1 for c in cleaned), dtype=np.int64, count=n)
        flat = np.array(":".join(cleaned).split(":") if n else [], dtype=object)
        tok_rows = np.repeat(np.arange(n, dtype=np.int64), n_tokens)
    first = np.cumsum(n_tokens) - n_tokens
    wild = (n_tokens == 1) & is_str & np.isin(flat[first], list(_WILD_TYPE)) if n else np.zeros(0, dtype=bool)
    codes, uniq = pd.factorize(flat)
    u_wt = np.empty(len(uniq), dtype="<U1")
    u_mut = np.empty(len(uniq), dtype="<U1")
    u_pos = np.zeros(len(uniq), dtype=np.int64)
    u_ok = np.zeros(len(uniq), dtype=bool)
    for k, tok in enumerate(uniq):
        match = _TOKEN.fullmatch(tok) if isinstance(tok, str) else None
        if match is not None:
            u_wt[k], u_pos[k], u_mut[k], u_ok[k] = match[1], int(match[2]), match[3], True
    site = ~wild[tok_rows]
    tok_rows, codes = tok_rows[site], codes[site]
    pos = u_pos[codes] - offset - 1
    ok = u_ok[codes] & (pos >= 0) & (pos < len(wt))
    wt_arr = np.array(list(wt), dtype="<U1") if wt else np.empty(0, dtype="<U1")
    ok[ok] &= wt_arr[pos[ok]] == u_wt[codes[ok]]
    dup = pd.Series(tok_rows * (len(wt) + 1) + np.clip(pos, -1, len(wt))).duplicated(keep=False).to_numpy()
    bad_rows = np.zeros(n, dtype=bool)
    bad_rows[~is_str] = True
    bad_rows[tok_rows[~ok | dup]] = True
    good = ~bad_rows[tok_rows]
    codes = codes[good]
    return (tok_rows[good], pos[good], u_wt[codes], u_mut[codes], np.flatnonzero(bad_rows))


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


__all__ = ["Mutation", "apply_mutations", "check_mutations", "infer_wild_type", "parse_mutations", "parse_table"]
