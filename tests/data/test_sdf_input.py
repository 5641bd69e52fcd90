"""SDF input (RDKit SDMolSupplier) for the API, finetune/predict/embed and bench; a bad record names the
molecule (issue 14, "also expected")."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from sciptm.cli.main import main
from sciptm.data.readers import read_sdf
from sciptm.errors import InvalidInputError

BAD_BLOCK = """broken-pentavalent
     RDKit          2D

  6  5  0  0  0  0  0  0  0  0999 V2000
    0.0000    0.0000    0.0000 C   0  0
    1.0000    0.0000    0.0000 C   0  0
   -1.0000    0.0000    0.0000 C   0  0
    0.0000    1.0000    0.0000 C   0  0
    0.0000   -1.0000    0.0000 C   0  0
    0.5000    0.5000    0.0000 C   0  0
  1  2  1  0
  1  3  1  0
  1  4  1  0
  1  5  1  0
  1  6  1  0
M  END
>  <logS>
0.5

$$$$
"""


@pytest.fixture(scope="module")
def sdf_files(chem_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sdf")
    df = pd.read_csv(chem_dir / "delaney-processed.csv").iloc[:40]
    good = d / "esol40.sdf"
    with Chem.SDWriter(str(good)) as writer:
        for name, smi, y in zip(df["Compound ID"], df["smiles"], df["measured log solubility in mols per litre"]):
            mol = Chem.MolFromSmiles(smi)
            mol.SetProp("_Name", str(name))
            mol.SetProp("logS", str(y))
            writer.write(mol)
    bad = d / "with_bad.sdf"
    bad.write_text(good.read_text() + BAD_BLOCK)
    from sciptm import Encoder

    Encoder.from_config(domain="smiles", size="tiny", seed=0).save_pretrained(d / "enc")
    return {"good": good, "bad": bad, "df": df, "enc": d / "enc", "dir": d}


def test_read_sdf_gives_names_smiles_and_properties(sdf_files) -> None:
    frame = read_sdf(sdf_files["good"])
    df = sdf_files["df"]
    assert list(frame.columns) == ["name", "smiles", "logS"] and len(frame) == 40
    assert frame["name"].tolist() == df["Compound ID"].astype(str).tolist()
    np.testing.assert_allclose(frame["logS"], df["measured log solubility in mols per litre"])
    same = [Chem.MolToSmiles(Chem.MolFromSmiles(a)) == b for a, b in zip(df["smiles"], frame["smiles"])]
    assert all(same)


def test_a_bad_record_names_the_molecule(sdf_files) -> None:
    with pytest.raises(InvalidInputError, match=r"record 41 of with_bad\.sdf \('broken-pentavalent'\): RDKit: "
                                                r"Explicit valence"):
        read_sdf(sdf_files["bad"])
    frame = read_sdf(sdf_files["bad"], errors="skip")
    assert len(frame) == 41 and pd.isna(frame["smiles"].iloc[40]) and frame["name"].iloc[40] == "broken-pentavalent"
    assert frame["logS"].iloc[40] == 0.5  # its SD properties are still read


def test_cli_finetune_predict_embed_and_bench_read_sdf(sdf_files, capsys, tmp_path: Path) -> None:
    good, enc = sdf_files["good"], sdf_files["enc"]
    args = ["finetune", good, "--targets", "logS", "--encoder", enc, "--epochs", "1", "--out", tmp_path / "m"]
    main([str(a) for a in args])
    main(["predict", str(good), "--model", str(tmp_path / "m"), "--out", str(tmp_path / "p.csv")])
    pred = pd.read_csv(tmp_path / "p.csv")
    assert len(pred) == 40 and "name" in pred.columns and pred.filter(like="logS").notna().all().all()
    main(["embed", str(good), "--encoder", str(enc), "--out", str(tmp_path / "X.npy")])
    assert np.load(tmp_path / "X.npy").shape[0] == 40
    main(["bench", "chem", "--tasks", str(good), "--input", "smiles", "--targets", "logS", "--task-type",
          "regression", "--models", "mean", "--split", "random", "--out", str(tmp_path / "b"), "--no-report"])
    rows = json.loads((tmp_path / "b" / "results.json").read_text())["rows"]
    assert rows[0]["task"] == "esol40" and rows[0]["n_test"] == 4
    # a bad record stops the command with one line naming the molecule
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["embed", str(sdf_files["bad"]), "--encoder", str(enc), "--out", str(tmp_path / "Y.npy")])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and err.startswith("error: ") and "'broken-pentavalent'" in err
