"""``PropertyPredictor``: encoder + task head, a scikit-learn estimator.

Example
-------
>>> import sciptm
>>> enc = sciptm.Encoder.from_config(domain="smiles", size="tiny")
>>> model = sciptm.PropertyPredictor(enc, task="regression", epochs=2)
>>> model = model.fit(["CCO", "CCCO", "CCCCO", "c1ccccc1"], [0.1, 0.2, 0.3, 0.9])
>>> model.predict(["CCO"]).shape
(1,)

It follows scikit-learn's estimator contract: ``__init__`` stores its parameters as given
(``get_params``/``set_params``/``clone`` work), ``fit`` resolves them (loads or copies the
encoder, builds the head, seeds everything) and sets the fitted state in ``*_`` attributes, and
``score`` is higher-is-better (R² for regression, ROC-AUC for binary, accuracy for multiclass), so
``cross_val_score``, ``GridSearchCV`` and ``check_is_fitted`` work.

A fitted predictor saves to a plain ``save_pretrained`` encoder folder plus
``head.safetensors`` and ``sciptm_predictor.json`` (ensemble members other than the first
in ``member_<i>.safetensors``); ``transformers.AutoModel`` still opens the folder (it sees
the fine-tuned encoder of the first member).
"""
from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import random
import warnings
from collections.abc import Iterator
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, load_model, save_file, save_model
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils import ClassifierTags, RegressorTags
from sklearn.utils.metaestimators import available_if

from sciptm import metrics as metric_lib
from sciptm.domains.base import Errors
from sciptm.encoders import Encoder
from sciptm.errors import (
    ConfigError,
    InvalidInputError,
    InvalidLabelError,
    SciptmError,
    TruncatedInputWarning,
    UnknownNameError,
)
from sciptm.features import FEATURES
from sciptm.heads import MLPHead, PredictorModule
from sciptm.heads.tasks import TASKS, MulticlassTask, Task
from sciptm.interop import from_deepchem_dataset, is_deepchem_dataset, resolve_features
from sciptm.training import TrainData, Trainer, TrainerConfig

logger = logging.getLogger(__name__)

PREDICTOR_FILE = "sciptm_predictor.json"
HEAD_FILE = "head.safetensors"
MEMBER_FILE = "member_{}.safetensors"
#: version of ``sciptm_predictor.json`` written by :meth:`PropertyPredictor.save_pretrained` (1 is still read)
FORMAT = 2
_TRAINER_FIELDS = {f.name for f in fields(TrainerConfig)}
#: TrainerConfig fields that are also PropertyPredictor parameters (``None`` = from ``trainer`` or the default)
TRAINER_PARAMS = ("epochs", "batch_size", "lr", "head_lr", "weight_decay", "warmup_ratio", "max_grad_norm",
                  "patience", "freeze", "augment", "seed", "device", "mixed_precision", "progress")
UNCERTAINTY = ("auto", "ensemble", "mc_dropout")
#: :meth:`PropertyPredictor.score` uses the task's default metric when it is higher-is-better, else this one
SCORE_FALLBACK = "r2"


class NotFittedError(SciptmError, SklearnNotFittedError, RuntimeError):
    """A method that needs a fitted predictor (or a calibration set) was called too early.

    scikit-learn's ``NotFittedError`` (so ``check_is_fitted`` and its users recognise it) and, as in
    earlier versions, a ``RuntimeError``.
    """


