"""Linear probes: RidgeCV on a feature matrix, and frozen-encoder embeddings + RidgeCV (``<encoder>:probe``).

A probe never trains the encoder: every input is embedded once (mean-pooled last hidden state,
:meth:`sciptm.Encoder.embed`), the vectors are cached per (encoder, seed) for the whole process, and a
ridge model with its penalty chosen by leave-one-out (generalised) cross-validation *inside the training
part* is fitted on them. That makes a sciptm encoder CPU-feasible on tens of thousands of sequences.

>>> from sciptm.benchmarks.models import build_model
>>> build_model("tiny:probe").name
'tiny:probe'
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import RidgeClassifierCV, RidgeCV
from sklearn.preprocessing import StandardScaler

from sciptm.benchmarks.models.spec import PROBE_SUFFIX, ModelSpec
from sciptm.benchmarks.taskdata import TaskData
from sciptm.errors import ConfigError
from sciptm.heads.tasks import MulticlassTask

#: ridge penalties searched by generalised cross-validation on the training rows
ALPHAS = tuple(float(a) for a in np.logspace(-2, 5, 15))
#: sparse feature matrices up to this many cells (about 1.6 GB as float64) are made dense before RidgeCV
DENSE_LIMIT = 200_000_000

#: (encoder spec, seed, pooling) -> {text: vector}; shared by every task of a process (e.g. the five GB1 splits)
_EMBEDDINGS: dict[tuple[str, int, str], dict[str, np.ndarray]] = {}


def ridge_fit_predict(data: TaskData, X: np.ndarray | sp.spmatrix, alphas: tuple[float, ...] = ALPHAS,
                      info: dict[str, Any] | None = None) -> np.ndarray:
    """Fit ``RidgeCV`` (regression) or ``RidgeClassifierCV`` (classification) on ``X[data.train]`` and predict
    ``X[data.test]``, one model per target column on its labelled rows.

    The penalty is picked from ``alphas`` by efficient leave-one-out cross-validation on the training rows only;
    valid rows are not used. Classifier scores become probabilities by a sigmoid (binary) or a softmax
    (multiclass), which keeps the ranking (ROC-AUC) and the arg-max (accuracy) of the decision function.

    Parameters
    ----------
    data: the task (``X`` rows follow ``data.texts``).
    X: ``N x F`` features, dense or scipy sparse.
    alphas: penalties to search.
    info: if given, receives ``alpha`` (the chosen penalty per target) and ``n_features``.

    Returns
    -------
    Test predictions: ``[N_test]`` (one target), ``N_test x T`` (multitask) or ``N_test x C`` (multiclass).
    """
    if sp.issparse(X) and X.shape[0] * X.shape[1] <= DENSE_LIMIT:
        X = X.toarray()  # sklearn's dense (SVD) leave-one-out path is far faster than its sparse one
    X = sp.csr_matrix(X) if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    Xtr, Xte = X[data.train], X[data.test]
    y = data.y[data.train]
    cols = []
    chosen: list[float] = []
    if info is not None:
        info["n_features"] = int(X.shape[1])
        info["alpha"] = chosen
        info["alpha_grid"] = [float(min(alphas)), float(max(alphas))]  # the report remarks a penalty at an edge
    task = data.task
    for t in range(y.shape[1]):
        keep = ~np.isnan(y[:, t])
        labels = y[keep, t]
        if len(labels) == 0:
            raise ValueError(f"{data.name}: target {data.target_names[t]!r} has no labelled training rows")
        if task.is_classifier:
            classes = np.unique(labels.astype(int))
            if len(classes) < 2:
                cols.append(np.full(len(data.test), float(classes[0])))
                continue
            est = RidgeClassifierCV(alphas=alphas).fit(Xtr[keep], labels.astype(int))
            chosen.append(float(est.alpha_))
            score = est.decision_function(Xte)
            if isinstance(task, MulticlassTask):
                full = np.full((len(data.test), task.n_classes(data.y)), -np.inf)
                full[:, est.classes_.astype(int)] = score
                return task.to_proba(full)
            cols.append(task.to_proba(score))
        else:
            est = RidgeCV(alphas=alphas).fit(Xtr[keep], labels)
            chosen.append(float(est.alpha_))
            cols.append(np.asarray(est.predict(Xte), dtype=float).reshape(-1))
    pred = np.stack(cols, axis=1)
    return pred[:, 0] if data.single else pred


def probe_encoder(spec: str, domain: str | dict[str, Any], seed: int, pooling: str = "mean"):
    """The frozen encoder a probe reads: ``tiny``/``small``/``base`` = random init with ``seed``; any other
    ``spec`` (a folder, ``sciptm/protein-small``, a hub id) is opened with :meth:`Encoder.from_pretrained`;
    a ``@random`` suffix keeps that encoder's architecture with fresh weights drawn with ``seed``."""
    from sciptm.encoders import SIZES, Encoder

    parsed = ModelSpec.parse(spec)
    if parsed.base in SIZES:
        return Encoder.from_config(domain=domain, size=parsed.base, seed=seed, pooling=pooling)
    if parsed.random_init:
        return Encoder.from_pretrained(parsed.base, pooling=pooling, random_init=True, seed=seed)
    return Encoder.from_pretrained(parsed.base, pooling=pooling)


