"""The protein alphabet: ESM-2's vocabulary and the policy for non-standard residues.

Standard residues are the 20 amino acids. ``X`` (unknown), ``B`` (Asx: D or N),
``Z`` (Glx: E or Q), ``U`` (selenocysteine) and ``O`` (pyrrolysine) are *non-standard*:
ESM-2 has a token for each of them, and :func:`clean_sequence` keeps, maps or rejects
them as asked. Every other character (digits, ``*`` inside a sequence, gaps ``-`` and
``.``, ``J``) is an error naming its 1-based position.
"""
from __future__ import annotations

from typing import Literal

#: ESM-2's 33 tokens in id order (``vocab.txt`` of ``facebook/esm2_t6_8M_UR50D``).
ESM_VOCAB: tuple[str, ...] = (
    "<cls>", "<pad>", "<eos>", "<unk>",
    "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N", "F", "Y", "M", "H", "W", "C",
    "X", "B", "U", "Z", "O", ".", "-", "<null_1>", "<mask>",
)
STANDARD: frozenset[str] = frozenset("ACDEFGHIKLMNPQRSTVWY")
NONSTANDARD: frozenset[str] = frozenset("XBZUO")

#: ``nonstandard="map"``: each ambiguous or rare residue -> the standard residue used in its place.
#: B (Asx) -> D and Z (Glx) -> E, the more frequent member of each pair in UniProt;
#: U (selenocysteine) -> C and O (pyrrolysine) -> K, their parent residues. X stays X.
NONSTANDARD_MAP: dict[str, str] = {"B": "D", "Z": "E", "U": "C", "O": "K", "X": "X"}

Nonstandard = Literal["keep", "map", "reject"]
_MAX_SHOWN = 5


def clean_sequence(sequence: str, nonstandard: Nonstandard = "keep") -> str:
    """Uppercase ``sequence``, drop all whitespace and one trailing stop ``*``, and check each residue.

    Parameters
    ----------
    sequence: one-letter amino-acid string.
    nonstandard: ``"keep"`` X/B/Z/U/O as ESM tokens, ``"map"`` them with :data:`NONSTANDARD_MAP`,
        or ``"reject"`` them (``ValueError``).

    Raises
    ------
    ValueError
        Empty sequence, or a character that is not a residue, naming its 1-based position.

    Example
    -------
    >>> clean_sequence(" mkt uv* ", nonstandard="map")
    'MKTCV'
    >>> clean_sequence("MK7A")
    Traceback (most recent call last):
    ...
    ValueError: invalid residue '7' at position 3
    """
    if nonstandard not in ("keep", "map", "reject"):
        raise ValueError(f"nonstandard must be 'keep', 'map' or 'reject', not {nonstandard!r}")
    seq = "".join(sequence.split()).upper()
    if seq.endswith("*"):
        seq = seq[:-1]
    if not seq:
        raise ValueError("empty sequence")
    allowed = STANDARD if nonstandard == "reject" else STANDARD | NONSTANDARD
    bad = [(i + 1, ch) for i, ch in enumerate(seq) if ch not in allowed]
    if bad:
        kind = "non-standard residue (nonstandard='reject')" if bad[0][1] in NONSTANDARD else "invalid residue"
        shown = ", ".join(f"{ch!r} at position {pos}" for pos, ch in bad[:_MAX_SHOWN])
        more = f" (+{len(bad) - _MAX_SHOWN} more)" if len(bad) > _MAX_SHOWN else ""
        raise ValueError(f"{kind} {shown}{more}")
    if nonstandard == "map" and not NONSTANDARD.isdisjoint(seq):
        seq = seq.translate(str.maketrans(NONSTANDARD_MAP))
    return seq