# ---------------------------------------------------------------------------------------- helpers
def _targets_2d(y: Any, where: str = "labels") -> tuple[np.ndarray, list[str], list[Any]]:
    """Labels as an ``N x T`` float array (NaN = missing), the target names and the row labels.

    Raises :class:`InvalidLabelError` naming ``where``, the column and the row of the first label that
    is not a number or is infinite.
    """
    if isinstance(y, pd.DataFrame):
        frame = y
    elif isinstance(y, pd.Series):
        frame = y.to_frame(name="y" if y.name is None else y.name)
    else:
        try:
            arr = np.asarray(y, dtype=object)
        except ValueError as err:  # ragged nested lists
            raise InvalidLabelError(f"labels must be a list, array, Series or DataFrame of numbers: {err}") from err
        if arr.ndim == 0:
            raise InvalidLabelError(f"labels must be a sequence with one value per input, not {y!r}")
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise InvalidLabelError(f"labels must be 1-D or 2-D (rows x targets), got shape {arr.shape}")
        names = ["y"] if arr.shape[1] == 1 else [f"y{i}" for i in range(arr.shape[1])]
        frame = pd.DataFrame(arr, columns=names)
    out = np.empty(frame.shape, dtype=float)
    names = [str(c) for c in frame.columns]
    for j, name in enumerate(names):
        col = frame.iloc[:, j]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(object)
        numeric = pd.to_numeric(col, errors="coerce")
        bad = np.flatnonzero(col.notna().to_numpy() & numeric.isna().to_numpy())
        if len(bad):
            i = int(bad[0])
            raise InvalidLabelError(f"{where}: label column {name!r}, row {frame.index[i]}: {col.iloc[i]!r} "
                                    "is not a number"
                                    + (f" (and {len(bad) - 1} more such rows)" if len(bad) > 1 else ""),
                                    column=name, row=frame.index[i])
        values = numeric.to_numpy(dtype=float, na_value=np.nan)
        inf = np.flatnonzero(np.isinf(values))
        if len(inf):
            i = int(inf[0])
            raise InvalidLabelError(f"{where}: label column {name!r}, row {frame.index[i]}: {float(values[i])!r} "
                                    "is not finite; "
                                    "labels must be finite numbers (NaN or an empty cell marks a missing label)",
                                    column=name, row=frame.index[i])
        out[:, j] = values
    return out, names, list(frame.index)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed Python, numpy and torch (CPU and CUDA) for the ``with`` block; afterwards put back the caller's
    random states and torch's determinism switches (``use_deterministic_algorithms``, cuDNN flags), which
    the training loop turns on.

    >>> import torch
    >>> before = torch.get_rng_state()
    >>> with seeded(0):
    ...     _ = torch.rand(3)
    >>> bool(torch.equal(torch.get_rng_state(), before))
    True
    """
    cuda = torch.cuda.is_available()
    saved = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
             torch.cuda.get_rng_state_all() if cuda else None, torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled(), torch.backends.cudnn.deterministic,
             torch.backends.cudnn.benchmark, os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
    if cuda and saved[-1] is None:  # deterministic cuBLAS needs it (read when cuBLAS starts)
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds every CUDA device too
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])
        if saved[3] is not None:
            torch.cuda.set_rng_state_all(saved[3])
        torch.use_deterministic_algorithms(saved[4], warn_only=saved[5])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[6], saved[7]
        if cuda and saved[8] is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)


def long_rows(tokenizer: Any, texts: list[str]) -> list[int]:
    """Positions in ``texts`` whose token count (special tokens included) exceeds ``tokenizer.model_max_length``."""
    if not texts:
        return []
    limit = tokenizer.model_max_length
    ids = tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    return [i for i, row in enumerate(ids) if len(row) > limit]


def warn_truncated(rows: list[int], limit: int, where: str, stacklevel: int = 3) -> None:
    """One :class:`~sciptm.errors.TruncatedInputWarning` naming the input rows (0-based positions) cut to
    ``limit`` tokens."""
    if not rows:
        return
    shown = ", ".join(str(r) for r in rows[:10]) + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")
    noun = "row" if len(rows) == 1 else "rows"
    warnings.warn(TruncatedInputWarning(
        f"{where}: {len(rows)} input(s) longer than the model's {limit} tokens were truncated to the first "
        f"{limit} tokens ({noun} {shown}); the model sees only their beginning", rows), stacklevel=stacklevel)


# ---------------------------------------------------------------------------------------- estimator
class PropertyPredictor(BaseEstimator):
    """Fine-tune an :class:`~sciptm.Encoder` with a task head (a scikit-learn estimator).

    Parameters
    ----------
    encoder:
        An :class:`~sciptm.Encoder` (copied in ``fit``, never changed), or a shipped name / folder /
        hub id for :meth:`Encoder.from_pretrained` (loaded in ``fit``).
    task:
        A key of :data:`sciptm.heads.tasks.TASKS` (``regression``, ``binary``, ``multiclass``,
        ``multitask-binary``, ``multitask-regression``). Regression tasks make a regressor
        (``score`` = R²), the others a classifier (``score`` = ROC-AUC, multiclass accuracy).
    features:
        Optional side-feature set from :data:`sciptm.features.FEATURES` (e.g. ``"rdkit2d"``).
    head_hidden, dropout:
        Head width and dropout.
    trainer:
        A :class:`TrainerConfig` or mapping of its fields; the explicit parameters below override it.
    epochs, batch_size, lr, head_lr, weight_decay, warmup_ratio, max_grad_norm, patience, freeze, augment, \
