"""A lean forward for BERT-family encoders (RoBERTa, BERT), built from a loaded ``transformers`` model.

:class:`LeanEncoder` computes what the ``transformers`` base model computes (post-LayerNorm blocks:
self-attention, residual + LayerNorm, feed-forward with GELU, residual + LayerNorm), with less around it:

- the query, key and value projections run as one GEMM (``F.linear`` on the concatenated weights; in the int8
  copy one fused ``Linear``, so the activation is quantized once per block instead of three times);
- ``F.scaled_dot_product_attention`` with no mask when a batch has no padding; no mask objects, output
  dataclasses or per-call config lookups;
- :meth:`LeanEncoder.embed_sequences` (inference) packs whole sequences, without padding, into token
  matrices of a few fixed sizes: the linear layers see ``M x d`` matrices of real tokens only (attention runs
  per sequence: one call per layer of the C kernel of :mod:`sciptm.encoders.fused_attention`, or PyTorch's
  SDPA per group of equal-length sequences where the kernel is off or unavailable), pooling happens inside,
  and the fixed shapes let the ``onednn`` int8 kernels be built once instead of for every new batch shape;
  with the C kernels on, the int8 copy runs its linear layers there instead (per-row u8 activations, the block
  after attention fused in L2-sized row chunks; :data:`INT8_KERNEL`), on the real rows only.

The fp32 module shares its parameters with the ``transformers`` model it was built from and is
autograd-capable (dropout included in training mode), so it can stand in for the model's forward in
fine-tuning. :meth:`LeanEncoder.quantized` makes a separate dynamic-int8 copy for CPU inference.

>>> import sciptm, torch
>>> enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
>>> _ = enc.model.eval()  # a fresh model is in training mode (dropout)
>>> lean = LeanEncoder(enc.model).eval()
>>> batch = enc.tokenize(["CCO", "c1ccccc1O"])
>>> with torch.no_grad():
...     ref = enc.model(**batch).last_hidden_state
...     out = lean(batch["input_ids"], batch["attention_mask"])
>>> bool((out - ref).abs()[batch["attention_mask"].bool()].max() < 1e-5)
True
"""
from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sciptm.encoders import fused_attention
from sciptm.memory import collector_paused, keep_freed_memory
from sciptm.settings import flag

logger = logging.getLogger(__name__)

#: ``config.model_type`` values whose embeddings and blocks :class:`LeanEncoder` reproduces
ROBERTA_TYPES = ("roberta", "camembert", "xlm-roberta")
SUPPORTED_TYPES = (*ROBERTA_TYPES, "bert")
#: ``config.hidden_act`` -> ``F.gelu(approximate=...)``
_GELU = {"gelu": "none", "gelu_pytorch_tanh": "tanh", "gelu_new": "tanh"}
#: quantized engine of the int8 copy ``embed`` runs (packs of fixed row counts keep its kernels warm)
INT8_ENGINE = "onednn"
#: int8 copies run their linear layers in the C kernels of :mod:`sciptm.encoders.fused_attention` (per-row u8
#: activations, the block after attention fused) when those kernels are on; ``False``: PyTorch's dynamic int8
#: ``Linear`` (``INT8_ENGINE``) with the C attention/GELU/LayerNorm kernels (A/B benchmarks)
INT8_KERNEL = True
#: rows (whole sequences) that run through all blocks at once on the int8 kernel path (0: the whole pack); the
#: same results for any value (sequences are independent). 512 and 256 measured 1.02x / 1.01x slower than the
#: whole 4,096-row pack with one process (within noise); smaller chunks keep a process's activations in a smaller
#: share of the L3 cache (two processes on the machine: not measured)
INT8_CHUNK_ROWS = 0


