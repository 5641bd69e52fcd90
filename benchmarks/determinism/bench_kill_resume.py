"""#13 must-show 4 (benchmark part): a benchmark grid of an encoder model killed with SIGKILL in the middle of
a fine-tuning run and rerun (the rerun resumes: finished runs are kept, the killed one starts over) gives
test predictions identical (max |diff| = 0) to an uninterrupted run in another process.

    SCIPTM_DATA_MIRROR=../shared/datasets OMP_NUM_THREADS=1 nice -n 10 \
        python benchmarks/determinism/bench_kill_resume.py --work /tmp/sciptm-determinism
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

import numpy as np

CMD = ["-m", "sciptm", "bench", "chem", "--tasks", "esol", "--models", "tiny", "--split", "scaffold_balanced",
       "--seeds", "0 1", "--no-report"]


def bench(out: Path, cfg: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *CMD, "--model-config", str(cfg), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def predictions(out: Path) -> dict[str, np.ndarray]:
    return {str(p.relative_to(out)): np.asarray(json.loads(p.read_text())["y_pred"], dtype=float)
            for p in sorted(out.glob("runs/*/*/*.json"))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/sciptm-determinism")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--kill-delay", type=float, default=3.0,
                    help="seconds after the first run file appears (seed 1 is then fine-tuning) to send SIGKILL")
    args = ap.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cfg = work / "models.yaml"
    cfg.write_text(f"tiny: {{epochs: {args.epochs}, batch_size: 32}}\n")

    t0 = time.perf_counter()
    ref = bench(work / "uninterrupted", cfg)
    log, _ = ref.communicate()
    if ref.returncode:
        raise SystemExit(f"uninterrupted run failed:\n{log}")
    print(f"uninterrupted run: {time.perf_counter() - t0:.0f} s, {len(predictions(work / 'uninterrupted'))} runs")

    out = work / "killed"
    proc = bench(out, cfg)
    while not list(out.glob("runs/*/*/*.json")) and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(args.kill_delay)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/*.json")}
    print(f"SIGKILL {'while running' if alive else 'after exit (raise --kill-delay? no: lower it)'}: "
          f"{len(done)} of 2 runs finished before the kill: {[str(p.relative_to(out)) for p in done]}")
    rerun = bench(out, cfg)
    log, _ = rerun.communicate()
    if rerun.returncode:
        raise SystemExit(f"rerun failed:\n{log}")
    untouched = all(p.stat().st_mtime_ns == m for p, m in done.items())
    print(f"rerun (resume): finished runs left untouched: {untouched}")
    a, b = predictions(work / "uninterrupted"), predictions(out)
    worst = 0.0
    for name in sorted(a):
        diff = float(np.abs(a[name] - b[name]).max())
        worst = max(worst, diff)
        print(f"  {name}: {len(a[name])} test predictions, max |diff| killed+resumed vs uninterrupted = {diff!r}")
    if sorted(a) != sorted(b) or worst != 0.0 or not untouched or not alive:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
