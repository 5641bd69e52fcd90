"""Reaction-SMILES domain: ``reactants>agents>products`` (or ``A>>B``), every molecule checked by RDKit.

Used by the published reaction models of the zoo (rxnfp, rxnmapper); single molecules are accepted too
(a reaction model reads them as a one-sided reaction), so these encoders also run the SMILES benchmarks.
The text is kept as written by default (``canonicalize=False``: rxnfp's published fingerprints are
computed on the string as given); ``canonicalize=True`` writes each molecule as RDKit canonical SMILES.

>>> from sciptm.domains.reaction import ReactionDomain
>>> ReactionDomain().to_text("CC(=O)O.OCC>>CC(=O)OCC")
'CC(=O)O.OCC>>CC(=O)OCC'
>>> ReactionDomain(canonicalize=True).to_text("OCC>>C(C)O")
'CCO>>CCO'
>>> ReactionDomain().to_text("C[NH2]->[Pt+2]")  # a dative bond is not a reaction arrow
'C[NH2]->[Pt+2]'
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from sciptm.domains import DOMAINS
from sciptm.domains.base import Domain

#: rxnfp's / rxnmapper's tokenization regex (Schwaller et al.): ``>>`` and ``|`` are tokens, ``%(nnn)`` ring bonds
REACTION_REGEX = (
    r"(\%\([0-9]{3}\)|\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\||\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>>?|\*|\$|"
    r"\%[0-9]{2}|[0-9])"
)
_PATTERN = re.compile(REACTION_REGEX)
#: a reaction's ``>`` separators: every ``>`` except the head of an RDKit dative bond ``->`` (``[S-]1->[Fe+2]``)
_SEPARATOR = re.compile(r"(?<!-)>")


def split_reaction(text: str) -> list[str]:
    """Regex tokens of a reaction SMILES (rxnfp's split).

    >>> split_reaction("CBr>>CO")
    ['C', 'Br', '>>', 'C', 'O']
    """
    return _PATTERN.findall(text)


@DOMAINS.register("reaction")
class ReactionDomain(Domain):
    """Chemical reactions as reaction SMILES (and single molecules as plain SMILES).

    Parameters
    ----------
    canonicalize: write every molecule as RDKit canonical SMILES (default ``False``: keep the input).

    A row is invalid when it has other than 0 or 2 ``>`` separators (the ``>`` of a dative bond ``->`` is
    not one), an empty reactant or product side,
    or a molecule RDKit cannot parse; the reason names the side and the molecule.
    """

    name = "reaction"
    default_architecture = "bert"
    max_length = 512
    #: task domains whose texts this domain also reads (molecules are one-sided reactions)
    reads = ("smiles",)

    def __init__(self, canonicalize: bool = False):
        super().__init__(canonicalize=canonicalize)
        self.canonicalize = canonicalize

    def to_text(self, item: object) -> str:
        from sciptm.domains.smiles import adapter

        if item is None or (isinstance(item, float) and np.isnan(item)):
            raise ValueError("missing reaction SMILES (empty cell)")
        if not isinstance(item, str):
            raise TypeError(f"expected a reaction SMILES string, got {type(item).__name__}")
        text = item.strip()
        if not text:
            raise ValueError("empty reaction SMILES")
        parts = _SEPARATOR.split(text)
        if len(parts) not in (1, 3):
            raise ValueError(f"a reaction SMILES has 0 or 2 '>' separators, found {len(parts) - 1}")
        names = ("molecule",) if len(parts) == 1 else ("reactants", "agents", "products")
        out = []
        for side, part in zip(names, parts):
            if not part:
                if side == "agents":
                    out.append("")
                    continue
                raise ValueError(f"empty {side} side")
            mols = []
            for k, smi in enumerate(part.split(".")):
                try:
                    mol = adapter.parse(smi)
                except ValueError as exc:
                    raise ValueError(f"{side} molecule {k + 1} ({smi!r}): {exc}") from None
                mols.append(adapter.canonical(mol) if self.canonicalize else smi)
            out.append(".".join(mols))
        return ">".join(out)

    def build_tokenizer(self, vocab: Sequence[str] | None = None):
        """A ``[CLS] ... [SEP]`` WordLevel tokenizer over ``vocab`` with rxnfp's regex split."""
        from tokenizers import Regex, pre_tokenizers

        from sciptm.domains.smiles.tokenizer import default_vocab
        from sciptm.domains.wordlevel import wordlevel_tokenizer

        vocab = list(vocab) if vocab is not None else default_vocab() + [">>", "|"]
        return wordlevel_tokenizer(vocab, pre_tokenizers.Split(Regex(REACTION_REGEX), behavior="isolated"),
                                   self.max_length)


__all__ = ["REACTION_REGEX", "ReactionDomain", "split_reaction"]
