"""DeepChem <-> sciptm (issue 14, item 3). The only test module that imports DeepChem for the interop
(``import deepchem`` takes about a minute here): one module-scoped fixture, every test reuses it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("deepchem", reason="pip install 'sciptm[deepchem]'")


@pytest.fixture(scope="module")
def dc():
    import deepchem

    return deepchem


@pytest.fixture(scope="module")
def esol60(chem_dir: Path) -> pd.DataFrame:
    df = pd.read_csv(chem_dir / "delaney-processed.csv")
    return df[["smiles", "measured log solubility in mols per litre"]].iloc[:60].rename(
        columns={"measured log solubility in mols per litre": "y"})


@pytest.fixture(scope="module")
def tiny_encoder():
    import sciptm

    return sciptm.Encoder.from_config(domain="smiles", size="tiny")


def test_import_sciptm_and_interop_do_not_import_deepchem() -> None:
    code = ("import sys, sciptm, sciptm.interop, sciptm.benchmarks.models; "
            "print('deepchem' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


def test_sciptm_featurizer_inside_a_deepchem_model(dc, esol60: pd.DataFrame, tiny_encoder) -> None:
    from rdkit import Chem

    from sciptm.interop.deepchem import SciptmFeaturizer

    feat = SciptmFeaturizer(tiny_encoder)
    assert isinstance(feat, dc.feat.Featurizer)
    X = feat.featurize(esol60["smiles"].tolist())
    assert X.shape == (60, tiny_encoder.hidden_size) and np.isfinite(X).all()
    # RDKit molecules give the same vectors as their SMILES
    mols = [Chem.MolFromSmiles(s) for s in esol60["smiles"].iloc[:3]]
    X_mol = feat.featurize(mols)
    X_smi = feat.featurize([Chem.MolToSmiles(m) for m in mols])
    np.testing.assert_allclose(X_mol, X_smi, atol=1e-5)
    # an unreadable molecule: DeepChem's convention, an empty array in an object array
    bad = feat.featurize(["CCO", "C1CC(", "c1ccccc1"])
    assert bad.dtype == object and bad[1].size == 0 and bad[0].shape == (tiny_encoder.hidden_size,)
    ds = dc.data.NumpyDataset(X, esol60["y"].to_numpy()[:, None], ids=esol60["smiles"].to_numpy())
    model = dc.models.MultitaskRegressor(1, X.shape[1], layer_sizes=[16], batch_size=16, device="cpu")
    model.fit(ds, nb_epoch=2)
    assert model.predict(ds).reshape(60, -1).shape == (60, 1)


def test_sciptm_dataset_and_split_to_numpy_dataset(dc) -> None:
    import sciptm.datasets as sd
    from sciptm.interop.deepchem import to_numpy_dataset
    from sciptm.splits import make_split

    tox = sd.load("tox21", progress=False)
    with pytest.warns(Warning, match="8 SMILES that RDKit cannot parse"):
        split = make_split("scaffold", n=len(tox.df), smiles=tox.inputs.tolist(), sizes=(0.8, 0.1, 0.1))
    train, valid, test = to_numpy_dataset(tox, split=split)
    assert (len(train), len(valid), len(test)) == (len(split.train), len(split.valid), len(split.test))
    assert train.y.shape[1] == len(tox.target_columns) == 12
    y = tox.targets.to_numpy(dtype=float, na_value=np.nan)[split.train]
    np.testing.assert_array_equal(train.w == 0, np.isnan(y))  # missing labels: weight 0
    assert list(train.ids[:3]) == [str(s) for s in tox.inputs.iloc[split.train[:3]]]
    # with a featurizer: rows it cannot read are dropped (BBBP has 11 RDKit failures)
    bbbp = sd.load("bbbp", progress=False)
    full = to_numpy_dataset(bbbp, featurizer=dc.feat.CircularFingerprint(size=256))
    assert full.X.shape == (2050 - 11, 256)


def test_deepchem_dataset_into_sciptm_and_featurizer_as_features(dc, esol60: pd.DataFrame) -> None:
    from sciptm.features import FEATURES
    from sciptm.interop import from_deepchem_dataset, resolve_features

    w = np.ones((60, 1))
    w[5] = 0
    ds = dc.data.NumpyDataset(np.zeros((60, 3)), esol60["y"].to_numpy()[:, None], w, ids=esol60["smiles"].to_numpy())
    inputs, y = from_deepchem_dataset(ds)
    assert inputs == esol60["smiles"].tolist() and np.isnan(y[5, 0]) and np.isfinite(np.delete(y, 5)).all()
    raw = dc.data.NumpyDataset(esol60["smiles"].to_numpy(dtype=object))  # DummyFeaturizer-style: SMILES in X
    assert from_deepchem_dataset(raw)[0] == esol60["smiles"].tolist()
    name = resolve_features(dc.feat.CircularFingerprint(size=128, radius=3))
    assert name == 'deepchem:CircularFingerprint{"radius": 3, "size": 128}'
    X = FEATURES.get(name)(["CCO", "c1ccccc1O"])
    assert X.shape == (2, 128) and X.sum() > 0
    # a saved name alone rebuilds the featurizer (what from_pretrained meets)
    other = 'deepchem:CircularFingerprint{"radius": 2, "size": 64}'
    assert FEATURES.get(other)(["CCO"]).shape == (1, 64)


def test_dc_multitask_benchmark_model_through_the_runner(dc, esol60: pd.DataFrame, tmp_path: Path) -> None:
    import json

    from sciptm.benchmarks import run

    csv = tmp_path / "esol60.csv"
    esol60.to_csv(csv, index=False)
    run("chem", tasks=[str(csv)], models=["dc-multitask", "mean"], seeds=[0], split="random", out=tmp_path / "res",
        input="smiles", targets=["y"], task_type="regression", model_options={"dc-multitask": {"epochs": 3}},
        progress=False, report=False)
    row = json.loads(next((tmp_path / "res" / "runs").rglob("dc-multitask*/seed0.json")).read_text())
    assert row["metric"] == "rmse" and np.isfinite(row["value"]) and len(row["y_pred"]) == row["n_test"] == 6
    assert 1 <= row["model_info"]["best_epoch"] <= 3 and row["model_info"]["preset"]["layer_sizes"] == [1000, 1000]


def test_property_predictor_fits_a_deepchem_dataset_with_a_deepchem_featurizer(dc, esol60: pd.DataFrame,
                                                                               tiny_encoder, tmp_path: Path) -> None:
    import sciptm
    from sciptm.interop.deepchem import to_numpy_dataset

    train = to_numpy_dataset(esol60["smiles"].tolist()[:50], esol60["y"].to_numpy()[:50])  # SMILES in X, as Dummy
    test = dc.data.NumpyDataset(np.zeros((10, 1)), ids=esol60["smiles"].to_numpy()[50:])   # SMILES only in ids
    fp = dc.feat.CircularFingerprint(size=64)
    model = sciptm.PropertyPredictor(tiny_encoder, features=fp, epochs=2, batch_size=16)
    assert model.get_params()["features"] is fp  # stored verbatim (scikit-learn)
    model.fit(train)
    assert model.fit_report_["n_used"] == 50
    pred = model.predict(test)
    assert pred.shape == (10,) and np.isfinite(pred).all()
    folder = model.save_pretrained(tmp_path / "m")
    again = sciptm.PropertyPredictor.from_pretrained(folder)  # the featurizer comes back from its saved name
    assert again.features == 'deepchem:CircularFingerprint{"size": 64}'
    np.testing.assert_allclose(again.predict(test), pred, rtol=1e-4, atol=1e-4)
