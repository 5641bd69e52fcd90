"""DeepChem's classic MoleculeNet baseline as a benchmark model: ``dc-multitask``.

DeepChem's torch ``MultitaskRegressor`` / ``MultitaskClassifier`` (a fully connected network, one output per
task) on ECFP4 bits (DeepChem's ``CircularFingerprint``, radius 2, 1,024 bits), with the hyperparameters
of DeepChem's MoleculeNet presets (``deepchem/molnet/preset_hyper_parameters.py``: ``tf`` for
classification, ``tf_regression`` for regression). Missing labels get weight 0; classification weights are
balanced per task (``dc.trans.BalancingTransformer``), regression labels standardized on the training rows.
Each epoch is scored on the validation rows and the test predictions of the best validation epoch are
returned (the same rule the fine-tuned encoders and Chemprop follow).

Needs ``pip install 'sciptm[deepchem]'``; DeepChem is imported only when this model runs.
Options: ``epochs``, ``layer_sizes``, ``dropouts``, ``learning_rate``, ``batch_size``, ``weight_decay``,
``n_bits``, ``radius``.
"""
from __future__ import annotations

import importlib.util
import logging
import tempfile
from typing import Any

import numpy as np

from sciptm.benchmarks.models import MODELS
from sciptm.benchmarks.taskdata import TaskData
from sciptm.heads.tasks import MulticlassTask

logger = logging.getLogger(__name__)

#: DeepChem MoleculeNet presets (preset_hyper_parameters.py, keys ``tf`` and ``tf_regression``)
PRESETS: dict[str, dict[str, Any]] = {
    "classification": {"layer_sizes": [1000], "dropouts": 0.25, "weight_decay": 1e-4, "batch_size": 50,
                       "learning_rate": 0.001, "epochs": 10},
    "regression": {"layer_sizes": [1000, 1000], "dropouts": 0.25, "weight_decay": 5e-4, "batch_size": 128,
                   "learning_rate": 0.0008, "epochs": 50},
}


class DeepChemMultitask:
    """DeepChem ``Multitask{Regressor,Classifier}`` on ECFP (see the module docstring)."""

    name = "dc-multitask"

    def __init__(self, options: dict[str, Any]):
        if importlib.util.find_spec("deepchem") is None:
            raise RuntimeError("dc-multitask needs DeepChem: pip install 'sciptm[deepchem]'")
        self.options = dict(options)
        self.info_: dict[str, Any] = {}

    def _features(self, data: TaskData) -> np.ndarray:
        import deepchem as dc

        n_bits, radius = int(self.options.get("n_bits", 1024)), int(self.options.get("radius", 2))
        key = f"dc-ecfp{2 * radius}-{n_bits}"
        if key not in data.cache:
            feats = dc.feat.CircularFingerprint(size=n_bits, radius=radius).featurize(data.texts)
            X = np.zeros((len(data.texts), n_bits), dtype=np.float32)
            for i, row in enumerate(feats):
                row = np.asarray(row)
                if row.size == n_bits:
                    X[i] = row
            data.cache[key] = X
        return data.cache[key]

    def fit_predict(self, data: TaskData, seed: int) -> np.ndarray:
        import deepchem as dc
        import torch

        if isinstance(data.task, MulticlassTask):
            raise ValueError("dc-multitask handles regression and (multitask) binary tasks, not multiclass")
        classify = data.task.is_classifier
        p = {**PRESETS["classification" if classify else "regression"], **self.options}
        torch.manual_seed(seed)
        np.random.seed(seed)
        X = self._features(data)
        y = data.y.astype(float)
        n_tasks = y.shape[1]
        w = (~np.isnan(y)).astype(np.float32)
        mean, std = data.task.target_stats(y[data.train])  # zeros/ones unless regression
        yz = np.nan_to_num(data.task.encode_targets(y, (mean, std)), nan=0.0)

        def dataset(rows: np.ndarray) -> Any:
            return dc.data.NumpyDataset(X[rows], yz[rows], w[rows], np.asarray(data.texts, dtype=object)[rows],
                                        n_tasks=n_tasks)

        train, valid, test = dataset(data.train), dataset(data.valid), dataset(data.test)
        if classify:
            train = dc.trans.BalancingTransformer(dataset=train).transform(train)
        with tempfile.TemporaryDirectory(prefix="sciptm-dc-") as model_dir:
            return self._train(dc, classify, p, data, X, mean, std, train, valid, test, n_tasks, model_dir)

    def _train(self, dc: Any, classify: bool, p: dict[str, Any], data: TaskData, X: np.ndarray, mean: np.ndarray,
               std: np.ndarray, train: Any, valid: Any, test: Any, n_tasks: int, model_dir: str) -> np.ndarray:
        common = dict(layer_sizes=list(p["layer_sizes"]), dropouts=p["dropouts"],
                      weight_decay_penalty=float(p["weight_decay"]), weight_decay_penalty_type="l2",
                      batch_size=int(p["batch_size"]), learning_rate=float(p["learning_rate"]), device="cpu",
                      model_dir=model_dir)
        if classify:
            model = dc.models.MultitaskClassifier(n_tasks, X.shape[1], n_classes=2, **common)
        else:
            model = dc.models.MultitaskRegressor(n_tasks, X.shape[1], **common)

        def predict(ds: Any) -> np.ndarray:
            out = np.asarray(model.predict(ds))
            if classify:
                return out.reshape(len(ds), n_tasks, 2)[:, :, 1]
            return out.reshape(len(ds), n_tasks) * std + mean

        from sciptm import metrics as metric_lib

        metric = metric_lib.METRICS.get(data.metric)
        best, best_epoch, best_test = None, 0, None
        y_valid = data.y_true("valid") if len(data.valid) else None
        epochs = int(p["epochs"])
        for epoch in range(1, epochs + 1):
            model.fit(train, nb_epoch=1, checkpoint_interval=0)  # no checkpoint files: the best epoch's
            # test predictions are kept in memory instead
            if y_valid is None:
                best_test, best_epoch = predict(test), epoch
                continue
            pv = predict(valid)
            try:
                score = float(metric_lib.compute(metric.name, y_valid, pv[:, 0] if data.single else pv))
            except ValueError:
                score = float("nan")
            better = best is None or (not np.isnan(score) and (np.isnan(best) or
                                      (score > best if metric.greater_is_better else score < best)))
            if better:
                best, best_epoch, best_test = score, epoch, predict(test)
        self.info_ = {"best_epoch": best_epoch, "epochs": epochs, "valid_" + metric.name: best,
                      "features": f"ECFP{2 * int(self.options.get('radius', 2))} "
                                  f"{int(self.options.get('n_bits', 1024))} bits (dc.feat.CircularFingerprint)",
                      "preset": {k: p[k] for k in ("layer_sizes", "dropouts", "weight_decay", "batch_size",
                                                   "learning_rate")}}
        return best_test[:, 0] if data.single else best_test


MODELS.add("dc-multitask", DeepChemMultitask)
