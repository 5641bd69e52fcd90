"""PropertyPredictor reliability (#13): seeds that repeat, global state restored, labels checked with the
row and column named, long inputs reported, empty inputs."""
from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import torch

import sciptm
from sciptm.errors import InvalidLabelError, TruncatedInputWarning

ESOL_TARGET = "measured log solubility in mols per litre"


@pytest.fixture(scope="module")
def esol(chem_dir) -> pd.DataFrame:
    return pd.read_csv(chem_dir / "delaney-processed.csv").iloc[:48]


def tiny() -> sciptm.Encoder:
    return sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)


def test_seed_makes_fit_repeatable_whatever_the_global_rng(esol) -> None:
    enc = tiny()
    X, y = esol.smiles, esol[ESOL_TARGET]
    preds = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        np.random.seed(global_seed)
        model = sciptm.PropertyPredictor(enc, task="regression", epochs=2, seed=0, dropout=0.2)
        preds.append(model.fit(X, y).predict(X))
    again = model.fit(X, y).predict(X)  # the same object fitted twice in one process
    assert np.abs(preds[0] - preds[1]).max() == 0.0
    assert np.abs(preds[0] - again).max() == 0.0
    other = sciptm.PropertyPredictor(enc, task="regression", epochs=2, seed=1, dropout=0.2).fit(X, y).predict(X)
    assert np.abs(other - preds[0]).max() > 0


def test_fit_restores_the_callers_global_state(esol) -> None:
    enc = tiny()  # from_config(seed=0) seeds torch itself, so it comes first
    torch.use_deterministic_algorithms(False)
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    sciptm.PropertyPredictor(enc, task="regression", epochs=1, seed=5).fit(esol.smiles[:16], esol[ESOL_TARGET][:16])
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1])
    assert random.getstate() == before[2]


def test_infinite_label_is_refused_naming_row_and_column(esol) -> None:
    y = esol[ESOL_TARGET].copy().rename("logS")
    y.iloc[3] = np.inf
    model = sciptm.PropertyPredictor(tiny(), task="regression", epochs=1)
    with pytest.raises(InvalidLabelError, match=r"'logS'.*row 3.*inf"):
        model.fit(esol.smiles, y)
    with pytest.raises(InvalidLabelError, match=r"row 0.*-inf"):
        model.fit(["CCO", "CCC"], [-np.inf, 1.0])


def test_label_column_without_any_label_is_refused(esol) -> None:
    frame = pd.DataFrame({"a": esol[ESOL_TARGET].to_numpy(), "b": np.nan})
    model = sciptm.PropertyPredictor(tiny(), task="multitask-regression", epochs=1)
    with pytest.raises(InvalidLabelError, match=r"'b'.*no label"):
        model.fit(esol.smiles, frame)
    with pytest.raises(InvalidLabelError, match=r"'y'.*no label"):
        sciptm.PropertyPredictor(tiny(), epochs=1).fit(esol.smiles, np.full(len(esol), np.nan))


def test_non_numeric_label_names_row_and_column(esol) -> None:
    y = esol[ESOL_TARGET].astype(object).rename("logS")
    y.iloc[2] = "abc"
    model = sciptm.PropertyPredictor(tiny(), task="regression", epochs=1)
    with pytest.raises(InvalidLabelError, match=r"'logS'.*row 2.*'abc'"):
        model.fit(esol.smiles, y)
    with pytest.raises(InvalidLabelError, match=r"row 1.*'x'"):
        model.fit(["CCO", "CCC"], [1.0, "x"])
    active = pd.Series([0, 1, 0, 1, 0, 1, 0, 2, 0, 1], name="active", dtype=float)
    with pytest.raises(InvalidLabelError, match=r"'active', row 7: 2\.0.*binary"):
        sciptm.PropertyPredictor(tiny(), task="binary", epochs=1).fit(esol.smiles[:10], active)


def test_empty_inputs_give_empty_outputs(esol) -> None:
    enc = tiny()
    assert enc.embed([]).shape == (0, enc.hidden_size)
    model = sciptm.PropertyPredictor(enc, task="regression", epochs=1).fit(esol.smiles[:16], esol[ESOL_TARGET][:16])
    assert model.predict([]).shape == (0,)
    mean, std = model.predict([], return_std=True)
    assert mean.shape == std.shape == (0,)
    frame = pd.DataFrame({"a": esol[ESOL_TARGET][:16], "b": esol[ESOL_TARGET][:16] * 2})
    multi = sciptm.PropertyPredictor(enc, task="multitask-regression", epochs=1).fit(esol.smiles[:16], frame)
    assert multi.predict([]).shape == (0, 2)
    yb = (esol[ESOL_TARGET][:16] > -2).astype(float)
    binary = sciptm.PropertyPredictor(enc, task="binary", epochs=1).fit(esol.smiles[:16], yb)
    assert binary.predict_proba([]).shape == (0,) and binary.predict([]).shape == (0,)


def test_long_inputs_are_reported_with_their_rows(esol) -> None:
    enc = tiny()
    long_smiles = "C" * (enc.tokenizer.model_max_length + 40)
    X = list(esol.smiles[:15]) + [long_smiles]
    y = list(esol[ESOL_TARGET][:16])
    model = sciptm.PropertyPredictor(enc, task="regression", epochs=1)
    with pytest.warns(TruncatedInputWarning, match=r"row 15\b") as caught:
        model.fit(X, y)
    assert [w.message.rows for w in caught if w.category is TruncatedInputWarning] == [[15]]
    assert model.fit_report_["truncated_rows"] == [15]
    with pytest.warns(TruncatedInputWarning, match=r"row 1\b"):
        model.predict(["CCO", long_smiles])
