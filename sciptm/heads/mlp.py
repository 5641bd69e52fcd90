"""MLP head over ``[pooled embedding ; scaled side-features]`` and the encoder+head module."""
from __future__ import annotations

import torch
from torch import nn

from sciptm.encoders.encoder import pool


class MLPHead(nn.Module):
    """``(B x d_in) -> (B x n_out)``: Linear -> GELU -> Dropout -> Linear."""

    def __init__(self, d_in: int, n_out: int, hidden: int = 256, dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PredictorModule(nn.Module):
    """Encoder base model + pooling + optional side-features + head.

    ``forward(input_ids B x T, attention_mask B x T, features B x F | None) -> B x n_out``.
    """

    def __init__(self, encoder_model: nn.Module, head: MLPHead, pooling: str):
        super().__init__()
        self.encoder = encoder_model
        self.head = head
        self.pooling = pooling

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                features: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        x = pool(hidden, attention_mask, self.pooling)
        if features is not None and features.shape[-1] > 0:
            x = torch.cat([x, features.to(x.dtype)], dim=-1)
        return self.head(x)
