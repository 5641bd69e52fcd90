"""Packed fine-tuning forward + backward for BERT-family encoders on CPU, with C kernels.

:class:`~sciptm.training.Trainer` runs a :class:`~sciptm.heads.mlp.PredictorModule` through the
``transformers`` model: padded ``B x T`` batches, a mask per attention call, and many small ATen operators
per step. :class:`FusedForward` computes the same function on the same parameters (the model's own
``nn.Linear``/``nn.LayerNorm``/``nn.Embedding`` tensors, so checkpoints and ``state_dict`` are untouched):

- the batch is packed without padding (``rows = sum of lengths``), so every GEMM sees real tokens only and no
  attention mask exists; the query, key and value projections are one GEMM; the GEMMs run without their bias
  (each bias is added, and its gradient summed, inside the C kernel that reads the GEMM's output);
- attention of all packed sequences of a layer is one C call forward and one backward
  (``kernels/train.c``: per sequence and head, the softmax probabilities are kept for the backward);
- erf GELU and its derivative, and "dropout + residual add + LayerNorm" (forward and backward) are one pass
  each in C; the dropout masks come from an SFC64 generator seeded by one draw of torch's generator per call,
  with the semantics of :mod:`sciptm.training.fast_dropout` (drop probability quantized to 1/65536, kept
  elements scaled by ``1 / (1 - p)``), so ``seed=`` still fixes ``fit`` bit for bit;
- mean/cls pooling and the head as in :class:`~sciptm.heads.mlp.PredictorModule`;
- validation predictions (:func:`predict_packed`) go through the packed inference forward of
  :class:`~sciptm.encoders.lean.LeanEncoder`.

The GEMMs run on sciptm's own fp32 GEMM (:mod:`sciptm.training.packed_linear`, ``kernels/sgemm.h``: the FFN's
GELU and its backward in the GEMMs' epilogues; ``packed_linear.ENABLED = False``: ``F.linear`` on MKL).
The C kernels run on the calling thread (the GEMMs split rows over torch's threads). Buffers they fill
completely are allocated without deterministic mode's NaN fill. A graph through these functions can be
backpropagated once.

The kernels are compiled on first use by :func:`sciptm.encoders.fused_attention.build` (source ``train.c``).
:func:`fused_forward` returns ``None`` (the trainer keeps the ``transformers`` path) off CPU, for mixed
precision, for architectures :func:`sciptm.encoders.lean.unsupported_reason` rejects, without a C compiler or
AVX2/FMA, and with ``SCIPTM_FUSED_TRAINING=0`` (or ``SCIPTM_FAST_DROPOUT=0``, which asks for PyTorch's
dropout masks); a batch with attention-probability dropout or left padding
also runs the ``transformers`` path.
"""
from __future__ import annotations

import ctypes
import logging
from itertools import pairwise
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sciptm.settings import flag
from sciptm.training import packed_linear
from sciptm.training.kernel_calls import SPLIT_MIN_ROWS, call_parts, once, ptr, row_bounds, unfilled

logger = logging.getLogger(__name__)

SOURCE = "train.c"
_LEVELS = 1 << 16

_P = ctypes.c_void_p
_I = ctypes.c_int64
_F = ctypes.c_float


