"""Chemprop, the chemistry peer, installs as pinned in ``sciptm[peers]`` and trains through sciptm's runner
(issue 14, item 4): one epoch on 50 ESOL molecules. CI installs the extra, so this runs there."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def test_chemprop_trains_one_epoch_on_50_molecules_through_the_runner(chem_dir: Path, tmp_path: Path) -> None:
    chemprop = pytest.importorskip("chemprop", reason="pip install 'sciptm[peers]'")
    from rdkit import rdBase

    from sciptm.benchmarks import run

    assert chemprop.__version__ == "2.2.4", (chemprop.__version__, rdBase.rdkitVersion)  # the pin in pyproject
    df = pd.read_csv(chem_dir / "delaney-processed.csv").iloc[:50]
    csv = tmp_path / "esol50.csv"
    df[["smiles", "measured log solubility in mols per litre"]].set_axis(["smiles", "logS"], axis=1).to_csv(
        csv, index=False)
    run("chem", tasks=[str(csv)], models=["chemprop"], seeds=[0], split="random", out=tmp_path / "res",
        input="smiles", targets=["logS"], task_type="regression", model_options={"chemprop": {"epochs": 1}},
        progress=False, report=False)
    result = json.loads((tmp_path / "res" / "results.json").read_text())
    assert result["failures"] == [], result["failures"]
    row = result["rows"][0]
    assert row["model"] == "chemprop" and row["n_test"] == 5 and np.isfinite(row["value"])
    run_file = next((tmp_path / "res" / "runs").rglob("seed0.json"))
    assert np.isfinite(np.asarray(json.loads(run_file.read_text())["y_pred"], dtype=float)).all()
