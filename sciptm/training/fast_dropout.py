"""Dropout for fine-tuning on CPU with one random draw per four elements instead of one per element.

PyTorch's CPU ``F.dropout`` draws one Mersenne-Twister number per element (``bernoulli_``): ~12.5 ns per
element, 4.1 ms for one ``64 x 40 x 128`` activation of a ``tiny`` encoder at one thread, about a sixth of a
fine-tuning epoch with nine hidden-state dropouts per forward. :func:`fast_dropout` keeps the semantics of
``F.dropout`` (drop each element independently with probability ``p``, scale the kept ones by
``1 / (1 - p)``, identity outside training) but takes its mask from 16-bit slices of 64-bit words of NumPy's
``SFC64`` generator, seeded per call by one draw from torch's default generator, so ``torch.manual_seed``
(and the trainer's ``seed``) still fixes every mask.

The drop probability is quantized to 1/65536: ``p_actual = round(p * 65536) / 65536`` (within 2**-17 of
``p``; 0.1 becomes 0.100006), and the scale is ``1 / (1 - p_actual)``, so the expected value of every element
is kept exactly. Other devices, other dtypes than floating point and ``p`` that rounds to 0 or 1 use
``F.dropout``.

:func:`use_fast_dropout` swaps a model's hidden-state ``nn.Dropout`` modules for :class:`FastDropout` while it
trains and puts the originals back afterwards (dropout modules hold no weights: ``state_dict`` keys and saved
checkpoints are unchanged). ``SCIPTM_FAST_DROPOUT=0`` keeps PyTorch's dropout in :class:`~sciptm.training.Trainer`.

>>> import torch
>>> _ = torch.manual_seed(0)
>>> x = torch.ones(100_000)
>>> y = fast_dropout(x, 0.1)
>>> round(float((y == 0).float().mean()), 2), round(float(y.mean()), 1)
(0.1, 1.0)
>>> bool(torch.equal(fast_dropout(x, 0.1, training=False), x))
True
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: bits of randomness per element: the drop probability is a multiple of 2**-THRESHOLD_BITS
THRESHOLD_BITS = 16
_LEVELS = 1 << THRESHOLD_BITS


def quantized_p(p: float) -> float:
    """The drop probability :func:`fast_dropout` applies for ``p`` (``round(p * 65536) / 65536``)."""
    return round(float(p) * _LEVELS) / _LEVELS


def dropout_mask(shape: torch.Size | tuple[int, ...], p: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A CPU tensor of ``shape``: 0 where an element is dropped (probability :func:`quantized_p` of ``p``),
    ``1 / (1 - p_actual)`` where it is kept. One draw from torch's default generator seeds the call."""
    n = int(np.prod(shape, dtype=np.int64))
    level = round(float(p) * _LEVELS)
    seed = int(torch.empty((), dtype=torch.int64).random_())  # advances torch's RNG: manual_seed fixes the mask
    words = np.random.SFC64(seed).random_raw(-(-n // 4))  # four 16-bit slices per 64-bit word
    keep = np.greater_equal(words.view(np.int16)[:n], level - _LEVELS // 2)  # P(keep) = 1 - level / 65536
    mask = torch.from_numpy(keep).view(torch.uint8).to(dtype)
    return mask.mul_(_LEVELS / (_LEVELS - level)).view(shape)


def fast_dropout(x: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> torch.Tensor:
    """``F.dropout`` with the mask of :func:`dropout_mask` on CPU (see the module docstring); differentiable
    (the gradient is the incoming one times the same mask)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return x
    if x.device.type != "cpu" or not x.is_floating_point() or round(float(p) * _LEVELS) in (0, _LEVELS):
        return F.dropout(x, p, training, inplace)
    mask = dropout_mask(x.shape, p, x.dtype)
    return x.mul_(mask) if inplace else x * mask


class FastDropout(nn.Dropout):
    """``nn.Dropout`` computed by :func:`fast_dropout` (same ``p`` and ``inplace``; no weights)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fast_dropout(x, self.p, self.training, self.inplace)


def _is_attention_dropout(parent: nn.Module, attr: str) -> bool:
    """Whether ``parent.<attr>`` drops attention probabilities (left alone: scaled-dot-product attention reads
    its ``p``) rather than hidden states."""
    return attr == "attn_dropout" or ("Attention" in type(parent).__name__ and attr == "dropout")


def use_fast_dropout(model: nn.Module) -> Callable[[], None]:
    """Replace every plain ``nn.Dropout`` child of ``model`` (except attention-probability dropouts) by a
    :class:`FastDropout` with the same ``p``, ``inplace`` and training flag. Returns a function that puts the
    original modules back."""
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    for parent in list(model.modules()):
        for attr, child in list(parent.named_children()):
            if type(child) is nn.Dropout and not _is_attention_dropout(parent, attr):
                fast = FastDropout(child.p, child.inplace)
                fast.train(child.training)
                setattr(parent, attr, fast)
                swapped.append((parent, attr, child))

    def restore() -> None:
        for parent, attr, child in reversed(swapped):
            current = getattr(parent, attr)
            child.train(current.training)
            setattr(parent, attr, child)

    return restore
