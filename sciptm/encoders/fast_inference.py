"""The int8 CPU inference model behind ``Encoder.embed(..., quantize="int8")``.

:func:`int8_inference_model` returns a dynamically quantized copy of a base model (int8 weights of the linear
layers, activations quantized per batch). For BERT-family encoders (RoBERTa, BERT: post-LayerNorm blocks,
absolute positions, GELU) the copy is a :class:`FusedBertEncoder`: the same weights run in one compact
forward with the query, key and value projections fused into one ``Linear`` (one activation quantization
and one GEMM instead of three) and no attention mask when a batch has no padding (every row the same
length, as :func:`~sciptm.encoders.batching.token_budget_batches` with ``exact=True`` makes most batches).
Other architectures (ESM...) are quantized as they are, on PyTorch's default quantized engine.

The fused encoder's quantized kernels run on PyTorch's ``onednn`` engine where this build has it (x86).
Measured on this project's 2-core AVX2 CPU (CPU time, one thread, ``sciptm/smiles-small``, MOSES): the model
forward alone 1.20x faster than the stock ``quantize_dynamic`` copy on the default ``x86`` (fbgemm) engine
(the fused forward on ``x86`` 1.06x); a whole ``embed`` of 4,000 molecules only ~1.03x, since validation and
tokenization are unchanged and ``onednn`` builds a kernel for each new input shape (~3 ms per ``Linear``;
exact-length batches repeat their shapes, so long runs reuse them). The engine is a process-wide PyTorch
setting, so the model sets it for the duration of each forward and restores it after (not thread-safe
against another thread running a different quantized model at the same moment).

>>> import sciptm
>>> enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
>>> type(int8_inference_model(enc.model).inner).__name__
'FusedBertEncoder'
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from transformers.modeling_outputs import BaseModelOutput

#: ``config.model_type`` values whose blocks :class:`FusedBertEncoder` reproduces exactly
FUSABLE_MODEL_TYPES = ("roberta", "bert", "camembert", "xlm-roberta")


def quantized_engine() -> str:
    """The quantized engine int8 inference uses: ``onednn`` when this PyTorch build has it, else the default."""
    engines = torch.backends.quantized.supported_engines
    return "onednn" if "onednn" in engines else torch.backends.quantized.engine


@contextmanager
def _engine(name: str) -> Iterator[None]:
    old = torch.backends.quantized.engine
    if name == old:
        yield
        return
    torch.backends.quantized.engine = name
    try:
        yield
    finally:
        torch.backends.quantized.engine = old


def is_fusable(model: torch.nn.Module) -> bool:
    """Whether ``model`` is a BERT-family encoder that :class:`FusedBertEncoder` runs unchanged."""
    cfg = getattr(model, "config", None)
    if cfg is None or getattr(cfg, "model_type", None) not in FUSABLE_MODEL_TYPES:
        return False
    if getattr(cfg, "is_decoder", False) or getattr(cfg, "add_cross_attention", False):
        return False
    if getattr(cfg, "position_embedding_type", "absolute") != "absolute" or cfg.hidden_act != "gelu":
        return False
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if layers is None or not hasattr(model, "embeddings"):
        return False
    try:
        return all(isinstance(b.attention.self.query, torch.nn.Linear) and isinstance(b.output.dense, torch.nn.Linear)
                   and isinstance(b.intermediate.dense, torch.nn.Linear) for b in layers)
    except AttributeError:
        return False


class FusedBertEncoder(torch.nn.Module):
    """Inference-only forward of a BERT-family base model with fused QKV projections.

    Computes what the ``transformers`` model computes in eval mode (post-LN blocks: self-attention with
    scaled-dot-product attention, residual + LayerNorm, feed-forward with exact GELU, residual + LayerNorm),
    from the same embeddings module and a copy of the weights. Called like the base model
    (``input_ids``, ``attention_mask``); returns a ``BaseModelOutput`` with ``last_hidden_state``.
    """

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        if not is_fusable(model):
            raise ValueError(f"{type(model).__name__} is not a BERT-family encoder FusedBertEncoder can run")
        cfg = model.config
        self.config = cfg
        self.heads = int(cfg.num_attention_heads)
        self.embeddings = model.embeddings
        self.blocks = torch.nn.ModuleList()
        for layer in model.encoder.layer:
            s = layer.attention.self
            qkv = torch.nn.Linear(s.query.in_features, 3 * s.query.out_features)
            with torch.no_grad():
                qkv.weight.copy_(torch.cat([s.query.weight, s.key.weight, s.value.weight]))
                qkv.bias.copy_(torch.cat([s.query.bias, s.key.bias, s.value.bias]))
            block = torch.nn.Module()
            block.qkv = qkv
            block.attn_out = layer.attention.output.dense
            block.attn_norm = layer.attention.output.LayerNorm
            block.up = layer.intermediate.dense
            block.down = layer.output.dense
            block.out_norm = layer.output.LayerNorm
            self.blocks.append(block)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_: Any) -> BaseModelOutput:
        x = self.embeddings(input_ids=input_ids)
        b, t, d = x.shape
        h = self.heads
        # no padding in the batch (exact-length batches): no mask, SDPA's unmasked kernel
        mask = None if attention_mask is None or bool(attention_mask.all()) else attention_mask.bool()[:, None, None, :]
        for blk in self.blocks:
            q, k, v = blk.qkv(x).view(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2).reshape(b, t, d)
            x = blk.attn_norm(blk.attn_out(a) + x)
            x = blk.out_norm(blk.down(F.gelu(blk.up(x))) + x)
        return BaseModelOutput(last_hidden_state=x)


class _EngineScoped(torch.nn.Module):
    """Runs ``inner`` with the quantized engine its int8 weights were packed for."""

    def __init__(self, inner: torch.nn.Module, engine: str):
        super().__init__()
        self.inner = inner
        self.engine = engine

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        with _engine(self.engine):
            return self.inner(*args, **kwargs)


def int8_inference_model(model: torch.nn.Module, fuse: bool = True, engine: str | None = None) -> torch.nn.Module:
    """A dynamically quantized int8 copy of ``model`` for CPU inference (``model`` is left unchanged).

    Parameters
    ----------
    model: a ``transformers`` base model on CPU.
    fuse: run BERT-family encoders as a :class:`FusedBertEncoder` (other models are quantized as they are).
    engine: PyTorch quantized engine; default :func:`quantized_engine` for a fused encoder, PyTorch's current
        engine otherwise (``sciptm/protein-small``, ESM, ran 5% slower on ``onednn`` than on ``x86`` here).
    """
    from torch.ao.quantization import quantize_dynamic

    fused = fuse and is_fusable(model)
    engine = engine or (quantized_engine() if fused else torch.backends.quantized.engine)
    source = FusedBertEncoder(model) if fused else model
    with warnings.catch_warnings(), _engine(engine):  # torch.ao deprecation notices; dynamic int8 still works
        warnings.simplefilter("ignore")
        qmodel = quantize_dynamic(copy.deepcopy(source).eval(), {torch.nn.Linear}, dtype=torch.qint8)
    return _EngineScoped(qmodel, engine).eval()


__all__ = ["FUSABLE_MODEL_TYPES", "FusedBertEncoder", "int8_inference_model", "is_fusable", "quantized_engine"]
