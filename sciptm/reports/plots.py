"""Report figures as PNG bytes: parity plots (regression) and ROC curves (binary tasks).

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas, so no pyplot
state or GUI backend is touched.

Example
-------
>>> import numpy as np
>>> from sciptm.reports.plots import Series, parity_png
>>> png = parity_png([Series("ridge", np.array([1.0, 2.0, 3.0]), np.array([1.1, 1.9, 3.2]))], "esol")
>>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""
from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve

PANEL_INCHES = 2.6
MAX_COLUMNS = 4
DPI = 100


@dataclass(frozen=True)
class Series:
    """Test-set targets and predictions of one model: ``y_true``, ``y_pred`` as ``[N]`` or ``[N, T]``
    (``NaN`` marks a missing label); ``note`` is printed in the panel (e.g. the run's score)."""

    model: str
    y_true: np.ndarray
    y_pred: np.ndarray
    note: str = ""


def labelled(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten ``[N]`` or ``[N, T]`` arrays to the 1-D entries that have a label.

    Raises
    ------
    ValueError
        when the shapes differ.

    >>> labelled(np.array([[1.0, np.nan]]), np.array([[0.9, 0.1]]))
    (array([1.]), array([0.9]))
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred {y_pred.shape}")
    keep = np.isfinite(y_true) & np.isfinite(y_pred)
    return y_true[keep], y_pred[keep]


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def parity_png(panels: Sequence[Series], task: str) -> bytes:
    """One small parity panel (prediction against target, with the y = x line) per model.

    Multitask regression panels pool every labelled entry of every target.

    Raises
    ------
    ValueError
        when ``panels`` is empty or a panel has no labelled entries.
    """
    if not panels:
        raise ValueError("parity_png needs at least one model")
    ncols = min(len(panels), MAX_COLUMNS)
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(PANEL_INCHES * ncols, PANEL_INCHES * nrows + 0.3), layout="constrained")
    fig.suptitle(task, fontsize=10)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, panel in zip(axes.ravel(), panels):
        t, p = labelled(panel.y_true, panel.y_pred)
        if t.size == 0:
            raise ValueError(f"task {task!r}, model {panel.model!r}: no labelled test entries to plot")
        lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", lw=1, zorder=1)
        ax.scatter(t, p, s=8, alpha=0.6, color="tab:blue", edgecolors="none", zorder=2)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_aspect("equal")
        ax.set_title(panel.model, fontsize=9)
        ax.set_xlabel("target", fontsize=8)
        ax.set_ylabel("prediction", fontsize=8)
        ax.tick_params(labelsize=7)
        if panel.note:
            ax.text(0.03, 0.97, panel.note, transform=ax.transAxes, va="top", fontsize=7)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    return _png(fig)


def roc_png(curves: Sequence[Series], task: str, *, micro: bool = False) -> bytes:
    """ROC curves of several models on one axis, each labelled with the AUC of the plotted data.

    ``micro=True`` (multitask) pools every labelled (molecule, target) entry into one curve;
    the legend then says "micro AUC", which differs from the per-target mean the table reports.

    Raises
    ------
    ValueError
        when ``curves`` is empty or a model's labels hold one class only.
    """
    if not curves:
        raise ValueError("roc_png needs at least one model")
    fig = Figure(figsize=(4.2, 4.0), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
    kind = "micro AUC" if micro else "AUC"
    for curve in curves:
        t, p = labelled(curve.y_true, curve.y_pred)
        if np.unique(t).size < 2:
            raise ValueError(f"task {task!r}, model {curve.model!r}: test labels hold one class; no ROC curve")
        fpr, tpr, _ = roc_curve(t, p)
        ax.plot(fpr, tpr, lw=1.5, label=f"{curve.model} ({kind} {roc_auc_score(t, p):.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate", fontsize=8)
    ax.set_ylabel("true positive rate", fontsize=8)
    ax.set_title(task, fontsize=10)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)
