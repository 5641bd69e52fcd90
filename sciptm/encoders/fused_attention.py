"""Fused attention for packed short sequences: a small C kernel, compiled on first use, loaded with ``ctypes``.

:meth:`sciptm.encoders.lean.LeanEncoder.embed_sequences` packs whole sequences without padding and, per layer,
needs attention for every run of equal-length sequences. PyTorch's ``scaled_dot_product_attention`` is fast
on long sequences, but on SMILES (~36 tokens, heads of 32) a call per group and the strided views around it
cost more than the arithmetic. :func:`packed_attention` does the whole layer in one C call
(``kernels/attention.c``: per sequence and head, ``softmax(q k^T / sqrt(head_dim)) v`` with the row maximum
subtracted, AVX2/FMA with a Cephes-style vectorized ``exp``), reading the fused QKV projection in place.

The source ships in the package and is compiled the first time it is needed with the system C compiler
(``$CC``, else ``cc``/``gcc`` on ``PATH``; ``-O3 -march=native -shared -fPIC``) into
``cache_root()/kernels/<sha256>.so``, the hash covering the source, the flags, the compiler's version and the
CPU's flags. The library is written to a temporary file and renamed into place, so two processes compiling at
once never load a half-written file. When there is no compiler, the compile fails, the CPU lacks AVX2/FMA or
``SCIPTM_FUSED_ATTENTION=0``, :func:`kernel` returns ``None`` (the reason logged once at INFO) and callers
keep PyTorch's attention. The same library has an in-place erf GELU (:func:`gelu_`) and a fused residual add +
LayerNorm (:func:`add_layernorm_`), which the lean forward runs after attention when the kernel is on.
Inference only (no autograd). With ``torch.get_num_threads() > 1`` the work of one call is split (whole
sequences, or rows) over that many threads (the ``ctypes`` calls release the GIL).

>>> import torch
>>> qkv = torch.randn(10, 3 * 2 * 8)  # two sequences of 5 tokens, 2 heads of 8
>>> out = attention_or_none(qkv, [(0, 2, 5)], heads=2)
>>> out is None or tuple(out.shape) == (10, 16)
True
"""
from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from sciptm.encoders.device import cpu_flags
from sciptm.settings import cache_root, flag

logger = logging.getLogger(__name__)

#: compiler flags of the shared library (part of the cache key)
CFLAGS = ("-O3", "-march=native", "-std=c99", "-shared", "-fPIC", "-fno-math-errno")
#: seconds one compile may take
COMPILE_TIMEOUT = 120.0
_SOURCE = "attention.c"

_lock = threading.Lock()
_state: dict[str, Any] = {}


def source_text(source: str = _SOURCE) -> str:
    """The C source ``source`` shipped in the package (``sciptm/encoders/kernels/attention.c`` by default)."""
    return (Path(__file__).parent / "kernels" / source).read_text(encoding="utf-8")


def compiler() -> str | None:
    """The C compiler to use: ``$CC`` when set (``None`` if it is not an executable), else ``cc`` or ``gcc``."""
    cc = os.environ.get("CC", "").strip()
    if cc:
        return shutil.which(cc)
    return shutil.which("cc") or shutil.which("gcc")


def _compiler_version(cc: str) -> str | None:
    try:
        done = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def library_path(cc: str, version: str, source: str = _SOURCE) -> Path:
    """Where the library of ``source`` compiled by ``cc`` (``--version`` output ``version``) for this CPU lives in
    the cache."""
    key = "\0".join([source_text(source), " ".join(CFLAGS), version, cpu_flags()])
    return cache_root() / "kernels" / f"{hashlib.sha256(key.encode()).hexdigest()}.so"


def build(cc: str | None = None, source: str = _SOURCE) -> Path:
    """Compile the kernel source ``source`` (a file of ``kernels/``) into the cache (a no-op when it is there) and
    return the library's path.

    Raises ``RuntimeError`` (with the compiler's message) when there is no compiler or the compile fails. The
    output goes to a temporary file in the same folder and is renamed into place (atomic on POSIX), so a
    concurrent reader sees either no file or a whole one.
    """
    cc = cc or compiler()
    if cc is None:
        raise RuntimeError(f"no C compiler ({'CC=' + os.environ['CC'] if os.environ.get('CC') else 'cc/gcc'} "
                           "not found)")
    version = _compiler_version(cc)
    if version is None:
        raise RuntimeError(f"{cc} --version failed")
    path = library_path(cc, version, source)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".build-") as tmp:
        src = Path(tmp) / source
        src.write_text(source_text(source), encoding="utf-8")
        lib = Path(tmp) / path.name
        cmd = [cc, *CFLAGS, "-o", str(lib), str(src), "-lm"]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise RuntimeError(f"{' '.join(cmd)}: {exc}") from exc
        if done.returncode != 0 or not lib.exists():
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        os.replace(lib, path)
    logger.debug("compiled %s", path)
    return path


