"""Protein benchmark: baselines on real GB1/GRB2 subsets, cluster and position-fold splits, the CSV CLI path."""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sciptm import metrics
from sciptm.benchmarks.fields import FIELDS
from sciptm.benchmarks.models import build_model
from sciptm.benchmarks.models.protein import SYMBOLS, composition, encode_indices, onehot_matrix
from sciptm.benchmarks.taskdata import TaskData
from sciptm.domains.protein.clustering import cluster_sequences, mmseqs_available
from sciptm.splits import SPLITTERS, make_split
from sciptm.domains.protein.splits import (
    cluster_split,
    consensus,
    mutated_positions,
    position_fold_map,
    position_folds,
    positions_from_mutants,
)

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def gb1(mirror):
    import sciptm.datasets as sd

    ds = sd.load("flip_gb1_sampled", progress=False)
    parts = ds.predefined_split()
    rng = np.random.default_rng(0)
    train = np.sort(rng.choice(parts["train"], 700, replace=False))
    valid = np.sort(rng.choice(parts["valid"], 150, replace=False))
    test = np.sort(rng.choice(parts["test"], 300, replace=False))
    rows = np.concatenate([train, valid, test])
    texts = ds.inputs.iloc[rows].tolist()
    y = ds.targets.to_numpy(dtype=float)[rows]
    n1, n2 = len(train), len(train) + len(valid)
    return TaskData(name="gb1_subset", task_type="regression", domain="protein", metric="spearman",
                    target_names=["target"], texts=texts, y=y, rows=rows, train=np.arange(n1),
                    valid=np.arange(n1, n2), test=np.arange(n2, len(rows)))


@pytest.fixture(scope="module")
def grb2(mirror) -> pd.DataFrame:
    import sciptm.datasets as sd

    df = sd.load("dms_grb2", progress=False).df
    singles = df[df["num_mutations"] == 1].sample(250, random_state=0)
    doubles = df[df["num_mutations"] == 2].sample(350, random_state=0)
    return pd.concat([singles, doubles]).reset_index(drop=True)


@pytest.fixture(scope="module")
def stability(mirror) -> list[str]:
    import sciptm.datasets as sd

    ds = sd.load("tape_stability", progress=False)
    return ds.inputs.iloc[:300].tolist()


def _rmse(data: TaskData, pred: np.ndarray) -> float:
    return metrics.compute("rmse", data.y_true("test"), pred)


# --------------------------------------------------------------------------- features + baselines


def test_protein_field_registered():
    fld = FIELDS.get("protein")
    assert fld.domain == "protein" and fld.split == "predefined"
    assert {"onehot-ridge", "onehot-cnn", "mean"} <= set(fld.models)


def test_onehot_encoding_pads_and_keeps_varying_columns():
    idx = encode_indices(["ACDZ", "AC"], 4)
    assert idx.tolist() == [[0, 1, 2, SYMBOLS.index("X")], [0, 1, SYMBOLS.index("-"), SYMBOLS.index("-")]]
    X = onehot_matrix(encode_indices(["ACD", "ACE", "AGD"], 3), np.arange(3))
    assert X.shape == (3, 4)  # positions 2 and 3 vary (C/G, D/E); position 1 is constant
    assert np.asarray(X.sum(axis=1)).ravel().tolist() == [2, 2, 2]
    comp = composition(["AAC"])
    assert comp[0, 0] == pytest.approx(2 / 3) and comp[0, 20 + 0 * 20 + 0] == pytest.approx(0.5)


def test_onehot_ridge_beats_mean_on_gb1(gb1):
    mean = build_model("mean").fit_predict(gb1, 0)
    ridge_model = build_model("onehot-ridge")
    ridge = ridge_model.fit_predict(gb1, 0)
    assert ridge.shape == (len(gb1.test),)
    assert _rmse(gb1, ridge) < 0.9 * _rmse(gb1, mean)
    assert metrics.compute("spearman", gb1.y_true("test"), ridge) > 0.5
    assert ridge_model.info_["features"] == "onehot-265"
    assert ridge_model.info_["n_features"] <= 4 * 20  # only the 4 mutated GB1 positions vary


