"""Token texts -> training batches: cropping, special-token framing, padding, dynamic masking.

Every random choice takes an explicit ``numpy.random.Generator``, so a batch is a pure function of
its texts and its generator's seed (which makes resumed runs see exactly the batches they would have).

- **Masked LM** (BERT recipe): 15% of the real (non-special, non-padding) tokens are chosen; of those
  80% become ``[MASK]``, 10% a random non-special token, 10% stay; labels are ``-100`` elsewhere.
- **Causal LM**: labels are the input ids with padding set to ``-100`` (the model shifts them).
- **Long sequences**: texts longer than ``max_length`` tokens (specials included) are cut to a window,
  a random one (``crop="random"``, protein spans) or the first one (``crop="head"``).

Example
-------
>>> import numpy as np, sciptm
>>> tok = sciptm.Encoder.from_config(domain="smiles", size="tiny").tokenizer
>>> collate = Collator(tok, max_length=32)
>>> batch = collate(["CCO", "c1ccccc1O"], np.random.default_rng(0))
>>> sorted(batch)
['attention_mask', 'input_ids', 'labels']
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

IGNORE = -100


def special_framing(tokenizer) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a text (e.g. ``[CLS]`` / ``[SEP]``)."""
    specials = set(tokenizer.all_special_ids)
    probe = next(i for i in range(len(tokenizer)) if i not in specials)
    text = tokenizer.convert_ids_to_tokens(probe)
    bare = tokenizer(text, add_special_tokens=False)["input_ids"]
    framed = tokenizer(text, add_special_tokens=True)["input_ids"]
    for start in range(len(framed) - len(bare) + 1):
        if framed[start:start + len(bare)] == bare:
            return framed[:start], framed[start + len(bare):]
    raise ValueError(f"cannot locate the text inside the tokenizer's special-token framing {framed}")


def mask_tokens(
    input_ids: np.ndarray,
    maskable: np.ndarray,
    rng: np.random.Generator,
    mask_id: int,
    random_ids: np.ndarray,
    probability: float = 0.15,
    mask_ratio: float = 0.8,
    random_ratio: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """BERT-style dynamic masking of a ``B x T`` id matrix; returns ``(inputs, labels)``.

    ``maskable`` (``B x T`` bool) marks the positions that may be chosen: real tokens, never
    special or padding ones. Chosen positions keep their id in ``labels``; others get ``-100``.

    >>> ids = np.arange(2, 12)[None]
    >>> inp, lab = mask_tokens(ids, np.ones_like(ids, bool), np.random.default_rng(0), 1, np.arange(2, 12), 0.5)
    >>> bool(((lab == -100) | (lab == ids)).all())
    True
    """
    chosen = (rng.random(input_ids.shape) < probability) & maskable
    labels = np.where(chosen, input_ids, IGNORE)
    inputs = input_ids.copy()
    roll = rng.random(input_ids.shape)
    to_mask = chosen & (roll < mask_ratio)
    to_random = chosen & (roll >= mask_ratio) & (roll < mask_ratio + random_ratio)
    inputs[to_mask] = mask_id
    inputs[to_random] = rng.choice(random_ids, size=int(to_random.sum()))
    return inputs, labels


class Collator:
    """Build ``input_ids`` / ``attention_mask`` / ``labels`` tensors from token texts.

    Parameters
    ----------
    tokenizer: the domain's Hugging Face tokenizer.
    max_length: tokens per sequence, special tokens included.
    objective: ``"mlm"`` (masked LM) or ``"clm"`` (causal LM).
    crop: ``"random"`` window or ``"head"`` for sequences longer than ``max_length``.
    probability, mask_ratio, random_ratio: masking rates (MLM only).
    mask: ``False`` leaves the inputs clean and every label ``-100`` (no language-model targets: a run whose
        language-model objective has weight 0 trains only its regression objectives on unmasked inputs).
    """

    def __init__(self, tokenizer, max_length: int, objective: str = "mlm", crop: str = "random",
                 probability: float = 0.15, mask_ratio: float = 0.8, random_ratio: float = 0.1, mask: bool = True):
        if objective not in ("mlm", "clm"):
            raise ValueError(f"objective must be 'mlm' or 'clm', not {objective!r}")
        if crop not in ("random", "head"):
            raise ValueError(f"crop must be 'random' or 'head', not {crop!r}")
        self.tokenizer = tokenizer
        self.prefix, self.suffix = special_framing(tokenizer)
        self.room = max_length - len(self.prefix) - len(self.suffix)
        if self.room < 1:
            raise ValueError(f"max_length {max_length} leaves no room for tokens after the special tokens")
        self.max_length = max_length
        self.objective = objective
        self.crop = crop
        self.probability, self.mask_ratio, self.random_ratio = probability, mask_ratio, random_ratio
        self.mask = mask
        if objective == "mlm" and tokenizer.mask_token_id is None:
            raise ValueError("masked-LM pretraining needs a tokenizer with a mask token")
        self.pad_id = tokenizer.pad_token_id
        specials = set(tokenizer.all_special_ids)
        self.random_ids = np.array([i for i in range(len(tokenizer)) if i not in specials], dtype=np.int64)
        self.special_ids = np.array(sorted(specials), dtype=np.int64)

    def encode(self, texts: Sequence[str], rng: np.random.Generator) -> list[list[int]]:
        """Token ids of each text, cut to ``max_length`` (window chosen by ``rng``) and framed."""
        bare = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]  # cropped below
        out = []
        for ids in bare:
            if len(ids) > self.room:
                start = int(rng.integers(0, len(ids) - self.room + 1)) if self.crop == "random" else 0
                ids = ids[start:start + self.room]
            out.append(self.prefix + list(ids) + self.suffix)
        return out

    def __call__(self, texts: Sequence[str], rng: np.random.Generator) -> dict[str, torch.Tensor]:
        rows = self.encode(texts, rng)
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        real = np.zeros((len(rows), width), dtype=bool)  # non-special, non-padding positions
        attention = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = row
            attention[i, :len(row)] = 1
            real[i, len(self.prefix):len(row) - len(self.suffix)] = True
        real &= ~np.isin(ids, self.special_ids)  # e.g. [UNK] inside a text is never a target
        if not self.mask:
            labels = np.full_like(ids, IGNORE)
            inputs = ids
        elif self.objective == "clm":
            labels = np.where(attention == 1, ids, IGNORE)
            inputs = ids
        else:
            inputs, labels = mask_tokens(ids, real, rng, self.tokenizer.mask_token_id, self.random_ids,
                                         self.probability, self.mask_ratio, self.random_ratio)
        return {"input_ids": torch.from_numpy(inputs), "attention_mask": torch.from_numpy(attention),
                "labels": torch.from_numpy(labels)}