def _load(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    fn = lib.sciptm_packed_attention
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                   ctypes.c_int64, ctypes.c_float]
    lib.sciptm_attention_isa.restype = ctypes.c_int
    lib.sciptm_attention_isa.argtypes = []
    lib.sciptm_gelu_erf.restype = None
    lib.sciptm_gelu_erf.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.sciptm_add_layernorm.restype = None
    lib.sciptm_add_layernorm.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                         ctypes.c_int64, ctypes.c_int64, ctypes.c_float]
    return lib


def kernel() -> ctypes.CDLL | None:
    """The loaded kernel library, or ``None`` when it cannot or should not be used (reason logged once at INFO).

    ``SCIPTM_FUSED_ATTENTION=0`` turns it off (read at every call); otherwise the first call compiles (or finds)
    and loads the library, and the outcome is kept for the process.
    """
    if not flag("SCIPTM_FUSED_ATTENTION", True):
        return None
    if "lib" in _state:
        return _state["lib"]
    with _lock:
        if "lib" not in _state:
            lib, reason = None, None
            try:
                lib = _load(build())
                if not lib.sciptm_attention_isa():
                    lib, reason = None, "the CPU (or compiler target) lacks AVX2/FMA"
            except (RuntimeError, OSError, AttributeError) as exc:
                reason = str(exc)
            if lib is None:
                logger.info("fused attention kernel not used, PyTorch's attention instead: %s", reason)
            _state["lib"] = lib
    return _state["lib"]


def reset() -> None:
    """Forget the loaded kernel (or the failure): the next :func:`kernel` call builds/loads again (tests)."""
    with _lock:
        _state.clear()


