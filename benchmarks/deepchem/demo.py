"""DeepChem <-> sciptm, both ways, on ESOL (issue 14, item 3; Must-show 3).

1. sciptm inside DeepChem: ``SciptmFeaturizer`` (the shipped encoder's embeddings) in DeepChem's ``CSVLoader``,
   split by DeepChem's ``ScaffoldSplitter``, a DeepChem ``MultitaskRegressor`` on top; beside it the same network on
   DeepChem's ECFP (``CircularFingerprint``).
2. DeepChem inside sciptm: the same DeepChem datasets (SMILES kept with ``DummyFeaturizer``) straight into
   ``PropertyPredictor.fit``/``predict``, with a DeepChem featurizer as ``features=``.

Run: ``python benchmarks/deepchem/demo.py`` (``pip install -e ".[deepchem]"``; ESOL is read from the copy shipped
in the package, so no data mirror is needed). Prints test RMSE (log mol/L) of each.
"""
from __future__ import annotations

import logging
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

t_import = time.perf_counter()
import deepchem as dc  # noqa: E402  (~1 min; logs errors for its transformers-based models under transformers 5)

import sciptm  # noqa: E402
from sciptm.data.cards import CARDS  # noqa: E402
from sciptm.data.fetch import fetch_file  # noqa: E402
from sciptm.interop.deepchem import SciptmFeaturizer  # noqa: E402

print(f"import deepchem: {time.perf_counter() - t_import:.0f} s")
TARGET = "measured log solubility in mols per litre"
card = CARDS["esol"]
path, sha = fetch_file(card, card.files[0])
print(f"ESOL: {path} (sha256 {sha[:12]}..., verified)")
splitter = dc.splits.ScaffoldSplitter()
rmse = dc.metrics.Metric(dc.metrics.rms_score)


def load(featurizer):
    ds = dc.data.CSVLoader(tasks=[TARGET], feature_field="smiles", featurizer=featurizer).create_dataset(str(path))
    return splitter.train_valid_test_split(ds, frac_train=0.8, frac_valid=0.1, frac_test=0.1)


def dc_regressor(train, valid, test, label):
    t0 = time.perf_counter()
    norm = dc.trans.NormalizationTransformer(transform_y=True, dataset=train)
    tr, valid, test = (norm.transform(d) for d in (train, valid, test))  # evaluate() untransforms with [norm]
    model = dc.models.MultitaskRegressor(1, train.X.shape[1], layer_sizes=[1000, 1000], dropouts=0.25,
                                         weight_decay_penalty=5e-4, batch_size=128, learning_rate=8e-4, device="cpu")
    best, best_test = np.inf, None
    for _ in range(50):  # MoleculeNet's preset; the test score of the best validation epoch
        model.fit(tr, nb_epoch=1, checkpoint_interval=0)
        v = model.evaluate(valid, [rmse], [norm])["rms_score"]
        if v < best:
            best, best_test = v, model.evaluate(test, [rmse], [norm])["rms_score"]
    print(f"[1] DeepChem MultitaskRegressor on {label}: X {train.X.shape[1]} columns, valid RMSE {best:.3f}, "
          f"test RMSE {best_test:.3f} ({time.perf_counter() - t0:.0f} s)")
    return best_test


# ---------------------------------------------------------------- 1. sciptm featurizer inside DeepChem
t0 = time.perf_counter()
feat = SciptmFeaturizer("sciptm/smiles-small")
train, valid, test = load(feat)
print(f"[1] CSVLoader(featurizer={feat!r}): {len(train)}/{len(valid)}/{len(test)} molecules, "
      f"X {train.X.shape}, featurized in {time.perf_counter() - t0:.0f} s")
dc_regressor(train, valid, test, "sciptm/smiles-small embeddings")
dc_regressor(*load(dc.feat.CircularFingerprint(size=1024, radius=2)), "ECFP4 1024 bits")

# ---------------------------------------------------------------- 2. DeepChem datasets into sciptm
train, valid, test = load(dc.feat.DummyFeaturizer())  # X holds the SMILES (same scaffold split as above)
print(f"[2] DeepChem datasets: {type(train).__name__} x3, X[0] = {train.X[0]!r}")
t0 = time.perf_counter()
model = sciptm.PropertyPredictor("sciptm/smiles-small", features=dc.feat.RDKitDescriptors(), epochs=15, patience=4,
                                 progress=False)
model.fit(train, valid=valid)
pred = model.predict(test)
y = test.y[:, 0]
print(f"[2] PropertyPredictor(sciptm/smiles-small, features=dc.feat.RDKitDescriptors()).fit(<DeepChem dataset>): "
      f"best epoch {model.best_epoch_}, test RMSE {float(np.sqrt(np.mean((pred - y) ** 2))):.3f} "
      f"({time.perf_counter() - t0:.0f} s)")
print(f"[2] mean predictor test RMSE {float(np.sqrt(np.mean((train.y[:, 0].mean() - y) ** 2))):.3f}")
