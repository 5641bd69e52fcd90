"""The hybrid probe's head selection on a binary Matbench task (expt_is_metal, real compositions and Magpie
features from the mirror): the blend is chosen by ROC-AUC on out-of-fold / out-of-bag predictions of the training
rows, never on test rows."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sciptm.hybrid import design_matrix, fit_predict_hybrid, forest_component, linear_component


@pytest.fixture(scope="module")
def metal(mirror) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import sciptm.datasets as sd
    from sciptm.domains.crystal.features import composition_features

    df = sd.load("matbench_expt_is_metal", progress=False).df.sample(260, random_state=0).reset_index(drop=True)
    D = composition_features(df["composition"].tolist())
    E = np.random.default_rng(0).normal(size=(len(df), 8))  # an uninformative "embedding"
    return E, D, df["is_metal"].to_numpy(dtype=float)[:, None]


def test_binary_head_chosen_by_out_of_fold_roc_auc(metal):
    E, D, y = metal
    train, test = np.arange(200), np.arange(200, 260)
    kw = {"n_estimators": 40, "forests": ("descriptors", "both")}
    pred, info = fit_predict_hybrid(E, D, y, "binary", "roc_auc", train, None, test, seed=0, **kw)
    assert info["inner"] == "oof-5fold+oob" and info["n_inner"] == 200 and info["selection_metric"] == "roc_auc"
    assert info["inner_rows"] == train.tolist()
    scores = info["inner_scores"]
    assert len(scores) == 22 and all(0.5 < v <= 1.0 for v in scores.values())  # AUCs, not error rates
    # the chosen candidate has the highest inner AUC (greater is better), ties to the smaller weight
    assert info["inner_score"] == max(scores.values()) == scores[info["inner_key"]]
    # the inner AUC of the linear head alone (w = 1) is the AUC of its out-of-fold predictions of the training rows
    lin_inner, _, _ = linear_component(design_matrix(E, D, train), y, True, train, None, test, seed=0)
    assert scores["1"] == pytest.approx(roc_auc_score(y[train, 0], lin_inner[:, 0]))
    # ... and the forest alone (w = 0) the AUC of its out-of-bag probabilities
    rf_inner, _ = forest_component(D, y, True, train, None, test, seed=0, n_estimators=40)
    ok = ~np.isnan(rf_inner[:, 0])
    assert scores["0"] == pytest.approx(roc_auc_score(y[train][ok, 0], rf_inner[ok, 0]))
    assert pred.shape == (60,) and ((pred >= 0) & (pred <= 1)).all()
    # test labels are never read: flipping them changes neither the choice nor the predictions
    flipped = y.copy()
    flipped[test] = 1.0 - flipped[test]
    pred2, info2 = fit_predict_hybrid(E, D, flipped, "binary", "roc_auc", train, None, test, seed=0, **kw)
    np.testing.assert_array_equal(pred2, pred)
    assert info2["inner_scores"] == scores
