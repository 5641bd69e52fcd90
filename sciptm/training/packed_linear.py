"""The linear layers of the packed fine-tuning path (:mod:`sciptm.training.fused_training`) on sciptm's own fp32 GEMM.

``kernels/sgemm.h`` (compiled into the training-kernel library, ``train.c``) is a BLIS-style AVX2 GEMM for the
shapes of this path (``rows`` ~ 1,000-2,000 packed tokens, hidden sizes 128-512): a 6 x 16 FMA micro-kernel,
the small operand packed per K block, the row-major operand read in place, and epilogues applied to the finished
tiles while they are in registers. Two autograd functions use it:

- :class:`Linear`: ``y = x W^T`` (no bias: the bias is added by the kernel that reads ``y``), backward
  ``dx = dy W`` and ``dW = dy^T x``;
- :class:`GeluFFN`: the feed-forward block without its output bias, ``h = GELU(x W_up^T + b_up) W_down^T``:
  the up projection's GEMM adds the bias and writes GELU and its derivative straight from the accumulators (no
  ``rows x ffn`` pre-activation written and read again), and in the backward the GEMM ``dh W_down`` multiplies
  by the saved derivative and sums the bias gradient in its epilogue.

:func:`inference_linear` runs the validation forward's fp32 linear layers (``predict_packed`` ->
:meth:`~sciptm.encoders.lean.LeanEncoder.embed_sequences`) on the same GEMM, the bias added in its epilogue.

Every output element has a fixed summation order; rows are split over ``torch.get_num_threads()`` threads
(weight gradients over their output rows), so results do not depend on the thread count, except the up
projection's bias gradient, summed per row range and then added (as the GELU kernel it replaces did).

:data:`ENABLED` (module level) switches back to ``F.linear``/MKL and the separate GELU kernel, so an A/B runs
in one process; :data:`WEIGHT_GRAD` chooses the GEMM of the weight gradients (``"mkl"`` where sciptm's did not
measure faster).
"""
from __future__ import annotations

import ctypes
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F

from sciptm.training.kernel_calls import call_parts, empty, once, ptr, row_bounds

#: use sciptm's GEMM (and the fused GELU epilogues) in the fused training path; False: MKL + separate kernels
ENABLED = True
#: GEMM of the weight gradients ``dy^T x``: ``"sgemm"`` (sciptm's), ``"mkl"`` (``torch.mm``) or ``"auto"``:
#: sciptm's for at least :data:`WEIGHT_GRAD_MIN_OUT` output rows (it measured faster than MKL there), else MKL
WEIGHT_GRAD = "auto"
WEIGHT_GRAD_MIN_OUT = 384
#: the GEMM under :func:`gemm`'s plain products: ``"sgemm"`` or ``"mkl"`` (``torch.mm``; with
#: :data:`FUSE_GELU` off, an A/B of the GEMM alone in the same autograd functions)
ENGINE = "sgemm"
#: GELU and its derivative (forward) and the multiplication by it + bias gradient (backward) in the GEMMs'
#: epilogues; False: separate passes over the GEMM's output (train.c's GELU kernels)
FUSE_GELU = True
#: validation's fp32 forward (:func:`~sciptm.training.fused_training.predict_packed`) on sciptm's GEMM too
#: (:func:`inference_linear`: the bias added in the GEMM's epilogue); False: ``F.linear`` (MKL's ``addmm``)
INFERENCE = True

#: multiply-adds below which a GEMM stays on one thread (split by rows, at least 6 rows a part, above it)
GEMM_PART_WORK = 1 << 21

PLAIN, GELU, MULSUM, BIAS = 0, 1, 2, 3
_P, _I = ctypes.c_void_p, ctypes.c_int64


def bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Declare the GEMM's signature on the training-kernel library ``lib`` (idempotent) and return it."""
    fn = lib.sciptm_sgemm
    if fn.argtypes is None:
        fn.restype = ctypes.c_int
        fn.argtypes = [_I, _I, _I, _P, _I, _I, _P, _I, _I, _P, _I, ctypes.c_int, ctypes.c_int, _P, _P, _P]
    return lib


def available(lib: Any) -> bool:
    """Whether ``lib`` has the GEMM (a library built from an older ``train.c`` may not)."""
    return lib is not None and hasattr(lib, "sciptm_sgemm")


