"""Issue 3, Must-show 3: kill the benchmark with SIGKILL mid-run, rerun the same command, and check
that finished (task, model, seed) results are not redone and that results.json equals an
uninterrupted run's (timings and creation date aside).

    SCIPTM_DATA_MIRROR=../shared/datasets python benchmarks/chem/kill_resume_check.py --work /tmp/killcheck
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

CMD = ["-m", "sciptm", "bench", "chem", "--tasks", "esol,bbbp", "--models", "mean,ecfp-rf,tiny",
       "--split", "scaffold_balanced", "--seeds", "0", "1", "--no-report"]
VOLATILE = {"seconds", "created", "environment", "command"}


def bench(out: Path, cfg: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *CMD, "--model-config", str(cfg), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def comparable(path: Path) -> dict:
    data = json.loads(path.read_text())
    data["rows"] = sorted(({k: v for k, v in r.items() if k not in VOLATILE} for r in data["rows"]),
                          key=lambda r: (r["task"], r["model"], r["seed"]))
    return {k: v for k, v in data.items() if k not in VOLATILE}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/sciptm-killcheck")
    ap.add_argument("--kill-after", type=int, default=5, help="SIGKILL once this many results are written")
    args = ap.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cfg = work / "models.yaml"
    cfg.write_text("tiny: {epochs: 3, batch_size: 64}\necfp-rf: {n_estimators: 100, n_jobs: 1}\n")

    t0 = time.perf_counter()
    ref = bench(work / "uninterrupted", cfg)
    ref.communicate()
    t_ref = time.perf_counter() - t0

    out = work / "killed"
    proc = bench(out, cfg)
    while len(list(out.glob("runs/*/*/*.json"))) < args.kill_after and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/*.json")}
    print(f"killed with SIGKILL after {len(done)} of 12 results", flush=True)
    rerun = bench(out, cfg)
    log, _ = rerun.communicate()
    print(log.strip().splitlines()[0])
    untouched = all(p.stat().st_mtime_ns == m for p, m in done.items())
    same = comparable(out / "results.json") == comparable(work / "uninterrupted" / "results.json")
    print(f"finished results untouched by the rerun: {untouched}")
    print(f"results.json equals the uninterrupted run's (timings aside): {same}")
    print(f"uninterrupted run: {t_ref:.0f} s")
    if not (untouched and same):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
