"""The sides that ``embed_fused_ab.py`` and ``profile_embed.py`` compare: which C kernels the int8 ``embed`` runs."""
from __future__ import annotations

import os

#: SCIPTM_FUSED_ATTENTION and sciptm.encoders.lean.INT8_KERNEL of each side
SIDES = {"off": ("0", True), "onednn": ("1", False), "on": ("1", True)}
LABELS = {"off": "PyTorch attention, GELU, LayerNorm; onednn int8 Linear",
          "onednn": "C attention, GELU, add + LayerNorm; onednn int8 Linear",
          "on": "all C kernels: int8 layers with per-row u8 activations, fused block"}


def use(side: str) -> None:
    """Switch this process to ``side`` (``SCIPTM_FUSED_ATTENTION`` and ``lean.INT8_KERNEL``)."""
    from sciptm.encoders import lean

    os.environ["SCIPTM_FUSED_ATTENTION"], lean.INT8_KERNEL = SIDES[side]
