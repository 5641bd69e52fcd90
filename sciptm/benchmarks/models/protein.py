"""Protein benchmark field and its baselines: one-hot + RidgeCV, and FLIP's one-hot 1D CNN.

``onehot-ridge``
    Flattened one-hot of the aligned sequence (20 standard amino acids, ``X`` for any other letter, ``-``
    for padding), RidgeCV with the penalty chosen by leave-one-out CV on the training part. Variants of one
    protein (GB1, DMS) have equal lengths and are aligned as they are; sequences of unequal length (TAPE
    stability) are left-aligned and padded with ``-`` to the longest *training* sequence (longer test
    sequences are cut there). Past ``max_length`` residues (default 512: TAPE remote homology) the
    one-hot is replaced by amino-acid + dipeptide composition (420 frequencies + log length).
    Only columns that vary inside the training part are kept (a sparse matrix), which gives the same ridge
    fit as the full flattened one-hot: a constant column centres to zero and gets no weight.
``onehot-cnn``
    FLIP's CNN baseline (Dallago et al. 2021): one-hot -> Conv1d(kernel 5) -> dropout -> per-position
    Linear(C -> 2C) + ReLU -> max over the sequence length -> Linear. FLIP uses C = 1024 channels; here
    C = 128 by default (``channels`` option) so it trains on a CPU. Adam (lr 1e-3), batch 256, at most
    ``epochs`` (default 30) epochs, early stopping on the valid-part loss (``patience`` 5; without valid
    rows a seeded 10% of train is held out), targets standardised on train. Seeded; CPU by default.

Plus ``mean``/``dummy`` (``models/common.py``) and any sciptm encoder: fine-tuned (``tiny``, a folder) or
frozen (``tiny:probe``, ``sciptm/protein-small:probe``; ``models/probe.py``).
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from sciptm.benchmarks.fields import FIELDS, Field
from sciptm.benchmarks.models import MODELS
from sciptm.benchmarks.models.probe import ALPHAS, ridge_fit_predict
from sciptm.benchmarks.taskdata import TaskData
from sciptm.heads.tasks import MulticlassTask

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
#: one-hot symbols: the 20 standard amino acids, X (any other letter), '-' (padding)
SYMBOLS = AMINO_ACIDS + "X-"
PAD = len(SYMBOLS) - 1
_LOOKUP = np.full(256, len(AMINO_ACIDS), dtype=np.int64)  # every other byte -> X
for _i, _c in enumerate(SYMBOLS):
    _LOOKUP[ord(_c)] = _i

GB1_TASKS = tuple(f"flip_gb1_{s}" for s in ("one_vs_rest", "two_vs_rest", "three_vs_rest", "low_vs_high", "sampled"))

FIELDS.add("protein", Field(
    name="protein", domain="protein",
    tasks=(*GB1_TASKS, "tape_stability", "tape_remote_homology"),
    models=("mean", "onehot-ridge", "onehot-cnn", "tiny:probe"), split="predefined",
    quick_tasks=("flip_gb1_sampled",), quick_models=("mean", "onehot-ridge", "sciptm/protein-small:probe"),
    quick_options={"epochs": 5, "patience": 2},
    metrics={"regression": "spearman"},  # a user's DMS/fitness CSV is scored like the field's tasks
))


def encode_indices(texts: list[str], length: int) -> np.ndarray:
    """``N x length`` int64 symbol indices (see :data:`SYMBOLS`): left-aligned, ``-``-padded, cut at ``length``.

    >>> encode_indices(["ACX", "A"], 3).tolist()
    [[0, 1, 20], [0, 21, 21]]
    """
    buf = np.full((len(texts), length), ord("-"), dtype=np.uint8)
    for i, t in enumerate(texts):
        raw = np.frombuffer(t[:length].encode("ascii", "replace"), dtype=np.uint8)
        buf[i, : len(raw)] = raw
    return _LOOKUP[buf]


def onehot_matrix(idx: np.ndarray, train: np.ndarray) -> sp.csr_matrix:
    """Sparse flattened one-hot (``N x L*22``) restricted to the columns that vary over the ``train`` rows."""
    n, length = idx.shape
    cols = (np.arange(length) * len(SYMBOLS))[None, :] + idx
    full = sp.csr_matrix((np.ones(n * length), (np.repeat(np.arange(n), length), cols.ravel())),
                         shape=(n, length * len(SYMBOLS)))
    counts = np.asarray(full[train].sum(axis=0)).ravel()
    keep = np.flatnonzero((counts > 0) & (counts < len(train)))
    return full[:, keep]


def composition(texts: list[str]) -> np.ndarray:
    """Amino-acid (20) and dipeptide (400) frequencies plus ``log(length)``: ``N x 421``."""
    out = np.zeros((len(texts), 421))
    for i, t in enumerate(texts):
        idx = encode_indices([t], len(t))[0]
        std = idx[idx < 20]
        if len(std):
            out[i, :20] = np.bincount(std, minlength=20) / len(idx)
        pairs = idx[:-1] * 20 + idx[1:]
        ok = (idx[:-1] < 20) & (idx[1:] < 20)
        if ok.any():
            out[i, 20:420] = np.bincount(pairs[ok], minlength=400) / max(len(idx) - 1, 1)
        out[i, 420] = np.log(max(len(t), 1))
    return out


def aligned_length(data: TaskData) -> int:
    """The longest training sequence (all sequences when they share one length)."""
    return max(len(data.texts[i]) for i in data.train)


class OneHotRidge:
    """Flattened one-hot + RidgeCV (see the module docstring). Options: ``max_length`` (512), ``alphas``."""

    name = "onehot-ridge"

    def __init__(self, options: dict[str, Any]):
        self.options = options

    def features(self, data: TaskData) -> np.ndarray | sp.csr_matrix:
        length = aligned_length(data)
        if length > int(self.options.get("max_length", 512)):
            self.info_["features"] = "composition"
            key = "composition"
            if key not in data.cache:
                data.cache[key] = composition(data.texts)
            return data.cache[key]
        self.info_["features"] = f"onehot-{length}"
        key = f"onehot-idx-{length}"
        if key not in data.cache:
            data.cache[key] = encode_indices(data.texts, length)
        return onehot_matrix(data.cache[key], data.train)

    def fit_predict(self, data: TaskData, seed: int) -> np.ndarray:
        alphas = tuple(float(a) for a in self.options.get("alphas", ALPHAS))
        self.info_: dict[str, Any] = {}
        return ridge_fit_predict(data, self.features(data), alphas, self.info_)


class FlipCNN(nn.Module):
    """FLIP's CNN: masked Conv1d over one-hot -> per-position Linear + ReLU -> max over length -> Linear.

    Input ``B x L`` symbol indices (``PAD`` = padding); output ``B x n_out``.
    """

    def __init__(self, n_out: int, channels: int = 128, kernel_size: int = 5, dropout: float = 0.0):
        super().__init__()
        self.conv = nn.Conv1d(len(SYMBOLS), channels, kernel_size, padding=kernel_size // 2)
        self.dense = nn.Linear(channels, 2 * channels)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * channels, n_out)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        mask = (idx != PAD).unsqueeze(-1)  # B x L x 1
        x = F.one_hot(idx, len(SYMBOLS)).float() * mask
        x = self.conv(x.transpose(1, 2)).transpose(1, 2) * mask  # B x L x C
        x = torch.relu(self.dense(self.dropout(x)))
        x = x.masked_fill(~mask, float("-inf")).amax(dim=1)
        return self.out(self.dropout(x))


class OneHotCNN:
    """FLIP's one-hot CNN baseline, trained with early stopping on the valid part (see the module docstring).

    Options: ``channels`` (128), ``kernel_size`` (5), ``dropout`` (0.0), ``epochs`` (30), ``patience`` (5),
    ``lr`` (1e-3), ``batch_size`` (256), ``max_length`` (1024: longer sequences are cut), ``threads``
    (torch intra-op threads during training; default: leave as is).
    """

    name = "onehot-cnn"

    def __init__(self, options: dict[str, Any]):
        self.options = options

    def fit_predict(self, data: TaskData, seed: int) -> np.ndarray:
        opt = self.options
        threads = opt.get("threads")
        before = torch.get_num_threads()
        if threads:
            torch.set_num_threads(int(threads))
        try:
            return self._fit_predict(data, seed, opt)
        finally:
            torch.set_num_threads(before)

    def _fit_predict(self, data: TaskData, seed: int, opt: dict[str, Any]) -> np.ndarray:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        length = min(max(len(t) for t in data.texts), int(opt.get("max_length", 1024)))
        key = f"onehot-idx-{length}"
        if key not in data.cache:
            data.cache[key] = encode_indices(data.texts, length)
        idx = torch.from_numpy(data.cache[key])
        lengths = torch.from_numpy(np.array([min(len(t), length) for t in data.texts]))
        train, valid = np.asarray(data.train), np.asarray(data.valid)
        if len(valid) == 0:  # hold out a seeded 10% of train for early stopping
            perm = rng.permutation(train)
            n_valid = max(1, round(0.1 * len(train)))
            train, valid = np.sort(perm[n_valid:]), np.sort(perm[:n_valid])
        task = data.task
        stats = task.target_stats(data.y[train])  # standardized targets for regression, labels otherwise
        y = task.encode_targets(data.y, stats).astype(np.float32)
        y_t = torch.from_numpy(y)
        n_out = task.n_outputs(y.shape[1], task.n_classes(data.y))
        model = FlipCNN(n_out, int(opt.get("channels", 128)), int(opt.get("kernel_size", 5)),
                        float(opt.get("dropout", 0.0)))
        optim = torch.optim.Adam(model.parameters(), lr=float(opt.get("lr", 1e-3)))
        loss_fn = task.loss  # masked: unlabelled entries (NaN) never count
        batch = int(opt.get("batch_size", 256))

        def batches(rows: np.ndarray):
            for s in range(0, len(rows), batch):
                b = torch.from_numpy(rows[s:s + batch])
                width = int(lengths[b].max())
                yield idx[b, :width], y_t[b]

        def evaluate(rows: np.ndarray) -> tuple[float, np.ndarray]:
            model.eval()
            outs, total = [], 0.0
            with torch.no_grad():
                for xb, yb in batches(rows):
                    out = model(xb)
                    total += float(loss_fn(out, yb)) * len(xb) if not torch.isnan(yb).all() else 0.0
                    outs.append(out)
            return total / max(len(rows), 1), torch.cat(outs).numpy()

        best, best_state, waited, _epoch = float("inf"), copy.deepcopy(model.state_dict()), 0, -1
        for _epoch in range(int(opt.get("epochs", 30))):
            model.train()
            order = rng.permutation(train)
            for xb, yb in batches(order):
                optim.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                optim.step()
            val_loss, _ = evaluate(valid)
            if val_loss < best:
                best, best_state, waited = val_loss, copy.deepcopy(model.state_dict()), 0
            else:
                waited += 1
                if waited >= int(opt.get("patience", 5)):
                    break
        model.load_state_dict(best_state)
        self.info_ = {"channels": model.conv.out_channels, "epochs_run": _epoch + 1, "best_valid_loss": best,
                      "n_parameters": sum(p.numel() for p in model.parameters())}
        _, out = evaluate(np.asarray(data.test))
        out = task.decode(out, stats)
        if isinstance(task, MulticlassTask):  # N x C class probabilities
            return out
        return out[:, 0] if data.single else out


MODELS.add("onehot-ridge", OneHotRidge)
MODELS.add("onehot-cnn", OneHotCNN)

__all__ = ["AMINO_ACIDS", "SYMBOLS", "FlipCNN", "OneHotCNN", "OneHotRidge", "composition", "encode_indices",
           "onehot_matrix"]
