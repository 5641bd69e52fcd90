"""The materials benchmark field: Matbench folds, rf-composition, the crystal runner path, the text cache
and the Matbench submission file. Real mirror data (Matbench steels and phonons), tiny settings."""
from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from sklearn.model_selection import KFold, StratifiedKFold

import sciptm.datasets as sd
from sciptm.benchmarks import run
from sciptm.benchmarks.matbench import matbench_hash, submission_dict, write_submission
from sciptm.benchmarks.models import build_model
from sciptm.benchmarks.runner import Runner
from sciptm.benchmarks.textcache import texts_cache_dir
from sciptm.data.dataset import Dataset
from sciptm.data.fetch import fetch_file
from sciptm.data.splits import matbench_ids
from sciptm.domains.crystal import CrystalDomain
from sciptm.splits import make_split

STEELS = "matbench_steels"


@pytest.fixture(scope="module")
def steels_results(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dummy on all 5 official steels folds, rf-composition (small forest) on fold 0."""
    out = tmp_path_factory.mktemp("materials-bench")
    run("materials", tasks=[STEELS], models=["dummy"], seeds=[0, 1, 2, 3, 4], out=out, progress=False, report=False)
    run("materials", tasks=[STEELS], models=["rf-composition"], seeds=[0], out=out, progress=False, report=False,
        model_options={"rf-composition": {"n_estimators": 100, "tune_estimators": 40, "n_jobs": 1}})
    return out


def _row(out: Path, model: str, seed: int) -> dict:
    return json.loads((out / "runs" / STEELS / model / f"seed{seed}.json").read_text())


def test_official_folds_equal_seeded_kfold(mirror: Path) -> None:
    """Matbench v0.1 folds: KFold(5, shuffle=True, random_state=18012019) for regression tasks (all 10 checked
    from the row count), StratifiedKFold with the same seed for classification tasks (checked where the
    mirror holds the labels)."""
    card = sd.CARDS[STEELS]
    path, _ = fetch_file(card, card.folds_file, progress=False)
    with gzip.open(path, "rt") as fh:
        splits = json.load(fh)["splits"]
    names = [n for n in sd.list_datasets("crystal")["name"] if n.startswith("matbench_") and not n.endswith("_formula")]
    checked = []
    for name in names:
        c = sd.CARDS[name]
        ids = np.array(matbench_ids(c.split.predefined.task_key, c.n_rows))
        if c.task == "regression":
            folds = KFold(n_splits=5, shuffle=True, random_state=18012019).split(np.arange(c.n_rows))
        elif c.in_mirror and all(f.in_mirror for f in c.files):
            labels = sd.load(name, progress=False).targets.iloc[:, 0].to_numpy()
            folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=18012019).split(labels, labels)
        else:
            continue
        for k, (_, test) in enumerate(folds):
            assert sorted(ids[test]) == sorted(splits[name][f"fold_{k}"]["test"]), (name, k)
        assert c.split.protocol_id == "matbench-v0.1-5fold"
        checked.append(name)
    assert {"matbench_steels", "matbench_phonons", "matbench_expt_is_metal", "matbench_glass"} <= set(checked)
    assert len(checked) >= 12, checked


def test_runner_uses_official_folds_and_dummy_matches_leaderboard(steels_results: Path) -> None:
    ds = sd.load(STEELS, progress=False)
    rows = [_row(steels_results, "dummy", k) for k in range(5)]
    for k, row in enumerate(rows):
        assert row["protocol"] == "matbench-v0.1-5fold" and row["split"] == "predefined"
        assert row["n_test"] == len(ds.folds()[k]["test"]) and row["n_valid"] == 0
    # the leaderboard's Dummy (training mean) on steels: 229.7445 MAE over the 5 folds
    assert np.mean([r["value"] for r in rows]) == pytest.approx(229.7445, abs=1e-3)


def test_rf_composition_beats_dummy_and_records_tuning(steels_results: Path) -> None:
    rf, dummy = _row(steels_results, "rf-composition", 0), _row(steels_results, "dummy", 0)
    assert rf["value"] < 0.6 * dummy["value"], (rf["value"], dummy["value"])
    info = rf["model_info"]
    assert info["chosen"]["max_features"] in (0.33, "sqrt", 1.0) and len(info["oob_scores"]) == 6
    assert info["n_fit_rows"] == rf["n_train"]  # tuned and fit on the training fold only


def test_submission_round_trips_through_matbench(steels_results: Path, tmp_path: Path) -> None:
    matbench = pytest.importorskip("matbench.bench", reason="pip install --no-deps matbench matminer")
    path = write_submission(steels_results, "dummy", [STEELS, "mp_formation_energy"])
    assert path.name == "results.json.gz"
    plain = tmp_path / "results.json"  # matbench 0.6's from_file reads plain JSON
    with gzip.open(path, "rt") as fh:
        plain.write_text(fh.read())
    mb = matbench.MatbenchBenchmark.from_file(str(plain))
    task = mb.tasks_map[STEELS]
    ds = sd.load(STEELS, progress=False)
    ids = matbench_ids(STEELS, len(ds.df))
    for k in range(5):
        fold = task.results[f"fold_{k}"]
        assert set(fold["data"]) == {ids[i] for i in ds.folds()[k]["test"]}
        assert fold["scores"]["mae"] == pytest.approx(_row(steels_results, "dummy", k)["value"], rel=1e-9)
    assert "mp_formation_energy" in mb.user_metadata["left_out"]
    # a changed prediction breaks Matbench's checksum
    d = json.loads(plain.read_text())
    first = next(iter(d["tasks"][STEELS]["results"]["fold_0"]["data"]))
    d["tasks"][STEELS]["results"]["fold_0"]["data"][first] += 1.0
    with pytest.raises(ValueError, match="Hash"):
        matbench.MatbenchBenchmark.from_dict(d)
    # rf-composition ran one fold only: no complete Matbench task to submit
    with pytest.raises(ValueError, match="no Matbench task has all 5 folds"):
        write_submission(steels_results, "rf-composition", [STEELS])
    fresh = submission_dict(steels_results, "dummy", [STEELS])
    assert fresh["hash"] == matbench_hash(fresh) and fresh["tasks"] == mb.as_dict()["tasks"]


def test_composition_and_structure_tasks_get_their_domain_kind(mirror: Path, tmp_path: Path) -> None:
    runner = Runner("materials", tmp_path)
    assert runner.domain_for(sd.load(STEELS, progress=False)).kind == "composition"
    assert runner.domain_for(sd.load("matbench_phonons", progress=False)).kind == "structure"
    chem = Runner("chem", tmp_path / "chem")
    assert chem.domain_for(sd.load("esol", progress=False)) is chem.domain


def test_structure_task_runner_path_and_text_cache(mirror: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    full = sd.load("matbench_phonons", progress=False)
    ds = Dataset(name=full.name, card=full.card, df=full.df.iloc[:60].reset_index(drop=True),
                 file_sha256=full.file_sha256, progress=False)
    runner = Runner("materials", tmp_path, split="random")
    texts, valid, invalid = runner.prepare(ds)
    assert valid.all() and not invalid and all(t.startswith("SG_") for t in texts)
    assert len(list(texts_cache_dir().glob("*.json.gz"))) >= 1

    def no_symmetry(*args, **kwargs):
        raise RuntimeError("symmetry analysis ran again: the text cache was not used")

    monkeypatch.setattr(CrystalDomain, "to_texts", no_symmetry)
    monkeypatch.setattr(CrystalDomain, "prepare", no_symmetry)
    t0 = time.perf_counter()
    again = Runner("materials", tmp_path / "again", split="random").prepare(ds)
    assert again[0] == texts and time.perf_counter() - t0 < 1.0
    monkeypatch.undo()

    split = make_split("random", n=len(ds.df), seed=0, sizes=(0.8, 0.1, 0.1))
    data = runner.task_data(ds, texts, valid, split)
    assert data.domain_config["kind"] == "structure" and len(data.raw_inputs) == 60
    pred = build_model("tiny+magpie", {"epochs": 1, "batch_size": 16}).fit_predict(data, 0)
    assert pred.shape == (len(data.test),) and np.isfinite(pred).all()


def test_encoder_carves_validation_from_training_fold(mirror: Path, tmp_path: Path) -> None:
    ds = sd.load(STEELS, progress=False)
    runner = Runner("materials", tmp_path)
    texts, valid, _ = runner.prepare(ds)
    data = runner.task_data(ds, texts, valid, runner.make_split(ds, 0))
    assert len(data.valid) == 0
    model = build_model("tiny", {"epochs": 2, "batch_size": 64, "valid_fraction": 0.1})
    pred = model.fit_predict(data, 0)
    assert pred.shape == (len(data.test),) and np.isfinite(pred).all()


def test_structure_encoder_reads_composition_tasks(mirror: Path, tmp_path: Path) -> None:
    """A crystal encoder saved with kind=structure is switched to the task's kind (shared vocabulary)."""
    from sciptm.encoders import Encoder

    Encoder.from_config(domain="crystal", size="tiny", seed=0).save_pretrained(tmp_path / "enc")
    ds = sd.load(STEELS, progress=False)
    runner = Runner("materials", tmp_path / "out")
    texts, valid, _ = runner.prepare(ds)
    data = runner.task_data(ds, texts, valid, runner.make_split(ds, 0))
    assert data.domain_config["kind"] == "composition"
    for name in (f"{tmp_path / 'enc'}:probe", str(tmp_path / "enc")):
        pred = build_model(name, {"epochs": 1, "batch_size": 64}).fit_predict(data, 0)
        assert pred.shape == (len(data.test),) and np.isfinite(pred).all()


def test_crystal_token_text_is_accepted_again() -> None:
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    structure, composition = CrystalDomain(), CrystalDomain(kind="composition")
    text = structure.to_text(nacl)
    assert structure.to_text(text) == text
    ctext = composition.to_text("Fe0.62Ni0.19Co0.15Mo0.02Ti0.02")
    assert composition.to_text(ctext) == ctext
    assert not structure.is_token_text(ctext) and not composition.is_token_text(text)
    assert not composition.is_token_text("Fe") and composition.to_text("Fe") == "Fe n_1"
    with pytest.raises(ValueError, match="not CIF/POSCAR"):
        structure.to_text("SG_225 a_5.6 Na 4a Xq 4b")
