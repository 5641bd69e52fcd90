"""Hybrid probes (issue #12 item 2): frozen embedding ++ descriptors, head chosen on inner rows only.

Real ESOL molecules from the mirror (RDKit 2D descriptors) and real Matbench steels compositions (Magpie), the
random-init ``tiny`` encoders and small forests: seconds each.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from sciptm.benchmarks import run
from sciptm.benchmarks.models import build_model, option_keys
from sciptm.benchmarks.models.hybrid import HYBRID_KEYS, HybridProbe as BenchHybrid
from sciptm.benchmarks.taskdata import TaskData
from sciptm.hybrid import HybridProbe, fit_predict_hybrid, select_weight

N = 90


@pytest.fixture(scope="module")
def esol(chem_dir: Path) -> tuple[list[str], np.ndarray]:
    df = pd.read_csv(chem_dir / "delaney-processed.csv").head(N)
    return df["smiles"].str.strip().tolist(), df["measured log solubility in mols per litre"].to_numpy(float)


def _data(esol: tuple[list[str], np.ndarray], y: np.ndarray | None = None) -> TaskData:
    smiles, target = esol
    idx = np.arange(N)
    return TaskData(name="esol-head", task_type="regression", domain="smiles", metric="rmse", target_names=["logS"],
                    texts=smiles, y=(target if y is None else y).reshape(-1, 1).copy(), rows=idx, train=idx[:60],
                    valid=idx[60:75], test=idx[75:], domain_config={"name": "smiles"})


OPTS = {"n_estimators": 15}


def test_name_builds_a_hybrid_with_its_own_options() -> None:
    model = build_model("tiny+rdkit2d:probe", OPTS)
    assert isinstance(model, BenchHybrid) and model.base == "tiny" and model.features == "rdkit2d"
    assert option_keys("rxnfp/bert-pretrained+rdkit2d:probe") == HYBRID_KEYS
    with pytest.raises(ValueError, match="unknown option"):
        build_model("tiny+rdkit2d:probe", {"epochs": 3})


def test_side_features_are_used(esol) -> None:
    """Changing only the descriptor block changes the predictions, for the linear head alone as well."""
    for weights in ([1.0], None):
        opts = {**OPTS, **({"weights": weights} if weights else {})}
        data = _data(esol)
        first = build_model("tiny+rdkit2d:probe", opts).fit_predict(data, 0)
        block = data.cache["descriptors|rdkit2d"]
        assert block.shape[0] == N and block.shape[1] > 100  # real RDKit 2D descriptors
        shuffled = block[np.random.default_rng(1).permutation(N)]
        data2 = _data(esol)
        data2.cache["descriptors|rdkit2d"] = shuffled
        second = build_model("tiny+rdkit2d:probe", opts).fit_predict(data2, 0)
        assert first.shape == (N - 75,) and not np.allclose(first, second)


def test_inner_selection_never_sees_test_rows(esol) -> None:
    data = _data(esol)
    model = build_model("tiny+rdkit2d:probe", OPTS)
    pred = model.fit_predict(data, 0)
    assert set(model.inner_rows_) == set(data.valid.tolist())
    assert not set(model.inner_rows_) & set(data.test.tolist())
    # test labels scrambled: the same recipe, the same inner scores and the same predictions
    y = esol[1].copy()
    y[data.test] = np.random.default_rng(0).normal(size=len(data.test)) * 100
    other = build_model("tiny+rdkit2d:probe", OPTS)
    pred2 = other.fit_predict(_data(esol, y), 0)
    assert other.info_["inner_scores"] == model.info_["inner_scores"] and np.allclose(pred, pred2)
    # no valid rows: out-of-fold/out-of-bag predictions of the training rows only
    E, D = np.random.default_rng(0).normal(size=(N, 8)), np.random.default_rng(1).normal(size=(N, 5))
    _, info = fit_predict_hybrid(E, D, esol[1].reshape(-1, 1), "regression", "rmse", data.train, None, data.test,
                                 n_estimators=15)
    assert info["inner"].startswith("oof") and info["inner_rows"] == data.train.tolist()
    with pytest.raises(ValueError, match="overlap"):
        fit_predict_hybrid(E, D, esol[1].reshape(-1, 1), "regression", "rmse", data.train, data.test[:3], data.test)


def test_blend_weight_is_picked_by_the_metric() -> None:
    y = np.array([[0.0], [1.0], [2.0], [3.0]])
    good, bad = y + 0.01, y[::-1].copy()
    w, scores = select_weight(y, good, bad, "rmse")
    assert w == 1.0 and scores["1"] < scores["0"]
    w, _ = select_weight(y, bad, good, "rmse")
    assert w == 0.0


def test_sklearn_estimator_clone_fit_predict(esol) -> None:
    smiles, y = esol
    est = HybridProbe("tiny", task="regression", n_estimators=15)
    copy = clone(est)
    assert copy.get_params() == est.get_params() and copy is not est
    copy.fit(smiles[:60], y[:60], valid=(smiles[60:75], y[60:75]))
    assert copy.recipe_["inner"] == "valid" and copy.recipe_["n_inner"] == 15
    assert copy.recipe_["recipe"] in {"linear", "rf", "blend", "rf-both", "blend-both"}
    pred = copy.predict(smiles[75:])
    assert pred.shape == (N - 75,) and np.isfinite(pred).all()
    # the fitted heads predict what the one-shot path predicts for the same rows and recipe
    E, D = copy._blocks(smiles)
    ref, info = fit_predict_hybrid(E, D, y.reshape(-1, 1), "regression", "rmse", np.arange(60), np.arange(60, 75),
                                   np.arange(75, N), n_estimators=15, forests=("descriptors", "both"))
    assert info["recipe"] == copy.recipe_["recipe"] and np.allclose(pred, ref, atol=1e-5)


def test_run_file_records_the_chosen_recipe(mirror: Path, tmp_path: Path) -> None:
    """A materials fold (no valid rows): Magpie descriptors, out-of-fold inner selection, recipe in the run file."""
    run("materials", tasks=["matbench_steels"], models=["tiny+magpie:probe"], seeds=[0], out=tmp_path,
        progress=False, report=False, model_options={"tiny+magpie:probe": {"n_estimators": 15}})
    row = json.loads((tmp_path / "runs" / "matbench_steels" / "tiny+magpie%3Aprobe" / "seed0.json").read_text())
    info = row["model_info"]
    assert info["features"] == "magpie" and info["n_descriptors"] == 106 and info["inner"].startswith("oof")
    assert info["recipe"] in {"linear", "rf", "blend", "rf-both", "blend-both"} and 0.0 <= info["w"] <= 1.0
    assert info["inner_score"] == info["inner_scores"][info["inner_key"]] and np.isfinite(row["value"])
    assert {"0", "1", "both:0", "both:0.5"} <= set(info["inner_scores"])  # both forests and every weight scored
