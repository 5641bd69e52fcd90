"""Device facts that decide how fast a run can go: bf16 support on CPU, precision fallback.

A CPU without native bf16 instructions (no AVX512-BF16 or AMX) emulates bf16 matmuls; measured here, bf16
autocast ran 8.7x *slower* than fp32. :func:`resolve_precision` therefore turns a ``bf16`` request on such a
CPU into fp32 with a warning (it never silently runs the slow path, and never refuses a config that works).

>>> resolve_precision("no", on_cpu=True)
'no'
"""
from __future__ import annotations

import logging
import platform
import warnings
from functools import lru_cache

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def cpu_flags() -> str:
    """The CPU's feature flags, sorted (the ``flags``/``Features`` line of ``/proc/cpuinfo`` on Linux), else the
    platform's processor description."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (oneDNN says so, or the CPU flags list avx512_bf16/amx_bf16)."""
    try:
        import torch

        if bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()):
            return True
    except Exception:  # noqa: BLE001 - private op missing in some builds: fall back to the flags
        pass
    return any(f in cpu_flags().split() for f in ("avx512_bf16", "amx_bf16"))


def resolve_precision(requested: str, on_cpu: bool) -> str:
    """The mixed-precision mode to run: ``requested``, except ``bf16`` on a CPU without bf16 hardware,
    which becomes ``"no"`` (fp32) with a ``UserWarning`` (bf16 emulation there is ~8x slower)."""
    if requested == "bf16" and on_cpu and not cpu_has_bf16():
        message = ("mixed precision 'bf16' requested on a CPU without bf16 hardware (no AVX512-BF16/AMX): "
                   "emulated bf16 runs about 8x slower than fp32 here, so sciptm runs in fp32 instead")
        logger.warning(message)
        warnings.warn(message, UserWarning, stacklevel=3)
        return "no"
    return requested


__all__ = ["cpu_flags", "cpu_has_bf16", "resolve_precision"]
