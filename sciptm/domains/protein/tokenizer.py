"""ESM-2-compatible protein tokenizer built as a Hugging Face fast tokenizer.

One token per residue, ESM-2's 33-token vocabulary and ids, ``<cls> ... <eos>``
framing: on valid sequences the ids equal those of ``transformers.EsmTokenizer``
loaded from an ESM-2 checkpoint, so sciptm protein encoders and published ESM-2
weights share one input format. Characters outside the vocabulary become ``<unk>``
one by one (the protein domain rejects them before they reach the tokenizer).
"""
from __future__ import annotations

from collections.abc import Sequence

from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from sciptm.domains.protein.alphabet import ESM_VOCAB

SPECIAL_TOKENS = {"cls_token": "<cls>", "pad_token": "<pad>", "eos_token": "<eos>", "unk_token": "<unk>",
                  "mask_token": "<mask>"}


def build_tokenizer(vocab: Sequence[str] | None = None, model_max_length: int = 1024) -> PreTrainedTokenizerFast:
    """A ``PreTrainedTokenizerFast`` with ESM-2's vocabulary; saves and loads with ``AutoTokenizer``.

    ``model_max_length`` counts the ``<cls>`` and ``<eos>`` tokens.

    >>> tok = build_tokenizer()
    >>> tok("MKTA")["input_ids"]
    [0, 20, 15, 11, 5, 2]
    >>> tok.mask_token_id, tok.pad_token_id, len(tok)
    (32, 1, 33)
    """
    vocab = list(vocab) if vocab is not None else list(ESM_VOCAB)
    missing = [t for t in SPECIAL_TOKENS.values() if t not in vocab]
    if missing:
        raise ValueError(f"vocabulary lacks special tokens {missing}")
    if len(set(vocab)) != len(vocab):
        raise ValueError("vocabulary has duplicate tokens")
    ids = {tok: i for i, tok in enumerate(vocab)}
    core = Tokenizer(models.WordLevel(ids, unk_token="<unk>"))
    # whitespace is dropped (as EsmTokenizer does), then every character is a token
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex("."), behavior="isolated")]
    )
    core.post_processor = processors.TemplateProcessing(
        single="<cls> $A <eos>",
        pair="<cls> $A <eos> $B:1 <eos>:1",
        special_tokens=[("<cls>", ids["<cls>"]), ("<eos>", ids["<eos>"])],
    )
    return PreTrainedTokenizerFast(tokenizer_object=core, model_max_length=model_max_length, **SPECIAL_TOKENS)