seed, device, mixed_precision, progress:
        :class:`TrainerConfig` fields; ``None`` keeps the value from ``trainer`` (or the default).
        ``seed`` seeds everything in ``fit`` (head initialisation, batches, dropout, augmentation),
        whatever the global random state is, and ``fit`` restores the caller's random state after.
    ensemble:
        Number of members fitted with seeds ``seed, seed+1, ...``; predictions are their mean.
    uncertainty:
        What ``predict(return_std=True)`` returns: ``"ensemble"`` (spread of the members, needs
        ``ensemble >= 2``), ``"mc_dropout"`` (Monte-Carlo dropout) or ``"auto"`` (ensemble when there
        are members, else MC dropout).

    Attributes
    ----------
    encoder_, module_:
        The fine-tuned encoder and encoder+head module (first member); ``modules_`` has all members.
    task_, trainer_config_:
        The resolved :class:`~sciptm.heads.tasks.Task` and :class:`TrainerConfig`.
    target_names_, n_targets_, target_mean_, target_std_, classes_, feature_stats_:
        What was learned from the training labels and side features.
    history_, best_epoch_, histories_, best_epochs_:
        Per-epoch history and chosen epoch of the first member (``*s_``: every member).
    fit_report_:
        Rows in / invalid / unlabelled / used, and ``truncated_rows`` (inputs cut to the model length).
    skipped_:
        Invalid records dropped with ``errors="skip"``.
    conformal_:
        Split-conformal calibration scores per method (``absolute``, and ``normalized`` when the model has
        a spread), sorted, one array per target; from ``valid=`` in ``fit`` or :meth:`calibrate`.
    """

    def __init__(self, encoder: Encoder | str | Path = "sciptm/smiles-small", task: str = "regression",
                 features: str | None = None, head_hidden: int = 256, dropout: float = 0.1,
                 trainer: TrainerConfig | dict[str, Any] | None = None, *, epochs: int | None = None,
                 batch_size: int | None = None, lr: float | None = None, head_lr: float | None = None,
                 weight_decay: float | None = None, warmup_ratio: float | None = None,
                 max_grad_norm: float | None = None, patience: int | None = None, freeze: str | None = None,
                 augment: bool | None = None, seed: int | None = None, device: str | None = None,
                 mixed_precision: str | None = None, progress: bool | None = None, ensemble: int = 1,
                 uncertainty: str = "auto"):
        self.encoder = encoder
        self.task = task
        self.features = features
        self.head_hidden = head_hidden
        self.dropout = dropout
        self.trainer = trainer
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.head_lr = head_lr
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.max_grad_norm = max_grad_norm
        self.patience = patience
        self.freeze = freeze
        self.augment = augment
        self.seed = seed
        self.device = device
        self.mixed_precision = mixed_precision
        self.progress = progress
        self.ensemble = ensemble
        self.uncertainty = uncertainty

    # ------------------------------------------------------------------ scikit-learn plumbing
    def _task(self) -> Task:
        task = self.task
        if isinstance(task, Task):
            return task
        return TASKS.get(str(task))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        try:
            task = self._task()
        except UnknownNameError:
            task = TASKS.get("regression")
        if not task.is_classifier:
            tags.estimator_type, tags.regressor_tags = "regressor", RegressorTags()
        else:
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags(multi_class=isinstance(task, MulticlassTask),
                                                  multi_label=task.multitask)
        tags.input_tags.two_d_array = False  # inputs are 1-D: SMILES, sequences, structures
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        tags.target_tags.required = True
        tags.target_tags.multi_output = task.multitask
        tags.target_tags.single_output = not task.multitask
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "module_", None) is not None

    def _check_fitted(self) -> PredictorModule:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError("this PropertyPredictor is not fitted yet: call fit() or from_pretrained()")
        return self.module_

    @property
    def module(self) -> PredictorModule | None:
        """The fitted encoder+head module (``module_``), ``None`` before ``fit``."""
        return getattr(self, "module_", None)

    @property
    def state(self) -> dict[str, Any]:
        """The fitted state as a plain JSON-ready dict (what ``sciptm_predictor.json`` stores)."""
        if not self.__sklearn_is_fitted__():
            return {}
        state: dict[str, Any] = {"target_names": list(self.target_names_), "n_targets": int(self.n_targets_),
                                 "best_epoch": self.best_epoch_, "metric": self.metric_}
        if self.target_mean_ is not None:
            state["target_mean"], state["target_std"] = self.target_mean_.tolist(), self.target_std_.tolist()
        if self._multiclass():
            state["classes"] = self.classes_.tolist()
        if self.feature_stats_ is not None:
            state["feature_stats"] = {k: np.asarray(v).tolist() for k, v in self.feature_stats_.items()}
        return state

    # ------------------------------------------------------------------ resolving parameters
    def _trainer_config(self) -> TrainerConfig:
        t = self.trainer
        base = t.to_dict() if isinstance(t, TrainerConfig) else dict(t or {})
        unknown = set(base) - _TRAINER_FIELDS
        if unknown:
            raise ConfigError(f"unknown trainer options {sorted(unknown)}; known: {sorted(_TRAINER_FIELDS)}")
        explicit = {k: getattr(self, k) for k in TRAINER_PARAMS if getattr(self, k) is not None}
        try:
            return TrainerConfig(**{**base, **explicit})
        except (TypeError, ValueError) as err:
            raise ConfigError(f"PropertyPredictor: {err}") from err

    def _fit_encoder(self) -> Encoder:
        enc = self.encoder
        if isinstance(enc, Encoder):
            return copy.deepcopy(enc)
        if isinstance(enc, (str, Path)):
            return Encoder.from_pretrained(enc)
        raise ConfigError(f"encoder must be an Encoder, a shipped name or a folder, not {type(enc).__name__}")

    def _check_params(self, encoder: Encoder) -> None:
        if self.features is not None:
            featurizer = FEATURES.get(resolve_features(self.features))
            if featurizer.domain != encoder.domain.name:
                raise ConfigError(f"feature set {self.features!r} is for domain {featurizer.domain!r}, "
                                  f"not {encoder.domain.name!r}")
        if isinstance(self.ensemble, bool) or not isinstance(self.ensemble, (int, np.integer)) or self.ensemble < 1:
            raise ConfigError(f"ensemble must be a positive integer, not {self.ensemble!r}")
        if self.uncertainty not in UNCERTAINTY:
            raise ConfigError(f"uncertainty must be one of {UNCERTAINTY}, not {self.uncertainty!r}")
        if self.uncertainty == "ensemble" and self.ensemble < 2:
            raise ConfigError("uncertainty='ensemble' needs ensemble >= 2 members")

    def _multiclass(self) -> bool:
        """One label column of classes (``classes_`` maps label values to outputs)."""
        return isinstance(self.task_, MulticlassTask)

    def _spread_kind(self) -> str:
        """Where ``return_std`` comes from: ``ensemble`` or ``mc_dropout``."""
        if self.uncertainty == "mc_dropout" or (self.uncertainty == "auto" and len(self.modules_) < 2):
            return "mc_dropout"
        return "ensemble"

    # ------------------------------------------------------------------ features/targets
    def _features(self, texts: list[str]) -> np.ndarray | None:
        """Scaled side features of validated texts (``None`` without ``features``), with the fitted statistics."""
        if self.features is None:
            return None
        raw = FEATURES.get(resolve_features(self.features))(texts)
        st = self.feature_stats_
        filled = np.where(np.isnan(raw), st["median"], raw)
        return np.clip((filled - st["mean"]) / st["std"], -10, 10).astype(np.float32)

    def _fit_feature_stats(self, texts: list[str]) -> None:
        if self.features is None:
            self.feature_stats_ = None
            return
        raw = FEATURES.get(resolve_features(self.features))(texts)
        with warnings.catch_warnings():  # all-NaN columns: median is NaN, filled with 0 below
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nan_to_num(np.nanmedian(raw, axis=0))
        filled = np.where(np.isnan(raw), med, raw)
        std = filled.std(0)
        self.feature_stats_ = {"median": med, "mean": filled.mean(0), "std": np.where(std > 1e-12, std, 1.0)}

    def _fit_targets(self, y: np.ndarray) -> None:
        self.target_mean_ = self.target_std_ = self.classes_ = None
        if self.task_.standardizes_targets:
            mean, std = np.nanmean(y, 0), np.nanstd(y, 0)
            self.target_mean_, self.target_std_ = mean, np.where(std > 0, std, 1.0)
        if self._multiclass():
            labels = y[:, 0]
            self.classes_ = np.array(sorted({float(v) for v in labels[~np.isnan(labels)]}))
        elif self.task_.is_classifier:
            self.classes_ = np.array([0.0, 1.0])

    def _encode_targets(self, y: np.ndarray, names: list[Any] | None = None) -> np.ndarray:
        if self.task_.standardizes_targets:
            return (y - self.target_mean_) / self.target_std_
        if self._multiclass():
            labels = y[:, 0]
            lookup = {c: i for i, c in enumerate(self.classes_.tolist())}
            unknown = [k for k, v in enumerate(labels) if not np.isnan(v) and float(v) not in lookup]
            if unknown:
                k = unknown[0]
                row = names[k] if names is not None else k
                raise InvalidLabelError(f"label {labels[k]!r} at row {row} was not seen in training; "
                                        f"classes: {self.classes_.tolist()}", row=row)
            return np.array([[lookup[float(v)]] if not np.isnan(v) else [np.nan] for v in labels])
        return y

    def _decode(self, out: np.ndarray) -> np.ndarray:
        if self.task_.standardizes_targets:
            return out * self.target_std_ + self.target_mean_
        return out

    def _build_module(self, encoder: Encoder) -> PredictorModule:
        n_feat = 0 if self.feature_stats_ is None else len(self.feature_stats_["mean"])
        head = MLPHead(encoder.hidden_size + n_feat, self.n_outputs_, self.head_hidden, self.dropout)
        return PredictorModule(encoder.model, head, encoder.pooling)

    # ------------------------------------------------------------------ fit
    def _labelled(self, X: Any, y: Any, errors: Errors, fit: bool, where: str) -> tuple[TrainData, dict[str, Any]]:
        prepared = self.encoder_.prepare(X, errors=errors)
        y2, names, row_ids = _targets_2d(y, where)
        if y2.shape[0] != prepared.n_total:
            raise InvalidLabelError(f"{where}: got {prepared.n_total} inputs but {y2.shape[0]} label rows")
        y2 = y2[prepared.valid]
        kept_ids = [r for r, ok in zip(row_ids, prepared.valid) if ok]
        if fit:
            if not len(y2):
                raise InvalidInputError(prepared.invalid, f"{where}: no valid input row to train on "
                                        f"({len(prepared.invalid)} invalid)") if prepared.invalid else \
                    InvalidLabelError(f"{where}: no rows to train on")
            if self.task_.is_classifier and not self._multiclass():  # 0/1 labels, named by row label and column
                bad = np.argwhere(~np.isnan(y2) & (y2 != 0) & (y2 != 1))
                if len(bad):
                    r, c = bad[0]
                    raise InvalidLabelError(f"{where}: label column {names[c]!r}, row {kept_ids[r]}: "
                                            f"{float(y2[r, c])!r}; "
                                            f"task {self.task_.name!r} needs binary labels 0, 1 or NaN (missing)",
                                            column=names[c], row=kept_ids[r])
            self.task_.check_targets(y2)
            empty = [names[j] for j in range(y2.shape[1]) if np.isnan(y2[:, j]).all()]
            if empty:
                raise InvalidLabelError(f"{where}: label column {empty[0]!r} has no label: all {len(y2)} values of "
                                        "the valid rows are missing (NaN); give it labels or leave it out",
                                        column=empty[0])
            self.target_names_, self.n_targets_ = names, y2.shape[1]
            self._fit_targets(y2)
        elif y2.shape[1] != self.n_targets_:
            raise InvalidLabelError(f"{where}: {y2.shape[1]} label columns, but the model was fitted on "
                                    f"{self.n_targets_} ({self.target_names_})")
        labelled = ~np.isnan(y2).all(1)
        texts = [t for t, keep in zip(prepared.texts, labelled) if keep]
        positions = np.flatnonzero(prepared.valid)[labelled]
        truncated = [int(positions[i]) for i in long_rows(self.encoder_.tokenizer, texts)]
        warn_truncated(truncated, self.encoder_.tokenizer.model_max_length, where, stacklevel=4)
        if fit:
            self._fit_feature_stats(texts)
        y_enc = self._encode_targets(y2[labelled], [r for r, keep in zip(kept_ids, labelled) if keep])
        report = {"n_input": prepared.n_total, "n_invalid": len(prepared.invalid),
                  "n_unlabelled": int((~labelled).sum()), "n_used": len(texts), "truncated_rows": truncated}
        if report["n_unlabelled"]:
            warnings.warn(f"{where}: {report['n_unlabelled']} rows have no label at all and were not used",
                          stacklevel=4)
        data = TrainData(texts, y_enc, self._features(texts))
        return data, {"report": report, "invalid": prepared.invalid}

    def fit(self, X: Any, y: Any = None, valid: tuple[Any, Any] | Any | None = None,
            errors: Errors = "raise") -> PropertyPredictor:
        """Fine-tune on inputs ``X`` (list/Series of SMILES, sequences, structures...) and labels ``y``
        (array, Series, or DataFrame for multitask; NaN = missing label).

        ``valid=(X_valid, y_valid)`` enables early stopping on the task's default metric with
        best-epoch restore, and calibrates :meth:`predict_interval` (regression). ``errors="skip"``
        drops invalid inputs (see ``skipped_``). Inputs longer than the model's maximum length are
        truncated with a :class:`~sciptm.errors.TruncatedInputWarning` naming them
        (``fit_report_["truncated_rows"]``). ``X`` (and ``valid``) may be a DeepChem ``dc.data.Dataset``:
        its SMILES (``X`` or ``ids``) and labels (weight 0 = missing) are used (:mod:`sciptm.interop`).
        """
        if is_deepchem_dataset(X):  # a dc.data.Dataset: SMILES from X or ids, labels from y (w == 0: missing)
            X, y = from_deepchem_dataset(X)
        if is_deepchem_dataset(valid):
            valid = from_deepchem_dataset(valid)
        if y is None:
            raise InvalidLabelError("fit: no labels: pass y (or a DeepChem dataset with labels as X)")
        task = self._task()
        config = self._trainer_config()
        with seeded(config.seed):
            encoder = self._fit_encoder()
            self._check_params(encoder)
            self.task_, self.trainer_config_, self.encoder_ = task, config, encoder
            train, info = self._labelled(X, y, errors, fit=True, where="fit")
            self.skipped_, self.fit_report_ = list(info["invalid"]), info["report"]
            n_classes = len(self.classes_) if self._multiclass() else None
            try:
                self.n_outputs_ = task.n_outputs(self.n_targets_, n_classes)
            except ValueError as err:
                raise InvalidLabelError(f"fit: {err}") from err
            valid_data = None
            if valid is not None:
                valid_data, vinfo = self._labelled(valid[0], valid[1], errors, fit=False, where="fit(valid=...)")
                self.skipped_ += vinfo["invalid"]
                self.fit_report_["valid"] = vinfo["report"]
                if not len(valid_data):
                    raise InvalidLabelError("fit(valid=...): the validation set has no labelled valid row")
            metric = metric_lib.METRICS.get(task.default_metric)
            self.metric_ = metric.name
            multiclass = self._multiclass()
            score_fn = (lambda yt, yp: metric_lib.compute(metric.name, yt[:, 0] if multiclass else yt, yp))
            modules, histories, best = [], [], []
            template = copy.deepcopy(encoder) if self.ensemble > 1 else None  # members start from the same weights
            for member in range(int(self.ensemble)):
                member_config = replace(config, seed=config.seed + member)
                with seeded(member_config.seed):
                    member_encoder = encoder if member == 0 else copy.deepcopy(template)
                    module = self._build_module(member_encoder)
                    trainer = Trainer(member_config)
                    module = trainer.fit(module, encoder.tokenizer, train, task.loss, valid_data, score_fn=score_fn,
                                         greater_is_better=metric.greater_is_better, activate=task.activate,
                                         augment=encoder.domain.augment)
                module.eval()
                modules.append(module)
                histories.append(pd.DataFrame(trainer.history))
                best.append(trainer.best_epoch)
            self.modules_, self.module_ = modules, modules[0]
            self.histories_, self.history_ = histories, histories[0]
            self.best_epochs_, self.best_epoch_ = best, best[0]
            self.conformal_ = None
            if valid_data is not None and not task.is_classifier:
                self._calibrate(valid_data.texts, self._decode(valid_data.y), valid_data.features)
        return self

    # ------------------------------------------------------------------ predict
    def _prepare(self, X: Any, errors: Errors, where: str) -> tuple[list[str], np.ndarray, np.ndarray | None]:
        self._check_fitted()
        if is_deepchem_dataset(X):
            X = from_deepchem_dataset(X)[0]
        prepared = self.encoder_.prepare(X, errors=errors)
        positions = np.flatnonzero(prepared.valid)
        truncated = [int(positions[i]) for i in long_rows(self.encoder_.tokenizer, prepared.texts)]
        warn_truncated(truncated, self.encoder_.tokenizer.model_max_length, where, stacklevel=4)
        feats = self._features(prepared.texts) if prepared.texts else None
        return prepared.texts, prepared.valid, feats

    def _forward(self, texts: list[str], feats: np.ndarray | None, batch_size: int,
                 dropout_samples: int = 0) -> np.ndarray:
        """Activated outputs ``S x n x n_out``: one per member (times ``dropout_samples`` with MC dropout)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, not {batch_size!r}")
        n_samples = len(self.modules_) * max(1, dropout_samples)
        if not texts:
            return np.zeros((n_samples, 0, self.n_outputs_))
        data = TrainData(texts, None, feats)
        runner = Trainer(self.trainer_config_)
        outs = []
        with seeded(self.trainer_config_.seed):  # MC dropout masks repeat from call to call
            for module in self.modules_:
                out = runner.predict(module, self.encoder_.tokenizer, data, self.task_.activate, batch_size,
                                     dropout_samples)
                outs.extend(out if dropout_samples else [out])
        return np.stack(outs)

    @staticmethod
    def _scatter(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        full = np.full((valid.shape[0],) + values.shape[1:], np.nan)
        full[valid] = values
        return full

    def _shape(self, values: np.ndarray) -> np.ndarray:
        """``N x T`` -> ``[N]`` for single-target tasks."""
        return values[:, 0] if not self.task_.multitask and values.ndim == 2 else values

    def predict_proba(self, X: Any, errors: Errors = "raise", batch_size: int = 128) -> np.ndarray:
        """Class probabilities: ``[N]`` (binary), ``N x T`` (multitask-binary) or ``N x C`` (multiclass);
        the mean over ensemble members."""
        self._check_fitted()
        if not self.task_.is_classifier:
            raise TypeError("predict_proba is for classification tasks; use predict")
        texts, valid, feats = self._prepare(X, errors, "predict_proba")
        out = self._scatter(self._forward(texts, feats, batch_size).mean(0), valid)
        return out if self._multiclass() else self._shape(out)

    @available_if(lambda self: self._task().is_classifier)
    def decision_function(self, X: Any, errors: Errors = "raise", batch_size: int = 128) -> np.ndarray:
        """Classifier scores in scikit-learn's layout (what ``scoring="roc_auc"`` reads): the positive-class
        probability ``[N]`` for binary tasks, ``N x T`` (multitask) or ``N x C`` (multiclass); the same
        values as :meth:`predict_proba`."""
        return self.predict_proba(X, errors=errors, batch_size=batch_size)

    def predict(self, X: Any, errors: Errors = "raise", batch_size: int = 128, return_std: bool = False,
                dropout_samples: int = 20) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predictions as numpy: values in original units (regression) or labels (classification).

        Single-target tasks give ``[N]``, multitask ``N x T``; no input gives an empty array of that
        shape. Invalid rows skipped with ``errors="skip"`` are NaN. ``return_std=True`` (regression)
        adds a standard deviation per prediction: the spread of the ensemble members, or of
        ``dropout_samples`` Monte-Carlo-dropout passes (see ``uncertainty``).
        """
        self._check_fitted()
        texts, valid, feats = self._prepare(X, errors, "predict")
        if return_std:
            if self.task_.is_classifier:
                raise TypeError("return_std is available for regression tasks")
            mean, std = self._mean_std(texts, feats, batch_size, dropout_samples)
            return self._shape(self._scatter(mean, valid)), self._shape(self._scatter(std, valid))
        out = self._forward(texts, feats, batch_size).mean(0)
        if not self.task_.is_classifier:
            return self._shape(self._scatter(self._decode(out), valid))
        if self._multiclass():
            labels = self.classes_[out.argmax(1)] if len(out) else np.zeros(0)
            return self._scatter(labels, valid)
        return self._shape(self._scatter((out >= 0.5).astype(float), valid))

    def _mean_std(self, texts: list[str], feats: np.ndarray | None, batch_size: int,
                  dropout_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation (original units, ``n x T``) over members or MC-dropout samples."""
        samples = 0 if self._spread_kind() == "ensemble" else dropout_samples
        if samples == 0 and len(self.modules_) < 2:
            raise ConfigError("return_std needs ensemble >= 2 or uncertainty='mc_dropout' with dropout_samples >= 2")
        decoded = self._decode(self._forward(texts, feats, batch_size, samples))
        return decoded.mean(0), decoded.std(0)

    # ------------------------------------------------------------------ conformal intervals
    def _has_spread(self) -> bool:
        return len(self.modules_) > 1 or self.uncertainty == "mc_dropout"

    def _points_and_spread(self, texts: list[str], feats: np.ndarray | None,
                           batch_size: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Point predictions, and (when the model has a spread) the spread's mean and floored std, ``n x T``."""
        outs = self._decode(self._forward(texts, feats, batch_size))
        point = outs.mean(0)
        if not self._has_spread():
            return point, None, None
        mean, std = (point, outs.std(0)) if self._spread_kind() == "ensemble" else \
            self._mean_std(texts, feats, batch_size, 20)
        return point, mean, np.maximum(std, 1e-6 * self.target_std_)

    def _calibrate(self, texts: list[str], y: np.ndarray, feats: np.ndarray | None, batch_size: int = 128) -> None:
        point, mean, spread = self._points_and_spread(texts, feats, batch_size)
        scores = {"absolute": np.abs(y - point)}
        if spread is not None:
            scores["normalized"] = np.abs(y - mean) / spread
        self.conformal_ = {kind: [np.sort(col[~np.isnan(col)]) for col in values.T] for kind, values in scores.items()}

    def calibrate(self, X: Any, y: Any, errors: Errors = "raise", batch_size: int = 128) -> PropertyPredictor:
        """(Re)calibrate :meth:`predict_interval` on a held-out set ``(X, y)`` never used in training.

        ``fit(valid=...)`` calibrates on the validation set, which early stopping also used, which
        makes intervals slightly optimistic; a separate calibration set avoids that.
        """
        self._check_fitted()
        if self.task_.is_classifier:
            raise TypeError("conformal intervals are for regression tasks")
        prepared = self.encoder_.prepare(X, errors=errors)
        y2, _, _ = _targets_2d(y, "calibrate")
        if y2.shape[0] != prepared.n_total:
            raise InvalidLabelError(f"calibrate: got {prepared.n_total} inputs but {y2.shape[0]} label rows")
        feats = self._features(prepared.texts) if prepared.texts else None
        self._calibrate(prepared.texts, y2[prepared.valid], feats, batch_size)
        return self

    def predict_interval(self, X: Any, alpha: float = 0.1, method: str | None = None, errors: Errors = "raise",
                         batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
        """Split-conformal prediction intervals ``(lower, upper)`` with coverage ``>= 1 - alpha``.

        The half-width is the ``ceil((n+1)(1-alpha))``-th smallest calibration score. ``method``:
        ``"absolute"`` (residuals; one width for every input) or ``"normalized"`` (residuals divided by the
        ensemble / MC-dropout spread, so widths follow the spread; needs ``ensemble >= 2`` or
        ``uncertainty="mc_dropout"``). The default is ``absolute``: normalized widths are narrower on
        average only when the spread tracks the error (on ESOL with a tiny encoder it did not, and the
        90% normalized intervals were 48% wider at the same coverage). Calibrated by ``fit(valid=...)`` or
        :meth:`calibrate`.
        """
        self._check_fitted()
        if self.task_.is_classifier:
            raise TypeError("conformal intervals are for regression tasks")
        if getattr(self, "conformal_", None) is None:
            raise NotFittedError("no calibration set: pass valid=(X, y) to fit() or call calibrate(X, y)")
        if not 0 < alpha < 1:
            raise ConfigError(f"alpha must be between 0 and 1, not {alpha!r}")
        method = method or "absolute"
        if method not in self.conformal_:
            raise ConfigError(f"method must be one of {sorted(self.conformal_)} for this model, not {method!r}")
        texts, valid, feats = self._prepare(X, errors, "predict_interval")
        point, mean, spread = self._points_and_spread(texts, feats, batch_size) if method == "normalized" else \
            (self._decode(self._forward(texts, feats, batch_size).mean(0)), None, None)
        q = np.empty(len(self.conformal_[method]))
        for j, scores in enumerate(self.conformal_[method]):
            n = len(scores)
            k = math.ceil((n + 1) * (1 - alpha))
            if k > n:
                warnings.warn(f"{n} calibration labels are too few for alpha={alpha}: the interval is infinite",
                              stacklevel=2)
                q[j] = np.inf
            else:
                q[j] = scores[k - 1]
        centre, half = (mean, q * spread) if method == "normalized" else (point, q)
        lower, upper = centre - half, centre + half
        return self._shape(self._scatter(lower, valid)), self._shape(self._scatter(upper, valid))

    # ------------------------------------------------------------------ score
    def score(self, X: Any, y: Any, metric: str | None = None) -> float:
        """Higher-is-better score on ``(X, y)``: R² (regression), ROC-AUC (binary) or accuracy
        (multiclass), averaged over targets with labels; ``metric`` names another sciptm metric."""
        self._check_fitted()
        task = self.task_
        default = metric_lib.METRICS.get(task.default_metric)
        name = metric or (default.name if default.greater_is_better else SCORE_FALLBACK)
        y2, _, _ = _targets_2d(y, "score")
        if not task.is_classifier or metric_lib.METRICS.get(name).kind == "label" and not self._multiclass():
            pred = self.predict(X)
        else:
            pred = self.predict_proba(X)
        yt = y2[:, 0] if y2.shape[1] == 1 else y2
        if self._multiclass():
            lookup = {c: i for i, c in enumerate(self.classes_.tolist())}
            yt = np.array([lookup.get(float(v), np.nan) for v in yt])
        return metric_lib.compute(name, yt, pred)

    # ------------------------------------------------------------------ save/load
    def save_pretrained(self, path: str | Path, card: dict[str, Any] | None = None) -> Path:
        """Save the encoder (``save_pretrained`` layout), head weights, other ensemble members and settings, with a
        ``README.md`` model card whose front matter the Hugging Face Hub reads (``card`` adds or overrides keys:
        ``license``, ``datasets``...; see :mod:`sciptm.interop.hub`)."""
        module = self._check_fitted()
        path = self.encoder_.save_pretrained(path)
        save_file({k: v.detach().cpu().contiguous() for k, v in module.head.state_dict().items()},
                  str(path / HEAD_FILE))
        for i, member in enumerate(self.modules_[1:], start=1):
            save_model(member, str(path / MEMBER_FILE.format(i)))
        conformal = None
        if self.conformal_ is not None:
            conformal = {kind: [col.tolist() for col in cols] for kind, cols in self.conformal_.items()}
        meta = {"format": FORMAT, "task": self.task_.name, "features": resolve_features(self.features),
                "head_hidden": self.head_hidden,
                "dropout": self.dropout, "trainer": self.trainer_config_.to_dict(), "state": self.state,
                "ensemble": len(self.modules_), "uncertainty": self.uncertainty, "conformal": conformal,
                "fit_report": self.fit_report_}
        (path / PREDICTOR_FILE).write_text(json.dumps(meta, indent=2, default=str))
        from sciptm._util.modelcard import predictor_card, write_card

        write_card(path, predictor_card(self, card))  # push_to_hub-ready front matter
        return path

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, task: str | None = None, **params: Any) -> PropertyPredictor:
        """Load a saved predictor (folders of format 1 and 2), or an unfitted predictor on a saved encoder
        when ``task`` differs from the saved one or the folder holds a bare encoder. ``params`` set
        other parameters (they matter for a later ``fit``)."""
        folder = Path(encoder_folder(name_or_path))
        meta_path = folder / PREDICTOR_FILE
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            if task is None or task == meta["task"]:
                return cls._load(folder, name_or_path, meta, params)
        if task is None:
            raise ConfigError(f"{name_or_path} holds an encoder without a fitted head: pass task=...")
        return cls(encoder=str(name_or_path), task=task, **params)

    @classmethod
    def _load(cls, folder: Path, name: str | Path, meta: dict[str, Any], params: dict[str, Any]) -> PropertyPredictor:
        trainer = {k: v for k, v in meta.get("trainer", {}).items() if k in _TRAINER_FIELDS}
        saved = {"task": meta["task"], "features": meta.get("features"), "head_hidden": meta["head_hidden"],
                 "dropout": meta["dropout"], "trainer": trainer, "ensemble": int(meta.get("ensemble", 1)),
                 "uncertainty": meta.get("uncertainty", "auto")}
        obj = cls(encoder=str(name), **{**saved, **params})
        state = meta["state"]
        obj.task_ = TASKS.get(meta["task"])
        obj.trainer_config_ = TrainerConfig(**trainer)
        obj.encoder_ = Encoder.from_pretrained(folder)
        obj.target_names_ = list(state.get("target_names", ["y"]))
        obj.n_targets_ = int(state.get("n_targets", len(obj.target_names_)))
        obj.target_mean_ = np.asarray(state["target_mean"]) if "target_mean" in state else None
        obj.target_std_ = np.asarray(state["target_std"]) if "target_std" in state else None
        if obj._multiclass():
            obj.classes_ = np.asarray(state["classes"], dtype=float)
        else:
            obj.classes_ = np.array([0.0, 1.0]) if obj.task_.is_classifier else None
        stats = state.get("feature_stats")
        obj.feature_stats_ = None if stats is None else {k: np.asarray(v) for k, v in stats.items()}
        obj.n_outputs_ = obj.task_.n_outputs(obj.n_targets_, None if obj.classes_ is None else len(obj.classes_))
        obj.metric_ = state.get("metric", obj.task_.default_metric)
        obj.best_epoch_ = state.get("best_epoch")
        obj.best_epochs_ = [obj.best_epoch_]
        obj.history_, obj.histories_ = pd.DataFrame(), [pd.DataFrame()]
        obj.fit_report_, obj.skipped_ = dict(meta.get("fit_report") or {}), []
        module = obj._build_module(obj.encoder_)
        module.head.load_state_dict(load_file(str(folder / HEAD_FILE)))
        obj.modules_ = [module]
        for i in range(1, int(meta.get("ensemble", 1))):
            member = obj._build_module(copy.deepcopy(obj.encoder_))
            load_model(member, str(folder / MEMBER_FILE.format(i)))
            obj.modules_.append(member)
        for member in obj.modules_:
            member.eval()
        obj.module_ = obj.modules_[0]
        obj.best_epochs_ = [obj.best_epoch_] * len(obj.modules_)
        conformal = meta.get("conformal")
        obj.conformal_ = None if not conformal else {
            kind: [np.asarray(col, dtype=float) for col in cols] for kind, cols in conformal.items()}
        return obj


def encoder_folder(name_or_path: str | Path) -> str:
    from sciptm.encoders.hub import resolve_name

    return resolve_name(name_or_path)
