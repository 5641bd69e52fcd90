"""Encoder architectures: stock ``transformers`` configs and model classes, one registry entry each.

An :class:`Architecture` knows how to build a config of a named size for a given
tokenizer and which ``transformers`` classes implement the base model and the
language-model head. Add an architecture by registering one more entry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transformers import (
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    BertConfig,
    EsmConfig,
    GPT2Config,
    PretrainedConfig,
    RobertaConfig,
)

from sciptm.registry import Registry

#: Named sizes shared by all architectures: layers, hidden width, heads, feed-forward width.
SIZES: dict[str, dict[str, int]] = {
    "tiny": {"layers": 4, "hidden": 128, "heads": 4, "ffn": 512},
    "small": {"layers": 6, "hidden": 256, "heads": 8, "ffn": 1024},
    "base": {"layers": 12, "hidden": 768, "heads": 12, "ffn": 3072},
}


@dataclass(frozen=True)
class Architecture:
    """How to build one family of ``transformers`` models.

    ``objective`` is ``"mlm"`` (bidirectional, masked-LM head) or ``"clm"`` (causal LM head).
    """

    name: str
    config_class: type[PretrainedConfig]
    objective: str = "mlm"
    extra: dict[str, Any] = field(default_factory=dict)

    def build_config(self, tokenizer, size: str | dict[str, int], max_length: int, **overrides: Any) -> PretrainedConfig:
        dims = SIZES[size] if isinstance(size, str) else dict(size)
        common: dict[str, Any] = {
            "vocab_size": len(tokenizer),
            "pad_token_id": tokenizer.pad_token_id,
        }
        if self.config_class is GPT2Config:
            kwargs: dict[str, Any] = {
                "n_layer": dims["layers"], "n_embd": dims["hidden"], "n_head": dims["heads"],
                "n_inner": dims["ffn"], "n_positions": max_length,
                "bos_token_id": tokenizer.cls_token_id, "eos_token_id": tokenizer.sep_token_id,
            }
        else:
            kwargs = {
                "num_hidden_layers": dims["layers"], "hidden_size": dims["hidden"],
                "num_attention_heads": dims["heads"], "intermediate_size": dims["ffn"],
                # RoBERTa offsets positions by padding_idx + 1
                "max_position_embeddings": max_length + 2,
            }
        if self.config_class is EsmConfig:
            kwargs.update(mask_token_id=tokenizer.mask_token_id)
        return self.config_class(**common, **kwargs, **self.extra, **overrides)

    def lm_class(self):
        return AutoModelForCausalLM if self.objective == "clm" else AutoModelForMaskedLM


ARCHITECTURES: Registry[Architecture] = Registry("encoder architecture")
ARCHITECTURES.add("roberta", Architecture("roberta", RobertaConfig))
ARCHITECTURES.add("bert", Architecture("bert", BertConfig))
ARCHITECTURES.add(
    "esm",
    Architecture(
        "esm", EsmConfig,
        extra={"position_embedding_type": "rotary", "token_dropout": True, "emb_layer_norm_before": False,
               "hidden_act": "gelu", "layer_norm_eps": 1e-5},
    ),
)
ARCHITECTURES.add("gpt2", Architecture("gpt2", GPT2Config, objective="clm"))
