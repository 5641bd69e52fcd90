"""PropertyPredictor as a scikit-learn estimator (#14): params, clone, sklearn's own API checks, CV and grid
search, pipelines with the encoder as a transformer, ensembles and conformal intervals, saved folders."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn.utils.estimator_checks as sk_checks
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted

import sciptm
from sciptm.encoders.pipeline import EmbeddingTransformer
from sciptm.predictor import PREDICTOR_FILE, PropertyPredictor

ESOL_TARGET = "measured log solubility in mols per litre"

#: scikit-learn's checks that do not feed a numeric matrix as X; they run unchanged. The others
#: (check_fit_score_takes_y, check_estimators_overwrite_params, check_dont_overwrite_parameters,
#: check_estimators_fit_returns_self, check_fit_check_is_fitted, check_fit_idempotent, check_dict_unchanged,
#: check_methods_subset_invariance, check_readonly_memmap_input, check_positive_only_tag_during_fit) fit on
#: random float matrices, which are not molecules: PropertyPredictor reads SMILES/sequences/structures
#: (tags: two_d_array=False, string=True), so check_estimator skips it as a whole. Their SMILES versions
#: are the tests below marked "sklearn:".
API_CHECKS = ["check_estimator_cloneable", "check_estimator_tags_renamed", "check_valid_tag_types",
              "check_estimator_repr", "check_no_attributes_set_in_init",
              "check_do_not_raise_errors_in_init_or_set_params",
              "check_parameters_default_constructible", "check_get_params_invariance", "check_set_params",
              "check_estimators_unfitted", "check_mixin_order"]


@pytest.fixture(scope="module")
def esol(chem_dir) -> pd.DataFrame:
    return pd.read_csv(chem_dir / "delaney-processed.csv")


@pytest.fixture(scope="module")
def enc() -> sciptm.Encoder:
    return sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)


@pytest.mark.parametrize("task", ["regression", "binary"])
@pytest.mark.parametrize("check", API_CHECKS)
def test_sklearn_api_checks(enc, check: str, task: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(sk_checks, check)("PropertyPredictor", PropertyPredictor(enc, task=task, epochs=1))


def test_params_verbatim_init_does_no_work_and_clone(enc) -> None:
    lazy = PropertyPredictor("no/such/folder", task="no-such-task", features="bogus", epochs=0)  # nothing checked yet
    assert lazy.get_params()["encoder"] == "no/such/folder" and lazy.get_params()["epochs"] == 0
    model = PropertyPredictor(enc, task="regression", epochs=2, lr=1e-3, ensemble=2)
    params = model.get_params()
    assert params["encoder"] is enc and params["lr"] == 1e-3 and params["ensemble"] == 2 and params["seed"] is None
    twin = clone(model)
    assert twin is not model and twin.get_params()["encoder"] is not enc
    assert {k: v for k, v in twin.get_params().items() if k != "encoder"} == \
        {k: v for k, v in params.items() if k != "encoder"}
    assert model.set_params(lr=5e-4, epochs=3) is model and model.lr == 5e-4
    assert is_regressor(model) and not is_classifier(model)
    assert is_classifier(PropertyPredictor(enc, task="binary")) and is_classifier(PropertyPredictor(task="multiclass"))
    with pytest.raises(sciptm.errors.ConfigError, match="ensemble"):
        PropertyPredictor(enc, epochs=1, ensemble=0).fit(["CCO", "CCC"], [1.0, 2.0])


def test_sklearn_fit_contract_on_smiles(esol, enc) -> None:
    """sklearn: fit returns self, leaves params unchanged, check_is_fitted, predict leaves __dict__ alone,
    subset and order invariance, refit idempotent (SMILES versions of the numeric checks)."""
    X, y = esol.smiles[:40].tolist(), esol[ESOL_TARGET][:40].to_numpy()
    model = PropertyPredictor(enc, task="regression", epochs=2, dropout=0.2)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    with pytest.raises(NotFittedError):
        model.predict(X)
    before = {k: v for k, v in model.get_params().items() if k != "encoder"}
    assert model.fit(X, y) is model
    assert {k: v for k, v in model.get_params().items() if k != "encoder"} == before
    assert model.get_params()["encoder"] is enc and model.encoder_ is not enc
    check_is_fitted(model)
    pred = model.predict(X)
    keys = set(vars(model))
    model.predict(X[:5])
    assert set(vars(model)) == keys
    np.testing.assert_allclose(model.predict(X[10:20]), pred[10:20], rtol=1e-5, atol=1e-6)
    order = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_allclose(model.predict([X[i] for i in order]), pred[order], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.fit(X, y).predict(X), pred)
    assert np.isfinite(model.score(X, y)) and model.score(X, y) <= 1.0


def test_cross_val_score_and_grid_search_on_esol(esol, enc) -> None:
    X, y = esol.smiles[:60], esol[ESOL_TARGET][:60]
    model = PropertyPredictor(enc, task="regression", epochs=2, batch_size=16)
    scores = cross_val_score(model, X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,) and np.isfinite(scores).all()
    search = GridSearchCV(model, {"lr": [1e-4, 1e-3]}, cv=2).fit(X, y)
    assert search.best_params_["lr"] in (1e-4, 1e-3) and len(search.cv_results_["mean_test_score"]) == 2
    assert search.best_estimator_.predict(X[:3]).shape == (3,)
    yb = (y > y.median()).astype(float)
    auc = cross_val_score(PropertyPredictor(enc, task="binary", epochs=2, batch_size=16), X, yb, cv=2,
                          scoring="roc_auc")  # sklearn's scorer reads decision_function
    assert ((auc >= 0) & (auc <= 1)).all()
    assert not hasattr(model, "decision_function")


def test_encoder_as_pipeline_step(esol, enc) -> None:
    X, y = esol.smiles[:60], esol[ESOL_TARGET][:60]
    emb = enc.embed(X[:3])
    np.testing.assert_array_equal(enc.fit(X).transform(X[:3]), emb)
    pipe = make_pipeline(enc, Ridge()).fit(X, y)
    assert pipe.predict(X[:4]).shape == (4,)
    scores = cross_val_score(make_pipeline(EmbeddingTransformer(enc), Ridge(alpha=10.0)), X, y, cv=3)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    step = EmbeddingTransformer(enc).fit(None)
    np.testing.assert_array_equal(step.transform(X[:3]), emb)
    assert step.get_feature_names_out().shape == (enc.hidden_size,)


@pytest.fixture(scope="module")
def esol_split(esol) -> tuple[np.ndarray, ...]:
    idx = np.random.default_rng(0).permutation(len(esol))
    return esol.smiles.to_numpy(), esol[ESOL_TARGET].to_numpy(), idx[:200], idx[200:500], idx[500:]


def test_conformal_interval_coverage_on_esol(esol_split, enc) -> None:
    X, y, tr, cal, te = esol_split
    model = PropertyPredictor(enc, task="regression", epochs=2, batch_size=16, lr=1e-3, head_lr=3e-3)
    model.fit(X[tr], y[tr], valid=(X[cal], y[cal]))
    lower, upper = model.predict_interval(X[te], alpha=0.1)
    coverage = float(np.mean((y[te] >= lower) & (y[te] <= upper)))
    assert set(model.conformal_) == {"absolute"} and np.allclose(upper - lower, (upper - lower)[0])
    assert 0.86 <= coverage <= 0.96, coverage  # 628 test molecules, 300 calibration labels
    lo80, hi80 = model.predict_interval(X[te[:10]], alpha=0.2)
    assert ((hi80 - lo80) < (upper - lower)[:10]).all()
    with pytest.raises(NotFittedError, match="calibrat"):
        PropertyPredictor(enc, epochs=1).fit(X[tr[:20]], y[tr[:20]]).predict_interval(X[:2])


def test_ensemble_spread_is_member_std_and_survives_save_load(esol_split, enc, tmp_path) -> None:
    X, y, tr, cal, te = esol_split
    ens = PropertyPredictor(enc, task="regression", epochs=1, batch_size=16, ensemble=3).fit(
        X[tr[:40]], y[tr[:40]], valid=(X[cal[:60]], y[cal[:60]]))
    mean, std = ens.predict(X[te[:20]], return_std=True)
    members = [PropertyPredictor(enc, task="regression", epochs=1, batch_size=16, seed=k).fit(
        X[tr[:40]], y[tr[:40]], valid=(X[cal[:60]], y[cal[:60]])).predict(X[te[:20]]) for k in range(3)]
    np.testing.assert_allclose(mean, np.mean(members, 0), rtol=1e-5, atol=1e-6)  # member k = a fit with seed k
    np.testing.assert_allclose(std, np.std(members, 0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mean, ens.predict(X[te[:20]]), rtol=1e-6)
    assert (std > 0).all() and len(ens.modules_) == 3 and len(ens.histories_) == 3
    lo, hi = ens.predict_interval(X[te[:100]], alpha=0.1, method="normalized")
    assert set(ens.conformal_) == {"absolute", "normalized"} and np.ptp(hi - lo) > 0  # widths follow the spread
    lo_abs, hi_abs = ens.predict_interval(X[te[:100]], alpha=0.1)  # the default: one width
    assert np.allclose(hi_abs - lo_abs, (hi_abs - lo_abs)[0])
    ens.save_pretrained(tmp_path / "ens")
    again = PropertyPredictor.from_pretrained(tmp_path / "ens")
    np.testing.assert_allclose(again.predict(X[te[:20]], return_std=True)[1], std, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(again.predict_interval(X[te[:20]], method="normalized")[1], hi[:20], rtol=1e-5,
                               atol=1e-6)
    mc = PropertyPredictor(enc, epochs=1, ensemble=2, uncertainty="mc_dropout").fit(X[tr[:30]], y[tr[:30]])
    assert mc.predict(X[:3], return_std=True, dropout_samples=4)[1].shape == (3,)


def test_reads_folders_saved_by_the_first_format(esol, enc, tmp_path) -> None:
    X, y = esol.smiles[:40], esol[ESOL_TARGET][:40]
    model = PropertyPredictor(enc, task="regression", features="rdkit2d", epochs=1).fit(X, y)
    folder = model.save_pretrained(tmp_path / "m")
    meta = json.loads((folder / PREDICTOR_FILE).read_text())
    old = {k: meta[k] for k in ("task", "features", "head_hidden", "dropout", "trainer", "state")}
    (folder / PREDICTOR_FILE).write_text(json.dumps({"format": 1, **old}))  # exactly the keys version 1 wrote
    again = PropertyPredictor.from_pretrained(folder)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert again.features == "rdkit2d" and again.get_params()["trainer"]["epochs"] == 1
    refit = clone(again).set_params(epochs=1).fit(X, y)  # a loaded model refits from its folder's encoder
    assert refit.predict(X[:2]).shape == (2,)
