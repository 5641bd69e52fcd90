"""``TokenAttribution``: one input's per-token attribution scores, with table and HTML views."""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class TokenAttribution:
    """Attribution scores of one input over its model tokens.

    Attributes
    ----------
    input: the item as given (SMILES, sequence, structure...).
    text: the domain text the model read (canonical SMILES, cleaned sequence, crystal tokens).
    tokens: token strings ``[T]``, special tokens included (``[CLS]``, ``<eos>``...).
    spans: ``(start, end)`` character span of each token in ``text`` (``(0, 0)`` for special tokens).
    special: boolean ``[T]``, ``True`` for special tokens.
    scores: float ``[T]``. Integrated gradients: signed contributions in output units that sum to
        ``output - baseline_output`` (up to ``delta``). Attention rollout: non-negative weights.
    method: ``"integrated_gradients"`` or ``"attention_rollout"``.
    domain: the encoder's domain name (``smiles``, ``protein``, ``crystal``).
    prediction: the model's prediction for the explained output (probability for classification,
        value in target units for regression); ``None`` for a bare encoder.
    output, baseline_output: the explained quantity at the input and at the baseline (IG only).
    target: the explained output (index or target name).
    """

    input: Any
    text: str
    tokens: list[str]
    spans: list[tuple[int, int]]
    special: np.ndarray
    scores: np.ndarray
    method: str
    domain: str
    prediction: float | None = None
    output: float | None = None
    baseline_output: float | None = None
    target: int | str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def delta(self) -> float | None:
        """Completeness gap ``sum(scores) - (output - baseline_output)`` (IG only; near 0 when converged)."""
        if self.output is None or self.baseline_output is None:
            return None
        return float(self.scores.sum() - (self.output - self.baseline_output))

    def to_frame(self) -> pd.DataFrame:
        """One row per token: ``position, token, start, end, special, score``.

        >>> import numpy as np
        >>> a = TokenAttribution("CO", "CO", ["[CLS]", "C", "O", "[SEP]"], [(0, 0), (0, 1), (1, 2), (0, 0)],
        ...                      np.array([True, False, False, True]), np.array([0.0, 0.2, 0.7, 0.0]),
        ...                      "integrated_gradients", "smiles")
        >>> a.to_frame()["score"].tolist()
        [0.0, 0.2, 0.7, 0.0]
        """
        return pd.DataFrame({
            "position": np.arange(len(self.tokens)),
            "token": self.tokens,
            "start": [s for s, _ in self.spans],
            "end": [e for _, e in self.spans],
            "special": self.special.astype(bool),
            "score": self.scores.astype(float),
        })

    def _repr_html_(self) -> str:
        """Tokens coloured by score (red positive, blue negative; opacity = |score| / max |score|)."""
        scale = float(np.abs(self.scores[~self.special]).max()) if (~self.special).any() else 0.0
        scale = scale or 1.0
        cells = []
        for tok, s, sp in zip(self.tokens, self.scores, self.special):
            alpha = min(abs(float(s)) / scale, 1.0)
            rgb = "214,39,40" if s >= 0 else "31,119,180"
            style = f"background:rgba({rgb},{alpha:.2f});padding:1px 2px;margin:0 1px;border-radius:2px"
            if sp:
                style += ";color:#999"
            cells.append(f'<span title="{float(s):.4g}" style="{style}">{html.escape(tok)}</span>')
        head = f"{html.escape(self.method)}"
        if self.prediction is not None:
            head += f" &middot; prediction {self.prediction:.4g}"
        if self.delta is not None:
            head += f" &middot; completeness gap {self.delta:.2g}"
        return (f'<div style="font-family:monospace;line-height:1.8"><div style="color:#666">{head}</div>'
                f"{''.join(cells)}</div>")

    def __repr__(self) -> str:
        pred = "" if self.prediction is None else f", prediction={self.prediction:.4g}"
        return f"TokenAttribution({self.text!r}, method={self.method!r}, tokens={len(self.tokens)}{pred})"
