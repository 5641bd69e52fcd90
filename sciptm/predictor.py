"""``PropertyPredictor``: encoder + task head with scikit-learn-style ``fit``/``predict``.

Example
-------
>>> import sciptm
>>> enc = sciptm.Encoder.from_config(domain="smiles", size="tiny")
>>> model = sciptm.PropertyPredictor(enc, task="regression", epochs=2)
>>> model = model.fit(["CCO", "CCCO", "CCCCO", "c1ccccc1"], [0.1, 0.2, 0.3, 0.9])
>>> model.predict(["CCO"]).shape
(1,)

A fitted predictor saves to a plain ``save_pretrained`` encoder folder plus
``head.safetensors`` and ``sciptm_predictor.json``; ``transformers.AutoModel``
still opens the folder (it sees the fine-tuned encoder).
"""
from __future__ import annotations

import copy
import json
import warnings
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors.torch import load_file, save_file

from sciptm import metrics as metric_lib
from sciptm.domains.base import Errors
from sciptm.encoders import Encoder
from sciptm.errors import InvalidRecord
from sciptm.features import FEATURES
from sciptm.heads import MLPHead, PredictorModule
from sciptm.tasks import TASKS, Task
from sciptm.training import TrainData, Trainer, TrainerConfig

PREDICTOR_FILE = "sciptm_predictor.json"
HEAD_FILE = "head.safetensors"
_TRAINER_FIELDS = {f.name for f in fields(TrainerConfig)}


