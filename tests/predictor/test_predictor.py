"""PropertyPredictor end to end: fit/predict on real ESOL rows, save/load, seeds, invalid inputs, tasks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoModel

import sciptm
from sciptm.errors import InvalidInputError, SkippedInputWarning
from sciptm.heads.tasks import TASKS

ESOL_TARGET = "measured log solubility in mols per litre"


@pytest.fixture(scope="module")
def esol(mirror) -> pd.DataFrame:
    return pd.read_csv(mirror / "chem" / "delaney-processed.csv")


def tiny(**kw) -> sciptm.Encoder:
    return sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0, **kw)


def test_tiny_model_overfits_32_molecules(esol) -> None:
    rows = esol.iloc[:32]
    model = sciptm.PropertyPredictor(tiny(), task="regression", epochs=60, batch_size=8, lr=1e-3, head_lr=3e-3,
                                     dropout=0.0, warmup_ratio=0.0)
    model.fit(rows.smiles, rows[ESOL_TARGET])
    pred = model.predict(rows.smiles)
    rmse = float(np.sqrt(np.mean((pred - rows[ESOL_TARGET]) ** 2)))
    assert rmse < 0.25 * rows[ESOL_TARGET].std(), rmse


def test_esol_regression_with_rdkit2d_beats_mean_predictor(esol, tmp_path) -> None:
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(esol))[:400]
    tr, va, te = idx[:300], idx[300:340], idx[340:]
    X, y = esol.smiles, esol[ESOL_TARGET]
    model = sciptm.PropertyPredictor(tiny(), task="regression", features="rdkit2d", epochs=12, patience=5)
    model.fit(X.iloc[tr], y.iloc[tr], valid=(X.iloc[va], y.iloc[va]))
    pred = model.predict(X.iloc[te])
    rmse = float(np.sqrt(np.mean((pred - y.iloc[te].to_numpy()) ** 2)))
    mean_rmse = float(np.sqrt(np.mean((y.iloc[te] - y.iloc[tr].mean()) ** 2)))
    assert rmse < 0.7 * mean_rmse, (rmse, mean_rmse)
    assert model.best_epoch_ is not None and len(model.history_) >= 1
    assert {"train_loss", "valid_score"} <= set(model.history_.columns)

    # save -> load: same predictions to 1e-5, and plain transformers still opens the folder
    model.save_pretrained(tmp_path / "esol")
    again = sciptm.PropertyPredictor.from_pretrained(tmp_path / "esol")
    np.testing.assert_allclose(again.predict(X.iloc[te]), pred, atol=1e-5)
    assert AutoModel.from_pretrained(tmp_path / "esol") is not None
    # the same folder as an encoder with a new head
    fresh = sciptm.PropertyPredictor.from_pretrained(tmp_path / "esol", task="binary")
    assert fresh.task == "binary" and fresh.module is None

    # uncertainty: MC dropout gives a positive spread, centred near the deterministic prediction
    mean, std = model.predict(X.iloc[te][:10], return_std=True)
    assert (std > 0).all() and np.abs(mean - pred[:10]).max() < 1.0


def test_same_seed_gives_identical_results(esol) -> None:
    rows = esol.iloc[:64]
    preds = []
    for _ in range(2):
        model = sciptm.PropertyPredictor(tiny(), task="regression", epochs=3, augment=True, seed=7)
        model.fit(rows.smiles, rows[ESOL_TARGET], valid=(rows.smiles[:16], rows[ESOL_TARGET][:16]))
        preds.append(model.predict(rows.smiles))
        hist = model.history_
    np.testing.assert_array_equal(preds[0], preds[1])
    other = sciptm.PropertyPredictor(tiny(), task="regression", epochs=3, augment=True, seed=8)
    other.fit(rows.smiles, rows[ESOL_TARGET])
    assert not np.array_equal(other.predict(rows.smiles), preds[0])
    assert len(hist) == 3


def test_fit_does_not_modify_the_encoder_passed_in(esol) -> None:
    enc = tiny()
    before = enc.embed(["CCO"])
    sciptm.PropertyPredictor(enc, epochs=1).fit(esol.smiles[:32], esol[ESOL_TARGET][:32])
    np.testing.assert_array_equal(enc.embed(["CCO"]), before)


def test_invalid_inputs_raise_or_skip_in_fit_and_predict(esol) -> None:
    X = list(esol.smiles[:20]) + ["C1CC", "N(=O)(=O)(=O)C"]
    y = list(esol[ESOL_TARGET][:20]) + [0.0, 1.0]
    model = sciptm.PropertyPredictor(tiny(), task="regression", epochs=1)
    with pytest.raises(InvalidInputError, match=r"row 20: 'C1CC'"):
        model.fit(X, y)
    with pytest.warns(SkippedInputWarning):
        model.fit(X, y, errors="skip")
    assert model.fit_report_["n_invalid"] == 2 and [r.index for r in model.skipped_] == [20, 21]
    with pytest.warns(SkippedInputWarning):
        pred = model.predict(pd.Series(["CCO", "C1CC", "CCN"]), errors="skip")
    assert np.isnan(pred[1]) and np.isfinite(pred[[0, 2]]).all()
    with pytest.raises(InvalidInputError, match="row 1"):
        model.predict(["CCO", "C1CC"])


def test_missing_labels_are_masked_not_zero() -> None:
    task = TASKS["multitask-binary"]
    out = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    y = torch.tensor([[1.0, float("nan")], [0.0, 1.0]])
    y_zero = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor([2.0, 0.5, 3.0]), torch.tensor([1.0, 0.0, 1.0]))
    torch.testing.assert_close(task.loss(out, y), expected)
    assert not torch.isclose(task.loss(out, y), task.loss(out, y_zero))


def test_multitask_binary_with_missing_labels_fits(mirror) -> None:
    df = pd.read_csv(mirror / "chem" / "tox21.csv.gz").iloc[:120]
    tasks = ["NR-AR", "NR-AhR", "SR-ARE"]
    model = sciptm.PropertyPredictor(tiny(), task="multitask-binary", epochs=2)
    model.fit(df.smiles, df[tasks], errors="skip")
    proba = model.predict_proba(df.smiles[:10])
    assert proba.shape == (10, 3) and ((proba >= 0) & (proba <= 1)).all()
    assert df[tasks].isna().any().any()  # the subset really has missing labels


def test_multiclass_and_binary_tasks(esol) -> None:
    rows = esol.iloc[:60]
    y = pd.cut(rows[ESOL_TARGET], 3, labels=False)
    model = sciptm.PropertyPredictor(tiny(), task="multiclass", epochs=2).fit(rows.smiles, y)
    assert model.predict_proba(rows.smiles[:5]).shape == (5, 3)
    assert set(model.predict(rows.smiles)) <= {0.0, 1.0, 2.0}
    yb = (rows[ESOL_TARGET] > rows[ESOL_TARGET].median()).astype(float)
    binary = sciptm.PropertyPredictor(tiny(), task="binary", epochs=2).fit(rows.smiles, yb)
    assert 0.0 <= binary.score(rows.smiles, yb) <= 1.0
    with pytest.raises(ValueError, match="binary labels"):
        sciptm.PropertyPredictor(tiny(), task="binary", epochs=1).fit(rows.smiles, rows[ESOL_TARGET])


def test_freeze_encoder_keeps_encoder_weights(esol) -> None:
    enc = tiny()
    model = sciptm.PropertyPredictor(enc, task="regression", epochs=2, freeze="encoder")
    model.fit(esol.smiles[:32], esol[ESOL_TARGET][:32])
    np.testing.assert_array_equal(model.encoder_.embed(["CCO"]), enc.embed(["CCO"]))
    gradual = sciptm.PropertyPredictor(tiny(), task="regression", epochs=2, freeze="gradual")
    gradual.fit(esol.smiles[:32], esol[ESOL_TARGET][:32])
    assert len(gradual.history_) == 2