def unsupported_reason(model: nn.Module) -> str | None:
    """Why :class:`LeanEncoder` cannot run ``model`` (``None`` when it can)."""
    cfg = getattr(model, "config", None)
    kind = getattr(cfg, "model_type", None)
    if kind not in SUPPORTED_TYPES:
        return f"model_type {kind!r} is not one of {SUPPORTED_TYPES}"
    if getattr(cfg, "is_decoder", False) or getattr(cfg, "add_cross_attention", False):
        return "decoder / cross-attention models are not supported"
    if getattr(cfg, "position_embedding_type", "absolute") not in (None, "absolute"):
        return f"position_embedding_type {cfg.position_embedding_type!r} is not 'absolute'"
    if not isinstance(cfg.hidden_act, str) or cfg.hidden_act not in _GELU:
        return f"hidden_act {cfg.hidden_act!r} is not a GELU"
    emb = getattr(model, "embeddings", None)
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if emb is None or layers is None:
        return "no embeddings / encoder.layer modules"
    if getattr(emb, "token_type_embeddings", None) is None or getattr(emb, "position_embeddings", None) is None:
        return "embeddings without token-type or position tables"
    if getattr(cfg, "chunk_size_feed_forward", 0):
        return "chunked feed-forward"
    try:
        for b in layers:
            mods = (b.attention.self.query, b.attention.self.key, b.attention.self.value, b.attention.output.dense,
                    b.intermediate.dense, b.output.dense)
            if not all(type(m) is nn.Linear for m in mods):
                return "a block's projections are not plain nn.Linear layers"
            norms = (b.attention.output.LayerNorm, b.output.LayerNorm)
            if not all(isinstance(n, nn.LayerNorm) for n in norms):
                return "a block's norms are not nn.LayerNorm"
    except AttributeError as exc:
        return f"unexpected block layout ({exc})"
    return None


def is_supported(model: nn.Module) -> bool:
    """Whether :class:`LeanEncoder` can run ``model`` (see :func:`unsupported_reason`)."""
    return unsupported_reason(model) is None


#: ``linear(x, weight, bias) -> x weight^T + bias``: a replacement for ``F.linear`` in the inference forward
LinearFn = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def _apply(module: nn.Module, x: torch.Tensor, linear: LinearFn | None) -> torch.Tensor:
    """``module(x)``, through ``linear`` when given and ``module`` is a plain fp32 ``nn.Linear``."""
    if linear is None or type(module) is not nn.Linear or module.weight.dtype != torch.float32:
        return module(x)
    return linear(x, module.weight, module.bias)


