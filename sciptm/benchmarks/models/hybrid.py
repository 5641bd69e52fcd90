"""Hybrid probes as benchmark models: ``<encoder>+<features>:probe`` (:mod:`sciptm.hybrid`).

The frozen encoder's pooled embedding (disk-cached, :func:`~sciptm.benchmarks.models.probe.cached_embeddings`)
beside a descriptor block, with the head chosen on inner rows that are never test rows: the split's valid
rows, or out-of-fold/out-of-bag predictions of the training rows when a split has none (Matbench folds).
The chosen recipe (``linear``/``rf``/``blend``, its weight and every candidate's inner score) is written to the
run file (``model_info``).

Names follow the model-name grammar (:mod:`sciptm.benchmarks.models.spec`)::

    rxnfp/bert-pretrained+rdkit2d:probe   sciptm/smiles-small+rdkit2d:probe
    sciptm/crystal-small+magpie:probe     chgnet/0.3.0+magpie:probe (structure tasks only)

Options (``model_options``): ``n_estimators`` (descriptor forest, 500), ``n_jobs`` (1), ``max_features``
(the descriptor forest's, scikit-learn's default), ``forests`` (``[descriptors, both]``: forests tried, on the
descriptors and on embedding ++ descriptors), ``weights`` (blend weights searched), ``inner_folds`` (5), ``alphas``,
``pooling``, ``batch_size``, ``max_tokens``.

>>> from sciptm.benchmarks.models import build_model
>>> build_model("sciptm/smiles-small+rdkit2d:probe").features
'rdkit2d'
"""
from __future__ import annotations

from typing import Any

import numpy as np

from sciptm.benchmarks.models.spec import ModelSpec
from sciptm.benchmarks.taskdata import TaskData
from sciptm.errors import ConfigError

#: options a hybrid probe reads
HYBRID_KEYS = frozenset({"pooling", "batch_size", "max_tokens", "alphas", "n_estimators", "n_jobs", "max_features",
                         "weights", "inner_folds", "forests"})


def descriptors(data: TaskData, features: str) -> np.ndarray:
    """The descriptor block of every row of ``data``, cached in ``data.cache`` and on disk.

    ``rdkit2d`` (and other SMILES sets) read the same disk cache as the ``rdkit2d-rf`` baseline; ``magpie`` is
    computed from the original formulas of composition tasks (:func:`~sciptm.benchmarks.models.materials.magpie_matrix`).
    """
    key = f"descriptors|{features}"
    if key in data.cache:
        return data.cache[key]
    if features == "magpie":
        from sciptm.benchmarks.models.materials import magpie_matrix

        if "magpie" not in data.cache:  # shared with rf-composition in the same process
            data.cache["magpie"] = magpie_matrix(data).astype(np.float32)
        X = data.cache["magpie"]
    else:
        from sciptm.benchmarks.models.chem import _feature_config
        from sciptm.features import FEATURES
        from sciptm.features.cache import cached_rows

        featurize = FEATURES[features]
        if featurize.domain != data.domain:
            raise ConfigError(f"feature set {features!r} is for {featurize.domain} inputs; task {data.name!r} is "
                              f"{data.domain}")
        X = cached_rows(features, _feature_config(features), data.texts,
                        lambda texts: np.asarray(featurize(texts), dtype=np.float32))
    data.cache[key] = X
    return X


class HybridProbe:
    """``<encoder>+<features>:probe``: frozen embedding ++ descriptors, head chosen by inner validation."""

    option_keys = HYBRID_KEYS

    def __init__(self, spec: str, options: dict[str, Any]):
        parsed = ModelSpec.parse(spec)
        if not (parsed.probe and parsed.features):
            raise ConfigError(f"a hybrid probe is named '<encoder>+<features>:probe', got {spec!r}")
        parsed.check()
        unknown = sorted(set(options) - HYBRID_KEYS)
        if unknown:
            raise ConfigError(f"{spec!r}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(sorted(HYBRID_KEYS))}")
        self.name = spec
        self.base = parsed.encoder
        self.features = parsed.features
        self.options = dict(options)

    def embeddings(self, data: TaskData, seed: int) -> np.ndarray:
        """The frozen encoder's vectors of every row (CHGNet's crystal features for ``chgnet/...``)."""
        from sciptm.benchmarks.models.zoo import CHGNET, ChgnetProbe

        if self.base == CHGNET:
            key = f"{CHGNET}:probe|features"
            if key not in data.cache:
                data.cache[key] = ChgnetProbe(self.options).features(data)
            return data.cache[key]
        from sciptm.benchmarks.models.probe import cached_embeddings

        key = f"{self.base}:probe|seed{seed}"  # the plain probe's key: a hybrid after it reads its vectors
        if key not in data.cache:
            data.cache[key] = cached_embeddings(
                self.base, data.texts, data.domain_config or data.domain, seed, self.options.get("pooling", "mean"),
                int(self.options.get("batch_size", 256)),
                int(self.options["max_tokens"]) if self.options.get("max_tokens") else None)
        return data.cache[key]

    def fit_predict(self, data: TaskData, seed: int) -> np.ndarray:
        from sciptm.hybrid import WEIGHTS, fit_predict_hybrid, forest_component

        E = self.embeddings(data, seed)
        D = descriptors(data, self.features)
        n_estimators = int(self.options.get("n_estimators", 500))
        n_jobs = int(self.options.get("n_jobs", 1))
        max_features = self.options.get("max_features")
        # the descriptor forest does not depend on the encoder: every hybrid of this (task, split) shares it
        rf_key = f"hybrid-forest|{self.features}|{seed}|{n_estimators}|{max_features}|{len(data.valid)}"
        if rf_key not in data.cache:
            inner = data.valid if len(data.valid) else None
            data.cache[rf_key] = forest_component(D, data.y, data.task.is_classifier, data.train, inner, data.test,
                                                  seed, n_estimators, n_jobs, max_features)
        pred, info = fit_predict_hybrid(
            E, D, data.y, data.task_type, data.metric, data.train, data.valid, data.test, seed,
            n_estimators=n_estimators, n_jobs=n_jobs, max_features=max_features, alphas=self.options.get("alphas"),
            weights=tuple(float(w) for w in self.options.get("weights", WEIGHTS)),
            inner_folds=int(self.options.get("inner_folds", 5)), forest=data.cache[rf_key],
            forests=tuple(self.options.get("forests", ("descriptors", "both"))))
        self.inner_rows_ = np.asarray(info.pop("inner_rows"), dtype=int)
        self.info_ = {"encoder": self.base, "features": self.features, "pooling": self.options.get("pooling", "mean"),
                      "frozen": True, **info}
        return pred


__all__ = ["HYBRID_KEYS", "HybridProbe", "descriptors"]
