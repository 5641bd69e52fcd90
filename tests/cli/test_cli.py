"""The command line: ``--config`` files whose keys are flags, resolved configs beside outputs, one-line user errors."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from cli_helpers import cli

from sciptm import Encoder
from sciptm.cli.config import RESOLVED_NAME, as_list, resolved_path
from sciptm.cli.main import _key_values, main


def user_error(capsys, *args: str) -> str:
    code, _, err = cli(capsys, *args)
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def esol(chem_dir, tmp_path_factory):
    """40 real ESOL rows, one invalid SMILES file, and a saved tiny SMILES encoder."""
    d = tmp_path_factory.mktemp("cli")
    df = pd.read_csv(chem_dir / "delaney-processed.csv").iloc[:40]
    df = df[["smiles", "measured log solubility in mols per litre"]].set_axis(["smiles", "logS"], axis=1)
    df.to_csv(d / "esol40.csv", index=False)
    pd.DataFrame({"smiles": ["CCO", "C1CC", "c1ccccc1"]}).to_csv(d / "bad.csv", index=False)
    Encoder.from_config(domain="smiles", size="tiny", seed=0).save_pretrained(d / "enc")
    return d


def test_config_keys_are_flags_and_flags_win(esol, tmp_path, capsys) -> None:
    cfg = tmp_path / "embed.yaml"
    cfg.write_text(f"inputs: {esol / 'esol40.csv'}\nencoder: {esol / 'enc'}\nout: {tmp_path / 'a.npy'}\n"
                   f"batch-size: 8\nerrors: raise\n")
    code, _, err = cli(capsys, "embed", "--config", cfg, "--batch-size", "16")
    assert code == 0, err
    X = np.load(tmp_path / "a.npy")
    assert X.shape[0] == 40 and np.isfinite(X).all()
    resolved = yaml.safe_load((tmp_path / f"a.{RESOLVED_NAME}").read_text())
    assert resolved["batch_size"] == 16 and resolved["encoder"] == str(esol / "enc")  # flag > file > default
    assert resolved["column"] == "smiles" and "config" not in resolved
    # the resolved file is itself a config: the same run again gives the same embeddings
    resolved["out"] = str(tmp_path / "b.npy")
    (tmp_path / "again.yaml").write_text(yaml.safe_dump(resolved))
    assert cli(capsys, "embed", "--config", tmp_path / "again.yaml")[0] == 0
    np.testing.assert_allclose(np.load(tmp_path / "b.npy"), X, rtol=1e-5, atol=1e-6)


def test_embed_quantize_int8_matches_fp32(esol, tmp_path, capsys) -> None:
    csv, enc = esol / "esol40.csv", esol / "enc"
    assert cli(capsys, "embed", csv, "--encoder", enc, "--out", tmp_path / "fp32.npy")[0] == 0
    code, _, err = cli(capsys, "embed", csv, "--encoder", enc, "--out", tmp_path / "int8.npy", "--quantize", "int8")
    assert code == 0, err
    a, b = np.load(tmp_path / "fp32.npy"), np.load(tmp_path / "int8.npy")
    assert a.shape == b.shape == (40, a.shape[1]) and not np.array_equal(a, b)  # the int8 copy really ran
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 0.999, cos.min()
    resolved = yaml.safe_load((tmp_path / f"int8.{RESOLVED_NAME}").read_text())
    assert resolved["quantize"] == "int8"
    assert "--quantize must be 'none' or 'int8', not 'fp16'" in user_error(capsys, "embed", csv, "--encoder", enc,
                                                                           "--quantize", "fp16")


def test_user_errors_are_one_line(esol, tmp_path, capsys) -> None:
    csv, enc = esol / "esol40.csv", esol / "enc"
    assert "no column 'smile' (name it with --column)" in user_error(capsys, "embed", csv, "--encoder", enc,
                                                                      "--column", "smile")
    assert "input file not found" in user_error(capsys, "embed", tmp_path / "none.csv", "--encoder", enc)
    (tmp_path / "unknown.yaml").write_text("encoder: x\nepochz: 3\n")
    line = user_error(capsys, "embed", csv, "--config", tmp_path / "unknown.yaml")
    assert "unknown key(s) epochz" in line and "batch_size" in line
    (tmp_path / "broken.yaml").write_text("encoder: [tiny\n")
    assert "not valid YAML (line 2" in user_error(capsys, "embed", csv, "--config", tmp_path / "broken.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    assert "must be a YAML mapping" in user_error(capsys, "embed", csv, "--config", tmp_path / "list.yaml")
    (tmp_path / "type.yaml").write_text("batch_size: many\n")
    assert "batch_size: expected int, got 'many'" in user_error(capsys, "embed", csv, "--encoder", enc,
                                                                 "--config", tmp_path / "type.yaml")
    assert "config file not found" in user_error(capsys, "embed", csv, "--config", tmp_path / "nope.yaml")
    assert "missing --encoder" in user_error(capsys, "embed", csv)
    assert "row 1: 'C1CC'" in user_error(capsys, "embed", esol / "bad.csv", "--encoder", enc, "--out", tmp_path / "x.npy")
    assert "unknown dataset 'nosuchset'" in user_error(capsys, "datasets", "info", "nosuchset")
    # every task name is checked before the first run starts (nothing is written)
    assert "unknown dataset 'lipophilicity'" in user_error(capsys, "bench", "chem", "--tasks", "esol,lipophilicity",
                                                              "--models", "mean", "--out", tmp_path / "typo")
    assert not (tmp_path / "typo" / "runs").exists()
    assert "unknown executor 'dask'" in user_error(capsys, "bench", "chem", "--tasks", "esol", "--models", "mean",
                                                   "--executor", "dask", "--out", tmp_path / "b")
    assert "unknown pretraining config keys ['no_such_key']" in user_error(capsys, "pretrain", "--out", tmp_path / "p",
                                                                           "--no-such-key", "3")
    assert "no results.json" in user_error(capsys, "report", tmp_path)
    # --debug: the same user error raises with its traceback
    with pytest.raises(FileNotFoundError, match="input file not found"):
        main(["embed", str(tmp_path / "none.csv"), "--encoder", str(enc), "--debug"])


def test_finetune_and_predict_from_configs(esol, tmp_path, capsys) -> None:
    (tmp_path / "ft.yaml").write_text(yaml.safe_dump({
        "train": str(esol / "esol40.csv"), "targets": "logS", "out": str(tmp_path / "model"), "encoder": "tiny",
        "epochs": 3, "batch_size": 16, "valid": str(esol / "esol40.csv"), "seed": 1}))
    code, _, err = cli(capsys, "finetune", "--config", tmp_path / "ft.yaml", "--epochs", "2")
    assert code == 0, err
    resolved = yaml.safe_load((tmp_path / "model" / RESOLVED_NAME).read_text())
    assert resolved["epochs"] == 2 and resolved["targets"] == ["logS"] and resolved["seed"] == 1
    code, _, err = cli(capsys, "predict", esol / "esol40.csv", "--model", tmp_path / "model",
                         "--out", tmp_path / "preds" / "p.csv")
    assert code == 0, err
    pred = pd.read_csv(tmp_path / "preds" / "p.csv")
    assert len(pred) == 40 and np.isfinite(pred["logS_pred"]).all()
    assert yaml.safe_load((tmp_path / "preds" / f"p.{RESOLVED_NAME}").read_text())["model"] == str(tmp_path / "model")
    assert "row 1: 'C1CC'" in user_error(capsys, "predict", esol / "bad.csv", "--model", tmp_path / "model")


def test_bench_config_resolved_round_trip_and_tune(esol, tmp_path, capsys) -> None:
    csv = esol / "esol40.csv"
    (tmp_path / "bench.yaml").write_text(yaml.safe_dump({
        "field": "chem", "tasks": [str(csv)], "input": "smiles", "targets": "logS", "task_type": "regression",
        "models": ["mean", "ecfp-rf"], "split": "random", "seeds": [0, 1], "report": False,
        "model_options": {"ecfp-rf": {"n_estimators": 10, "n_jobs": 1}}}))
    out = tmp_path / "bench"
    code, stdout, err = cli(capsys, "bench", "--config", tmp_path / "bench.yaml", "--seeds", "0", "--out", out)
    assert code == 0, err
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {(r["model"], r["seed"]) for r in rows} == {("mean", 0), ("ecfp-rf", 0)}  # --seeds beat the file
    resolved = yaml.safe_load((out / RESOLVED_NAME).read_text())
    assert resolved["seeds"] == [0] and resolved["model_options"]["ecfp-rf"]["n_estimators"] == 10
    code, stdout, err = cli(capsys, "bench", "--config", out / RESOLVED_NAME)  # the same run: all resumed
    assert code == 0 and "2 runs (2 already done)" in err, err  # log lines go to stderr, the table to stdout

    # tune inside the training rows, then bench with the best config as model options
    (tmp_path / "tune.yaml").write_text(yaml.safe_dump({
        "task": str(csv), "input": "smiles", "targets": "logS", "task_type": "regression", "model": "ecfp-rf",
        "split": "random", "n_trials": 3, "model_options": {"n_jobs": 1},
        "space": {"n_estimators": {"low": 5, "high": 30}}, "out": str(tmp_path / "tuned")}))
    code, stdout, err = cli(capsys, "tune", "--config", tmp_path / "tune.yaml")
    assert code == 0, err
    best = yaml.safe_load((tmp_path / "tuned" / "best_config.yaml").read_text())
    assert set(best) == {"ecfp-rf"} and 5 <= best["ecfp-rf"]["n_estimators"] <= 30
    assert len(pd.read_csv(tmp_path / "tuned" / "trials.csv")) == 3
    assert (tmp_path / "tuned" / RESOLVED_NAME).exists()
    code, stdout, err = cli(capsys, "bench", "chem", "--tasks", csv, "--input", "smiles", "--targets", "logS",
                            "--task-type", "regression", "--models", "ecfp-rf", "--split", "random",
                            "--model-options", tmp_path / "tuned" / "best_config.yaml", "--out", tmp_path / "b2",
                            "--no-report")
    assert code == 0, err
    assert json.loads((tmp_path / "b2" / "results.json").read_text())["config"]["model_options"] == best


def test_helpers() -> None:
    assert as_list("0 1,2") == ["0", "1", "2"] and as_list([0, 1]) == [0, 1] and as_list(None) is None
    assert as_list("log S,y", spaces=False) == ["log S", "y"]
    assert resolved_path("out/preds.csv", folder=False).name == "preds.resolved_config.yaml"
    assert resolved_path("out/emb.npy.gz", folder=False).name == "emb.resolved_config.yaml"
    assert resolved_path("runs/x", folder=True).as_posix() == "runs/x/resolved_config.yaml"
    assert _key_values(["--max-steps", "5", "--val-source=null", "--augment"], ["lr=1e-3"]) == {
        "max_steps": 5, "val_source": None, "augment": True, "lr": 1e-3}