class LeanBlock(nn.Module):
    """One post-LayerNorm transformer block; holds the ``transformers`` block's own modules (shared weights)."""

    def __init__(self, layer: nn.Module, heads: int, gelu: str, attn_dropout: float, hidden_dropout: float):
        super().__init__()
        s = layer.attention.self
        self.query, self.key, self.value = s.query, s.key, s.value
        self.qkv: nn.Module | None = None  # set by fuse_qkv(): one Linear (copies of the weights)
        self.attn_out = layer.attention.output.dense
        self.attn_norm = layer.attention.output.LayerNorm
        self.up = layer.intermediate.dense
        self.down = layer.output.dense
        self.out_norm = layer.output.LayerNorm
        self.heads = heads
        self.gelu = gelu
        self.attn_dropout = attn_dropout
        self.hidden_dropout = hidden_dropout

    def fuse_qkv(self) -> None:
        """Replace the three projections by one ``Linear`` holding copies of their weights (inference copies)."""
        q, k, v = self.query, self.key, self.value
        fused = nn.Linear(q.in_features, q.out_features + k.out_features + v.out_features)
        with torch.no_grad():
            fused.weight.copy_(torch.cat([q.weight, k.weight, v.weight]))
            fused.bias.copy_(torch.cat([q.bias, k.bias, v.bias]))
        self.qkv = fused
        del self.query, self.key, self.value

    def project_qkv(self, x: torch.Tensor, linear: LinearFn | None = None) -> torch.Tensor:
        """``x @ [Wq; Wk; Wv]^T + b`` as one GEMM: ``... x 3d`` (``linear``: see :meth:`finish`)."""
        if self.qkv is not None:
            return _apply(self.qkv, x, linear)
        w = torch.cat([self.query.weight, self.key.weight, self.value.weight])
        b = torch.cat([self.query.bias, self.key.bias, self.value.bias])
        return F.linear(x, w, b) if linear is None else linear(x, w, b)

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.hidden_dropout, True) if self.training and self.hidden_dropout > 0 else x

    def finish(self, x: torch.Tensor, attn: torch.Tensor, kernels: Any = None,
               linear: LinearFn | None = None) -> torch.Tensor:
        """Everything after attention: output projection, residual + norm, feed-forward, residual + norm.

        ``kernels``: the library of :func:`sciptm.encoders.fused_attention.kernel` (inference only): its GELU
        and fused residual add + LayerNorm run instead of ATen's. ``linear`` (inference only): ``linear(x, W, b)``
        computes the fp32 ``nn.Linear`` layers instead of ``F.linear`` (e.g. on sciptm's own GEMM; see
        :data:`LinearFn`).
        """
        if torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in self.attn_norm.parameters())):
            x = self.attn_norm(self._drop(self.attn_out(attn)) + x)
            return self.out_norm(self._drop(self.down(F.gelu(self.up(x), approximate=self.gelu))) + x)
        # inference: in place on the fresh GEMM outputs (fewer large allocations, which cost page faults)
        h = _apply(self.attn_out, attn, linear)
        x = h if kernels is not None and fused_attention.add_layernorm_(h, x, self.attn_norm, kernels) \
            else self.attn_norm(h.add_(x))
        h = _apply(self.up, x, linear)
        if kernels is None or self.gelu != "none" or not fused_attention.gelu_(h, kernels):
            torch.ops.aten.gelu_(h, approximate=self.gelu)
        h = _apply(self.down, h, linear)
        if kernels is not None and fused_attention.add_layernorm_(h, x, self.out_norm, kernels):
            return h
        return self.out_norm(h.add_(x))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``B x T x d`` -> ``B x T x d``; ``mask`` is ``None`` or a boolean ``B x 1 x 1 x T`` (True = attend)."""
        b, t, d = x.shape
        q, k, v = self.project_qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        p = self.attn_dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p).transpose(1, 2).reshape(b, t, d)
        return self.finish(x, a)


class LeanEncoder(nn.Module):
    """The forward of a BERT-family ``transformers`` base model, lean (see the module docstring).

    Parameters
    ----------
    model: a ``RobertaModel``/``BertModel``-style base model (:func:`is_supported`); its parameters are shared.

    Calling the module with ``input_ids``/``attention_mask`` (``B x T``) returns the last hidden states
    ``B x T x d`` (what ``model(...).last_hidden_state`` is); :meth:`embed_sequences` is the inference path.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        reason = unsupported_reason(model)
        if reason is not None:
            raise ValueError(f"LeanEncoder cannot run {type(model).__name__}: {reason}")
        cfg = model.config
        emb = model.embeddings
        self.word = emb.word_embeddings
        self.position = emb.position_embeddings
        self.token_type = emb.token_type_embeddings
        self.emb_norm = emb.LayerNorm
        self.roberta_positions = cfg.model_type in ROBERTA_TYPES
        self.pad_id = int(cfg.pad_token_id) if cfg.pad_token_id is not None else 0
        self.hidden_dropout = float(cfg.hidden_dropout_prob or 0.0)
        self.heads = int(cfg.num_attention_heads)
        self.hidden_size = int(cfg.hidden_size)
        gelu = _GELU[cfg.hidden_act]
        self.blocks = nn.ModuleList(
            LeanBlock(layer, self.heads, gelu, float(cfg.attention_probs_dropout_prob or 0.0), self.hidden_dropout)
            for layer in model.encoder.layer)

    # ------------------------------------------------------------------ padded batches (HF-compatible)
    def positions(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Position ids as ``transformers`` makes them: RoBERTa counts non-pad tokens from ``pad + 1``."""
        if self.roberta_positions:
            real = input_ids.ne(self.pad_id).int()
            return (torch.cumsum(real, dim=1).type_as(real) * real).long() + self.pad_id
        return torch.arange(input_ids.shape[-1], device=input_ids.device).expand_as(input_ids)

    def embed_tokens(self, input_ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        x = self.word(input_ids) + self.token_type.weight[0] + self.position(positions)
        x = self.emb_norm(x)
        return F.dropout(x, self.hidden_dropout, True) if self.training and self.hidden_dropout > 0 else x

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Last hidden states ``B x T x d`` of a (padded) batch."""
        x = self.embed_tokens(input_ids, self.positions(input_ids))
        mask = None
        if attention_mask is not None and not bool(attention_mask.all()):
            mask = attention_mask.bool()[:, None, None, :]
        for block in self.blocks:
            x = block(x, mask)
        return x

    # ------------------------------------------------------------------ packed inference
    @torch.inference_mode()
    def embed_sequences(self, sequences: Sequence[Sequence[int]], pooling: str = "mean", max_tokens: int = 4096,
                        fixed_shapes: bool = False, max_rows: int | None = None,
                        linear: LinearFn | None = None) -> torch.Tensor:
        """Pooled vectors ``N x d`` of token-id sequences (special tokens included), inference only.

        Sequences are packed, in the order given (sort them by length first: then most packs hold one or
        two lengths), into token matrices of at most ``max_tokens`` rows (a longer sequence gets a pack of
        its own) and at most ``max_rows`` sequences; no padding token enters a linear layer, and attention runs
        per run of equal-length sequences. ``fixed_shapes`` pads each pack's row count up to ``max_tokens``
        (or, for a short last pack, to the next power of two from 64), so quantized kernels that are built per
        input shape are built only a few times; the padding rows never reach a real row (attention stays
        within each sequence). ``linear(x, W, b)`` (:data:`LinearFn`): computes the fp32 linear layers instead of ``F.linear``
        (:func:`sciptm.training.packed_linear.inference_linear`: sciptm's GEMM); int8 layers are unaffected.
        """
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', not {pooling!r}")
        # dropout off for this call; only the lean modules' own flags (not the shared transformers modules')
        own = [self, *self.blocks]
        flags = [m.training for m in own]
        for m in own:
            m.training = False
        try:
            n = len(sequences)
            out = torch.empty(n, self.hidden_size)
            lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=n)
            with collector_paused():
                for start, stop in _packs(lengths, max_tokens, max_rows):
                    out[start:stop] = self._pack_forward(sequences[start:stop], lengths[start:stop], pooling,
                                                         max_tokens if fixed_shapes else None, linear)
        finally:
            for m, flag in zip(own, flags):
                m.training = flag
        return out

    def _pack_forward(self, seqs: Sequence[Sequence[int]], lengths: np.ndarray, pooling: str,
                      fixed: int | None, linear: LinearFn | None = None) -> torch.Tensor:
        real = int(lengths.sum())
        rows = real if fixed is None else _padded_rows(real, fixed)
        ids = np.full(rows, self.pad_id, dtype=np.int64)
        ids[:real] = np.fromiter((t for s in seqs for t in s), dtype=np.int64, count=real)
        # runs of equal length: (first row, number of sequences, length)
        groups: list[tuple[int, int, int]] = []
        change = np.flatnonzero(np.diff(lengths)) + 1
        bounds = np.concatenate([[0], change, [len(lengths)]])
        row = 0
        pos = np.full(rows, self.pad_id if self.roberta_positions else 0, dtype=np.int64)
        for a, b in pairwise(bounds.tolist()):
            count, t = int(b - a), int(lengths[a])
            groups.append((row, count, t))
            block = ids[row:row + count * t].reshape(count, t)
            if self.roberta_positions:
                nonpad = block != self.pad_id
                pos[row:row + count * t] = (np.cumsum(nonpad, axis=1) * nonpad + self.pad_id).ravel()
            else:
                pos[row:row + count * t] = np.tile(np.arange(t), count)
            row += count * t
        x = self.embed_tokens(torch.from_numpy(ids), torch.from_numpy(pos))
        d, h = self.hidden_size, self.heads
        fused = fused_attention.kernel()  # the C kernel (None: off or unavailable)
        table = fused_attention.group_table(groups)
        packs = self._int8_packs(fused)
        if packs is not None:  # int8 copy with the C kernels: the real rows only (no fixed shapes needed)
            self._int8_blocks(x[:real], table, packs, fused)
            return self._pool(x, groups, pooling)
        for block in self.blocks:
            qkv = block.project_qkv(x, linear)
            attn = torch.empty(rows, d)
            if rows > real:
                attn[real:].zero_()
            if fused is not None and fused_attention.usable(qkv, h):
                fused_attention.packed_attention(qkv, attn, table, h, fused)
                x = block.finish(x, attn, fused, linear)
                continue
            for first, count, t in groups:
                span = slice(first, first + count * t)
                q, k, v = qkv[span].view(count, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
                a = F.scaled_dot_product_attention(q, k, v)
                attn[span].view(count, t, h, d // h).copy_(a.transpose(1, 2))
            x = block.finish(x, attn, None, linear)
        return self._pool(x, groups, pooling)

    def _pool(self, x: torch.Tensor, groups: list[tuple[int, int, int]], pooling: str) -> torch.Tensor:
        d = self.hidden_size
        pooled = []
        for first, count, t in groups:
            states = x[first:first + count * t].view(count, t, d)
            pooled.append(states.mean(1) if pooling == "mean" else states[:, 0])
        return torch.cat(pooled) if len(pooled) > 1 else pooled[0]

    def _int8_packs(self, lib: Any) -> list[fused_attention.PackedBlock] | None:
        """The blocks' int8 layers in the C kernel's layout (made once, kept on the module), or ``None`` when
        this is not a dynamic-int8 copy the kernel can run (or the kernel has no int8 path, or
        :data:`INT8_KERNEL` is off)."""
        if (not INT8_KERNEL or not fused_attention.int8_available(lib)
                or any(b.gelu != "none" or b.qkv is None for b in self.blocks)):
            return None
        packs = self.__dict__.get("_int8_packed")
        if packs is None:
            made = [fused_attention.pack_block(b.qkv, b.attn_out, b.up, b.down, b.attn_norm, b.out_norm)
                    for b in self.blocks]
            packs = made if all(p is not None for p in made) else False
            self.__dict__["_int8_packed"] = packs
        return packs or None

    def _int8_blocks(self, x: torch.Tensor, table: np.ndarray, packs: list[fused_attention.PackedBlock],
                     lib: Any) -> None:
        """All blocks on ``x`` (``rows x d``, contiguous, updated in place) with the C kernels: per block the QKV
        projection on per-row u8 activations, attention, and :func:`~sciptm.encoders.fused_attention.int8_finish`
        (output projection, norms and feed-forward in L2-sized row chunks; it also quantizes the block's output
        for the next QKV projection)."""
        chunks = fused_attention.row_chunks(table, INT8_CHUNK_ROWS) if INT8_CHUNK_ROWS else [(0, len(x), table)]
        for a, b, sub in chunks:  # sequences are independent: all blocks per chunk, its activations in cache
            xs = x[a:b]
            q, s, z = fused_attention.quantize_rows(xs, lib)
            attn = torch.empty_like(xs)
            for pack in packs:
                qkv = fused_attention.qlinear(q, s, z, pack.qkv, lib)
                fused_attention.packed_attention(qkv, attn, sub, self.heads, lib)
                fused_attention.int8_finish(attn, xs, q, s, z, pack, lib)

    # ------------------------------------------------------------------ int8
    def quantized(self, engine: str | None = None) -> LeanEncoder:
        """A dynamic-int8 copy for CPU inference (int8 ``Linear`` weights per output channel, fused QKV); this
        module is unchanged.

        ``engine`` is the PyTorch quantized engine the weights are packed for (default: the current one);
        the packed weights carry their engine, so the copy runs on it whatever the global setting is later.
        """
        from sciptm.encoders.quantize import dynamic_int8

        twin = copy.deepcopy(self).eval()
        for block in twin.blocks:
            block.fuse_qkv()
        old = torch.backends.quantized.engine
        try:
            if engine is not None:
                torch.backends.quantized.engine = engine
            # per-output-channel weight scales: closer to fp32 than one scale per matrix, at the same speed
            return dynamic_int8(twin, per_channel=True)
        finally:
            torch.backends.quantized.engine = old


def _packs(lengths: np.ndarray, max_tokens: int, max_rows: int | None = None) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` ranges of whole sequences, at most ``max_tokens`` tokens and ``max_rows``
    sequences each (a sequence longer than ``max_tokens`` alone)."""
    out: list[tuple[int, int]] = []
    start, total = 0, 0
    rows = max_rows or len(lengths) or 1
    for i, n in enumerate(lengths.tolist()):
        if i > start and (total + n > max_tokens or i - start >= rows):
            out.append((start, i))
            start, total = i, 0
        total += n
    if start < len(lengths):
        out.append((start, len(lengths)))
    return out


def _padded_rows(real: int, fixed: int) -> int:
    """Rows of a pack with ``real`` tokens: ``fixed``, or a power of two from 64 for a small (last) pack."""
    if real > fixed:
        return real
    rows = 64
    while rows < real:
        rows *= 2
    return min(rows, fixed) if real <= fixed // 2 else fixed


def regex_token_ids(tokenizer: Any) -> Callable[[list[str]], list[list[int]]] | None:
    """A pure-Python twin of a regex word-level fast tokenizer (sciptm's SMILES/crystal recipe), or ``None``.

    The twin splits with the tokenizer's own pre-tokenizer regex (Python ``re``), looks the pieces up in its
    vocabulary and frames them with its template's special tokens: the same ids as
    ``tokenizer(texts)["input_ids"]`` (no truncation), ~5x faster on short texts (no Rust round trip per
    batch of encodings). It applies only when the regex covers a text entirely and the text holds no added
    (special) token; other texts go through the tokenizer itself. ``None`` when the tokenizer is not of
    that kind (normalizer, other pre-tokenizer or model, template with a pair-only layout...).
    """
    backend = getattr(tokenizer, "_tokenizer", None)
    if backend is None:
        return None
    try:
        spec = json.loads(backend.to_str())
        pre, model, post = spec.get("pre_tokenizer") or {}, spec.get("model") or {}, spec.get("post_processor") or {}
        if (spec.get("normalizer") is not None or pre.get("type") != "Split" or pre.get("behavior") != "Isolated"
                or pre.get("invert") or "Regex" not in (pre.get("pattern") or {}) or model.get("type") != "WordLevel"
                or post.get("type") != "TemplateProcessing"):
            return None
        pattern = re.compile(pre["pattern"]["Regex"])
        vocab: dict[str, int] = dict(model["vocab"])
        unk = vocab[model["unk_token"]]
        special = {name: tok["ids"] for name, tok in post["special_tokens"].items()}
        kinds = [next(iter(part)) for part in post["single"]]
        if kinds.count("Sequence") != 1:
            return None
        at = kinds.index("Sequence")
        prefix = [i for part in post["single"][:at] for i in special[part["SpecialToken"]["id"]]]
        suffix = [i for part in post["single"][at + 1:] for i in special[part["SpecialToken"]["id"]]]
        added = [t["content"] for t in spec.get("added_tokens", [])]
    except (KeyError, TypeError, ValueError, re.error, StopIteration):
        return None
    has_added = re.compile("|".join(map(re.escape, added))).search if added else (lambda _: None)
    get, findall = vocab.get, pattern.findall

    def encode(texts: list[str]) -> list[list[int]]:
        out: list[list[int]] = []
        slow: list[int] = []
        for k, text in enumerate(texts):
            pieces = findall(text)
            if has_added(text) is None and "".join(pieces) == text:
                out.append([*prefix, *[get(p, unk) for p in pieces], *suffix])
            else:
                out.append([])
                slow.append(k)
        if slow:
            ids = tokenizer([texts[k] for k in slow], add_special_tokens=True, truncation=False, verbose=False)
            for k, row in zip(slow, ids["input_ids"]):
                out[k] = list(row)
        return out

    return encode


def token_ids(encoder: Any, texts: list[str]) -> list[list[int]]:
    """``encoder.tokenizer(texts)["input_ids"]`` (special tokens, no truncation), through the tokenizer's
    :func:`regex_token_ids` twin when it has one (cached on the encoder)."""
    cache = encoder.__dict__.setdefault("_token_ids_cache", {})
    if cache.get("tokenizer") is not encoder.tokenizer:
        cache["tokenizer"] = encoder.tokenizer
        cache["twin"] = regex_token_ids(encoder.tokenizer)
    with collector_paused():
        if cache["twin"] is not None:
            return cache["twin"](texts)
        return encoder.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]


def inference_lean(encoder: Any, quantize: str | None) -> LeanEncoder | None:
    """The lean module ``Encoder.embed`` runs on CPU (cached on the encoder), or ``None`` to use the model itself.

    ``None`` off CPU, for unsupported architectures (reason logged at debug level) and when the environment
    variable ``SCIPTM_LEAN_FORWARD`` is ``0``. The fp32 module shares the model's weights; the int8 copy
    (:meth:`LeanEncoder.quantized`, ``onednn`` engine where available) is remade when the weights change.
    """
    if not flag("SCIPTM_LEAN_FORWARD", True) or encoder.device.type != "cpu":
        return None
    keep_freed_memory()
    model = encoder.model
    cache = encoder.__dict__.setdefault("_lean_cache", {})
    if cache.get("model") is not model:
        cache.clear()
        cache["model"] = model
        cache["fp32"] = lean_or_none(model)
    lean = cache["fp32"]
    if lean is None or quantize is None:
        return lean
    version = tuple(int(p._version) for p in model.parameters())
    if cache.get("int8_version") != version:
        cache["int8"] = lean.quantized(INT8_ENGINE if INT8_ENGINE in torch.backends.quantized.supported_engines
                                       else None)
        cache["int8_version"] = version
    return cache["int8"]


def lean_or_none(model: nn.Module) -> LeanEncoder | None:
    """A :class:`LeanEncoder` of ``model`` when supported, else ``None`` (the reason logged at debug level)."""
    reason = unsupported_reason(model)
    if reason is not None:
        logger.debug("lean forward not used for %s: %s", type(model).__name__, reason)
        return None
    return LeanEncoder(model)


__all__ = ["INT8_ENGINE", "SUPPORTED_TYPES", "LeanBlock", "LeanEncoder", "inference_lean", "is_supported",
           "keep_freed_memory", "lean_or_none", "regex_token_ids", "token_ids", "unsupported_reason"]