def _load(path: Any) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    sig = {
        "sciptm_train_isa": (ctypes.c_int, []),
        "sciptm_gelu_fwd": (None, [_P, _P, _I]),
        "sciptm_gelu_bwd": (None, [_P, _P, _P, _I]),
        "sciptm_gelu_fwd_grad": (None, [_P, _P, _P, _P, _I, _I]),
        "sciptm_mul_colsum": (None, [_P, _P, _P, _P, _I, _I]),
        "sciptm_dropout_mask": (None, [_P, _I, _I, ctypes.c_uint64]),
        "sciptm_add_drop_ln_fwd": (None, [_P, _P, _P, _P, _F, _P, _P, _P, _P, _P, _I, _I, _F]),
        "sciptm_add_drop_ln_bwd": (None, [_P, _P, _P, _P, _F, _P, _P, _P, _P, _P, _P, _I, _I]),
        "sciptm_attn_fwd": (ctypes.c_int, [_P, _P, _P, _P, _P, _I, _I, _I, _F]),
        "sciptm_attn_bwd": (ctypes.c_int, [_P, _P, _P, _P, _P, _P, _P, _P, _I, _I, _I, _F]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


def kernel() -> ctypes.CDLL | None:
    """The loaded training-kernel library, or ``None`` (``SCIPTM_FUSED_TRAINING=0``, no compiler, a failed
    compile, no AVX2/FMA; the reason logged once at INFO). The outcome is kept for the process."""
    if not flag("SCIPTM_FUSED_TRAINING", True):
        return None
    from sciptm.encoders.fused_attention import load_once

    return load_once(SOURCE, _load, "sciptm_train_isa",
                     "fused training kernels not used, the transformers forward instead", logger)


def reset() -> None:
    """Forget the loaded library (or the failure), so the next :func:`kernel` builds/loads again (tests)."""
    from sciptm.encoders.fused_attention import forget

    forget(SOURCE)


def _seq_parts(seqs: np.ndarray, heads: int, rows: int) -> list[tuple[np.ndarray, int]]:
    """``seqs`` cut into runs of whole sequences of about equal attention work (``length^2``), one per thread,
    each with the offset (floats) of its saved probabilities."""
    parts = max(1, min(int(torch.get_num_threads()), rows // SPLIT_MIN_ROWS, len(seqs)))
    if parts == 1:
        return [(seqs, 0)]
    lengths = seqs[:, 1]
    probs = heads * lengths * ((lengths + 7) // 8 * 8)
    starts = np.concatenate([[0], np.cumsum(probs)[:-1]])
    cost = np.cumsum(lengths.astype(np.float64) ** 2)
    cuts = np.unique(np.searchsorted(cost, cost[-1] * np.arange(1, parts) / parts))
    bounds = [0, *[int(c) for c in cuts if 0 < c < len(seqs)], len(seqs)]
    return [(np.ascontiguousarray(seqs[a:b]), int(starts[a])) for a, b in pairwise(bounds) if b > a]


# ---------------------------------------------------------------------------------------------- autograd ops
class PackedAttention(torch.autograd.Function):
    """Attention of packed sequences: ``qkv + bias`` (``rows x 3d`` without its bias, plus the ``3d`` bias or
    ``None``) -> ``rows x d``; ``seqs`` an ``int64`` ``n x 2`` array of (first row, length)."""

    @staticmethod
    def forward(ctx: Any, qkv: torch.Tensor, bias: torch.Tensor | None, seqs: np.ndarray, heads: int,
                lib: ctypes.CDLL) -> torch.Tensor:
        rows, d = qkv.shape[0], qkv.shape[1] // 3
        hd = d // heads
        lengths = seqs[:, 1]
        with unfilled():
            probs = torch.empty(int((heads * lengths * ((lengths + 7) // 8 * 8)).sum()))
            out = torch.empty(rows, d)
        qkv = qkv.contiguous()
        bias = None if bias is None else bias.contiguous()
        parts = _seq_parts(seqs, heads, rows)
        codes = call_parts(lib, "sciptm_attn_fwd", [(qkv.data_ptr(), ptr(bias), out.data_ptr(), ptr(probs, o),
                                                  t.ctypes.data, len(t), heads, hd, hd ** -0.5) for t, o in parts])
        if any(codes):
            raise MemoryError("fused training attention: scratch allocation failed")
        ctx.save_for_backward(qkv, bias, out, probs)
        ctx.seqs, ctx.heads, ctx.lib = seqs, heads, lib
        return out

    @staticmethod
    def backward(ctx: Any, dout: torch.Tensor) -> tuple[Any, ...]:
        qkv, bias, out, probs = ctx.saved_tensors
        dout = dout.contiguous()
        with unfilled():
            dqkv = torch.empty_like(qkv)
            dbias = None if bias is None else torch.empty_like(bias)
        hd = out.shape[1] // ctx.heads
        parts = _seq_parts(ctx.seqs, ctx.heads, qkv.shape[0])
        with unfilled():
            partial = None if bias is None or len(parts) == 1 else torch.empty(len(parts), bias.numel())
        sums = [ptr(dbias) if partial is None else ptr(partial, k * partial.shape[1]) for k in range(len(parts))]
        codes = call_parts(ctx.lib, "sciptm_attn_bwd", [
            (qkv.data_ptr(), ptr(bias), out.data_ptr(), ptr(probs, o), dout.data_ptr(), dqkv.data_ptr(), b,
             t.ctypes.data, len(t), ctx.heads, hd, hd ** -0.5) for (t, o), b in zip(parts, sums)])
        if any(codes):
            raise MemoryError("fused training attention backward: scratch allocation failed")
        if partial is not None:
            torch.sum(partial, 0, out=dbias)
        return dqkv, dbias, None, None, None


class Gelu(torch.autograd.Function):
    """erf GELU of ``u + bias`` (``rows x cols``, the bias of ``cols`` or ``None``) in C; the forward also writes
    the derivative (one pass for erf and exp), so the backward is a multiplication (written over that saved
    buffer) with the bias gradient summed on the way."""

    @staticmethod
    def forward(ctx: Any, u: torch.Tensor, bias: torch.Tensor | None, lib: ctypes.CDLL) -> torch.Tensor:
        u = u.contiguous()
        bias = None if bias is None else bias.contiguous()
        with unfilled():
            y, dg = torch.empty_like(u), torch.empty_like(u)
        rows, cols = u.shape
        call_parts(lib, "sciptm_gelu_fwd_grad", [(ptr(u, a * cols), ptr(bias), ptr(y, a * cols), ptr(dg, a * cols),
                                               z - a, cols) for a, z in pairwise(row_bounds(rows))])
        ctx.save_for_backward(dg)
        ctx.lib, ctx.has_bias = lib, bias is not None
        return y

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[Any, ...]:
        once(ctx)
        (dg,) = ctx.saved_tensors
        dy = dy.contiguous()
        rows, cols = dg.shape
        bounds = row_bounds(rows)
        with unfilled():
            db = torch.empty(len(bounds) - 1, cols)
        call_parts(ctx.lib, "sciptm_mul_colsum", [(ptr(dy, a * cols), ptr(dg, a * cols), ptr(dg, a * cols),
                                                 ptr(db, k * cols), z - a, cols)
                                                for k, (a, z) in enumerate(pairwise(bounds))])
        return dg, (db[0] if len(db) == 1 else db.sum(0)) if ctx.has_bias else None, None


class AddDropNorm(torch.autograd.Function):
    """``LayerNorm(dropout(h + hbias) + x)`` over the last dimension (``h``, ``x``: ``rows x d``; ``hbias``, the
    projection's bias, or ``None``); ``keep`` a ``uint8`` mask (1 = kept, scaled by ``scale``) or ``None``."""

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, hbias: torch.Tensor | None, x: torch.Tensor, weight: torch.Tensor,
                bias: torch.Tensor, keep: torch.Tensor | None, scale: float, eps: float,
                lib: ctypes.CDLL) -> torch.Tensor:
        h, x = h.contiguous(), x.contiguous()
        rows, d = h.shape
        with unfilled():
            y, xhat, rstd = torch.empty_like(h), torch.empty_like(h), torch.empty(rows)
        bounds = row_bounds(rows)
        call_parts(lib, "sciptm_add_drop_ln_fwd", [
            (ptr(h, a * d), ptr(hbias), ptr(x, a * d), ptr(keep, a * d), scale, weight.data_ptr(), bias.data_ptr(),
             ptr(y, a * d), ptr(xhat, a * d), ptr(rstd, a), z - a, d, eps) for a, z in pairwise(bounds)])
        ctx.save_for_backward(xhat, rstd, weight)
        ctx.keep, ctx.scale, ctx.lib, ctx.has_hbias = keep, scale, lib, hbias is not None
        return y

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[Any, ...]:
        xhat, rstd, weight = ctx.saved_tensors
        dy = dy.contiguous()
        rows, d = xhat.shape
        bounds = row_bounds(rows)
        n = len(bounds) - 1
        with unfilled():
            dx, dh = torch.empty_like(xhat), torch.empty_like(xhat)
            part = (d,) if n == 1 else (n, d)
            dw, db = torch.empty(part), torch.empty(part)
            dhb = torch.empty(part) if ctx.has_hbias else None
        call_parts(ctx.lib, "sciptm_add_drop_ln_bwd", [  # one part: the sums written in place
            (ptr(dy, a * d), ptr(xhat, a * d), ptr(rstd, a), ptr(ctx.keep, a * d), ctx.scale, weight.data_ptr(),
             ptr(dx, a * d), ptr(dh, a * d), ptr(dw, k * d), ptr(db, k * d), ptr(dhb, k * d), z - a, d)
            for k, (a, z) in enumerate(pairwise(bounds))])
        if n > 1:
            dw, db = dw.sum(0), db.sum(0)
            dhb = None if dhb is None else dhb.sum(0)
        need = ctx.needs_input_grad
        return (dh if need[0] else None, dhb if need[1] else None, dx if need[2] else None,
                dw if need[3] else None, db if need[4] else None, None, None, None, None)


def dropout_keep(shape: tuple[int, ...], p: float, lib: ctypes.CDLL) -> tuple[torch.Tensor | None, float]:
    """A ``uint8`` keep mask of ``shape`` (drop probability ``round(p * 65536) / 65536``, seeded by one draw of
    torch's default generator) and the scale of kept elements; ``(None, 1.0)`` when ``p`` rounds to 0."""
    level = round(float(p) * _LEVELS)
    if level <= 0:
        return None, 1.0
    seed = int(torch.empty((), dtype=torch.int64).random_())  # advances torch's RNG: manual_seed fixes the mask
    with unfilled():
        keep = torch.empty(shape, dtype=torch.uint8)
    lib.sciptm_dropout_mask(keep.data_ptr(), keep.numel(), level, seed & ((1 << 64) - 1))
    return keep, _LEVELS / (_LEVELS - level)


def _dropout_p(module: nn.Module | None) -> float:
    p = getattr(module, "p", 0.0) if module is not None else 0.0
    return float(p or 0.0)


def _attention_p(self_attention: nn.Module) -> float:
    for attr in ("dropout_prob", "dropout"):
        value = getattr(self_attention, attr, None)
        if isinstance(value, float):
            return value
        if isinstance(value, nn.Dropout):
            return float(value.p)
    return 0.0


# ---------------------------------------------------------------------------------------------- the forward
class FusedForward:
    """The packed training forward of a :class:`~sciptm.heads.mlp.PredictorModule` (see the module
    docstring): call it like the module, ``(input_ids, attention_mask, features) -> B x n_out``."""

    def __init__(self, module: nn.Module, lib: ctypes.CDLL):
        from sciptm.encoders.lean import LeanEncoder
        from sciptm.memory import keep_freed_memory

        keep_freed_memory()  # activations of every step are reused, not page-faulted in again
        self.module = module
        self.lib = lib
        self.encoder = module.encoder
        self.lean = LeanEncoder(module.encoder)  # references to the model's own modules (shared weights)
        self.layers = list(module.encoder.encoder.layer)

    def fallback_reason(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> str | None:
        """Why this batch must run the module itself (``None`` when the packed path can run it)."""
        if not self.module.training:
            return "eval mode"
        if input_ids.device.type != "cpu" or input_ids.dim() != 2:
            return "not a CPU B x T batch"
        if any(_attention_p(layer.attention.self) > 0 for layer in self.layers):
            return "attention-probability dropout"
        if any(p.dtype != torch.float32 for p in self.encoder.parameters()):
            return "parameters are not fp32"
        return None

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 features: torch.Tensor | None = None) -> torch.Tensor:
        if self.fallback_reason(input_ids, attention_mask) is not None:
            return self.module(input_ids, attention_mask, features)
        mask = attention_mask.bool()
        lengths = mask.sum(1)
        t = input_ids.shape[1]
        if not bool((mask == (torch.arange(t) < lengths[:, None])).all()) or int(lengths.min()) < 1:
            return self.module(input_ids, attention_mask, features)  # left padding / holes / empty rows
        x = self._encode(input_ids, mask, lengths.numpy().astype(np.int64))
        pooled = self._pool(x, lengths)
        if features is not None and features.shape[-1] > 0:
            pooled = torch.cat([pooled, features.to(pooled.dtype)], dim=-1)
        return self.module.head(pooled)

    def _encode(self, input_ids: torch.Tensor, mask: torch.Tensor, lengths: np.ndarray) -> torch.Tensor:
        lean, lib = self.lean, self.lib
        ids = input_ids[mask]
        pos = lean.positions(input_ids)[mask]
        x = lean.word(ids) + lean.token_type.weight[0] + lean.position(pos)
        x = F.layer_norm(x, lean.emb_norm.normalized_shape, lean.emb_norm.weight, lean.emb_norm.bias,
                         lean.emb_norm.eps)
        p = _dropout_p(getattr(self.encoder.embeddings, "dropout", None))
        keep, scale = dropout_keep(tuple(x.shape), p, lib)
        if keep is not None:
            x = x * keep.to(x.dtype).mul_(scale)
        firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        seqs = np.ascontiguousarray(np.stack([firsts, lengths], axis=1))
        for block, layer in zip(lean.blocks, self.layers):
            # GEMMs without their bias (no bias copy into the output, no column sums in autograd): each bias is
            # added, and its gradient summed, inside the C kernel that reads the GEMM's output
            w = torch.cat([block.query.weight, block.key.weight, block.value.weight])
            biases = (block.query.bias, block.key.bias, block.value.bias)
            b = None if any(t is None for t in biases) else torch.cat(biases)
            qkv = packed_linear.linear(x, w, lib)
            a = PackedAttention.apply(qkv, b, seqs, block.heads, lib)
            h = packed_linear.linear(a, block.attn_out.weight, lib)
            x = self._add_norm(h, block.attn_out.bias, x, block.attn_norm,
                               _dropout_p(getattr(layer.attention.output, "dropout", None)))
            h = None if block.gelu != "none" else packed_linear.gelu_ffn(x, block.up.weight, block.up.bias,
                                                                          block.down.weight, lib)
            if h is None:
                if block.gelu == "none":
                    g = Gelu.apply(F.linear(x, block.up.weight), block.up.bias, lib)
                else:
                    g = F.gelu(F.linear(x, block.up.weight, block.up.bias), approximate=block.gelu)
                h = F.linear(g, block.down.weight)
            x = self._add_norm(h, block.down.bias, x, block.out_norm,
                               _dropout_p(getattr(layer.output, "dropout", None)))
        return x

    def _add_norm(self, h: torch.Tensor, hbias: torch.Tensor | None, x: torch.Tensor, norm: nn.LayerNorm,
                  p: float) -> torch.Tensor:
        keep, scale = dropout_keep(tuple(h.shape), p, self.lib)
        return AddDropNorm.apply(h, hbias, x, norm.weight, norm.bias, keep, scale, float(norm.eps), self.lib)

    def _pool(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        how = self.module.pooling
        firsts = torch.cumsum(lengths, 0) - lengths
        if how == "cls":
            return x[firsts]
        if how != "mean":
            raise ValueError(f"pooling must be 'mean' or 'cls', not {how!r}")
        # sum of each sequence's rows / length (index_add: one pass; its backward one gather; the dense
        # ``n x rows`` averaging GEMM it replaces was ~3x the time, forward + backward)
        seg = torch.repeat_interleave(torch.arange(len(lengths)), lengths)
        return torch.zeros(len(lengths), x.shape[1], dtype=x.dtype).index_add_(0, seg, x) / lengths[:, None].to(x.dtype)


def unsupported_reason(module: nn.Module) -> str | None:
    """Why :class:`FusedForward` cannot train ``module`` (``None`` when it can, kernels aside)."""
    from sciptm.encoders.lean import unsupported_reason as lean_reason
    from sciptm.heads.mlp import PredictorModule

    if type(module) is not PredictorModule:  # a subclass may compute something else
        return f"{type(module).__name__} is not a PredictorModule"
    if module.pooling not in ("mean", "cls"):
        return f"pooling {module.pooling!r}"
    reason = lean_reason(module.encoder)
    if reason is not None:
        return reason
    for layer in module.encoder.encoder.layer:
        norms = (layer.attention.output.LayerNorm, layer.output.LayerNorm)
        if any(n.weight is None or n.bias is None for n in norms):
            return "a block's LayerNorm has no weight or bias"
        if (module.encoder.config.hidden_size // module.encoder.config.num_attention_heads) % 8:
            return "head_dim is not a multiple of 8"
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in module.parameters()):
        return "parameters are not fp32 on CPU"
    return None


def predict_packed(module: nn.Module, ids: list[list[int]], features: np.ndarray | None) -> torch.Tensor | None:
    """Raw outputs ``N x n_out`` (input order) of an eval-mode :class:`~sciptm.heads.mlp.PredictorModule` on CPU
    for token-id sequences, through the packed inference forward of :class:`~sciptm.encoders.lean.LeanEncoder`
    (sorted by length, no padding, the C kernels of :mod:`sciptm.encoders.fused_attention`); ``None`` when that
    does not apply (``SCIPTM_FUSED_TRAINING=0``, training mode, unsupported module or device, empty input)."""
    from sciptm.encoders.lean import LeanEncoder

    if (not flag("SCIPTM_FUSED_TRAINING", True) or module.training or not ids or min(len(i) for i in ids) < 1
            or unsupported_reason(module) is not None):
        return None
    lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
    order = np.argsort(lengths, kind="stable")
    with unfilled():  # embed_sequences writes every row it allocates
        pooled = LeanEncoder(module.encoder).embed_sequences(
            [ids[i] for i in order], pooling=module.pooling, linear=packed_linear.inference_linear(kernel()))
    with torch.inference_mode():
        x = pooled[torch.from_numpy(np.argsort(order))]
        if features is not None and features.shape[-1] > 0:
            x = torch.cat([x, torch.as_tensor(features, dtype=x.dtype)], dim=-1)
        return module.head(x)


def fused_forward(module: nn.Module, mixed_precision: str = "no") -> FusedForward | None:
    """A :class:`FusedForward` for ``module`` when the packed path applies (see the module docstring), else
    ``None`` (the reason logged at debug level, or once at INFO when the kernels are missing)."""
    if not flag("SCIPTM_FUSED_TRAINING", True):
        return None
    if not flag("SCIPTM_FAST_DROPOUT", True):  # its masks are fast_dropout's kind, not PyTorch's
        logger.debug("fused training path not used: SCIPTM_FAST_DROPOUT=0 asks for PyTorch's dropout")
        return None
    reason = "mixed precision" if mixed_precision not in (None, "no") else unsupported_reason(module)
    if reason is not None:
        logger.debug("fused training path not used: %s", reason)
        return None
    lib = kernel()
    return None if lib is None else FusedForward(module, lib)


__all__ = [
    "SOURCE",
    "AddDropNorm",
    "FusedForward",
    "Gelu",
    "PackedAttention",
    "dropout_keep",
    "fused_forward",
    "kernel",
    "predict_packed",
    "reset",
    "unsupported_reason",
]
