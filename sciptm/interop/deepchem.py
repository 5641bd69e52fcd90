"""DeepChem <-> sciptm (``pip install 'sciptm[deepchem]'``; importing this module imports DeepChem).

- :class:`SciptmFeaturizer`: a DeepChem ``Featurizer`` whose features are a sciptm encoder's pooled
  embeddings, usable with DeepChem's loaders and models (``dc.data.CSVLoader(featurizer=...)``).
- :func:`to_numpy_dataset`: a sciptm dataset (or inputs + labels), optionally cut by a sciptm
  :class:`~sciptm.splits.Split`, as ``dc.data.NumpyDataset`` objects (missing labels: weight 0).
- :func:`register_featurizer`: a DeepChem featurizer as a sciptm feature set (``features=`` of
  :class:`~sciptm.PropertyPredictor`); :func:`sciptm.interop.resolve_features` calls it.
- DeepChem datasets go straight into ``PropertyPredictor.fit``/``predict``
  (:func:`sciptm.interop.from_deepchem_dataset`, which needs no DeepChem import).

Under transformers 5, ``import deepchem`` logs import errors for its transformers-based models
(ChemBERTa, ``SmilesTokenizer``); the featurizers, datasets, splitters and torch models used here work.

>>> import deepchem as dc                                        # doctest: +SKIP
>>> from sciptm.interop.deepchem import SciptmFeaturizer         # doctest: +SKIP
>>> SciptmFeaturizer("sciptm/smiles-small").featurize(["CCO"]).shape  # doctest: +SKIP
(1, 256)
"""
from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import deepchem as dc
import numpy as np

from sciptm.interop import DEEPCHEM_FEATURE_PREFIX, deepchem_feature_name

logger = logging.getLogger(__name__)


def _as_texts(datapoints: Iterable[Any]) -> list[Any]:
    """SMILES strings; RDKit ``Mol`` objects are written as SMILES."""
    out = []
    for point in datapoints:
        if isinstance(point, str):
            out.append(point)
        elif hasattr(point, "GetNumAtoms"):  # an RDKit Mol
            from rdkit import Chem

            out.append(Chem.MolToSmiles(point))
        else:
            out.append(point)
    return out


class SciptmFeaturizer(dc.feat.Featurizer):
    """A sciptm encoder's pooled embeddings as DeepChem features (``N x hidden_size`` float32).

    Parameters
    ----------
    encoder: a shipped name (``"sciptm/smiles-small"``), a saved encoder folder, or an
        :class:`~sciptm.Encoder` object.
    batch_size, max_tokens: passed to :meth:`~sciptm.Encoder.embed`.

    Inputs that the encoder's domain adapter rejects come back as empty arrays, DeepChem's convention
    for failed featurization (its loaders then drop those rows).
    """

    def __init__(self, encoder: Any = "sciptm/smiles-small", batch_size: int = 256, max_tokens: int = 16384):
        self.encoder = encoder
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self._encoder = None

    def __repr__(self) -> str:
        name = self.encoder if isinstance(self.encoder, str) else type(self.encoder).__name__
        return f"SciptmFeaturizer[encoder={name!r}, batch_size={self.batch_size}]"

    __str__ = __repr__

    def _load(self) -> Any:
        if self._encoder is None:
            from sciptm.encoders import Encoder

            self._encoder = self.encoder if isinstance(self.encoder, Encoder) else Encoder.from_pretrained(self.encoder)
        return self._encoder

    def featurize(self, datapoints: Iterable[Any], log_every_n: int = 1000, **kwargs: Any) -> np.ndarray:
        """Embed all datapoints in token-budget batches (not one at a time)."""
        from sciptm.errors import SkippedInputWarning

        texts = _as_texts(datapoints)
        if not texts:
            return np.zeros((0, self._load().hidden_size), dtype=np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedInputWarning)
            X = self._load().embed(texts, batch_size=self.batch_size, max_tokens=self.max_tokens, errors="skip")
        bad = np.isnan(X).all(1)
        if not bad.any():
            return X
        for i in np.flatnonzero(bad)[:5]:
            logger.warning("SciptmFeaturizer: input %d (%r) could not be read; empty features", i, texts[i])
        out = np.empty(len(X), dtype=object)
        for i, row in enumerate(X):
            out[i] = np.array([]) if bad[i] else row
        return out

    def _featurize(self, datapoint: Any, **kwargs: Any) -> np.ndarray:
        return self.featurize([datapoint])[0]


# ---------------------------------------------------------------------------------- featurizers as feature sets
def _dense(features: np.ndarray, n: int) -> np.ndarray:
    """DeepChem's featurize output (an object array with empty rows for failures) as ``n x F`` float, NaN rows."""
    arr = np.asarray(features)
    if arr.dtype != object and arr.ndim == 2:
        return arr.astype(np.float64)
    rows = [np.asarray(r, dtype=np.float64).reshape(-1) for r in arr]
    width = max((r.size for r in rows), default=0)
    out = np.full((n, width), np.nan)
    for i, r in enumerate(rows):
        if r.size == width:
            out[i] = r
    return out


