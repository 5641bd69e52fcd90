"""The fast-tokenizer recipe shared by the SMILES and crystal domains: a fixed vocabulary
(``tokenizers`` WordLevel), a domain pre-tokenizer and ``[CLS] ... [SEP]`` framing, wrapped as a
``PreTrainedTokenizerFast`` so it saves and loads with ``AutoTokenizer``."""
from __future__ import annotations

from collections.abc import Sequence

from tokenizers import Tokenizer, models, processors
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def wordlevel_tokenizer(vocab: Sequence[str], pre_tokenizer, model_max_length: int) -> PreTrainedTokenizerFast:
    """A BERT-framed WordLevel tokenizer over ``vocab`` (which must hold :data:`SPECIAL_TOKENS`)."""
    vocab = list(vocab)
    missing = [t for t in SPECIAL_TOKENS if t not in vocab]
    if missing:
        raise ValueError(f"vocabulary lacks special tokens {missing}")
    ids = {tok: i for i, tok in enumerate(vocab)}
    core = Tokenizer(models.WordLevel(ids, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizer
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=model_max_length)