def group_table(groups: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """``(first row, number of sequences, length)`` triples as the contiguous ``int64`` array the kernel reads."""
    return np.ascontiguousarray(np.asarray(groups, dtype=np.int64).reshape(-1, 3))


#: work below this many rows (or 16-float blocks for GELU) stays on the calling thread
_SPLIT_MIN_ROWS = 256
_pools: dict[int, ThreadPoolExecutor] = {}


def _threads() -> int:
    import torch

    return max(1, int(torch.get_num_threads()))


def _run(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` (ctypes calls: they release the GIL) at once on a small thread pool, the first on this
    thread."""
    if len(calls) == 1:
        return [calls[0]()]
    pool = _pools.get(len(calls))
    if pool is None:
        with _lock:
            pool = _pools.setdefault(len(calls), ThreadPoolExecutor(len(calls) - 1, "sciptm-kernel"))
    futures = [pool.submit(c) for c in calls[1:]]
    first = calls[0]()
    return [first, *[f.result() for f in futures]]


def split_groups(groups: np.ndarray, parts: int) -> list[np.ndarray]:
    """``groups`` cut into at most ``parts`` tables of whole sequences with about equal attention work
    (``length^2`` per sequence), for one thread each."""
    if parts <= 1 or len(groups) == 0 or int(groups[:, 1].sum()) < 2:
        return [groups]
    counts = groups[:, 1]
    lengths = np.repeat(groups[:, 2], counts)
    firsts = np.repeat(groups[:, 0], counts) + (np.arange(len(lengths)) - np.repeat(np.cumsum(counts) - counts,
                                                                                   counts)) * lengths
    cost = np.cumsum(lengths.astype(np.float64) ** 2)
    cuts = np.searchsorted(cost, cost[-1] * np.arange(1, parts) / parts)
    out = []
    for piece in np.split(np.arange(len(lengths)), np.unique(cuts)):
        if len(piece):
            out.append(np.ascontiguousarray(np.stack([firsts[piece], np.ones(len(piece), np.int64),
                                                      lengths[piece]], axis=1)))
    return out


def packed_attention(qkv: Any, out: Any, groups: np.ndarray, heads: int, lib: ctypes.CDLL) -> None:
    """Attention of every packed sequence of one layer, written into ``out`` (no checks: see
    :func:`attention_or_none`).

    Parameters
    ----------
    qkv: fp32 CPU contiguous ``rows x 3d`` (``rows x 3 x heads x head_dim``), the fused QKV projection.
    out: fp32 CPU contiguous ``rows x d``; rows of the groups are overwritten, others untouched.
    groups: :func:`group_table` of the runs of equal-length sequences.
    heads: attention heads (``d`` must be divisible by it).
    lib: :func:`kernel`'s library.
    """
    d = out.shape[1]
    head_dim = d // heads
    threads = _threads() if qkv.shape[0] >= _SPLIT_MIN_ROWS else 1
    tables = split_groups(groups, threads)
    fn, src, dst, scale = lib.sciptm_packed_attention, qkv.data_ptr(), out.data_ptr(), head_dim ** -0.5
    codes = _run([lambda t=t: fn(src, dst, t.ctypes.data, len(t), heads, head_dim, scale) for t in tables])
    if any(codes):
        raise MemoryError(f"fused attention kernel failed (codes {codes}) on {len(groups)} groups")


def usable(qkv: Any, heads: int) -> bool:
    """Whether :func:`packed_attention` can read ``qkv``: fp32, CPU, contiguous, ``rows x 3d`` with
    ``d % heads == 0``, not requiring grad."""
    import torch

    return (qkv.dtype == torch.float32 and qkv.device.type == "cpu" and qkv.dim() == 2 and qkv.is_contiguous() and qkv.shape[1] % (3 * heads) == 0
            and not qkv.requires_grad)


def gelu_(x: Any, lib: ctypes.CDLL) -> bool:
    """GELU (erf form, ``F.gelu(x)``) of ``x`` in place through the kernel library; ``False`` (``x`` untouched)
    when ``x`` is not an fp32 CPU contiguous tensor without grad.

    Within 1e-6 of ``F.gelu`` at every float (erf by a rational approximation; ``erf = +/-1`` beyond
    ``|x| = 3.9 sqrt 2``), about twice as fast as ``aten.gelu_`` on one thread (no call into a vector math
    library per 8 elements).
    """
    import torch

    if not (x.dtype == torch.float32 and x.device.type == "cpu" and x.is_contiguous() and not x.requires_grad):
        return False
    n, ptr = x.numel(), x.data_ptr()
    parts = min(_threads(), max(1, n // (1024 * _SPLIT_MIN_ROWS)))
    bounds = [n * k // parts // 16 * 16 for k in range(parts)] + [n]
    _run([lambda a=a, b=b: lib.sciptm_gelu_erf(ptr + 4 * a, b - a) for a, b in pairwise(bounds)])
    return True


def add_layernorm_(h: Any, x: Any, norm: Any, lib: ctypes.CDLL) -> bool:
    """``h <- norm(h + x)`` in place (``norm`` an ``nn.LayerNorm`` over the last dimension, with weight and
    bias) through the kernel library: one pass per row instead of an add and ATen's LayerNorm. ``False``
    (nothing done) unless ``h``, ``x`` and the norm's parameters are fp32 CPU contiguous tensors of matching
    shapes and nothing requires grad."""
    import torch

    w, b = norm.weight, norm.bias
    if w is None or b is None or h.dim() != 2 or tuple(norm.normalized_shape) != (h.shape[1],):
        return False
    tensors = (h, x, w, b)
    if not all(t.dtype == torch.float32 and t.device.type == "cpu" and t.is_contiguous() for t in tensors):
        return False
    if x.shape != h.shape or h.requires_grad or x.requires_grad or (torch.is_grad_enabled() and w.requires_grad):
        return False
    rows, d = h.shape
    parts = min(_threads(), max(1, rows // _SPLIT_MIN_ROWS))
    bounds = [rows * k // parts for k in range(parts + 1)]
    hp, xp, wp, bp, eps = h.data_ptr(), x.data_ptr(), w.data_ptr(), b.data_ptr(), float(norm.eps)
    _run([lambda a=a, z=z: lib.sciptm_add_layernorm(hp + 4 * a * d, xp + 4 * a * d, wp, bp, z - a, d, eps)
          for a, z in pairwise(bounds)])
    return True


def attention_or_none(qkv: Any, groups: Sequence[tuple[int, int, int]] | np.ndarray, heads: int,
                      out: Any = None) -> Any:
    """Attention of packed sequences through the kernel: ``rows x d`` (``out`` when given, rows outside the
    groups untouched), or ``None`` when the kernel is off/unavailable or ``qkv`` is not fp32/CPU/contiguous
    (the caller then runs PyTorch's attention)."""
    import torch

    lib = kernel()
    if lib is None or not usable(qkv, heads):
        return None
    table = groups if isinstance(groups, np.ndarray) else group_table(groups)
    rows, d = qkv.shape[0], qkv.shape[1] // 3
    last = table[:, 0] + table[:, 1] * table[:, 2]
    if len(table) and int(last.max()) > rows:
        raise ValueError(f"groups reach row {int(last.max())} of a {rows}-row QKV matrix")
    if out is None:
        out = torch.zeros(rows, d)
    elif not (out.dtype == torch.float32 and out.is_contiguous() and tuple(out.shape) == (rows, d)):
        return None
    packed_attention(qkv, out, table, heads, lib)
    return out


__all__ = ["CFLAGS", "add_layernorm_", "attention_or_none", "build", "compiler", "cpu_flags", "gelu_", "group_table",
           "kernel", "library_path", "packed_attention", "reset", "source_text", "split_groups", "usable"]
