"""Kernel options for the int8 lean forward on the real shapes of ``sciptm/smiles-small`` (d 256, FFN 1,024, 8 heads).

Three comparisons, each in CPU time on one thread, medians of alternating repeats (ratios are paired):

- ``gemm``: one ``Linear`` on M = 4,096 packed token rows (K x N = 256x768 QKV, 256x256 output projection,
  256x1024 up-projection, 1024x256 down-projection): dynamic int8 on the ``onednn`` / ``x86`` / ``fbgemm`` engines
  (per-channel weights, what ``embed`` runs is ``onednn``), ``fbgemm`` with a static activation scale, fp16
  weights, fp32, and onednn's static ``qlinear_pointwise`` (PT2E's x86 op) with its u8 input given and with a
  static quantize pass making it;
- ``ffn``: up-projection + GELU + down-projection, dynamic int8 + ``gelu_`` vs ``qlinear_pointwise`` with the
  ``gelu`` post-op writing u8 at a calibrated scale, read as u8 by the down-projection;
- ``attention``: one layer's attention of equal-length groups (113 x 36, 60 x 68, 200 x 20 tokens): the flash
  SDPA kernel (today's) vs per-head batched GEMMs on strided views + softmax vs SDPA's math backend.

Usage::

    OMP_NUM_THREADS=1 nice python benchmarks/speed/int8_engines.py [gemm ffn attention]
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

M = 4096


def cpu_ms(fn: Callable[[], object], n: int = 2) -> float:
    c = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - c) / n * 1e3


def compare(fns: dict[str, Callable[[], object]], repeats: int = 6) -> dict[str, list[float]]:
    for fn in fns.values():
        fn()
    res: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(repeats):
        for k, fn in (list(fns.items()) if i % 2 else list(fns.items())[::-1]):
            res[k].append(cpu_ms(fn))
    return res


def paired(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b))


def per_channel(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scale = (w.abs().amax(1) / 127).float()
    return torch.quantize_per_channel(w, scale, torch.zeros(len(w), dtype=torch.long), 0, torch.qint8), scale


def u8(x: torch.Tensor) -> tuple[torch.Tensor, float, int]:
    """7-bit asymmetric per-tensor quantization (u8 values 0..127, no saturation without VNNI)."""
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    s = (hi - lo) / 127
    zp = round(-lo / s)
    return torch.quantize_per_tensor(x, s, zp, torch.quint8).int_repr(), s, zp


def gemm() -> None:
    for k, n in [(256, 768), (256, 256), (256, 1024), (1024, 256)]:
        gemm_case(k, n)


def gemm_case(k: int, n: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(M, k)
    if k == 1024:
        x = F.gelu(x * 2)
    w, b = torch.randn(n, k) * 0.05, torch.randn(n) * 0.1
    qw, ws = per_channel(w)
    ref = F.linear(x, w, b)
    packed = {}
    for eng in ("onednn", "x86", "fbgemm"):
        torch.backends.quantized.engine = eng
        packed[eng] = torch.ops.quantized.linear_prepack(qw, b)
    torch.backends.quantized.engine = "fbgemm"
    p16 = torch.ops.quantized.linear_prepack_fp16(w, b)
    torch.backends.quantized.engine = "onednn"
    xs = float(x.abs().max()) * 2 / 127
    wt = torch.ops.onednn.qlinear_prepack(qw.int_repr(), [M, k])
    zw = torch.zeros(n, dtype=torch.long)
    qx, s, zp = u8(x)

    def pointwise(q):
        return torch.ops.onednn.qlinear_pointwise(q, s, zp, wt, ws, zw, b, 1.0, 0, torch.float32, "none", [], "")

    fns = {"dynamic onednn (embed's)": lambda: torch.ops.quantized.linear_dynamic(x, packed["onednn"], True),
           "dynamic x86": lambda: torch.ops.quantized.linear_dynamic(x, packed["x86"], True),
           "dynamic fbgemm": lambda: torch.ops.quantized.linear_dynamic(x, packed["fbgemm"], True),
           "fbgemm static activation scale": lambda: torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32(
               x, xs, 64, packed["fbgemm"]),
           "fp16 weights (fbgemm)": lambda: torch.ops.quantized.linear_dynamic_fp16(x, p16),
           "fp32 F.linear": lambda: F.linear(x, w, b),
           "onednn qlinear_pointwise, u8 input given": lambda: pointwise(qx),
           "  + static quantize pass": lambda: pointwise(torch.quantize_per_tensor(x, s, zp, torch.quint8).int_repr())}
    err = {name: float((fn() - ref).norm() / ref.norm()) for name, fn in fns.items()}
    res = compare(fns)
    base = res["dynamic onednn (embed's)"]
    gop = 2 * M * k * n / 1e9
    print(f"\ngemm M={M} K={k} N={n} ({gop:.2f} GOP)", flush=True)
    for name, times in res.items():
        med = statistics.median(times)
        print(f"  {name:42s} {med:6.2f} ms {gop / med * 1e3:5.0f} GOP/s  onednn-dynamic/this "
              f"{paired(base, times):.2f}  rel. error {err[name]:.4f}", flush=True)


def ffn() -> None:
    d, f = 256, 1024
    torch.manual_seed(0)
    x = torch.randn(M, d)
    w1, b1 = torch.randn(f, d) * 0.06, torch.randn(f) * 0.1
    w2, b2 = torch.randn(d, f) * 0.03, torch.randn(d) * 0.1
    ref = F.linear(F.gelu(F.linear(x, w1, b1)), w2, b2)
    (q1, s1), (q2, s2) = per_channel(w1), per_channel(w2)
    torch.backends.quantized.engine = "onednn"
    p1, p2 = torch.ops.quantized.linear_prepack(q1, b1), torch.ops.quantized.linear_prepack(q2, b2)
    pw1, pw2 = torch.ops.onednn.qlinear_prepack(q1.int_repr(), [M, d]), torch.ops.onednn.qlinear_prepack(q2.int_repr(), [M, f])
    z1, z2 = torch.zeros(f, dtype=torch.long), torch.zeros(d, dtype=torch.long)
    hmax = float(F.gelu(F.linear(x, w1, b1)).max())  # calibrated GELU output range [-0.17, hmax], 7 bits
    hs = (hmax + 0.17) / 127
    hz = round(0.17 / hs)

    def dynamic():
        h = torch.ops.quantized.linear_dynamic(x, p1, True)
        return torch.ops.quantized.linear_dynamic(torch.ops.aten.gelu_(h), p2, True)

    def static_gelu_u8():
        qx, s, zp = u8(x)
        hq = torch.ops.onednn.qlinear_pointwise(qx, s, zp, pw1, s1, z1, b1, hs, hz, None, "gelu", [], "none")
        return torch.ops.onednn.qlinear_pointwise(hq, hs, hz, pw2, s2, z2, b2, 1.0, 0, torch.float32, "none", [], "")

    fns = {"dynamic int8 + gelu_ (embed's)": dynamic, "qlinear_pointwise gelu post-op, u8 between": static_gelu_u8}
    err = {name: float((fn() - ref).norm() / ref.norm()) for name, fn in fns.items()}
    res = compare(fns, repeats=8)
    base = res["dynamic int8 + gelu_ (embed's)"]
    print(f"\nffn {M} x {d} -> {f} -> {d}", flush=True)
    for name, times in res.items():
        print(f"  {name:44s} {statistics.median(times):6.2f} ms  dynamic/this {paired(base, times):.2f}  "
              f"rel. error {err[name]:.4f}", flush=True)


def attention() -> None:
    h, hd = 8, 32
    d = h * hd

    def flash(qkv, c, t, out):
        q, k, v = qkv.view(c, t, 3, h, hd).permute(2, 0, 3, 1, 4)
        out.view(c, t, h, hd).copy_(F.scaled_dot_product_attention(q, k, v).transpose(1, 2))

    def heads(qkv, c, t, out):
        x, o = qkv.view(c, t, 3 * d), out.view(c, t, d)
        for j in range(h):
            q, k, v = (x[..., i * d + j * hd:i * d + (j + 1) * hd] for i in range(3))
            scores = torch.bmm(q, k.transpose(1, 2)).mul_(hd ** -0.5)
            o[..., j * hd:(j + 1) * hd] = torch.bmm(torch.softmax(scores, -1), v)

    def math(qkv, c, t, out):
        q, k, v = qkv.view(c, t, 3, h, hd).permute(2, 0, 3, 1, 4)
        with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
            out.view(c, t, h, hd).copy_(F.scaled_dot_product_attention(q, k, v).transpose(1, 2))

    for c, t in [(113, 36), (60, 68), (200, 20)]:
        attention_case(c, t, {"flash": flash, "heads": heads, "math": math})


def attention_case(c: int, t: int, impl: dict[str, Callable]) -> None:
    d = 256
    torch.manual_seed(0)
    qkv = torch.randn(c * t, 3 * d)
    outs = {name: torch.empty(c * t, d) for name in ("flash", "heads", "math")}
    fns = {name: (lambda fn=fn, o=outs[name]: fn(qkv, c, t, o)) for name, fn in impl.items()}
    res = compare(fns, repeats=12)
    worst = max(float((outs[k] - outs["flash"]).abs().max()) for k in outs)
    print(f"\nattention {c} sequences x {t} tokens, 8 heads of 32 (max abs difference {worst:.1e})", flush=True)
    for name, times in res.items():
        print(f"  {name:10s} {statistics.median(times) / c * 1e3:7.1f} us per sequence  flash/this "
              f"{paired(res['flash'], times):.2f}", flush=True)


def main() -> None:
    torch.set_num_threads(1)
    parts = sys.argv[1:] or ["gemm", "ffn", "attention"]
    print(f"1 thread, CPU time; load average {os.getloadavg()[0]:.2f}; torch {torch.__version__}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}", flush=True)
    for part in parts:
        {"gemm": gemm, "ffn": ffn, "attention": attention}[part]()
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
