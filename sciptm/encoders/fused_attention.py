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
LayerNorm (:func:`add_layernorm_`), which the lean forward runs after attention when the kernel is on, and int8
linear layers for the int8 copy of ``embed`` (:func:`quantize_rows`, :func:`qlinear`, :func:`int8_finish`): u8
activations quantized per row (7 bits, a scale and zero point each) times the int8 copy's own s8 weights (one
scale per output channel), an AVX2 6 x 16 micro-kernel, and everything of a block after attention (output
projection, add + LayerNorm, up-projection, GELU, down-projection, add + LayerNorm, the next block's u8 input) in
48-row chunks that stay in the L2 cache.
Inference only (no autograd). With ``torch.get_num_threads() > 1`` the work of one call is split (whole
sequences, or rows) over that many threads: PyTorch's own OpenMP threads (:func:`call_parts`, ``kernels/parallel.h``;
the library is compiled with ``-fopenmp`` and binds the ``libgomp`` PyTorch loaded), or, for a library without
OpenMP, a small pool of Python threads (the ``ctypes`` calls release the GIL).

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
import re
import shutil
import struct
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from sciptm.encoders.device import cpu_flags
from sciptm.settings import cache_root, flag

logger = logging.getLogger(__name__)

#: compiler flags of the shared library (part of the cache key)
CFLAGS = ("-O3", "-march=native", "-std=c99", "-shared", "-fPIC", "-fno-math-errno")
#: added to :data:`CFLAGS` when the compiler has OpenMP (``kernels/parallel.h``: a call's parts on the OpenMP
#: threads PyTorch already runs); a library is compiled without them when that fails
OPENMP_FLAGS = ("-fopenmp",)
#: seconds one compile may take
COMPILE_TIMEOUT = 120.0
_SOURCE = "attention.c"

_lock = threading.Lock()
#: loaded libraries (``None``: not usable) by kernel source name
_libraries: dict[str, ctypes.CDLL | None] = {}


def source_text(source: str = _SOURCE) -> str:
    """The C source ``source`` shipped in the package (``sciptm/encoders/kernels/attention.c`` by default), with
    each ``#include "<header>.h"`` of a header in ``kernels/`` (``simd_math.h``: the shared vector exp/erf)
    replaced by that header's text, so the compiled text and the cache key cover the header too."""
    folder = Path(__file__).parent / "kernels"

    def inline(match: re.Match) -> str:
        return (folder / match.group(1)).read_text(encoding="utf-8")

    return re.sub(r'^#include "([\w.]+\.h)"$', inline, (folder / source).read_text(encoding="utf-8"),
                  flags=re.MULTILINE)


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


def _flags(openmp: bool) -> tuple[str, ...]:
    return (*CFLAGS, *OPENMP_FLAGS) if openmp else CFLAGS


def library_path(cc: str, version: str, source: str = _SOURCE, openmp: bool = True) -> Path:
    """Where the library of ``source`` compiled by ``cc`` (``--version`` output ``version``) for this CPU, with or
    without :data:`OPENMP_FLAGS`, lives in the cache."""
    key = "\0".join([source_text(source), " ".join(_flags(openmp)), version, cpu_flags()])
    return cache_root() / "kernels" / f"{hashlib.sha256(key.encode()).hexdigest()}.so"


