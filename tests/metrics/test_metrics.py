"""Metrics against direct scikit-learn / SciPy calls on real MoleculeNet columns.

Predictions are real where the files carry them (ESOL's own model predictions) and otherwise
a real descriptor turned into a score (BACE's AlogP, RDKit's MolLogP on Tox21 molecules).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, RDLogger
from rdkit.Chem import Crippen
from scipy import stats
from sklearn import metrics as skm

from sciptm import metrics
from sciptm.errors import InvalidInputError, UnknownNameError

RDLogger.DisableLog("rdApp.*")


@pytest.fixture(scope="module")
def esol(chem_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(chem_dir / "delaney-processed.csv")
    return (
        df["measured log solubility in mols per litre"].to_numpy(float),
        df["ESOL predicted log solubility in mols per litre"].to_numpy(float),
    )


@pytest.fixture(scope="module")
def bace(chem_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(chem_dir / "bace.csv", usecols=["Class", "AlogP"])
    z = (df["AlogP"] - df["AlogP"].mean()) / df["AlogP"].std()
    return df["Class"].to_numpy(float), 1.0 / (1.0 + np.exp(-z.to_numpy(float)))


@pytest.fixture(scope="module")
def tox21(chem_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """First 400 Tox21 rows: 12 labels with real missing values; scores from RDKit MolLogP."""
    df = pd.read_csv(chem_dir / "tox21.csv.gz", nrows=400)
    y = df.drop(columns=["mol_id", "smiles"]).to_numpy(float)
    logp = np.array([Crippen.MolLogP(Chem.MolFromSmiles(s)) for s in df["smiles"]])
    rng = np.random.default_rng(0)
    score = 1.0 / (1.0 + np.exp(-(logp[:, None] - 2.5 + rng.normal(0, 1, y.shape))))
    return y, score


def test_registry_holds_all_metrics_with_directions() -> None:
    expected = {"rmse", "mae", "r2", "pearson", "spearman", "mse", "roc_auc", "pr_auc",
                "accuracy", "precision", "recall", "f1"}
    assert set(metrics.METRICS.keys()) == expected
    lower = {n for n, m in metrics.METRICS.items() if not m.greater_is_better}
    assert lower == {"rmse", "mae", "mse"}
    assert metrics.METRICS["roc_auc"].kind == "classification"
    assert metrics.METRICS["f1"].kind == "label"
    assert metrics.METRICS["rmse"].is_better(0.5, 0.7)
    assert metrics.METRICS["r2"].is_better(0.7, 0.5)
    assert not metrics.METRICS["r2"].is_better(float("nan"), 0.5)
    with pytest.raises(UnknownNameError, match="roc_auc"):
        metrics.compute("auroc", [0, 1], [0.1, 0.9])


def test_regression_matches_sklearn_and_scipy(esol: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = esol
    expected = {
        "rmse": np.sqrt(skm.mean_squared_error(y, p)),
        "mse": skm.mean_squared_error(y, p),
        "mae": skm.mean_absolute_error(y, p),
        "r2": skm.r2_score(y, p),
        "pearson": stats.pearsonr(y, p)[0],
        "spearman": stats.spearmanr(y, p)[0],
    }
    got = metrics.compute_all(expected, y, p)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12), name
    # ESOL's published model: RMSE about 1.0 log units, so the inputs are the real columns
    assert 0.8 < got["rmse"] < 1.2
    # column vectors are the same single task
    assert metrics.compute("rmse", y[:, None], p[:, None]) == pytest.approx(got["rmse"])
    assert metrics.compute("rmse", y[:, None], p) == pytest.approx(got["rmse"])


def test_binary_matches_sklearn(bace: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = bace
    assert metrics.compute("roc_auc", y, p) == pytest.approx(skm.roc_auc_score(y, p))
    assert metrics.compute("pr_auc", y, p) == pytest.approx(skm.average_precision_score(y, p))
    hard = (p >= 0.5).astype(int)
    assert metrics.compute("accuracy", y, p) == pytest.approx(skm.accuracy_score(y, hard))
    assert metrics.compute("precision", y, p) == pytest.approx(skm.precision_score(y, hard))
    assert metrics.compute("recall", y, p) == pytest.approx(skm.recall_score(y, hard))
    assert metrics.compute("f1", y, p) == pytest.approx(skm.f1_score(y, hard))
    # hard 0/1 predictions give the same label metrics as the probabilities they came from
    assert metrics.compute("f1", y, hard) == metrics.compute("f1", y, p)
    # a score that is not a constant gives an AUC away from both 0.5 and 1
    assert 0.5 < metrics.compute("roc_auc", y, p) < 0.9


def test_multitask_masks_nan_labels(tox21: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = tox21
    assert np.isnan(y).any()
    expected = []
    for j in range(y.shape[1]):
        keep = ~np.isnan(y[:, j])
        expected.append(skm.roc_auc_score(y[keep, j], p[keep, j]))
    got = metrics.per_task("roc_auc", y, p)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert metrics.compute("roc_auc", y, p) == pytest.approx(np.mean(expected))
    # predictions on unlabelled cells do not matter, even NaN
    p2 = p.copy()
    p2[np.isnan(y)] = np.nan
    assert metrics.compute("roc_auc", y, p2) == pytest.approx(np.mean(expected))
    keep = ~np.isnan(y[:, 0])
    assert metrics.per_task("f1", y, p)[0] == pytest.approx(skm.f1_score(y[keep, 0], p[keep, 0] >= 0.5))


def test_auc_skips_tasks_with_one_class(tox21: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = tox21
    y = y[:, :3].copy()
    p = p[:, :3]
    y[:, 1] = np.where(np.isnan(y[:, 1]), np.nan, 0.0)  # task 1: negatives only
    y[:, 2] = np.nan  # task 2: no labels at all
    scores = metrics.per_task("roc_auc", y, p)
    assert not np.isnan(scores[0]) and np.isnan(scores[1]) and np.isnan(scores[2])
    keep = ~np.isnan(y[:, 0])
    assert metrics.compute("roc_auc", y, p) == pytest.approx(skm.roc_auc_score(y[keep, 0], p[keep, 0]))
    assert np.isnan(metrics.compute("pr_auc", y[:, 1:], p[:, 1:]))
    # accuracy is defined on a one-class task, so it takes part
    acc = metrics.per_task("accuracy", y, p)
    assert not np.isnan(acc[1]) and np.isnan(acc[2])


def test_multiclass_probabilities(esol: tuple[np.ndarray, np.ndarray]) -> None:
    y_cont, pred = esol
    edges = np.quantile(y_cont, [1 / 3, 2 / 3])
    y = np.digitize(y_cont, edges)  # 3 solubility classes
    centers = np.array([np.median(pred[y == c]) for c in range(3)])
    logits = -np.abs(pred[:, None] - centers[None, :])
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    assert metrics.compute("accuracy", y, proba) == pytest.approx(skm.accuracy_score(y, proba.argmax(1)))
    assert metrics.compute("f1", y, proba) == pytest.approx(skm.f1_score(y, proba.argmax(1), average="macro"))
    assert metrics.compute("roc_auc", y, proba) == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    )
    pr = np.mean([skm.average_precision_score(y == c, proba[:, c]) for c in range(3)])
    assert metrics.compute("pr_auc", y, proba) == pytest.approx(pr)
    # a class absent from y_true is left out of the one-vs-rest mean
    sub = y != 2
    expected = np.mean([skm.roc_auc_score(y[sub] == c, proba[sub, c]) for c in (0, 1)])
    assert metrics.compute("roc_auc", y[sub], proba[sub]) == pytest.approx(expected)
    with pytest.raises(ValueError, match="regression metric"):
        metrics.compute("rmse", y, proba)
    bad = y.astype(float)
    bad[5] = 3
    with pytest.raises(ValueError, match="row 5"):
        metrics.compute("accuracy", bad, proba)


def test_bad_inputs_name_the_row(bace: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = bace
    p = p.copy()
    p[7] = np.nan
    with pytest.raises(InvalidInputError, match="row 7") as info:
        metrics.compute("roc_auc", y, p)
    assert info.value.records[0].index == 7
    labels = y.copy()
    labels[3] = 2.0
    with pytest.raises(ValueError, match="row 3"):
        metrics.compute("roc_auc", labels, np.full_like(y, 0.5))
    with pytest.raises(ValueError, match="rows"):
        metrics.compute("rmse", y, y[:-1])
    with pytest.raises(ValueError, match="shape"):
        metrics.compute("rmse", np.zeros((4, 2)), np.zeros((4, 3)))


def test_degenerate_regression_is_nan() -> None:
    assert np.isnan(metrics.compute("pearson", [1.0, 2.0, 3.0], [2.0, 2.0, 2.0]))
    assert np.isnan(metrics.compute("r2", [1.0], [2.0]))
    y = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, np.nan]])
    p = np.array([[1.0, 0.0], [2.5, 4.0], [2.0, 0.0]])
    assert metrics.per_task("spearman", y, p)[1] != metrics.per_task("spearman", y, p)[1]  # NaN
    assert metrics.compute("spearman", y, p) == pytest.approx(stats.spearmanr(y[:, 0], p[:, 0])[0])
