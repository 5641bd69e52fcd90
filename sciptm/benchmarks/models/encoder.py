"""Any sciptm encoder as a benchmark model: fine-tuned with a task head (PropertyPredictor)."""
from __future__ import annotations

from typing import Any

import numpy as np

from sciptm.benchmarks.models.spec import ModelSpec
from sciptm.benchmarks.taskdata import TaskData
from sciptm.encoders import SIZES, Encoder

#: option keys that configure the encoder/head rather than the trainer
_MODEL_KEYS = {"features", "head_hidden", "dropout", "architecture", "pooling", "valid_fraction"}


class EncoderModel:
    """``tiny``/``small``/``base`` build a randomly initialised encoder of the task's domain; any other
    name is opened with :meth:`Encoder.from_pretrained` (a folder, a shipped short name, a hub id).
    A ``@random`` suffix (``sciptm/smiles-small@random``) keeps that encoder's architecture and tokenizer
    with fresh seeded weights: the control for "does pretraining pay".

    Options (from the benchmark's YAML config): ``features`` (side-features), ``head_hidden``, ``dropout``,
    ``architecture`` (for random init), ``valid_fraction`` (default 0.1: when the split has no validation
    part, as Matbench folds, this seeded share of the training rows is held out for early stopping), and
    any :class:`~sciptm.training.TrainerConfig` field (``epochs``, ``lr``, ``batch_size``, ``patience``,
    ``freeze``, ``augment``...).
    """

    def __init__(self, spec: str, options: dict[str, Any]):
        parsed = ModelSpec.parse(spec).check()
        self.spec = spec
        self.name = spec
        self.options = dict(options)
        if parsed.features:  # e.g. "tiny+rdkit2d": the side-feature set in the name
            self.options.setdefault("features", parsed.features)
        self.random_init = parsed.random_init
        self.base = parsed.base

    def encoder(self, domain: str | dict[str, Any], seed: int) -> Encoder:
        if self.base in SIZES:
            return Encoder.from_config(domain=domain, size=self.base, architecture=self.options.get("architecture"),
                                       seed=seed, pooling=self.options.get("pooling", "mean"))
        return Encoder.from_pretrained(self.base, random_init=self.random_init, seed=seed)

    def fit_predict(self, data: TaskData, seed: int) -> np.ndarray:
        from dataclasses import fields

        from sciptm.predictor import TRAINER_PARAMS, PropertyPredictor
        from sciptm.training import TrainerConfig

        enc = self.encoder(data.domain_config or data.domain, seed)
        enc.domain = fit_domain(enc.domain, data.domain_config or {"name": data.domain}, self.spec, data.name)
        head = {k: v for k, v in self.options.items() if k in _MODEL_KEYS - {"architecture", "pooling", "valid_fraction"}}
        trainer = {k: v for k, v in self.options.items() if k not in _MODEL_KEYS}
        trainer["seed"] = seed
        trainer.setdefault("progress", True)  # an epoch bar inside sciptm bench's run bar (on a terminal only)
        # TrainerConfig fields that are not PropertyPredictor parameters (encoder_dropout...) go in trainer=
        config_only = {f.name for f in fields(TrainerConfig)} - set(TRAINER_PARAMS)
        config = {k: trainer.pop(k) for k in list(trainer) if k in config_only}
        model = PropertyPredictor(enc, task=data.task_type, **head, **trainer, trainer=config or None)
        train, valid = data.train, data.valid
        fraction = float(self.options.get("valid_fraction", 0.1))
        if not len(valid) and fraction > 0 and len(train) >= 10:  # carved from the training rows only
            order = np.random.default_rng(seed).permutation(len(train))
            n_valid = max(1, round(fraction * len(train)))
            train, valid = np.sort(train[order[n_valid:]]), np.sort(train[order[:n_valid]])
        X_tr, y_tr = [data.texts[i] for i in train], data.y[train]
        X_va, y_va = [data.texts[i] for i in valid], data.y[valid]
        model.fit(X_tr, y_tr, valid=(X_va, y_va) if len(X_va) else None)
        X_te, _ = data.part("test")
        if not data.task.is_classifier:
            return model.predict(X_te)
        return model.predict_proba(X_te)


def fit_domain(domain: Any, task_domain: dict[str, Any], spec: str, task: str) -> Any:
    """The encoder's domain checked against the task's (``ValueError`` naming both when it cannot read the
    task's inputs) and set to the task's input kind (:func:`match_kind`); used by fine-tuning and probes."""
    wanted = task_domain["name"]
    if domain.name != wanted and wanted not in getattr(domain, "reads", ()):
        raise ValueError(f"encoder {spec!r} is a {domain.name} encoder; task {task!r} is {wanted}")
    return match_kind(domain, task_domain, spec, task)


def match_kind(domain: Any, task_domain: dict[str, Any], spec: str, task: str) -> Any:
    """The encoder's domain set to the task's input kind.

    Crystal encoders read both kinds (structure and composition texts share one vocabulary, and
    pretraining shows composition views), so a structure encoder runs a composition task; any other
    kind mismatch is an error.
    """
    kind, wanted = domain.to_config().get("kind"), task_domain.get("kind")
    if kind == wanted:
        return domain
    if hasattr(domain, "with_kind") and wanted is not None:
        return domain.with_kind(wanted)
    raise ValueError(f"encoder {spec!r} reads {kind} inputs; task {task!r} has {wanted} inputs")