def build(cc: str | None = None, source: str = _SOURCE, openmp: bool = True) -> Path:
    """Compile the kernel source ``source`` (a file of ``kernels/``) into the cache (a no-op when it is there) and
    return the library's path; ``openmp``: with :data:`OPENMP_FLAGS`.

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
    path = library_path(cc, version, source, openmp)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".build-") as tmp:
        src = Path(tmp) / source
        src.write_text(source_text(source), encoding="utf-8")
        lib = Path(tmp) / path.name
        cmd = [cc, *_flags(openmp), "-o", str(lib), str(src), "-lm"]
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
    _load_int8(lib)
    return lib


def load_once(source: str, declare: Callable[[Path], ctypes.CDLL], isa: str, unused: str,
              log: logging.Logger = logger) -> ctypes.CDLL | None:
    """The library of the kernel source ``source``: compiled (or found in the cache) by :func:`build` and opened by
    ``declare`` (``ctypes`` signatures) on the first call, then kept for the process. ``None`` when the compile
    fails, there is no compiler, or the library's ``isa`` function says the CPU lacks AVX2/FMA; the reason is
    logged once at INFO on ``log`` (the calling module's logger) after ``unused`` (what runs instead). Shared by
    every kernel source of the package."""
    if source in _libraries:
        return _libraries[source]
    with _lock:
        if source not in _libraries:
            lib, reason = None, None
            try:
                lib = _open(source, declare)
                if not getattr(lib, isa)():
                    lib, reason = None, "the CPU (or compiler target) lacks AVX2/FMA"
            except (RuntimeError, OSError, AttributeError) as exc:
                reason = str(exc)
            if lib is None:
                log.info("%s: %s", unused, reason)
            _libraries[source] = lib
    return _libraries[source]


def _open(source: str, declare: Callable[[Path], ctypes.CDLL]) -> ctypes.CDLL:
    """``declare`` of the library of ``source`` built with OpenMP, else (no OpenMP in the compiler, or the library
    does not load) without it."""
    try:
        return declare(build(source=source, openmp=True))
    except (RuntimeError, OSError) as exc:
        logger.debug("%s with OpenMP: %s; compiled without it (a call's parts on sciptm's own threads)", source, exc)
        return declare(build(source=source, openmp=False))


def forget(source: str) -> None:
    """Forget the library of ``source`` (or its failure): the next :func:`load_once` builds/loads again (tests)."""
    with _lock:
        _libraries.pop(source, None)


def kernel() -> ctypes.CDLL | None:
    """The loaded kernel library, or ``None`` when it cannot or should not be used (reason logged once at INFO).

    ``SCIPTM_FUSED_ATTENTION=0`` turns it off (read at every call); otherwise the first call compiles (or finds)
    and loads the library, and the outcome is kept for the process.
    """
    if not flag("SCIPTM_FUSED_ATTENTION", True):
        return None
    return load_once(_SOURCE, _load, "sciptm_attention_isa",
                     "fused attention kernel not used, PyTorch's attention instead")


def reset() -> None:
    """Forget the loaded kernel (or the failure): the next :func:`kernel` call builds/loads again (tests)."""
    forget(_SOURCE)


def group_table(groups: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """``(first row, number of sequences, length)`` triples as the contiguous ``int64`` array the kernel reads."""
    return np.ascontiguousarray(np.asarray(groups, dtype=np.int64).reshape(-1, 3))


#: work below this many rows (or 16-float blocks for GELU) stays on the calling thread
_SPLIT_MIN_ROWS = 256
_pools: dict[int, ThreadPoolExecutor] = {}


def _threads() -> int:
    import torch

    return max(1, int(torch.get_num_threads()))


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p), ("dli_sname", ctypes.c_char_p),
                ("dli_saddr", ctypes.c_void_p)]


def openmp_runtime(lib: ctypes.CDLL) -> str | None:
    """The file of the OpenMP runtime ``lib`` runs its parallel parts on (``dladdr`` of the runtime function it
    bound), or ``None`` (no OpenMP in ``lib``, or the platform cannot say)."""
    if not hasattr(lib, "sciptm_openmp_symbol"):
        return None
    lib.sciptm_openmp_symbol.restype = ctypes.c_void_p
    address = lib.sciptm_openmp_symbol()
    if not address:
        return None
    try:
        dladdr = ctypes.CDLL(None).dladdr
    except (OSError, AttributeError):
        return None
    info = _DlInfo()
    if not dladdr(ctypes.c_void_p(address), ctypes.byref(info)) or not info.dli_fname:
        return None
    return os.path.realpath(os.fsdecode(info.dli_fname))


def _torch_openmp_runtimes() -> set[str]:
    """The OpenMP runtime files PyTorch ships beside ``libtorch_cpu`` (its CPU wheels: ``torch/lib/libgomp.so.1``)."""
    import torch

    folder = Path(torch.__file__).parent / "lib"
    pattern = re.compile(r"lib(gomp|iomp5|omp)[-.\w]*\.so")
    return {os.path.realpath(f) for f in folder.glob("*.so*") if pattern.match(f.name)} if folder.is_dir() else set()


def shares_torch_threads(lib: ctypes.CDLL) -> bool:
    """Whether ``lib``'s OpenMP runtime is the one PyTorch ships (so its parallel parts run on PyTorch's own
    intra-op threads, with nothing else competing for the cores)."""
    runtime = openmp_runtime(lib)
    return runtime is not None and runtime in _torch_openmp_runtimes()


_MASK64 = (1 << 64) - 1


def _part_function(lib: ctypes.CDLL, fn: Any) -> tuple[int, tuple[bool, ...]] | None:
    """(address of ``<name>__part``, which arguments are floats) for ``fn`` of ``lib``, or ``None`` when its parts
    cannot run on PyTorch's OpenMP threads (no OpenMP in the library, a runtime other than PyTorch's, no part
    function); kept on ``lib``."""
    table = lib.__dict__.setdefault("_sciptm_parts", {})
    name = fn.__name__
    if name not in table:
        entry = None
        if "_sciptm_openmp" not in lib.__dict__:
            openmp = hasattr(lib, "sciptm_openmp") and bool(lib.sciptm_openmp()) and shares_torch_threads(lib)
            if openmp:
                lib.sciptm_parallel.restype = None
                lib.sciptm_parallel.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64,
                                                ctypes.c_void_p]
            lib.__dict__["_sciptm_openmp"] = openmp
        if lib.__dict__["_sciptm_openmp"] and hasattr(lib, name + "__part") and fn.argtypes is not None:
            entry = (ctypes.cast(getattr(lib, name + "__part"), ctypes.c_void_p).value,
                     tuple(t is ctypes.c_float for t in fn.argtypes))
        table[name] = entry
    return table[name]


_FLOAT_BITS = struct.Struct("<f")
_U32 = struct.Struct("<I")


def _word(value: Any, is_float: bool) -> int:
    """One argument as the 64-bit word ``<name>__part`` reads: ``None`` 0, a float its fp32 bit pattern, a ctypes
    array its address, an integer (or address) in two's complement."""
    if value is None:
        return 0
    if is_float:
        return _U32.unpack(_FLOAT_BITS.pack(value))[0]
    if type(value) is int:
        return value & _MASK64
    if isinstance(value, ctypes.Array):
        return ctypes.addressof(value)
    return int(value) & _MASK64


