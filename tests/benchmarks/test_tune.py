"""``sciptm.tuning``: optuna search inside the training rows only, pruning, and a best config the runner reads."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from sciptm import tuning
from sciptm.benchmarks import build_model, run
from sciptm.splits import Split
from sciptm.tuning import inner_task, parse_space, tune

optuna = pytest.importorskip("optuna")


@pytest.fixture(scope="module")
def esol_csv(chem_dir, tmp_path_factory):
    """120 real ESOL molecules as a user's CSV task."""
    df = pd.read_csv(chem_dir / "delaney-processed.csv").iloc[:120]
    path = tmp_path_factory.mktemp("tune") / "esol120.csv"
    df[["smiles", "measured log solubility in mols per litre"]].set_axis(["smiles", "y"], axis=1).to_csv(path, index=False)
    return path


CSV = {"input": "smiles", "targets": ["y"], "task_type": "regression"}


def test_search_stays_inside_the_training_rows_and_best_config_runs(esol_csv, tmp_path, monkeypatch) -> None:
    seen: list[dict[str, np.ndarray]] = []
    real_build = tuning.build_model

    class Spy:  # records the dataset rows each trial's model is given, then runs the real model
        def __init__(self, name, options):
            self.inner = real_build(name, options)

        def fit_predict(self, data, seed):
            seen.append({part: np.asarray(data.rows)[getattr(data, part)] for part in ("train", "valid", "test")}
                        | {"all": np.asarray(data.rows)})
            return self.inner.fit_predict(data, seed)

    monkeypatch.setattr(tuning, "build_model", Spy)
    out = tmp_path / "tune"
    res = tune(str(esol_csv), "ecfp-rf", {"n_estimators": {"low": 5, "high": 40}}, split="scaffold_balanced",
               n_trials=3, model_options={"n_jobs": 1}, out=out, progress=False, **CSV)

    outer = Split.load(out / "splits" / "esol120" / "scaffold_balanced_seed0.json")  # the bench split file
    assert np.array_equal(np.sort(res.outer["test"]), np.sort(outer.test))
    held_out = set(outer.test.tolist()) | set(outer.valid.tolist())
    assert len(seen) == 3 + 1 and held_out  # 3 trials + the mean predictor scored on the same inner rows
    for rows in seen:
        assert set(rows["all"].tolist()) == set(outer.train.tolist())  # the model's data is the training rows...
        assert not held_out & set(rows["all"].tolist())  # ...never a valid or test row
        assert not set(rows["train"]) & set(rows["test"]) and len(rows["test"]) > 0  # inner train / inner valid
        assert len(rows["train"]) + len(rows["test"]) == len(outer.train) and not len(rows["valid"])

    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 3 and (trials["state"] == "COMPLETE").all()
    assert trials["params_n_estimators"].between(5, 40).all()
    best = yaml.safe_load((out / "best_config.yaml").read_text())
    assert best == {"ecfp-rf": {"n_jobs": 1, "n_estimators": res.best_params["n_estimators"]}}
    assert res.best_value == pytest.approx(trials["value"].min())
    # the best config is a benchmark's model_options as it is
    assert build_model("ecfp-rf", best["ecfp-rf"]).options["n_estimators"] == res.best_params["n_estimators"]
    bench = run("chem", tasks=[str(esol_csv)], models=["ecfp-rf"], split="scaffold_balanced", seeds=[0],
                out=out / "bench", model_options=best, progress=False, report=False, **CSV)
    data = json.loads((out / "bench" / "results.json").read_text())
    assert data["config"]["model_options"] == best and not data["failures"] and len(bench.rows) == 1
    assert data["rows"][0]["split_hash"] == outer.hash  # the same outer split as the search


def test_encoder_trials_report_epochs_and_get_pruned(esol_csv, tmp_path) -> None:
    space = {"lr": {"low": 1e-4, "high": 3e-3, "log": True}, "dropout": [0.0, 0.2], "epochs": 3, "batch_size": 32}
    res = tune(str(esol_csv), "tiny", space, split="random", n_trials=4, startup_trials=1, out=tmp_path,
               progress=False, **CSV)
    trials = res.study.trials
    assert len(trials) == 4 and all(t.intermediate_values for t in trials)  # one report per epoch
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete and all(sorted(t.intermediate_values) == [0, 1, 2] for t in complete)
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned and all(len(t.intermediate_values) < 3 for t in pruned)
    best = yaml.safe_load((tmp_path / "best_config.yaml").read_text())["tiny"]
    assert best["epochs"] == 3 and best["dropout"] in (0.0, 0.2) and 1e-4 <= best["lr"] <= 3e-3
    assert set(pd.read_csv(tmp_path / "trials.csv")["state"]) <= {"COMPLETE", "PRUNED"}


def test_space_and_inner_split_checks() -> None:
    space = parse_space({"n": {"low": 1, "high": 5}, "x": {"low": 0.1, "high": 1.0, "log": True}, "c": [1, 2],
                         "k": {"type": "int", "low": 2, "high": 8, "step": 2}, "fixed": "gelu"})
    assert {p.name: p.kind for p in space.values()} == {"n": "int", "x": "float", "c": "categorical", "k": "int",
                                                         "fixed": "fixed"}
    for bad, match in [({"x": {"low": 0, "high": 1, "log": True}}, "log range"), ({"x": {"low": 2, "high": 1}}, "low <= high"),
                       ({"x": {"low": 1}}, "both low and high"), ({"x": {"choices": []}}, "empty"),
                       ({"x": {"low": 1, "high": 2, "spread": 3}}, "unknown key"), ({}, "non-empty")]:
        with pytest.raises(ValueError, match=match):
            parse_space(bad)
    from sciptm.benchmarks.taskdata import TaskData

    data = TaskData(name="t", task_type="regression", domain="smiles", metric="rmse", target_names=["y"],
                    texts=[f"C{'C' * i}O" for i in range(30)], y=np.arange(30, dtype=float)[:, None],
                    rows=np.arange(100, 130), train=np.arange(20), valid=np.arange(20, 25), test=np.arange(25, 30))
    inner = inner_task(data, 0.25, seed=1)
    assert list(inner.rows) == list(range(100, 120)) and len(inner.test) == 5 and len(inner.valid) == 0
    assert sorted([*inner.train, *inner.test]) == list(range(20))
    with pytest.raises(ValueError, match="between 0 and 1"):
        inner_task(data, 1.0)
