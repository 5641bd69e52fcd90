"""Run the sweep.yaml grid serially and on a local Ray instance; check both give the same rows.

    python benchmarks/ray_sweep/compare.py [--out DIR] [--json FILE] [--num-cpus 2]

Each run is the real command line (``sciptm bench --config sweep.yaml --executor ...``) in a fresh process, so
the wall times include start-up (and, for Ray, starting the local instance). A third run on Ray into the
finished folder checks resume: nothing may be recomputed. The result folders go to ``--out`` (default
``benchmarks/ray_sweep/results``, not tracked); ``--json`` (default ``benchmarks/ray_sweep/comparison.json``) gets
both row sets, the wall times and the checks.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: per-run fields that legitimately differ between two runs of the same job
VOLATILE = ("seconds", "device")


def bench(out: Path, *extra: str) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "sciptm", "bench", "--config", str(HERE / "sweep.yaml"), "--out", str(out), *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return wall, proc.stdout


def rows(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())["rows"]


def mtimes(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in sorted((out / "runs").rglob("seed*.json"))}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--json", type=Path, default=HERE / "comparison.json")
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray instance")
    args = parser.parse_args(argv)
    serial_dir, ray_dir = args.out / "serial", args.out / "ray"
    for d in (serial_dir, ray_dir):
        shutil.rmtree(d, ignore_errors=True)
    serial_s, _ = bench(serial_dir, "--executor", "serial")
    ray_s, _ = bench(ray_dir, "--executor", "ray", "--num-cpus", str(args.num_cpus))
    files_before = mtimes(ray_dir)
    resume_s, resume_out = bench(ray_dir, "--executor", "ray", "--num-cpus", str(args.num_cpus))
    a, b = rows(serial_dir), rows(ray_dir)
    strip = lambda rs: [{k: v for k, v in r.items() if k not in VOLATILE} for r in rs]
    preds_equal = all(json.loads(p.read_text())["y_pred"] == json.loads((ray_dir / p.relative_to(serial_dir)).read_text())[
        "y_pred"] for p in (serial_dir / "runs").rglob("seed*.json"))
    result = {
        "grid": str(HERE / "sweep.yaml"), "num_cpus": args.num_cpus,
        "wall_seconds": {"serial": round(serial_s, 2), "ray": round(ray_s, 2), "ray_resume": round(resume_s, 2)},
        "job_seconds": {"serial": {f"{r['task']}/{r['model']}": r["seconds"] for r in a},
                        "ray": {f"{r['task']}/{r['model']}": r["seconds"] for r in b}},
        "rows_identical": strip(a) == strip(b), "predictions_identical": preds_equal,
        "resume_recomputed_nothing": mtimes(ray_dir) == files_before and "(4 already done)" in resume_out,
        "rows": {"serial": a, "ray": b},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    table = [(r["task"], r["model"], r["metric"], r["value"], q["value"]) for r, q in zip(a, b)]
    for task, model, metric, v1, v2 in table:
        print(f"{task:>10s} {model:>8s} {metric} serial {v1:.6f} ray {v2:.6f}")
    print(json.dumps({k: result[k] for k in ("wall_seconds", "rows_identical", "predictions_identical",
                                              "resume_recomputed_nothing")}))
    return result


if __name__ == "__main__":
    main()
