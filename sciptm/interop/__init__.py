"""Interoperability with other chemistry ML libraries.

This package is light: importing it imports neither DeepChem nor Chemprop. The helpers here recognise
DeepChem objects by duck typing (a ``dc.data.Dataset`` has ``X``, ``y``, ``w`` and ``ids``; a DeepChem
featurizer has ``featurize``), so :class:`~sciptm.PropertyPredictor` can accept them without importing
DeepChem. The parts that need DeepChem itself (a DeepChem ``Featurizer`` yielding sciptm embeddings,
conversion to ``dc.data.NumpyDataset``) live in :mod:`sciptm.interop.deepchem`
(``pip install 'sciptm[deepchem]'``).

>>> from sciptm.interop import is_deepchem_dataset
>>> is_deepchem_dataset(["CCO"])
False
"""
from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: prefix of the feature-set names under which DeepChem featurizers are registered in ``sciptm.features.FEATURES``
DEEPCHEM_FEATURE_PREFIX = "deepchem:"


def _from_deepchem(obj: Any) -> bool:
    return (type(obj).__module__ or "").split(".")[0] == "deepchem"


def is_deepchem_dataset(obj: Any) -> bool:
    """Whether ``obj`` is a DeepChem ``dc.data.Dataset`` (``NumpyDataset``, ``DiskDataset``...)."""
    return _from_deepchem(obj) and all(hasattr(obj, a) for a in ("X", "y", "w", "ids"))


def is_deepchem_featurizer(obj: Any) -> bool:
    """Whether ``obj`` is a DeepChem featurizer (an object from ``deepchem.feat`` with ``featurize``)."""
    return _from_deepchem(obj) and callable(getattr(obj, "featurize", None))


def from_deepchem_dataset(dataset: Any) -> tuple[list[str], np.ndarray | None]:
    """``(inputs, y)`` from a DeepChem dataset, for :meth:`PropertyPredictor.fit`/``predict``.

    The inputs are ``dataset.X`` when it holds strings (DeepChem's ``DummyFeaturizer`` or
    ``RawFeaturizer(smiles=True)``), otherwise ``dataset.ids`` (DeepChem's loaders keep the SMILES there).
    Labels with weight 0 are DeepChem's missing labels and become NaN; ``y`` is ``None`` when the dataset
    has no labels. Featurized ``X`` (fingerprints...) is not used: sciptm reads the molecules themselves.
    """
    X = np.asarray(dataset.X, dtype=object)
    if X.ndim == 1 and len(X) and all(isinstance(v, str) for v in X):
        inputs = [str(v) for v in X]
    else:
        ids = np.asarray(dataset.ids, dtype=object).reshape(-1)
        if not len(ids) or not all(isinstance(v, str) for v in ids):
            raise ValueError("this DeepChem dataset carries neither SMILES in X nor in ids: load it with "
                             "featurizer=dc.feat.DummyFeaturizer() or keep the SMILES as ids")
        inputs = [str(v) for v in ids]
    y = getattr(dataset, "y", None)
    if y is None or np.size(y) == 0:
        return inputs, None
    y = np.asarray(y, dtype=float)
    y = y.reshape(len(inputs), -1)
    w = getattr(dataset, "w", None)
    if w is not None and np.size(w):
        w = np.broadcast_to(np.asarray(w, dtype=float).reshape(len(inputs), -1), y.shape)
        y = np.where(w == 0, np.nan, y)
    return inputs, y


def deepchem_feature_name(featurizer: Any) -> str:
    """The ``FEATURES`` name of a DeepChem featurizer: ``deepchem:<Class>`` plus its constructor arguments as
    JSON, e.g. ``deepchem:CircularFingerprint{"radius": 2, "size": 2048}``; the name alone rebuilds it."""
    import inspect

    params = {}
    for name, p in inspect.signature(type(featurizer).__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or name not in vars(featurizer):
            continue
        value = vars(featurizer)[name]
        if value != p.default and isinstance(value, (int, float, str, bool, list, tuple, type(None))):
            params[name] = value
    suffix = json.dumps(params, sort_keys=True) if params else ""
    return f"{DEEPCHEM_FEATURE_PREFIX}{type(featurizer).__name__}{suffix}"


def resolve_features(features: Any) -> str | None:
    """A ``features=`` value as the name of a set in ``sciptm.features.FEATURES``.

    Strings pass through; a DeepChem featurizer (``dc.feat.CircularFingerprint(...)``, ``RDKitDescriptors()``...)
    is registered under :func:`deepchem_feature_name` and that name is returned, so a saved predictor records
    a plain string and rebuilds the featurizer when loaded.
    """
    if features is None or isinstance(features, str):
        return features
    if is_deepchem_featurizer(features):
        from sciptm.interop.deepchem import register_featurizer

        return register_featurizer(features)
    raise TypeError(f"features must be a feature-set name or a DeepChem featurizer, not {type(features).__name__}")


__all__ = ["DEEPCHEM_FEATURE_PREFIX", "deepchem_feature_name", "from_deepchem_dataset", "is_deepchem_dataset",
           "is_deepchem_featurizer", "resolve_features"]
