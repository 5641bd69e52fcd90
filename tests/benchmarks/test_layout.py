"""The results-folder contract (``sciptm.benchmarks.layout``): one writer/reader convention for run files,
split files and Matbench submissions, tested through the real runner and the real report."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import sciptm.datasets as sd
from sciptm.benchmarks import run
from sciptm.benchmarks.layout import ResultsLayout, legacy_model_dirs, model_dir
from sciptm.reports import BenchmarkResults, build_report

WINDOWS_REFUSES = set('<>:"\\|?*')


@pytest.mark.parametrize("name", ["sciptm/smiles-small:probe", "org/x:probe", "tiny+rdkit2d",
                                  "sciptm/crystal-small@random:probe", 'a<b>c"d\\e|f?g*h%i', "mean"])
def test_model_dir_is_portable_and_unique(name: str) -> None:
    folder = model_dir(name)
    assert not WINDOWS_REFUSES & set(folder) and "/" not in folder
    others = {name + "x", name.replace(":", "-"), name.replace("/", "_"), name.replace(":", "%3A")} - {name}
    assert all(model_dir(other) != folder for other in others)  # escaping never merges two models


def test_reader_finds_folders_of_older_versions(tmp_path: Path) -> None:
    layout = ResultsLayout(tmp_path)
    model = "sciptm/smiles-small:probe"
    assert legacy_model_dirs(model) == ["sciptm__smiles-small:probe", model]
    assert layout.find_run("esol", model, 0) is None
    old = tmp_path / "runs" / "esol" / "sciptm__smiles-small:probe" / "seed0.json"  # written by sciptm <= 0.1
    old.parent.mkdir(parents=True)
    old.write_text("{}")
    assert layout.find_run("esol", model, 0) == old and layout.has_run("esol", model, 0)
    new = layout.run_file("esol", model, 0)
    new.parent.mkdir(parents=True)
    new.write_text("{}")
    assert layout.find_run("esol", model, 0) == new  # the current name wins


def test_runner_and_report_agree_on_a_model_with_slash_and_colon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 mirror: Path) -> None:
    """A probe of an encoder folder named ``org/x`` (model ``org/x:probe``): the runner writes its run file
    through the layout, and the report finds it and draws its parity plot (the bug of issue #14 item 1)."""
    from sciptm import Encoder

    monkeypatch.chdir(tmp_path)
    Encoder.from_config(domain="smiles", size="tiny", seed=3).save_pretrained(tmp_path / "org" / "x")
    esol = sd.load("esol", progress=False)
    csv = tmp_path / "esol150.csv"
    frame = esol.df.iloc[:150][[esol.input_column, *esol.target_columns]]
    frame.to_csv(csv, index=False)
    out = tmp_path / "out"
    res = run("chem", tasks=[str(csv)], models=["mean", "org/x:probe"], split="random", seeds=(0,), out=out,
              input=esol.input_column, targets=list(esol.target_columns), task_type="regression",
              progress=False, report=False)
    layout = ResultsLayout(out)
    written = layout.run_file("esol150", "org/x:probe", 0)
    assert written.is_file() and written.parent.name == "org__x%3Aprobe"
    assert not (out / "runs" / "esol150" / "org").exists()
    assert res.run("esol150", "org/x:probe", 0)["y_pred"]
    files = build_report(out)
    md = files["markdown"].read_text()
    assert "no figure" not in md
    figures = sorted(p.name for p in files["figures"].iterdir())
    assert figures == ["esol150_parity.png"]
    # the parity plot holds one panel per model: the encoder's panel note is its own run's score
    value = json.loads(written.read_text())["value"]
    assert "org/x:probe" in md and f"{value:.3f}"[:4] in md

    # a results folder written by an older version (":" kept in the folder name) still reads and plots
    legacy = tmp_path / "legacy"
    shutil.copytree(out, legacy, ignore=shutil.ignore_patterns("report.*", "figures"))
    (legacy / "runs" / "esol150" / "org__x%3Aprobe").rename(legacy / "runs" / "esol150" / "org__x:probe")
    again = build_report(legacy)
    assert "no figure" not in again["markdown"].read_text()
    assert BenchmarkResults(legacy).run("esol150", "org/x:probe", 0) == res.run("esol150", "org/x:probe", 0)
