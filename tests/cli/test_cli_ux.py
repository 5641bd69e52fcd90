"""The command line on par with the API (#14): input columns found in any case, Chemprop's spellings,
--return-std, --device, the shipped encoder and the API's defaults, prediction columns named after the targets,
--version, the best-epoch line, the resolved --quick grid, tidy --help; quiet progress and one-line warnings."""
from __future__ import annotations

import logging
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from sciptm.cli.config import RESOLVED_NAME
from sciptm.cli.main import main
from cli_helpers import cli


def one_error(capsys, *args: object) -> str:
    code, _, err = cli(capsys, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def esol_upper(chem_dir, tmp_path_factory):
    """Real ESOL rows whose input column is spelled ``SMILES`` (train 40, valid 16, new 12 without labels)."""
    d = tmp_path_factory.mktemp("ux")
    df = pd.read_csv(chem_dir / "delaney-processed.csv")
    df = df[["smiles", "measured log solubility in mols per litre"]].set_axis(["SMILES", "logS"], axis=1)
    df.iloc[:40].to_csv(d / "train.csv", index=False)
    df.iloc[40:56].to_csv(d / "valid.csv", index=False)
    df.iloc[56:68][["SMILES"]].to_csv(d / "new.csv", index=False)
    df.iloc[:5].rename(columns={"SMILES": "structure_text"}).to_csv(d / "nocol.csv", index=False)
    return d


def test_version(capsys) -> None:
    from importlib.metadata import version

    code, out, _ = cli(capsys, "--version")
    assert code == 0 and out.strip() == f"sciptm {version('sciptm')}"


def test_help_is_tidy(capsys) -> None:
    code, out, _ = cli(capsys, "tune", "--help")
    text = " ".join(out.replace("│", " ").split())  # the help text without its box
    assert code == 0 and "a list of choices, or one fixed value" in text  # no longer eaten as rich markup
    assert "<bool>" not in out and "<str>" not in out and "[required]" in out
    assert re.search(r"--task\s+TEXT", out) and "* required: give it on the command line" in out
    code, out, _ = cli(capsys, "pretrain", "--help")
    assert code == 0 and "``" not in out and "--max-steps 500" in out
    code, out, _ = cli(capsys, "finetune", "--help")
    assert "--target-columns" in out and "--smiles-columns" in out and "--device" in out and "TRAIN" in out
    assert "<path>" not in out and "<bool>" not in out
    code, out, _ = cli(capsys, "predict", "--help")
    assert "--return-std" in out


def test_finetune_predict_like_the_api(esol_upper, tmp_path, capsys) -> None:
    d = esol_upper
    code, out, err = cli(capsys, "finetune", d / "train.csv", "--target-columns", "logS", "--out", tmp_path / "m",
                         "--encoder", "tiny", "--epochs", "1", "--batch-size", "16", "--device", "cpu")
    assert code == 0, err
    assert "trained 1 epoch and kept the last one (no validation data" in out and "None" not in out
    resolved = yaml.safe_load((tmp_path / "m" / RESOLVED_NAME).read_text())
    from sciptm.training import TrainerConfig

    api = TrainerConfig()
    assert resolved["column"] == "SMILES" and resolved["targets"] == ["logS"] and resolved["device"] == "cpu"
    assert resolved["epochs"] == 1 and resolved["lr"] == api.lr and resolved["patience"] == api.patience

    code, out, err = cli(capsys, "predict", d / "new.csv", "--model", tmp_path / "m", "--smiles-columns", "smiles",
                         "--out", tmp_path / "p.csv", "--return-std", "--device", "cpu")
    assert code == 0, err
    pred = pd.read_csv(tmp_path / "p.csv")
    assert list(pred.columns) == ["SMILES", "logS_pred", "logS_std"] and len(pred) == 12
    assert np.isfinite(pred["logS_pred"]).all() and (pred["logS_std"] >= 0).all()
    # written in chunks of 5 rows (3 appends), the file equals one pass over all rows
    code, _, err = cli(capsys, "predict", d / "new.csv", "--model", tmp_path / "m", "--out", tmp_path / "q.csv",
                       "--chunk-size", "5")
    assert code == 0, err
    code, _, err = cli(capsys, "predict", d / "new.csv", "--model", tmp_path / "m", "--out", tmp_path / "r.csv")
    assert code == 0, err
    chunked, whole = pd.read_csv(tmp_path / "q.csv"), pd.read_csv(tmp_path / "r.csv")
    assert list(chunked.columns) == ["SMILES", "logS_pred"] and len(chunked) == 12
    np.testing.assert_allclose(chunked["logS_pred"], whole["logS_pred"], rtol=1e-5)


def test_finetune_default_is_the_shipped_encoder_with_a_best_epoch(esol_upper, tmp_path, capsys) -> None:
    d = esol_upper
    code, out, err = cli(capsys, "finetune", d / "train.csv", "--targets", "logs", "--out", tmp_path / "m",
                         "--valid", d / "valid.csv", "--epochs", "1", "--batch-size", "20")
    assert code == 0, err
    assert re.search(r"best epoch 1 of 1 \(rmse [0-9.]+ on the validation rows\)", out), out
    resolved = yaml.safe_load((tmp_path / "m" / RESOLVED_NAME).read_text())
    assert resolved["encoder"] == "sciptm/smiles-small" and resolved["targets"] == ["logS"]  # target in any case
    # the validation rows calibrate conformal intervals
    code, out, err = cli(capsys, "predict", d / "new.csv", "--model", tmp_path / "m", "--interval", "0.2",
                         "--out", tmp_path / "p.csv")
    assert code == 0, err
    pred = pd.read_csv(tmp_path / "p.csv")
    assert list(pred.columns) == ["SMILES", "logS_pred", "logS_lower", "logS_upper"]
    assert (pred["logS_lower"] <= pred["logS_pred"]).all() and (pred["logS_pred"] <= pred["logS_upper"]).all()


def test_column_errors_name_the_flag(esol_upper, tmp_path, capsys) -> None:
    d = esol_upper
    line = one_error(capsys, "finetune", d / "nocol.csv", "--targets", "logS", "--out", tmp_path / "m",
                     "--encoder", "tiny")
    assert "no smiles input column found" in line and "--column" in line and "structure_text" in line
    line = one_error(capsys, "finetune", d / "train.csv", "--targets", "solubility", "--out", tmp_path / "m",
                     "--encoder", "tiny")
    assert "no column 'solubility' (name it with --targets)" in line
    code, _, err = cli(capsys, "finetune", d / "train.csv", "--targets", "logS", "--out", tmp_path / "m",
                       "--encoder", "tiny", "--epochs", "1", "--ensemble", "2")
    assert code == 0, err
    line = one_error(capsys, "predict", d / "new.csv", "--model", tmp_path / "m", "--interval", "0.1")
    assert "--interval needs a model calibrated on validation rows" in line


def test_bench_quick_records_the_grid(tmp_path, capsys, mirror) -> None:
    code, _, err = cli(capsys, "bench", "chem", "--quick", "--models", "mean", "--no-report", "--out", tmp_path)
    assert code == 0, err
    resolved = yaml.safe_load((tmp_path / RESOLVED_NAME).read_text())
    from sciptm.benchmarks.fields import FIELDS

    quick = FIELDS.get("chem")
    assert resolved["tasks"] == list(quick.quick_tasks) and resolved["models"] == ["mean"]
    assert resolved["seeds"] == [0] and resolved["model_options"]["default"] == dict(quick.quick_options)


def test_tune_says_when_the_mean_predictor_wins(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    smiles = ["C" * n + "O" for n in range(1, 31)] + ["c1ccccc1" + "C" * n for n in range(30)]
    pd.DataFrame({"smiles": smiles, "y": rng.normal(size=len(smiles))}).to_csv(tmp_path / "noise.csv", index=False)
    code, out, err = cli(capsys, "tune", "--task", tmp_path / "noise.csv", "--input", "smiles", "--targets", "y",
                         "--task-type", "regression", "--model", "ecfp-rf", "--split", "random", "--n-trials", "2",
                         "--space", "{n_estimators: [5, 10]}", "--model-options", "{n_jobs: 1}", "--out", tmp_path / "t")
    assert code == 0, err
    best = float(re.search(r"best rmse = ([0-9.]+)", out).group(1))
    mean = float(re.search(r"mean predictor rmse = ([0-9.]+) on the same rows", out).group(1))
    assert ("note: the mean predictor does as well as or better than every trial" in out) == (mean <= best)
    assert mean <= best  # pure noise: nothing beats predicting the mean
    assert "mean predictor scores" in (tmp_path / "t" / "best_config.yaml").read_text()


def test_unknown_name_errors_list_every_entry() -> None:
    from sciptm.domains import DOMAINS
    from sciptm.errors import UnknownNameError
    from sciptm.features import FEATURES

    with pytest.raises(UnknownNameError, match=r"known: .*rdkit2d"):
        FEATURES.get("no-such-features")
    with pytest.raises(UnknownNameError, match=r"known: crystal, protein, .*smiles"):
        DOMAINS.get("no-such-domain")


def test_progress_is_silent_off_a_terminal_and_warnings_are_one_line(capsys) -> None:
    from sciptm import progress

    assert list(progress.progress_bar(range(5), "counting")) == list(range(5))
    assert capsys.readouterr().err == ""  # pytest's stderr is no terminal: no bar, no escape codes
    restore = progress.configure_logging(0)
    try:
        progress.set_progress("always")
        for _ in progress.progress_bar(range(20), "counting"):
            progress.set_status("busy")
        logging.getLogger("sciptm.somewhere").info("an info line")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = progress._show_warning
            warnings.warn("something odd\n  happened", UserWarning, stacklevel=1)
    finally:
        progress.set_progress(None)
        restore()
    err = capsys.readouterr().err.splitlines()
    assert "counting: 20/20 (busy)" in err and "an info line" in err
    assert "warning: something odd happened" in err and not any(".py" in line for line in err)
    assert len([line for line in err if line.startswith("counting")]) <= 11  # a tenth at a time, never per item


def test_quiet_flag_hides_info_lines(esol_upper, tmp_path, capsys) -> None:
    code, out, err = cli(capsys, "-q", "datasets", "list", "--domain", "smiles")
    assert code == 0 and "esol" in out and err == ""


def test_embed_finds_the_column_and_streams_csv(esol_upper, tmp_path, capsys) -> None:
    code, out, err = cli(capsys, "embed", esol_upper / "new.csv", "--encoder", "sciptm/smiles-small", "--device", "cpu",
                         "--out", tmp_path / "X.csv")
    assert code == 0, err
    X = pd.read_csv(tmp_path / "X.csv")
    assert X.shape[0] == 12 and X.columns[0] == "dim_0" and np.isfinite(X.to_numpy()).all()
    assert yaml.safe_load((tmp_path / f"X.{RESOLVED_NAME}").read_text())["column"] == "SMILES"


def test_collect_only_on_a_fresh_folder(esol_upper, tmp_path, capsys) -> None:
    code, out, err = cli(capsys, "bench", "chem", "--tasks", esol_upper / "train.csv", "--input", "SMILES", "--targets",
                         "logS", "--task-type", "regression", "--models", "mean", "--split", "random",
                         "--collect-only", "--out", tmp_path)
    assert code == 0, err
    assert f"no finished runs in {tmp_path} yet" in out and (tmp_path / "report.md").is_file()