def test_onehot_cnn_learns_gb1_and_is_seeded(gb1):
    opts = {"channels": 16, "epochs": 4, "patience": 2, "batch_size": 128}
    a = build_model("onehot-cnn", opts).fit_predict(gb1, 0)
    b = build_model("onehot-cnn", opts).fit_predict(gb1, 0)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    mean = build_model("mean").fit_predict(gb1, 0)
    assert np.isfinite(a).all() and a.shape == (len(gb1.test),)
    assert _rmse(gb1, a) < _rmse(gb1, mean)


def test_probe_embeds_once_and_fits(grb2):
    from sciptm.benchmarks.models import probe

    n = len(grb2)
    data = TaskData(name="grb2_subset", task_type="regression", domain="protein", metric="spearman",
                    target_names=["DMS_score"], texts=grb2["mutated_sequence"].tolist(),
                    y=grb2[["DMS_score"]].to_numpy(float), rows=np.arange(n), train=np.arange(0, n - 150),
                    valid=np.zeros(0, dtype=int), test=np.arange(n - 150, n))
    model = build_model("tiny:probe")
    pred = model.fit_predict(data, 0)
    assert pred.shape == (150,) and np.isfinite(pred).all()
    assert model.info_["n_features"] == 128 and model.info_["frozen"]
    store = probe._EMBEDDINGS[("tiny", 0, "mean", None)]  # (encoder, seed, pooling, crystal input kind)
    assert set(data.texts) <= set(store)
    before = {t: store[t].copy() for t in data.texts[:5]}
    again = build_model("tiny:probe").fit_predict(TaskData(**{**data.__dict__, "cache": {}}), 0)
    np.testing.assert_allclose(pred, again)
    for t, v in before.items():
        assert store[t] is not None and np.array_equal(store[t], v)
    with pytest.raises(ValueError, match="unknown model 'nonsense:probe'.*not a registered baseline"):
        build_model("nonsense:probe")


# --------------------------------------------------------------------------- cluster split


@pytest.mark.parametrize("method", ["greedy", "mmseqs"])
def test_cluster_split_keeps_clusters_whole_and_is_deterministic(stability, method):
    if method == "mmseqs" and not mmseqs_available():
        pytest.skip("mmseqs not installed (apt-get install mmseqs2)")
    import sciptm.domains.protein.splits as sp_mod

    seqs = stability + stability[:20]  # exact duplicates must land with their originals
    sp_mod._CLUSTER_CACHE.clear()
    s1 = cluster_split(seqs, identity=0.5, seed=0, method=method)
    labels = sp_mod._CLUSTER_CACHE.popitem()[1][0]  # recomputed below: determinism of the clustering itself
    s2 = cluster_split(seqs, identity=0.5, seed=0, method=method)
    s3 = cluster_split(seqs, identity=0.5, seed=1, method=method)  # same clusters (cached), other shuffle
    assert (labels[:20] == labels[-20:]).all()
    assert 1 < labels.max() + 1 < len(seqs)
    assert s1.hash == s2.hash and s1.hash != s3.hash
    for s in (s1, s3):
        part = s.labels()
        for c in np.unique(labels):
            assert len(set(part[labels == c])) == 1, f"cluster {c} split across parts"
        assert s.sizes["train"] > s.sizes["test"] > 0
    assert s1.params["clustering"] == method


def test_cluster_split_registered_uses_sequences(stability, monkeypatch):
    from sciptm.domains.protein import clustering

    monkeypatch.setattr(clustering, "mmseqs_available", lambda: False)  # the fallback path, whatever is installed
    assert {"cluster", "cluster30", "cluster90"} <= set(SPLITTERS)
    split = make_split("cluster90", smiles=stability, seed=0)
    assert split.method == "cluster90" and split.params["identity"] == 0.9
    assert split.params["clustering"] == "greedy"
    assert split.sizes["train"] + split.sizes["valid"] + split.sizes["test"] == len(stability)


def test_greedy_identity_threshold_on_real_pairs(stability):
    a = stability[0]
    mutant = a[:10] + "".join("W" if c != "W" else "A" for c in a[10:20]) + a[20:]  # ~80% identical
    labels = cluster_sequences([a, mutant], identity=0.7, method="greedy")
    assert labels[0] == labels[1]
    labels = cluster_sequences([a, mutant], identity=0.9, method="greedy")
    assert labels[0] != labels[1]


