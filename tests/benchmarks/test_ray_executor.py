"""The Ray executor runs a benchmark grid in parallel with the same rows, files and resume as the serial runner."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from sciptm.benchmarks import run
from sciptm.benchmarks.executors import RayExecutor, SerialExecutor, make_executor

ray = pytest.importorskip("ray")

GRID = {"tasks": ["esol", "freesolv"], "models": ["mean", "ecfp-rf"], "seeds": [0], "split": "scaffold_balanced",
        "model_options": {"ecfp-rf": {"n_estimators": 20, "n_jobs": 1}}}
#: per-run keys that legitimately differ between two runs of the same job
VOLATILE = ("seconds", "device", "grid")  # grid: the id of the invocation that computed the row


def _rows(out: Path) -> list[dict]:
    rows = json.loads((out / "results.json").read_text())["rows"]
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


def _mtimes(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in sorted((out / "runs").rglob("seed*.json"))}


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module (the executor joins it instead of starting its own)."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_grid_matches_serial_and_resumes(tmp_path, mirror, local_ray) -> None:
    serial = run(out=tmp_path / "serial", progress=False, report=False, executor=SerialExecutor(), **GRID)
    on_ray = run(out=tmp_path / "ray", progress=False, report=False, executor=RayExecutor(), **GRID)
    assert len(serial.rows) == 4
    a, b = _rows(tmp_path / "serial"), _rows(tmp_path / "ray")
    assert {(r["task"], r["model"]) for r in a} == {(t, m) for t in GRID["tasks"] for m in GRID["models"]}
    assert a == b  # same order, same metrics, same predictions... (results.json drops y_true/y_pred)
    for path in (tmp_path / "serial" / "runs").rglob("seed*.json"):  # per-run files: predictions identical too
        twin = json.loads((tmp_path / "ray" / path.relative_to(tmp_path / "serial")).read_text())
        mine = json.loads(path.read_text())
        assert twin["y_pred"] == mine["y_pred"] and twin["y_true"] == mine["y_true"]
    assert on_ray.summary.drop(columns="grids").equals(serial.summary.drop(columns="grids"))  # ids: per invocation
    ray_res = json.loads((tmp_path / "ray" / "results.json").read_text())
    assert not ray_res["missing"] and not ray_res["failures"]
    assert ray_res["splits"] == json.loads((tmp_path / "serial" / "results.json").read_text())["splits"]

    # resume on Ray: one result removed -> only that one is recomputed, the others keep their files
    before = _mtimes(tmp_path / "ray")
    victim = tmp_path / "ray" / "runs" / "freesolv" / "ecfp-rf" / "seed0.json"
    victim.unlink()
    run(out=tmp_path / "ray", progress=False, report=False, executor=RayExecutor(), **GRID)
    after = _mtimes(tmp_path / "ray")
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"runs/freesolv/ecfp-rf/seed0.json"}
    assert _rows(tmp_path / "ray") == a
    # and a finished grid re-run submits nothing at all
    run(out=tmp_path / "ray", progress=False, report=False, executor=RayExecutor(), **GRID)
    assert _mtimes(tmp_path / "ray") == after


def test_a_failing_job_on_ray_is_reported_not_fatal(tmp_path, mirror, local_ray) -> None:
    res = run("chem", tasks=["freesolv"], models=["mean", "no-such-model"], seeds=[0], out=tmp_path,
              progress=False, report=False, executor=make_executor("ray"))
    data = json.loads((tmp_path / "results.json").read_text())
    assert [r["model"] for r in data["rows"]] == ["mean"] and len(res.rows) == 1
    assert data["failures"][0]["model"] == "no-such-model" and "unknown model" in data["failures"][0]["error"]
    assert data["missing"] == [{"task": "freesolv", "model": "no-such-model", "seed": 0}]


def test_make_executor_names() -> None:
    assert make_executor("serial").name == "serial"
    ex = make_executor("ray", address="auto", num_cpus=None, cpus_per_job=2)
    assert isinstance(ex, RayExecutor) and ex.address == "auto" and ex.cpus_per_job == 2
    with pytest.raises(KeyError, match="unknown executor 'dask'"):
        make_executor("dask")
    with pytest.raises(ValueError, match="cpus_per_job"):
        RayExecutor(cpus_per_job=0)
