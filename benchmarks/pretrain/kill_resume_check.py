"""Crash-and-resume check with real processes: ``kill -9`` a pretraining run mid-way, resume it, and
compare it with an uninterrupted run of the same config.

    python benchmarks/pretrain/kill_resume_check.py [--work DIR] [--steps 200]

Runs ``python -m sciptm.pretraining`` three times (reference; victim killed with SIGKILL after its
second checkpoint, between checkpoints; victim resumed with ``--resume``) and prints whether the final
fp32 weights, tokens seen and the metrics log are identical. Exit status 0 only if they are.
Needs the data mirror (``SCIPTM_DATA_MIRROR`` or ``../shared/datasets`` next to the repository).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[2]


def cli(config: Path, out: Path, resume: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "sciptm.pretraining", "--config", str(config), "--out", str(out)]
    return cmd + (["--resume"] if resume else [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=None, help="scratch folder (default: a new temporary folder)")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    mirror = os.environ.get("SCIPTM_DATA_MIRROR") or str(REPO.parent / "shared" / "datasets")
    work = Path(args.work or tempfile.mkdtemp(prefix="sciptm-kill-resume-"))
    work.mkdir(parents=True, exist_ok=True)
    every = max(1, args.steps // 8)
    config = {
        "domain": "smiles", "size": "tiny", "train_source": "chem/moses_train.csv.gz",
        "val_source": "chem/moses_test.csv.gz", "mirror": mirror, "cache_dir": str(work / "cache"),
        "max_items": 20000, "max_val_items": 1000, "val_size": 256, "benchmark_files": ["chem/delaney-processed.csv"],
        "augment": True, "max_steps": args.steps, "batch_size": 32, "lr": 1e-3, "warmup_steps": 20,
        "checkpoint_every": every, "eval_every": every, "log_every": 10, "cpu_threads": 1, "workers": 1, "seed": 7,
    }
    cfg_path = work / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    t0 = time.time()
    subprocess.run(cli(cfg_path, work / "reference"), check=True, env=env, stdout=subprocess.DEVNULL)
    print(f"reference run: {args.steps} steps in {time.time() - t0:.0f} s")

    victim_dir = work / "victim"
    log = open(work / "victim.log", "w")
    proc = subprocess.Popen(cli(cfg_path, victim_dir), env=env, stdout=log, stderr=subprocess.STDOUT)
    ckpts = victim_dir / "checkpoints"
    while proc.poll() is None:
        done = sorted(p.name for p in ckpts.glob("step-*")) if ckpts.exists() else []
        if len(done) >= 2:
            time.sleep(0.4)  # land between checkpoints, mid-run
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        print("the victim finished before it could be killed; use more --steps")
        return 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    metrics = [json.loads(x) for x in (victim_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    last_logged = max(r["step"] for r in metrics)
    kept = sorted(p.name for p in ckpts.glob("step-*"))
    print(f"killed the victim with SIGKILL (exit {proc.returncode}) after it logged step {last_logged}; "
          f"complete checkpoints on disk: {kept}")

    t0 = time.time()
    out = subprocess.run(cli(cfg_path, victim_dir, resume=True), check=True, env=env, capture_output=True, text=True)
    resumed_line = next((x for x in out.stdout.splitlines() if x.startswith("resumed from")), "?")
    print(f"resumed run: {resumed_line} -> finished in {time.time() - t0:.0f} s")

    last = f"step-{args.steps:08d}"
    a = load_file(work / "reference" / "checkpoints" / last / "model" / "model.safetensors")
    b = load_file(victim_dir / "checkpoints" / last / "model" / "model.safetensors")
    same_weights = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    max_diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    state_a = json.loads((work / "reference" / "checkpoints" / last / "trainer_state.json").read_text())
    state_b = json.loads((victim_dir / "checkpoints" / last / "trainer_state.json").read_text())
    rows = [[(r["split"], r["step"], r["loss"])
             for r in map(json.loads, (d / "metrics.jsonl").read_text().splitlines())]
            for d in (work / "reference", victim_dir)]
    print(f"final weights identical: {same_weights} (max |diff| {max_diff:.3g} over {len(a)} tensors)")
    print(f"tokens seen: reference {state_a['tokens_seen']}, resumed {state_b['tokens_seen']}")
    print(f"metrics logs identical: {rows[0] == rows[1]} ({len(rows[0])} rows)")
    val = [r for r in map(json.loads, (victim_dir / "metrics.jsonl").read_text().splitlines()) if r["split"] == "val"]
    print(f"validation accuracy: untrained {val[0]['accuracy']:.4f} -> final {val[-1]['accuracy']:.4f}")
    ok = same_weights and state_a["tokens_seen"] == state_b["tokens_seen"] and rows[0] == rows[1]
    print("PASS" if ok else "FAIL", f"(work folder {work})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
