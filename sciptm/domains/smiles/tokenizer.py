"""Regex SMILES tokenizer built as a Hugging Face fast tokenizer.

The pattern (Schwaller et al., Molecular Transformer) keeps bracket atoms
(``[nH]``, ``[C@@H]``, ``[O-]``), two-letter atoms (``Cl``, ``Br``) and ring bonds
(``1``, ``%12``) as single tokens. Tokens missing from the vocabulary map to
``[UNK]``; they are counted by :func:`count_unknown`, never an error.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from importlib import resources

from tokenizers import Regex, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from sciptm.domains.wordlevel import SPECIAL_TOKENS, wordlevel_tokenizer

SMILES_REGEX = (
    r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>|\*|\$|%[0-9]{2}|[0-9])"
)
_PATTERN = re.compile(SMILES_REGEX)


def split_smiles(smiles: str) -> list[str]:
    """Split a SMILES into regex tokens (pure Python; the fast tokenizer gives the same split).

    >>> split_smiles("C[C@@H](Cl)c1ccc[nH]1.%10")
    ['C', '[C@@H]', '(', 'Cl', ')', 'c', '1', 'c', 'c', 'c', '[nH]', '1', '.', '%10']
    """
    return _PATTERN.findall(smiles)


def default_vocab() -> list[str]:
    """The shipped vocabulary: special tokens, then tokens seen in MOSES and MoleculeNet."""
    text = resources.files("sciptm.domains.smiles").joinpath("vocab.txt").read_text()
    tokens = [t for t in text.splitlines() if t]
    return SPECIAL_TOKENS + [t for t in tokens if t not in SPECIAL_TOKENS]


def train_vocab(corpus: Iterable[str], min_freq: int = 1, base: Sequence[str] | None = None) -> list[str]:
    """Vocabulary from a SMILES corpus: ``base`` (default: the shipped vocabulary) plus every
    regex token seen at least ``min_freq`` times, most frequent first."""
    counts: Counter[str] = Counter()
    for smi in corpus:
        counts.update(split_smiles(smi))
    vocab = list(base) if base is not None else default_vocab()
    seen = set(vocab)
    for tok, n in counts.most_common():
        if n >= min_freq and tok not in seen:
            vocab.append(tok)
            seen.add(tok)
    return vocab


def build_tokenizer(vocab: Sequence[str] | None = None, model_max_length: int = 256) -> PreTrainedTokenizerFast:
    """A ``PreTrainedTokenizerFast`` with ``[CLS] ... [SEP]`` framing; saves and loads with ``AutoTokenizer``.

    >>> tok = build_tokenizer()
    >>> tok.convert_ids_to_tokens(tok("CBr")["input_ids"])
    ['[CLS]', 'C', 'Br', '[SEP]']
    """
    vocab = list(vocab) if vocab is not None else default_vocab()
    return wordlevel_tokenizer(vocab, pre_tokenizers.Split(Regex(SMILES_REGEX), behavior="isolated"), model_max_length)
