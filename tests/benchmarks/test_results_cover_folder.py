"""Several ``sciptm bench`` invocations into one folder: results.json and the report cover every finished run and
say which invocation (grid) each cell came from; report remarks on dropped split rows and ridge grid edges
(issue 14, item 9)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def esol120(chem_dir: Path, tmp_path: Path) -> Path:
    df = pd.read_csv(chem_dir / "delaney-processed.csv").iloc[:120]
    path = tmp_path / "esol120.csv"
    df[["smiles", "measured log solubility in mols per litre"]].rename(
        columns={"measured log solubility in mols per litre": "logS"}).to_csv(path, index=False)
    return path


def test_two_invocations_into_one_folder_are_both_summarized(esol120: Path, tmp_path: Path) -> None:
    from sciptm.benchmarks import run

    out = tmp_path / "res"
    common = dict(tasks=[str(esol120)], split="random", out=out, input="smiles", targets=["logS"],
                  task_type="regression", progress=False)
    run("chem", models=["mean"], seeds=[0, 1], command="first", report=False, **common)
    run("chem", models=["ecfp-rf"], seeds=[1], command="second", model_options={"ecfp-rf": {"n_estimators": 5}},
        report=True, **common)
    result = json.loads((out / "results.json").read_text())
    cells = {(r["model"], r["seed"]) for r in result["rows"]}
    assert cells == {("mean", 0), ("mean", 1), ("ecfp-rf", 1)}  # the first invocation's runs are still there
    assert [g["command"] for g in result["grids"]] == ["first", "second"]
    first, second = (g["id"] for g in result["grids"])
    by_model = {s["model"]: s for s in result["summary"]}
    assert by_model["mean"]["grids"] == [first] and by_model["mean"]["n_seeds"] == 2
    assert by_model["ecfp-rf"]["grids"] == [second] and by_model["ecfp-rf"]["seeds"] == [1]
    assert result["missing"] == [] and sorted(result["splits"]["esol120"]["seeds"]) == ["0", "1"]
    report = (out / "report.md").read_text()
    assert "mean" in report and "ecfp-rf" in report
    assert f"grid `{first}`" in report and "esol120/mean" in report and f"grid `{second}`" in report


def test_run_files_from_before_grids_are_attributed(esol120: Path, tmp_path: Path) -> None:
    from sciptm.benchmarks import run

    out = tmp_path / "old"
    common = dict(tasks=[str(esol120)], split="random", out=out, input="smiles", targets=["logS"],
                  task_type="regression", progress=False, report=False)
    run("chem", models=["mean"], seeds=[0], **common)
    run_file = next((out / "runs").rglob("seed0.json"))
    row = json.loads(run_file.read_text())
    row.pop("grid")  # as an older sciptm wrote it
    run_file.write_text(json.dumps(row))
    (out / "results.json").unlink()
    run("chem", models=["mean"], seeds=[0], collect_only=True, **common)
    result = json.loads((out / "results.json").read_text())
    assert result["rows"][0]["grid"] == result["grids"][-1]["id"]  # the cell belongs to the grid that holds it


def test_report_remarks_dropped_split_rows_and_ridge_at_a_grid_edge(tmp_path: Path) -> None:
    from sciptm.benchmarks.collect import ridge_notes, split_notes
    from sciptm.splits import Split

    split = Split(train=np.arange(0, 40), valid=np.arange(40, 45), test=np.arange(45, 50), method="contiguous",
                  seed=0, n=100, excluded=np.arange(50, 100))
    split.save(tmp_path / "splits" / "dms_x" / "contiguous_seed0.json")
    Split(train=np.arange(0, 80), valid=[80], test=np.arange(81, 100), method="random", seed=0, n=100).save(
        tmp_path / "splits" / "ok" / "random_seed0.json")
    notes = split_notes(tmp_path)
    assert len(notes) == 1 and "50 of 100 rows (50%)" in notes[0] and "dms_x" in notes[0]
    grid = [0.01, 1e5]
    rows = [{"task": "gb1", "model": "x:probe", "model_info": {"alpha": [1e5], "alpha_grid": grid}},
            {"task": "gb1", "model": "x:probe", "model_info": {"alpha": [1e5], "alpha_grid": grid}},
            {"task": "gfp", "model": "x:probe", "model_info": {"alpha": [1e5], "alpha_grid": grid}},
            {"task": "gfp", "model": "x:probe", "model_info": {"alpha": [3.0], "alpha_grid": grid}}]
    notes = ridge_notes(rows)
    assert len(notes) == 1 and notes[0].startswith("gb1/x:probe") and "highest" in notes[0] and "(2)" in notes[0]
