"""Dynamic int8 quantization of ``nn.Linear`` layers for CPU inference, in one place.

``torch.ao.quantization`` still works but announces its deprecation on every call; those two notices are
dropped here, and every other warning the call raises reaches the caller unchanged.

>>> import torch
>>> q = dynamic_int8(torch.nn.Sequential(torch.nn.Linear(4, 4)))
>>> q[0].weight().dtype
torch.qint8
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

#: beginnings of torch's deprecation notices for the dynamic int8 path (the path itself still works)
_TORCH_NOTICES = ("torch.ao.quantization is deprecated",
                  "torch.quantize_per_tensor, torch.quantize_per_channel")


def dynamic_int8(module: nn.Module, per_channel: bool = False) -> nn.Module:
    """``module`` with its ``nn.Linear`` layers replaced by dynamic-int8 ones (in place; returns it).

    ``per_channel=True`` gives every output channel its own weight scale (closer to fp32, same speed).
    The quantized engine is the current ``torch.backends.quantized.engine``.
    """
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = quantize_dynamic(module, {nn.Linear: qconfig}, dtype=torch.qint8, inplace=True)
    for w in caught:
        if not str(w.message).startswith(_TORCH_NOTICES):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return out


__all__ = ["dynamic_int8"]