def call_parts(lib: ctypes.CDLL, name: str, args: Sequence[tuple[Any, ...]]) -> list[Any]:
    """``lib.<name>(*a)`` (a function with declared argument types) for each argument tuple ``a`` of ``args`` (one
    per thread's part), at once: on the process's OpenMP threads (PyTorch's, ``kernels/parallel.h``) when ``lib``
    has them, else on :func:`_run`'s pool; one part is called directly. Returns the results (``None`` for
    ``void``)."""
    fn = getattr(lib, name)
    if len(args) == 1:
        return [fn(*args[0])]
    part = _part_function(lib, fn)
    if part is None:
        return _run([partial(fn, *a) for a in args])
    address, floats = part
    words = [_word(x, f) for a in args for x, f in zip(a, floats, strict=True)]
    codes = (ctypes.c_int * len(args))()
    lib.sciptm_parallel(address, len(args), (ctypes.c_uint64 * len(words))(*words), len(floats), codes)
    return list(codes) if fn.restype is not None else [None] * len(args)


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


def row_chunks(groups: np.ndarray, max_rows: int) -> list[tuple[int, int, np.ndarray]]:
    """The sequences of a :func:`group_table` cut into consecutive chunks of whole sequences of at most
    ``max_rows`` rows (a longer sequence alone): ``(first row, end row, table)`` with the table's rows relative to
    the chunk's first row. The groups must tile their rows without gaps, in order (as the lean forward packs them)."""
    if len(groups) == 0:
        return []
    counts = groups[:, 1]
    lengths = np.repeat(groups[:, 2], counts)
    ends = np.cumsum(lengths) + int(groups[0, 0])
    starts = ends - lengths
    out: list[tuple[int, int, np.ndarray]] = []
    i, n = 0, len(lengths)
    while i < n:
        a = int(starts[i])
        j = max(i + 1, int(np.searchsorted(ends, a + max_rows, side="right")))
        seqs = lengths[i:j]
        change = np.flatnonzero(np.diff(seqs)) + 1
        bounds = np.concatenate([[0], change, [len(seqs)]])
        table = np.stack([starts[i:j][bounds[:-1]] - a, np.diff(bounds), seqs[bounds[:-1]]], axis=1)
        out.append((a, int(ends[j - 1]), np.ascontiguousarray(table, dtype=np.int64)))
        i = j
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
    src, dst, scale = qkv.data_ptr(), out.data_ptr(), head_dim ** -0.5
    codes = call_parts(lib, "sciptm_packed_attention",
                       [(src, dst, t.ctypes.data, len(t), heads, head_dim, scale) for t in tables])
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
    call_parts(lib, "sciptm_gelu_erf", [(ptr + 4 * a, b - a) for a, b in pairwise(bounds)])
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
    call_parts(lib, "sciptm_add_layernorm", [(hp + 4 * a * d, xp + 4 * a * d, wp, bp, z - a, d, eps)
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


__all__ = ["CFLAGS", "OPENMP_FLAGS", "add_layernorm_", "attention_or_none", "build", "call_parts", "compiler",
           "cpu_flags", "gelu_", "group_table",
           "kernel", "library_path", "packed_attention", "reset", "source_text", "split_groups", "usable"]


# ---------------------------------------------------------------------------------------------------------------
# int8 linear layers (u8 activations quantized per row x s8 weights per output channel), used by the lean forward
# of int8 ``embed``: one call per block does everything after attention in L2-sized row chunks.

_VP, _I64, _F32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
#: row split granularity of the int8 calls over threads (the C side's chunk)
_INT8_CHUNK = 48


def _load_int8(lib: ctypes.CDLL) -> None:
    lib.sciptm_int8_isa.restype = ctypes.c_int
    lib.sciptm_int8_isa.argtypes = []
    lib.sciptm_quantize_rows.restype = None
    lib.sciptm_quantize_rows.argtypes = [_VP, _I64, _I64, _VP, _VP, _VP]
    lib.sciptm_qlinear.restype = ctypes.c_int
    lib.sciptm_qlinear.argtypes = [_VP, _VP, _VP, _I64, _I64, _VP, _VP, _VP, _VP, _I64, _VP]
    lib.sciptm_int8_finish.restype = ctypes.c_int
    lib.sciptm_int8_finish.argtypes = [_VP, _VP, _VP, _VP, _VP, _I64, _I64, _I64, _VP, _F32, _F32]


class PackedLinear:
    """An int8 ``Linear`` in the kernel's layout: s8 weights ``[N/16][K/4][16][4]``, their row sums, one fp32
    scale per output channel and the fp32 bias (the tensors are kept alive here; the kernel reads their memory)."""

    def __init__(self, q: Any, scale: Any, bias: Any):
        import torch

        n, k = q.shape
        self.in_features, self.out_features = int(k), int(n)
        self.packed = q.reshape(n // 16, 16, k // 4, 4).permute(0, 2, 1, 3).contiguous()
        self.colsum = q.sum(1, dtype=torch.int32).contiguous()
        self.scale = scale.to(torch.float32).contiguous()
        self.bias = (bias if bias is not None else torch.zeros(n)).detach().to(torch.float32).contiguous()

    def pointers(self) -> list[int]:
        return [self.packed.data_ptr(), self.colsum.data_ptr(), self.scale.data_ptr(), self.bias.data_ptr()]


def pack_linear(module: Any) -> PackedLinear | None:
    """:class:`PackedLinear` of a dynamic-int8 ``Linear`` (``torch.ao.nn.quantized.dynamic.Linear``) with
    symmetric qint8 weights (per channel or per tensor), or ``None`` for anything else / unsupported shapes
    (``out_features % 16``, ``in_features % 4``). The weights are the module's own int8 values and scales."""
    import torch

    weight = getattr(module, "weight", None)
    if not callable(weight) or not callable(getattr(module, "bias", None)):
        return None
    try:
        w = weight()
    except (RuntimeError, TypeError):
        return None
    if not (isinstance(w, torch.Tensor) and w.is_quantized and w.dtype == torch.qint8 and w.dim() == 2):
        return None
    n, k = w.shape
    if n % 16 or k % 4 or k < 4:
        return None
    if w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
        if w.q_per_channel_axis() != 0 or bool(w.q_per_channel_zero_points().ne(0).any()):
            return None
        scale = w.q_per_channel_scales()
    elif w.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        if w.q_zero_point() != 0:
            return None
        scale = torch.full((n,), w.q_scale(), dtype=torch.float64)
    else:
        return None
    return PackedLinear(w.int_repr(), scale, module.bias())


class PackedBlock:
    """The int8 layers and norms of one lean block, as :func:`int8_finish` reads them."""

    def __init__(self, qkv: PackedLinear, out: PackedLinear, up: PackedLinear, down: PackedLinear,
                 norm1: Any, norm2: Any):
        self.qkv, self.out, self.up, self.down = qkv, out, up, down
        self.norms = (norm1.weight.detach().contiguous(), norm1.bias.detach().contiguous(),
                      norm2.weight.detach().contiguous(), norm2.bias.detach().contiguous())
        self.eps = (float(norm1.eps), float(norm2.eps))
        self.d, self.ffn = out.out_features, up.out_features

    def pointer_table(self) -> Any:
        """The 16 addresses ``sciptm_int8_finish`` reads, made at each call (never stored: a copied or
        unpickled block must not point into another block's memory)."""
        ptrs = [*self.out.pointers(), *self.up.pointers(), *self.down.pointers(), *(t.data_ptr() for t in self.norms)]
        return (ctypes.c_void_p * len(ptrs))(*ptrs)


def pack_block(qkv: Any, out: Any, up: Any, down: Any, norm1: Any, norm2: Any) -> PackedBlock | None:
    """:class:`PackedBlock` of a post-LayerNorm block's dynamic-int8 ``Linear`` layers (fused QKV, attention
    output, up, down) and its two ``nn.LayerNorm`` (fp32, with weight and bias), or ``None`` when any part is
    not of that kind or the widths do not fit the kernel (``d % 32``, ``ffn % 32``)."""
    import torch

    packs = [pack_linear(m) for m in (qkv, out, up, down)]
    if any(p is None for p in packs):
        return None
    pq, po, pu, pd = packs
    d, ffn = po.out_features, pu.out_features
    shapes_ok = (pq.in_features == d and pq.out_features == 3 * d and po.in_features == d and pu.in_features == d
                 and pd.in_features == ffn and pd.out_features == d and d % 32 == 0 and ffn % 32 == 0)
    norms_ok = all(isinstance(n, torch.nn.LayerNorm) and n.weight is not None and n.bias is not None
                   and tuple(n.normalized_shape) == (d,) and n.weight.dtype == torch.float32 for n in (norm1, norm2))
    if not (shapes_ok and norms_ok):
        return None
    return PackedBlock(pq, po, pu, pd, norm1, norm2)


def int8_available(lib: ctypes.CDLL | None) -> bool:
    """Whether ``lib`` (:func:`kernel`) has the int8 path (AVX2, GCC-style inline assembly on x86-64)."""
    return lib is not None and bool(lib.sciptm_int8_isa())


def _row_bounds(rows: int) -> list[int]:
    parts = min(_threads(), max(1, rows // _SPLIT_MIN_ROWS))
    return [rows * k // parts // _INT8_CHUNK * _INT8_CHUNK for k in range(parts)] + [rows]


def quantize_rows(x: Any, lib: ctypes.CDLL) -> tuple[Any, Any, Any]:
    """``x`` (fp32 CPU contiguous ``rows x k``) as u8 in [0, 127] with a scale and zero point per row:
    ``x ~ (q - zp) * scale``."""
    import torch

    rows, k = x.shape
    q = torch.empty(rows, k, dtype=torch.uint8)
    s = torch.empty(rows)
    z = torch.empty(rows, dtype=torch.int32)
    xp, qp, sp, zp = x.data_ptr(), q.data_ptr(), s.data_ptr(), z.data_ptr()
    call_parts(lib, "sciptm_quantize_rows", [(xp + 4 * a * k, b - a, k, qp + a * k, sp + 4 * a, zp + 4 * a)
                                               for a, b in pairwise(_row_bounds(rows))])
    return q, s, z


def qlinear(q: Any, s: Any, z: Any, w: PackedLinear, lib: ctypes.CDLL) -> Any:
    """``((q - z) * s) @ W^T + bias`` (fp32 ``rows x out_features``) for activations from :func:`quantize_rows`."""
    import torch

    rows, k = q.shape
    n = w.out_features
    out = torch.empty(rows, n)
    qp, sp, zp, op = q.data_ptr(), s.data_ptr(), z.data_ptr(), out.data_ptr()
    wp, cp, scp, bp = w.pointers()
    codes = call_parts(lib, "sciptm_qlinear", [(qp + a * k, sp + 4 * a, zp + 4 * a, b - a, k, wp, cp, scp, bp, n,
                                                  op + 4 * a * n) for a, b in pairwise(_row_bounds(rows))])
    if any(codes):
        raise RuntimeError(f"int8 linear kernel failed (codes {codes})")
    return out


def int8_finish(attn: Any, x: Any, q: Any, s: Any, z: Any, block: PackedBlock, lib: ctypes.CDLL) -> None:
    """A block after attention, in place: ``x <- LN2(x' + down(GELU(up(x')))``, ``x' = LN1(x + out(attn))``,
    and ``(q, s, z)`` <- :func:`quantize_rows` of the new ``x`` (for the next block's QKV); ``attn`` is used as
    scratch. Every product on per-row u8 activations (see ``kernels/attention.c``)."""
    rows, d = x.shape
    ap, xp, qp, sp, zp = attn.data_ptr(), x.data_ptr(), q.data_ptr(), s.data_ptr(), z.data_ptr()
    table, ffn, (e1, e2) = block.pointer_table(), block.ffn, block.eps
    codes = call_parts(lib, "sciptm_int8_finish", [(ap + 4 * a * d, xp + 4 * a * d, qp + a * d, sp + 4 * a, zp + 4 * a,
                                                    b - a, d, ffn, table, e1, e2)
                                                   for a, b in pairwise(_row_bounds(rows))])
    if any(codes):
        raise RuntimeError(f"int8 block kernel failed (codes {codes})")


__all__ += ["PackedBlock", "PackedLinear", "int8_available", "int8_finish", "pack_block", "pack_linear",
            "qlinear", "quantize_rows", "row_chunks"]