def featurizer_from_name(name: str) -> Any:
    """Rebuild a DeepChem featurizer from its :func:`~sciptm.interop.deepchem_feature_name`."""
    body = name[len(DEEPCHEM_FEATURE_PREFIX):]
    cls_name, _, params = body.partition("{")
    cls = getattr(dc.feat, cls_name, None)
    if cls is None:
        raise ValueError(f"{name!r}: deepchem.feat has no featurizer {cls_name!r}")
    return cls(**(json.loads("{" + params) if params else {}))


def register_featurizer(featurizer: Any, name: str | None = None) -> str:
    """Register a DeepChem featurizer in ``sciptm.features.FEATURES`` (domain ``smiles``); returns its name."""
    from sciptm.features import FEATURES, Featurizer

    name = name or deepchem_feature_name(featurizer)
    if name not in FEATURES:

        def compute(texts: Sequence[str]) -> np.ndarray:
            return _dense(featurizer.featurize(list(texts)), len(texts))

        FEATURES.add(name, Featurizer(name=name, domain="smiles", fn=compute,
                                      description=f"DeepChem {type(featurizer).__name__}"))
    return name


def register_featurizer_name(name: str) -> str:
    """Register the DeepChem featurizer a saved name describes (used by the lazy ``FEATURES`` lookup)."""
    return register_featurizer(featurizer_from_name(name), name)


# ---------------------------------------------------------------------------------- datasets
def _inputs_labels(data: Any, y: Any = None) -> tuple[list[Any], np.ndarray | None, list[str]]:
    if hasattr(data, "card") and hasattr(data, "inputs"):  # a sciptm Dataset
        targets = getattr(data, "targets", None)
        y2 = None if targets is None or not len(targets.columns) else targets.to_numpy(dtype=float, na_value=np.nan)
        return list(data.inputs), y2, list(data.target_columns)
    inputs = list(data)
    if y is None:
        return inputs, None, []
    y2 = np.asarray(y, dtype=float)
    y2 = y2[:, None] if y2.ndim == 1 else y2
    return inputs, y2, [f"task{i}" for i in range(y2.shape[1])] if y2.shape[1] > 1 else ["y"]


def to_numpy_dataset(data: Any, y: Any = None, featurizer: Any = None, split: Any = None) -> Any:
    """A sciptm dataset (or ``inputs`` + ``y``) as DeepChem ``NumpyDataset`` objects.

    Parameters
    ----------
    data: a :class:`sciptm.datasets.Dataset` (from ``sciptm.datasets.load``/``from_csv``) or a list of inputs.
    y: labels when ``data`` is a list (``[N]`` or ``N x T``; NaN = missing).
    featurizer: a DeepChem featurizer (e.g. ``dc.feat.CircularFingerprint(size=1024)`` or
        :class:`SciptmFeaturizer`); ``None`` keeps the input strings as ``X`` (like ``DummyFeaturizer``).
    split: a :class:`sciptm.splits.Split` over the same rows: then ``(train, valid, test)`` is returned.

    Missing labels become ``y = 0`` with weight ``w = 0`` (DeepChem's convention); ``ids`` are the inputs.
    Rows the featurizer fails on are dropped, with a warning naming how many.
    """
    inputs, y2, tasks = _inputs_labels(data, y)
    n = len(inputs)
    if featurizer is None:
        X = np.asarray(inputs, dtype=object)
        ok = np.ones(n, dtype=bool)
    else:
        feats = featurizer.featurize(inputs)
        X = _dense(feats, n) if np.asarray(feats).dtype == object else np.asarray(feats)
        ok = ~np.isnan(X).all(1) if X.dtype.kind == "f" and X.ndim == 2 and X.shape[1] else np.ones(n, dtype=bool)
        if (~ok).any():
            logger.warning("to_numpy_dataset: %d of %d inputs could not be featurized and were dropped",
                           int((~ok).sum()), n)
    if y2 is not None:
        w = (~np.isnan(y2)).astype(np.float32)
        yv = np.nan_to_num(y2, nan=0.0)
    else:
        w = yv = None
    ids = np.asarray([str(v) for v in inputs], dtype=object)

    def make(rows: np.ndarray) -> Any:
        rows = np.asarray(rows, dtype=int)
        rows = rows[ok[rows]]
        return dc.data.NumpyDataset(X[rows], None if yv is None else yv[rows], None if w is None else w[rows],
                                    ids[rows], n_tasks=len(tasks) or 1)

    if split is None:
        return make(np.arange(n))
    if split.n != n:
        raise ValueError(f"split was made for {split.n} rows but the data has {n}")
    return make(split.train), make(split.valid), make(split.test)


def split_from_deepchem(splitter: Any, dataset: Any, frac_train: float = 0.8, frac_valid: float = 0.1,
                        frac_test: float = 0.1, seed: int | None = None) -> Any:
    """A DeepChem splitter's indices (``splitter.split(dataset, ...)``) as a sciptm :class:`~sciptm.splits.Split`."""
    from sciptm.splits import Split

    train, valid, test = splitter.split(dataset, frac_train=frac_train, frac_valid=frac_valid, frac_test=frac_test,
                                        seed=seed)
    return Split(train=list(train), valid=list(valid), test=list(test), method=f"deepchem-{type(splitter).__name__}",
                 seed=seed, n=len(dataset))


__all__ = ["SciptmFeaturizer", "featurizer_from_name", "register_featurizer", "register_featurizer_name",
           "split_from_deepchem", "to_numpy_dataset"]
