"""User CSVs in ``sciptm bench``: a protein CSV defaults to Spearman and can bring its own fold column; the CLI
takes ``--sizes`` (issue 14, item 9)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sciptm.cli.main import main

WT = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRV"  # 40 residues


@pytest.fixture
def dms_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    wt = WT
    rows = []
    for pos in range(40):
        for aa in "AGLV":
            if wt[pos] == aa:
                continue
            seq = wt[:pos] + aa + wt[pos + 1:]
            rows.append({"sequence": seq, "fitness": -abs(pos - 20) / 10 + (aa == "L") + rng.normal(0, 0.1),
                         "fold": pos // 8})  # five contiguous position blocks
    path = tmp_path / "dms_toy.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_protein_csv_defaults_to_spearman_and_uses_its_fold_column(dms_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(dms_csv)
    main(["bench", "protein", "--tasks", str(dms_csv), "--input", "sequence", "--targets", "fitness",
          "--task-type", "regression", "--models", "mean,onehot-ridge", "--split", "column:fold", "--seeds", "0 3",
          "--out", str(tmp_path / "res"), "--no-report"])
    result = json.loads((tmp_path / "res" / "results.json").read_text())
    rows = {(r["model"], r["seed"]): r for r in result["rows"]}
    assert {r["metric"] for r in rows.values()} == {"spearman"}  # the protein field's metric, not RMSE
    for seed in (0, 3):
        assert rows[("onehot-ridge", seed)]["n_test"] == int((frame["fold"] == seed).sum())
        assert rows[("onehot-ridge", seed)]["protocol"] == "dms_toy-column-fold"
    assert np.isfinite(rows[("onehot-ridge", 0)]["value"])


def test_bad_fold_column_and_sizes_are_one_line_errors(dms_csv: Path, tmp_path: Path, capsys) -> None:
    for args, expected in [
        (["--split", "column:nope"], "split column 'nope' not found"),
        (["--split", "column:fold", "--seeds", "7"], "has folds [0, 1, 2, 3, 4]; seed 7"),
        (["--split", "random", "--sizes", "0.8 0.1"], "--sizes takes three non-negative fractions"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main(["bench", "protein", "--tasks", str(dms_csv), "--input", "sequence", "--targets", "fitness",
                  "--task-type", "regression", "--models", "mean", "--out", str(tmp_path / "bad"), "--no-report",
                  *args])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and expected in err, err


def test_cli_sizes(chem_dir: Path, tmp_path: Path) -> None:
    df = pd.read_csv(chem_dir / "delaney-processed.csv").iloc[:100]
    csv = tmp_path / "esol100.csv"
    df[["smiles", "measured log solubility in mols per litre"]].set_axis(["smiles", "y"], axis=1).to_csv(csv)
    main(["bench", "chem", "--tasks", str(csv), "--input", "smiles", "--targets", "y", "--task-type", "regression",
          "--models", "mean", "--split", "random", "--sizes", "0.6 0.2 0.2", "--out", str(tmp_path / "r"),
          "--no-report"])
    row = json.loads((tmp_path / "r" / "results.json").read_text())["rows"][0]
    assert (row["n_train"], row["n_valid"], row["n_test"]) == (60, 20, 20)