def cached_embeddings(spec: str, texts: list[str], domain: str | dict[str, Any], seed: int, pooling: str = "mean",
                      batch_size: int = 256, max_tokens: int | None = None, progress: bool | None = None,
                      quantize: str | None = None) -> np.ndarray:
    """``N x d`` float32 embeddings of ``texts``, computing only texts not embedded before in this process
    and not found in the disk cache (keyed by the texts and the encoder's weights, see :func:`_embed_on_disk`).
    ``quantize="int8"`` embeds with the dynamically quantized model (:meth:`sciptm.Encoder.embed`; cached apart).

    Random-init encoders depend on ``seed``; pretrained ones do not, so their cache key ignores it.
    ``domain`` is the task's domain name or config (a crystal encoder is set to the task's input kind).
    """
    from sciptm.benchmarks.models.encoder import fit_domain

    kind = domain.get("kind") if isinstance(domain, dict) else None
    parsed = ModelSpec.parse(spec)
    key = (spec + (f"|{quantize}" if quantize else ""), seed if parsed.is_size or parsed.random_init else -1, pooling,
           kind)
    store = _EMBEDDINGS.setdefault(key, {})
    todo = list(dict.fromkeys(t for t in texts if t not in store))
    if todo:
        config = {"name": domain} if isinstance(domain, str) else dict(domain)
        enc = probe_encoder(spec, config, seed, pooling)
        enc.domain = fit_domain(enc.domain, config, spec, "this task")
        vectors = _embed_on_disk(enc, todo, batch_size, max_tokens, progress, quantize)
        store.update(zip(todo, vectors))
    return np.stack([store[t] for t in texts]).astype(np.float32)


def _embed_on_disk(enc: Any, texts: list[str], batch_size: int, max_tokens: int | None,
                   progress: bool | None, quantize: str | None = None) -> np.ndarray:
    """``enc.embed(texts)`` through the disk cache (:func:`sciptm.features.cache.cached_rows`): the key holds the
    texts, a fingerprint of the encoder's weights, its pooling and domain settings, so a resumed benchmark or a
    second probe on the same rows reads the vectors instead of recomputing them."""
    from sciptm.features.cache import cached_rows, module_fingerprint

    config = {"weights": module_fingerprint(enc.model), "pooling": enc.pooling, "domain": enc.domain.to_config(),
              "long": "chunk", "max_length": int(min(enc.tokenizer.model_max_length, 10**9))}
    if quantize:
        config["quantize"] = quantize
    return cached_rows("embeddings", config, texts,
                       lambda part: enc.embed(part, batch_size=batch_size, max_tokens=max_tokens, progress=progress,
                                              long="chunk", quantize=quantize))


class EmbeddingProbe:
    """``<encoder>:probe``: frozen mean-pooled encoder embeddings + RidgeCV (see the module docstring).

    ``<encoder>`` is ``tiny``/``small`` (random init, seeded by the run seed: a floor, not a pretrained model),
    a ``save_pretrained`` folder, or a shipped name such as ``sciptm/protein-small``.
    Options: ``pooling`` (default ``mean``), ``batch_size``, ``max_tokens``, ``alphas``, ``quantize`` (``int8``:
    embed with the dynamically quantized encoder, CPU only; recorded in ``model_info``).
    """

    def __init__(self, spec: str, options: dict[str, Any]):
        parsed = ModelSpec.parse(spec)
        if not parsed.probe:
            raise ConfigError(f"a probe model is named '<encoder>{PROBE_SUFFIX}', got {spec!r}")
        parsed.check()
        if parsed.features:
            raise ConfigError(f"{spec!r}: EmbeddingProbe takes no side features; build it with build_model(), "
                             "which runs '<encoder>+<features>:probe' as a hybrid probe (models/hybrid.py)")
        self.name = spec
        self.base = parsed.encoder
        self.options = dict(options)

    def fit_predict(self, data: TaskData, seed: int) -> np.ndarray:
        key = f"{self.name}|seed{seed}"
        if key not in data.cache:
            data.cache[key] = cached_embeddings(
                self.base, data.texts, data.domain_config or data.domain, seed, self.options.get("pooling", "mean"),
                int(self.options.get("batch_size", 256)),
                int(self.options["max_tokens"]) if self.options.get("max_tokens") else None,
                quantize=self.options.get("quantize") or None)
        X = data.cache[key]
        scaler = StandardScaler().fit(X[data.train])
        Xs = np.nan_to_num(scaler.transform(X))
        alphas = tuple(float(a) for a in self.options.get("alphas", ALPHAS))
        self.info_: dict[str, Any] = {"encoder": self.base, "pooling": self.options.get("pooling", "mean"),
                                      "frozen": True}
        if self.options.get("quantize"):
            self.info_["quantize"] = self.options["quantize"]
        return ridge_fit_predict(data, Xs, alphas, self.info_)


__all__ = ["ALPHAS", "EmbeddingProbe", "cached_embeddings", "probe_encoder", "ridge_fit_predict"]
