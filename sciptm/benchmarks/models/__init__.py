"""Models the benchmark runner can run side by side: baselines by name, and any sciptm encoder.

A benchmark model implements ``fit_predict(data: TaskData, seed: int) -> np.ndarray`` returning test-set
predictions: values (regression, ``[N]`` or ``N x T``), positive-class probabilities (binary ``[N]``,
multitask ``N x T``) or class probabilities (multiclass ``N x C``). Register a baseline with
``@MODELS.register("name")``; names that are not registered are treated as encoders
(``tiny``/``small`` = random init, a folder or a shipped/hub name = pretrained), fine-tuned, or as
frozen-encoder linear probes when they end in ``:probe`` (``tiny:probe``, ``sciptm/protein-small:probe``).
"""
from __future__ import annotations

import importlib
from typing import Any, Protocol

import numpy as np

from sciptm.benchmarks.models.spec import ModelSpec
from sciptm.benchmarks.taskdata import TaskData
from sciptm.registry import Registry


class BenchModel(Protocol):
    name: str

    def fit_predict(self, data: TaskData, seed: int) -> np.ndarray: ...


#: name -> factory ``(options: dict) -> BenchModel``
MODELS: Registry[Any] = Registry("benchmark model")

for _module in ("common", "chem", "protein", "materials", "deepchem_baseline", "zoo"):
    try:
        importlib.import_module(f"sciptm.benchmarks.models.{_module}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"sciptm.benchmarks.models.{_module}":
            raise


#: ``<encoder>:<suffix>`` recipes built on an encoder name: suffix -> (module under ``sciptm.benchmarks.models``,
#: class); a new recipe is one entry here (imported only when a name uses it)
SUFFIX_RECIPES: dict[str, tuple[str, str]] = {
    "augmented": ("augmented", "AugmentedModel"),  # ridge on one-hot + zero-shot score + embeddings
    "sites": ("sites", "SitesModel"),  # augmented ridge + site embeddings, ensembled with an MLP (weight by MSE)
    "sites-rank": ("sites", "SitesRankModel"),  # the same, ensemble weight chosen by valid Spearman
}


def suffix_recipe(name: str) -> Any:
    """The class of the ``SUFFIX_RECIPES`` entry that ``name`` ends with (``<encoder>:<suffix>``), or ``None``."""
    _, sep, suffix = str(name).rpartition(":")
    if not sep or suffix not in SUFFIX_RECIPES:
        return None
    module, cls = SUFFIX_RECIPES[suffix]
    return getattr(importlib.import_module(f"sciptm.benchmarks.models.{module}"), cls)


def build_model(name: str, options: dict[str, Any] | None = None) -> BenchModel:
    """A registered baseline, or an :class:`~sciptm.benchmarks.models.encoder.EncoderModel` for any other name."""
    options = dict(options or {})
    if name in MODELS:
        return MODELS.get(name)(options)
    recipe = suffix_recipe(name)
    if recipe is not None:
        return recipe(name, options)
    spec = ModelSpec.parse(name)
    if spec.probe and spec.features:  # embedding ++ descriptors, head by inner validation (models/hybrid.py)
        from sciptm.benchmarks.models.hybrid import HybridProbe

        return HybridProbe(name, options)
    if spec.probe:  # frozen encoder embeddings + RidgeCV (models/probe.py)
        from sciptm.benchmarks.models.probe import EmbeddingProbe

        return EmbeddingProbe(name, options)
    from sciptm.benchmarks.models.encoder import EncoderModel

    return EncoderModel(name, options)


#: the options each registered baseline reads (``model_options: {name: {key: value}}``); a key outside its set
#: is refused (an ignored option would be recorded in results.json as if it had been applied)
OPTION_KEYS: dict[str, frozenset[str]] = {
    "mean": frozenset(), "dummy": frozenset(),
    "ecfp-rf": frozenset({"n_estimators", "n_jobs"}), "rdkit2d-rf": frozenset({"n_estimators", "n_jobs"}),
    "chemprop": frozenset({"epochs", "extra_args"}),
    "dc-multitask": frozenset({"n_bits", "radius", "layer_sizes", "dropouts", "weight_decay", "batch_size",
                               "learning_rate", "epochs"}),
    "onehot-ridge": frozenset({"max_length", "alphas"}),
    "onehot-cnn": frozenset({"threads", "max_length", "batch_size", "channels", "dropout", "epochs",
                             "kernel_size", "lr", "patience"}),
    "rf-composition": frozenset({"use_valid", "n_estimators", "grid", "tune_estimators", "n_jobs"}),
}

#: options of frozen-encoder probes (``<encoder>:probe``)
PROBE_KEYS = frozenset({"pooling", "batch_size", "max_tokens", "alphas", "quantize"})


def _finetune_keys() -> frozenset[str]:
    """Options of a fine-tuned encoder: the PropertyPredictor's and trainer's settings and the encoder's own."""
    import inspect
    from dataclasses import fields

    from sciptm.predictor import PropertyPredictor
    from sciptm.training import TrainerConfig

    keys = set(inspect.signature(PropertyPredictor.__init__).parameters) - {"self", "encoder", "task", "trainer",
                                                                            "seed", "kwargs"}
    keys |= {f.name for f in fields(TrainerConfig)} - {"seed"}  # encoder_dropout, bucket_pool...: via trainer=
    return frozenset(keys | {"features", "head_hidden", "dropout", "architecture", "pooling", "valid_fraction"})


def option_keys(name: str) -> frozenset[str] | None:
    """The option keys model ``name`` reads, or ``None`` when they are not known (no check is made then)."""
    if name in MODELS:
        declared = getattr(MODELS.get(name), "option_keys", None)
        if declared is not None:
            return frozenset(declared)
        if name in OPTION_KEYS:
            return OPTION_KEYS[name]
        if ModelSpec.parse(name).probe:
            return PROBE_KEYS
        return _finetune_keys() if "/" in name else None  # e.g. chgnet/0.3.0 (fine-tuned with a head)
    recipe = suffix_recipe(name)
    if recipe is not None:
        return recipe.option_keys
    try:
        parsed = ModelSpec.parse(name)
    except Exception:  # noqa: BLE001 - a bad name is reported when the model is built
        return None
    if parsed.probe and parsed.features:
        from sciptm.benchmarks.models.hybrid import HYBRID_KEYS

        return HYBRID_KEYS
    return PROBE_KEYS if parsed.probe else _finetune_keys()


def check_model_options(model_options: Any, models: Any = None) -> dict[str, dict[str, Any]]:
    """Validate ``model_options`` (model name or ``"default"`` -> mapping of options) and return it.

    Each value must be a mapping; a model's own entry may only hold keys that model reads. ``"default"``
    applies to every model without its own entry, so its keys are not checked per model.

    Raises
    ------
    ConfigError
        for a value that is not a mapping, or an option the model does not read (the valid keys are listed).
    """
    from sciptm.errors import ConfigError

    if model_options is None:
        return {}
    if not isinstance(model_options, dict):
        raise ConfigError(f"model_options must map model names to options ({{ecfp-rf: {{n_estimators: 100}}}}), "
                          f"not {type(model_options).__name__} {model_options!r}")
    for name, opts in model_options.items():
        if opts is None:
            continue
        if not isinstance(opts, dict):
            raise ConfigError(f"model_options: {name}: expected a mapping of options (e.g. {{{name}: {{epochs: 10}}}}),"
                              f" got {type(opts).__name__} {opts!r}")
        bad_names = [k for k in opts if not isinstance(k, str)]
        if bad_names:
            raise ConfigError(f"model_options: {name}: option names must be text, got {bad_names!r}")
        if name == "default":
            continue
        keys = option_keys(str(name))
        unknown = sorted(set(opts) - keys) if keys is not None else []
        if unknown:
            valid = ", ".join(sorted(keys)) or "(none: this model takes no options)"
            raise ConfigError(f"model_options: {name}: unknown option(s) {', '.join(unknown)}; valid: {valid}")
    return model_options


__all__ = ["MODELS", "OPTION_KEYS", "BenchModel", "build_model", "check_model_options", "option_keys"]