def _targets_2d(y: Any) -> tuple[np.ndarray, list[str]]:
    """Labels as an ``N x T`` array (NaN = missing) plus target names."""
    if isinstance(y, pd.DataFrame):
        return y.to_numpy(dtype=float, na_value=np.nan), [str(c) for c in y.columns]
    if isinstance(y, pd.Series):
        return y.to_numpy(dtype=float, na_value=np.nan)[:, None], [str(y.name or "y")]
    arr = np.asarray(y, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    return arr, [f"y{i}" if arr.shape[1] > 1 else "y" for i in range(arr.shape[1])]


class PropertyPredictor:
    """Fine-tune an :class:`~sciptm.Encoder` with a task head.

    Attributes after ``fit``: ``history_`` (DataFrame per epoch), ``best_epoch_``,
    ``fit_report_`` (rows in / invalid / unlabelled), ``skipped_`` (invalid records).

    Parameters
    ----------
    encoder: an Encoder, or a name/folder for :meth:`Encoder.from_pretrained`. It is copied, so
        fitting never changes the object you pass.
    task: a key of :data:`sciptm.tasks.TASKS` (``regression``, ``binary``, ``multiclass``,
        ``multitask-binary``, ``multitask-regression``).
    features: optional side-feature set from :data:`sciptm.features.FEATURES` (e.g. ``"rdkit2d"``).
    head_hidden, dropout: head width and dropout.
    trainer: a :class:`TrainerConfig` (or dict); extra keyword arguments override its fields,
        e.g. ``epochs=30, lr=1e-4, freeze="gradual"``.
    """

    def __init__(self, encoder: Encoder | str | Path, task: str = "regression", features: str | None = None,
                 head_hidden: int = 256, dropout: float = 0.1, trainer: TrainerConfig | dict | None = None,
                 **trainer_kwargs: Any):
        self.encoder = copy.deepcopy(encoder) if isinstance(encoder, Encoder) else Encoder.from_pretrained(encoder)
        self.task: Task = TASKS.get(task)
        if features is not None:
            featurizer = FEATURES.get(features)
            if featurizer.domain != self.encoder.domain.name:
                raise ValueError(f"feature set {features!r} is for domain {featurizer.domain!r}, "
                                 f"not {self.encoder.domain.name!r}")
        self.features = features
        self.head_hidden = head_hidden
        self.dropout = dropout
        unknown = set(trainer_kwargs) - _TRAINER_FIELDS
        if unknown:
            raise TypeError(f"unknown trainer options {sorted(unknown)}; known: {sorted(_TRAINER_FIELDS)}")
        base = trainer.to_dict() if isinstance(trainer, TrainerConfig) else dict(trainer or {})
        self.trainer_config = TrainerConfig(**{**base, **trainer_kwargs})
        self.module: PredictorModule | None = None
        self.state: dict[str, Any] = {}
        self.skipped_: list[InvalidRecord] = []
        self.fit_report_: dict[str, Any] = {}
        self.history_ = pd.DataFrame()
        self.best_epoch_: int | None = None

    # ------------------------------------------------------------------ features/targets
    def _features(self, texts: list[str], fit: bool = False) -> np.ndarray | None:
        if self.features is None:
            return None
        raw = FEATURES.get(self.features)(texts)
        if fit:
            with warnings.catch_warnings():  # all-NaN columns: median is NaN, filled with 0 below
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nan_to_num(np.nanmedian(raw, axis=0))
            filled = np.where(np.isnan(raw), med, raw)
            std = filled.std(0)
            self.state["feature_stats"] = {"median": med.tolist(), "mean": filled.mean(0).tolist(),
                                           "std": np.where(std > 1e-12, std, 1.0).tolist()}
        st = self.state["feature_stats"]
        filled = np.where(np.isnan(raw), np.asarray(st["median"]), raw)
        return np.clip((filled - np.asarray(st["mean"])) / np.asarray(st["std"]), -10, 10).astype(np.float32)

    def _encode_targets(self, y: np.ndarray, fit: bool = False) -> np.ndarray:
        if self.task.kind == "regression":
            if fit:
                mean, std = np.nanmean(y, 0), np.nanstd(y, 0)
                self.state["target_mean"], self.state["target_std"] = mean.tolist(), np.where(std > 0, std, 1.0).tolist()
            return (y - np.asarray(self.state["target_mean"])) / np.asarray(self.state["target_std"])
        if self.task.kind == "multiclass":
            labels = y[:, 0]
            if fit:
                self.state["classes"] = sorted({float(v) for v in labels[~np.isnan(labels)]})
            lookup = {c: i for i, c in enumerate(self.state["classes"])}
            unknown = [v for v in labels[~np.isnan(labels)] if float(v) not in lookup]
            if unknown:
                raise ValueError(f"label {unknown[0]!r} was not seen in training; classes: {self.state['classes']}")
            return np.array([[lookup[float(v)]] if not np.isnan(v) else [np.nan] for v in labels])
        return y

    def _decode(self, out: np.ndarray) -> np.ndarray:
        if self.task.kind == "regression":
            return out * np.asarray(self.state["target_std"]) + np.asarray(self.state["target_mean"])
        return out

    def _build_module(self) -> PredictorModule:
        n_out = self.task.n_outputs(self.state["n_targets"], len(self.state.get("classes", [])) or None)
        n_feat = len(self.state.get("feature_stats", {}).get("mean", []))
        head = MLPHead(self.encoder.hidden_size + n_feat, n_out, self.head_hidden, self.dropout)
        return PredictorModule(self.encoder.model, head, self.encoder.pooling)

    # ------------------------------------------------------------------ fit
    def _labelled(self, X: Any, y: Any, errors: Errors, fit: bool) -> tuple[TrainData, dict[str, Any]]:
        prepared = self.encoder.prepare(X, errors=errors)
        y2, names = _targets_2d(y)
        if y2.shape[0] != prepared.n_total:
            raise ValueError(f"got {prepared.n_total} inputs but {y2.shape[0]} label rows")
        y2 = y2[prepared.valid]
        if fit:
            self.task.check_targets(y2)
            self.state["target_names"], self.state["n_targets"] = names, y2.shape[1]
        labelled = ~np.isnan(y2).all(1)
        texts = [t for t, keep in zip(prepared.texts, labelled) if keep]
        y_enc = self._encode_targets(y2[labelled], fit=fit)
        report = {"n_input": prepared.n_total, "n_invalid": len(prepared.invalid),
                  "n_unlabelled": int((~labelled).sum()), "n_used": len(texts)}
        if report["n_unlabelled"]:
            warnings.warn(f"{report['n_unlabelled']} rows have no label at all and were not used", stacklevel=3)
        data = TrainData(texts, y_enc, self._features(texts, fit=fit))
        return data, {"report": report, "invalid": prepared.invalid}

    def fit(self, X: Any, y: Any, valid: tuple[Any, Any] | None = None, errors: Errors = "raise") -> PropertyPredictor:
        """Fine-tune on inputs ``X`` (list/Series of SMILES, sequences, structures...) and labels ``y``
        (array, Series, or DataFrame for multitask; NaN = missing label).

        ``valid=(X_valid, y_valid)`` enables early stopping on the task's default metric with
        best-epoch restore. ``errors="skip"`` drops invalid inputs (see ``skipped_``).
        """
        train, info = self._labelled(X, y, errors, fit=True)
        self.skipped_, self.fit_report_ = info["invalid"], info["report"]
        valid_data = None
        if valid is not None:
            valid_data, vinfo = self._labelled(valid[0], valid[1], errors, fit=False)
            self.skipped_ += vinfo["invalid"]
            self.fit_report_["valid"] = vinfo["report"]
        metric = metric_lib.METRICS.get(self.task.default_metric)
        self.module = self._build_module()
        trainer = Trainer(self.trainer_config)
        self.module = trainer.fit(
            self.module, self.encoder.tokenizer, train, self.task.loss, valid_data,
            score_fn=lambda yt, yp: metric_lib.compute(metric.name, yt[:, 0] if self.task.kind == "multiclass" else yt, yp),
            greater_is_better=metric.greater_is_better, activate=self.task.activate,
            augment=self.encoder.domain.augment,
        )
        self.history_ = pd.DataFrame(trainer.history)
        self.best_epoch_ = trainer.best_epoch
        self.state["best_epoch"], self.state["metric"] = trainer.best_epoch, metric.name
        return self

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> PredictorModule:
        if self.module is None:
            raise RuntimeError("this PropertyPredictor is not fitted yet: call fit() or from_pretrained()")
        return self.module

    def _raw(self, X: Any, errors: Errors, batch_size: int, dropout_samples: int = 0) -> tuple[np.ndarray, np.ndarray]:
        module = self._check_fitted()
        prepared = self.encoder.prepare(X, errors=errors)
        data = TrainData(prepared.texts, None, self._features(prepared.texts) if prepared.texts else None)
        if not prepared.texts:
            return np.zeros((0, 0)), prepared.valid
        out = Trainer(self.trainer_config).predict(module, self.encoder.tokenizer, data, self.task.activate,
                                                   batch_size, dropout_samples)
        return out, prepared.valid

    def _scatter(self, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        full = np.full((valid.shape[0],) + values.shape[1:], np.nan)
        full[valid] = values
        return full

    def predict_proba(self, X: Any, errors: Errors = "raise", batch_size: int = 128) -> np.ndarray:
        """Class probabilities: ``[N]`` (binary), ``N x T`` (multitask-binary) or ``N x C`` (multiclass)."""
        if self.task.kind == "regression":
            raise TypeError("predict_proba is for classification tasks; use predict")
        out, valid = self._raw(X, errors, batch_size)
        out = self._scatter(out, valid)
        return out[:, 0] if self.task.name == "binary" else out

    def predict(self, X: Any, errors: Errors = "raise", batch_size: int = 128, return_std: bool = False,
                dropout_samples: int = 20) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predictions as numpy: values in original units (regression) or labels (classification).

        Single-target tasks give ``[N]``, multitask ``N x T``. Invalid rows skipped with
        ``errors="skip"`` are NaN. ``return_std=True`` (regression) adds a Monte-Carlo-dropout
        standard deviation per prediction (``dropout_samples`` passes).
        """
        if return_std:
            if self.task.kind != "regression":
                raise TypeError("return_std is available for regression tasks")
            samples, valid = self._raw(X, errors, batch_size, dropout_samples)
            decoded = np.stack([self._decode(s) for s in samples])
            mean, std = self._scatter(decoded.mean(0), valid), self._scatter(decoded.std(0), valid)
            return (mean[:, 0], std[:, 0]) if self.task.name == "regression" else (mean, std)
        out, valid = self._raw(X, errors, batch_size)
        if self.task.kind == "regression":
            pred = self._scatter(self._decode(out), valid)
            return pred[:, 0] if self.task.name == "regression" else pred
        if self.task.kind == "multiclass":
            classes = np.asarray(self.state["classes"])
            return self._scatter(classes[out.argmax(1)], valid)
        labels = self._scatter((out >= 0.5).astype(float), valid)
        return labels[:, 0] if self.task.name == "binary" else labels

    def score(self, X: Any, y: Any, metric: str | None = None) -> float:
        """The task's default metric (or ``metric``) on ``(X, y)``."""
        name = metric or self.task.default_metric
        y2, _ = _targets_2d(y)
        kind = metric_lib.METRICS.get(name).kind
        if self.task.kind == "regression":
            pred = self.predict(X)
        elif kind == "label" and self.task.kind != "multiclass":
            pred = self.predict(X)
        else:
            pred = self.predict_proba(X)
        yt = y2[:, 0] if y2.shape[1] == 1 else y2
        if self.task.kind == "multiclass":
            lookup = {c: i for i, c in enumerate(self.state["classes"])}
            yt = np.array([lookup.get(float(v), np.nan) for v in yt])
        return metric_lib.compute(name, yt, pred)

    # ------------------------------------------------------------------ save/load
    def save_pretrained(self, path: str | Path) -> Path:
        """Save encoder (``save_pretrained`` layout), head weights and predictor settings."""
        module = self._check_fitted()
        path = self.encoder.save_pretrained(path)
        save_file({k: v.detach().cpu().contiguous() for k, v in module.head.state_dict().items()}, str(path / HEAD_FILE))
        meta = {"format": 1, "task": self.task.name, "features": self.features, "head_hidden": self.head_hidden,
                "dropout": self.dropout, "trainer": self.trainer_config.to_dict(), "state": self.state}
        (path / PREDICTOR_FILE).write_text(json.dumps(meta, indent=2))
        return path

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, task: str | None = None, **kwargs: Any) -> PropertyPredictor:
        """Load a saved predictor, or an encoder plus a new head when ``task`` is given and
        differs from the saved one (or the folder holds a bare encoder)."""
        encoder = Encoder.from_pretrained(name_or_path)
        meta_path = Path(encoder_folder(name_or_path)) / PREDICTOR_FILE
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            if task is None or task == meta["task"]:
                obj = cls(encoder, meta["task"], meta["features"], meta["head_hidden"], meta["dropout"],
                          trainer=meta["trainer"], **kwargs)
                obj.state = meta["state"]
                obj.module = obj._build_module()
                obj.module.head.load_state_dict(load_file(str(meta_path.parent / HEAD_FILE)))
                obj.module.eval()
                return obj
        if task is None:
            raise ValueError(f"{name_or_path} holds an encoder without a fitted head: pass task=...")
        return cls(encoder, task, **kwargs)

    def __repr__(self) -> str:
        state = "fitted" if self.module is not None else "not fitted"
        return f"PropertyPredictor(task={self.task.name!r}, features={self.features!r}, {state}, encoder={self.encoder!r})"


def encoder_folder(name_or_path: str | Path) -> str:
    from sciptm.encoders.hub import resolve_name

    return resolve_name(name_or_path)