def _check(codes: list[int]) -> None:
    if any(codes):
        raise MemoryError(f"sciptm sgemm failed (codes {codes}): scratch allocation or no AVX2")


def gemm(lib: ctypes.CDLL, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None, *,
         kind: int = PLAIN, bias: torch.Tensor | None = None, aux: torch.Tensor | None = None,
         accumulate: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``out = a @ b`` (2-D fp32 tensors of any strides, ``out`` row-major contiguous, made when ``None``) on
    sciptm's GEMM, rows of ``out`` split over torch's threads, then the epilogue ``kind``: :data:`PLAIN`;
    :data:`GELU` (``v = a @ b + bias``; ``out = GELU(v)``, ``aux`` (made when ``None``) ``= GELU'(v)``);
    :data:`MULSUM` (``out = (a @ b) * aux``; returns its column sums too); :data:`BIAS` (``out = a @ b + bias``).
    Returns ``(out, aux or colsum)``."""
    m, k = a.shape
    k2, n = b.shape
    if k2 != k:
        raise ValueError(f"gemm: inner sizes differ ({tuple(a.shape)} @ {tuple(b.shape)})")
    if out is None:
        out = empty(m, n)
    if ENGINE == "mkl" and kind == PLAIN:  # the same calls on torch.mm (A/B of the GEMM alone)
        return (out.addmm_(a, b) if accumulate else torch.mm(a, b, out=out)), aux
    if kind == GELU and aux is None:
        aux = empty(m, n)
    if not out.is_contiguous() or (aux is not None and not aux.is_contiguous()):
        raise ValueError("gemm: out and aux must be contiguous")
    # a part per thread once each has GEMM_PART_WORK multiply-adds (the weight gradients' 384-512 rows too)
    bounds = row_bounds(m, max(6, -(-GEMM_PART_WORK // max(1, n * k))))
    parts = len(bounds) - 1
    sums = empty(parts, n) if kind == MULSUM else None
    sa0, sa1 = a.stride()
    sb0, sb1 = b.stride()
    pa, pb, po = a.data_ptr(), b.data_ptr(), out.data_ptr()
    pbias, paux, psum = ptr(bias), ptr(aux), ptr(sums)
    _check(call_parts(lib, "sciptm_sgemm", [
        (r1 - r0, n, k, pa + 4 * r0 * sa0, sa0, sa1, pb, sb0, sb1, po + 4 * r0 * n, n, int(accumulate), kind, pbias,
         None if paux is None else paux + 4 * r0 * n, None if psum is None else psum + 4 * i * n)
        for i, (r0, r1) in enumerate(pairwise(bounds))]))
    if kind == MULSUM:
        return out, sums[0] if parts == 1 else sums.sum(0)
    return out, aux


def _weight_grad(lib: ctypes.CDLL, dy: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``dy^T x`` (``out x in``)."""
    if WEIGHT_GRAD == "mkl" or (WEIGHT_GRAD == "auto" and dy.shape[1] < WEIGHT_GRAD_MIN_OUT):
        return dy.t().mm(x)
    return gemm(lib, dy.t(), x)[0]


class Linear(torch.autograd.Function):
    """``y = x W^T`` (``x``: ``rows x in``, ``W``: ``out x in``) on sciptm's GEMM, without a bias."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, lib: ctypes.CDLL) -> torch.Tensor:
        x = x.contiguous()
        ctx.save_for_backward(x, weight)
        ctx.lib = lib
        return gemm(lib, x, weight.t())[0]

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[Any, ...]:
        x, weight = ctx.saved_tensors
        dy = dy.contiguous()
        need = ctx.needs_input_grad
        dx = gemm(ctx.lib, dy, weight)[0] if need[0] else None
        dw = _weight_grad(ctx.lib, dy, x) if need[1] else None
        return dx, dw, None


class GeluFFN(torch.autograd.Function):
    """``GELU(x W_up^T + b_up) W_down^T`` (erf GELU; ``b_up`` may be ``None``), the feed-forward block without
    its output bias, with the GELU and its derivative written by the up projection's GEMM and the backward's
    multiplication by that derivative (and the bias gradient) in the epilogue of ``dh W_down``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w_up: torch.Tensor, b_up: torch.Tensor | None, w_down: torch.Tensor,
                lib: ctypes.CDLL) -> torch.Tensor:
        x = x.contiguous()
        b = None if b_up is None else b_up.contiguous()
        if FUSE_GELU and ENGINE == "sgemm":
            g, dg = gemm(lib, x, w_up.t(), kind=GELU, bias=b)
        else:
            g = gemm(lib, x, w_up.t())[0]
            dg = empty(*g.shape)
            cols = g.shape[1]
            call_parts(lib, "sciptm_gelu_fwd_grad", [(ptr(g, r0 * cols), ptr(b), ptr(g, r0 * cols), ptr(dg, r0 * cols),
                                                   r1 - r0, cols) for r0, r1 in pairwise(row_bounds(g.shape[0]))])
        h = gemm(lib, g, w_down.t())[0]
        ctx.save_for_backward(x, w_up, w_down, g, dg)
        ctx.lib, ctx.has_bias = lib, b_up is not None
        return h

    @staticmethod
    def backward(ctx: Any, dh: torch.Tensor) -> tuple[Any, ...]:
        once(ctx)  # its buffers are reused below
        x, w_up, w_down, g, dg = ctx.saved_tensors
        lib = ctx.lib
        dh = dh.contiguous()
        need = ctx.needs_input_grad
        dw_down = _weight_grad(lib, dh, g) if need[3] else None
        if FUSE_GELU and ENGINE == "sgemm":
            du, db = gemm(lib, dh, w_down, out=g, kind=MULSUM, aux=dg)  # g is not needed any more: du over it
        else:
            du = gemm(lib, dh, w_down, out=g)[0]
            cols = du.shape[1]
            sums = empty(len(row_bounds(du.shape[0])) - 1, cols)
            call_parts(lib, "sciptm_mul_colsum", [(ptr(du, r0 * cols), ptr(dg, r0 * cols), ptr(du, r0 * cols),
                                                ptr(sums, i * cols), r1 - r0, cols)
                                               for i, (r0, r1) in enumerate(pairwise(row_bounds(du.shape[0])))])
            db = sums[0] if len(sums) == 1 else sums.sum(0)
        dw_up = _weight_grad(lib, du, x) if need[1] else None
        dx = gemm(lib, du, w_up)[0] if need[0] else None
        return dx, dw_up, db if ctx.has_bias and need[2] else None, dw_down, None


def linear(x: torch.Tensor, weight: torch.Tensor, lib: ctypes.CDLL | None) -> torch.Tensor:
    """``x W^T`` through :class:`Linear` when :data:`ENABLED` and ``lib`` has the GEMM, else ``F.linear``."""
    if ENABLED and available(lib):
        return Linear.apply(x, weight, bind(lib))
    return F.linear(x, weight)


def inference_linear(lib: ctypes.CDLL | None) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None],
                                                          torch.Tensor] | None:
    """``linear(x, W, b) = x W^T + b``, the bias added in the epilogue of sciptm's GEMM, for the inference
    forward of :meth:`~sciptm.encoders.lean.LeanEncoder.embed_sequences` (no autograd: call it under
    ``no_grad`` or ``inference_mode``), or ``None`` unless :data:`ENABLED` and :data:`INFERENCE` and ``lib`` has
    the GEMM. (The up projection's GELU stays the separate C kernel: a GELU in this epilogue measured slower.)"""
    if not (ENABLED and INFERENCE and available(lib)):
        return None
    lib = bind(lib)

    def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        b = None if bias is None else bias.detach().contiguous()
        return gemm(lib, x, weight.t(), kind=BIAS, bias=b)[0]

    return linear


def gelu_ffn(x: torch.Tensor, w_up: torch.Tensor, b_up: torch.Tensor | None, w_down: torch.Tensor,
             lib: ctypes.CDLL | None) -> torch.Tensor | None:
    """:class:`GeluFFN` when :data:`ENABLED` and ``lib`` has the GEMM, else ``None`` (the caller's own path)."""
    if ENABLED and available(lib):
        return GeluFFN.apply(x, w_up, b_up, w_down, bind(lib))
    return None


__all__ = [
    "BIAS",
    "ENABLED",
    "ENGINE",
    "FUSE_GELU",
    "GELU",
    "GEMM_PART_WORK",
    "INFERENCE",
    "MULSUM",
    "PLAIN",
    "WEIGHT_GRAD",
    "WEIGHT_GRAD_MIN_OUT",
    "GeluFFN",
    "Linear",
    "available",
    "bind",
    "gelu_ffn",
    "gemm",
    "inference_linear",
    "linear",
]