# --------------------------------------------------------------------------- position folds


def test_mutated_positions_match_the_mutant_column(grb2):
    seqs = grb2["mutated_sequence"].tolist()
    from_seq = mutated_positions(seqs)
    from_mut = positions_from_mutants(grb2["mutant"].tolist())
    offsets = {m[0] - s[0] for s, m in zip(from_seq, from_mut)}
    assert len(offsets) == 1  # ProteinGym numbering = domain numbering + a constant offset
    off = offsets.pop()
    assert all(tuple(p + off for p in s) == m for s, m in zip(from_seq, from_mut))
    assert len(consensus(seqs)) == len(seqs[0])


@pytest.mark.parametrize("scheme", ["contiguous", "modulo"])
def test_position_folds_share_no_position(grb2, scheme):
    positions = positions_from_mutants(grb2["mutant"].tolist())
    folds = position_folds(positions, k=5, scheme=scheme, valid_fraction=0.1, seed=0)
    fold_of = position_fold_map(positions, 5, scheme)
    tested = []
    for i, f in enumerate(folds):
        train_pos = {p for r in np.concatenate([f.train, f.valid]) for p in positions[r]}
        test_pos = {p for r in f.test for p in positions[r]}
        assert test_pos and not train_pos & test_pos
        assert {fold_of[p] for p in test_pos} == {i}
        assert f.sizes["valid"] > 0
        tested.extend(f.test.tolist())
    singles = [r for r, p in enumerate(positions) if len(p) == 1]
    assert sorted(r for r in tested if r in set(singles)) == sorted(singles)  # each single is tested once
    if scheme == "contiguous":
        blocks = [folds[i].params["test_positions"] for i in range(5)]
        assert all(max(b) < min(c) for b, c in itertools.pairwise(blocks))
    else:
        distinct = sorted(fold_of)
        assert [fold_of[p] for p in distinct[:7]] == [0, 1, 2, 3, 4, 0, 1]


def test_position_split_by_registry_name_seed_is_fold(grb2):
    seqs = grb2["mutated_sequence"].tolist()
    a = make_split("modulo", smiles=seqs, seed=3)
    assert a.params["fold"] == 3 and a.hash == make_split("modulo", smiles=seqs, seed=3).hash
    with pytest.raises(ValueError, match="seed is the fold"):
        make_split("contiguous", smiles=seqs, seed=5)
    with pytest.raises(ValueError, match="equal-length"):
        make_split("contiguous", smiles=["MKT", "MK"], seed=0)


# --------------------------------------------------------------------------- CLI, a user's CSV


def test_cli_bench_protein_csv_end_to_end(grb2, tmp_path):
    csv = tmp_path / "grb2_mini.csv"
    grb2.iloc[:200][["mutant", "mutated_sequence", "DMS_score"]].to_csv(csv, index=False)
    out = tmp_path / "bench"
    cmd = [sys.executable, "-m", "sciptm", "bench", "protein", "--tasks", str(csv), "--input", "mutated_sequence",
           "--targets", "DMS_score", "--task-type", "regression", "--models", "mean", "onehot-ridge",
           "--split", "kfold", "--seeds", "0", "1", "--out", str(out)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads((out / "results.json").read_text())
    assert not res["failures"] and not res["missing"]
    rows = {(r["model"], r["seed"]): r for r in res["rows"]}
    assert set(rows) == {(m, s) for m in ("mean", "onehot-ridge") for s in (0, 1)}
    for r in rows.values():
        assert r["task"] == "grb2_mini" and r["n_test"] == 40 and len(r["split_hash"]) == 16
        assert {"spearman", "mse", "mae"} <= set(r["metrics"])
    assert rows[("onehot-ridge", 0)]["split_hash"] == rows[("mean", 0)]["split_hash"]
    assert rows[("onehot-ridge", 0)]["metrics"]["mse"] < rows[("mean", 0)]["metrics"]["mse"]
    assert (out / "report.md").exists()
