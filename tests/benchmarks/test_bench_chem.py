"""Chemistry benchmark runner: result files, resume without redoing work, CSV tasks, CLI."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sciptm import metrics
from sciptm.benchmarks import run
from sciptm.benchmarks.models.chem import ecfp
from sciptm.splits import Split

FAST = {"ecfp-rf": {"n_estimators": 50, "n_jobs": 1}, "tiny": {"epochs": 2, "batch_size": 64}}


def test_grid_writes_rows_summary_and_resumes(tmp_path) -> None:
    out = tmp_path / "bench"
    res = run("chem", tasks=["esol", "bbbp"], models=["mean", "ecfp-rf"], seeds=[0, 1], out=out,
              split="scaffold_balanced", model_options=FAST, progress=False, report=False)
    data = json.loads((out / "results.json").read_text())
    assert len(data["rows"]) == 8 and not data["missing"] and not data["failures"]
    keys = {"task", "model", "split", "seed", "metric", "value", "n_train", "n_valid", "n_test", "split_hash",
            "data_sha256", "seconds"}
    assert keys <= set(data["rows"][0])
    # every model of a (task, seed) saw the same split, and the saved split file has that hash
    for task in ("esol", "bbbp"):
        for seed in (0, 1):
            hashes = {r["split_hash"] for r in data["rows"] if r["task"] == task and r["seed"] == seed}
            assert len(hashes) == 1
            assert Split.load(out / "splits" / task / f"scaffold_balanced_seed{seed}.json").hash in hashes
    # BBBP's 11 unparsable SMILES are counted, not lost silently
    assert data["splits"]["bbbp"]["n_invalid_inputs"] == 11
    # the stored predictions reproduce the stored metric
    run_file = json.loads((out / "runs" / "esol" / "ecfp-rf" / "seed0.json").read_text())
    again = metrics.compute("rmse", np.array(run_file["y_true"]), np.array(run_file["y_pred"]))
    assert again == pytest.approx(run_file["value"])
    summary = res.summary.set_index(["task", "model"])
    assert summary.loc[("esol", "ecfp-rf"), "mean"] < summary.loc[("esol", "mean"), "mean"]
    assert summary.loc[("bbbp", "ecfp-rf"), "mean"] > 0.7

    # resume: delete one result, rerun: only that one is recomputed, the others are untouched
    victim = out / "runs" / "bbbp" / "ecfp-rf" / "seed1.json"
    keep = out / "runs" / "esol" / "mean" / "seed0.json"
    before = keep.stat().st_mtime_ns
    victim.unlink()
    run("chem", tasks=["esol", "bbbp"], models=["mean", "ecfp-rf"], seeds=[0, 1], out=out,
        split="scaffold_balanced", model_options=FAST, progress=False, report=False)
    assert victim.exists() and keep.stat().st_mtime_ns == before
    rerun = json.loads((out / "results.json").read_text())
    strip = lambda rows: sorted((r["task"], r["model"], r["seed"], r["value"], r["split_hash"]) for r in rows)  # noqa: E731
    assert strip(rerun["rows"]) == strip(data["rows"])


def test_tiny_encoder_runs_in_the_grid(tmp_path) -> None:
    res = run("chem", tasks=["esol"], models=["tiny"], seeds=[0], out=tmp_path, split="random",
              model_options=FAST, progress=False, report=False)
    row = res.rows.iloc[0]
    assert row["model"] == "tiny" and np.isfinite(row["value"]) and row["n_train"] > 800


def test_user_csv_task_from_the_command_line(tmp_path, mirror) -> None:
    df = pd.read_csv(mirror / "chem" / "delaney-processed.csv").iloc[:200]
    csv = tmp_path / "my.csv"
    df.rename(columns={"smiles": "SMILES", "measured log solubility in mols per litre": "y"})[["SMILES", "y"]].to_csv(
        csv, index=False)
    cfg = tmp_path / "models.yaml"
    cfg.write_text("ecfp-rf: {n_estimators: 20, n_jobs: 1}\n")
    cmd = [sys.executable, "-m", "sciptm", "bench", "chem", "--tasks", str(csv), "--input", "SMILES", "--targets", "y",
           "--task-type", "regression", "--models", "mean,ecfp-rf", "--split", "random", "--seeds", "0", "1",
           "--model-config", str(cfg), "--out", str(tmp_path / "out"), "--no-report"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads((tmp_path / "out" / "results.json").read_text())["rows"]
    assert {(r["task"], r["model"], r["seed"]) for r in rows} == {("my", m, s) for m in ("mean", "ecfp-rf") for s in (0, 1)}
    assert (tmp_path / "out" / "resolved_config.yaml").exists()


def test_cli_user_errors_are_one_line(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sciptm", "bench", "chem", "--tasks", "nosuchset", "--models", "mean",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "unknown dataset 'nosuchset'" in proc.stderr and "Traceback" not in proc.stderr


def test_ecfp_matches_rdkit_morgan_radius_2() -> None:
    from rdkit import Chem, DataStructs
    from rdkit.Chem import AllChem

    fp = ecfp(["CC(=O)Oc1ccccc1C(=O)O"])[0]
    ref = AllChem.GetMorganFingerprintAsBitVect(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O"), 2, nBits=2048)
    arr = np.zeros(2048)
    DataStructs.ConvertToNumpyArray(ref, arr)
    np.testing.assert_array_equal(fp, arr)
