"""Fine-tuning with and without the encoder's hidden-state dropout: does ``encoder_dropout: 0`` cost accuracy?

The ``tiny`` recipe of ``benchmarks/chem/models.yaml`` (30 epochs, patience 8, batch 64, lr 5e-4, head lr 1e-3)
on ESOL and BBBP, ``scaffold_balanced`` splits, seeds 0 1 2, run by ``sciptm bench chem`` twice: with the
encoder's own hidden-state dropout (``encoder_dropout: null``, 0.1) and without (``encoder_dropout: 0``); the
attention-probability dropout is 0 in both (the fine-tuning default since #16), the head keeps its dropout.
Writes ``results/finetune_dropout.{json,md}``: per-seed test scores, mean ± sd, and the paired differences.

Usage (each ``sciptm bench`` call is one task x seed x setting, resumable; put it behind a CPU queue)::

    python benchmarks/speed/finetune_dropout.py --run --runs /tmp/finetune_dropout   # fine-tune what is missing
    python benchmarks/speed/finetune_dropout.py --runs /tmp/finetune_dropout         # summarize only
"""
from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RECIPE = "epochs: 30, patience: 8, batch_size: 64, lr: 0.0005, head_lr: 0.001"
SETTINGS = {"drop01": f"{{tiny: {{{RECIPE}}}}}", "drop0": f"{{tiny: {{{RECIPE}, encoder_dropout: 0.0}}}}"}
LABELS = {"drop01": "hidden dropout 0.1 (encoder's own)", "drop0": "encoder_dropout 0"}
TASKS = ("esol", "bbbp")


def command(task: str, seed: int, setting: str, runs: Path) -> list[str]:
    return ["sciptm", "bench", "chem", "--tasks", task, "--models", "tiny", "--split", "scaffold_balanced",
            "--seeds", str(seed), "--model-options", SETTINGS[setting], "--out", str(runs / setting), "--no-report"]


def collect(runs: Path) -> dict:
    """Per task and setting, the test scores by seed (from each grid's ``results.json``)."""
    out: dict = {}
    for setting in SETTINGS:
        path = runs / setting / "results.json"
        if not path.exists():
            continue
        for row in json.loads(path.read_text())["rows"]:
            if row.get("value") is None:
                continue
            cell = out.setdefault(row["task"], {"metric": row["metric"]}).setdefault(setting, {})
            cell[int(row["seed"])] = {"value": float(row["value"]), "seconds": row.get("seconds")}
    return out


def summarize(runs: Path, out_dir: Path) -> dict:
    data = collect(runs)
    summary: dict = {"recipe": RECIPE, "split": "scaffold_balanced", "settings": LABELS, "tasks": {},
                     "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    lines = ["# Fine-tuning `tiny` with and without the encoder's hidden-state dropout", "",
             (f"`python benchmarks/speed/finetune_dropout.py` ({summary['when']}): `sciptm bench chem`, `tiny` recipe "
              f"of `benchmarks/chem/models.yaml` ({RECIPE}), `scaffold_balanced`, attention dropout 0 in both."), "",
             "| task | metric | seed | hidden dropout 0.1 | encoder_dropout 0 | difference (0 minus 0.1) |",
             "|---|---|---|---|---|---|"]
    for task, cells in data.items():
        metric = cells["metric"]
        a, b = cells.get("drop01", {}), cells.get("drop0", {})
        seeds = sorted(set(a) & set(b))
        diffs = [b[s]["value"] - a[s]["value"] for s in seeds]
        summary["tasks"][task] = {
            "metric": metric, "seeds": seeds,
            "drop01": [a[s]["value"] for s in seeds], "drop0": [b[s]["value"] for s in seeds],
            "drop01_mean": float(np.mean([a[s]["value"] for s in seeds])) if seeds else None,
            "drop01_std": float(np.std([a[s]["value"] for s in seeds])) if seeds else None,
            "drop0_mean": float(np.mean([b[s]["value"] for s in seeds])) if seeds else None,
            "drop0_std": float(np.std([b[s]["value"] for s in seeds])) if seeds else None,
            "paired_difference_mean": float(np.mean(diffs)) if diffs else None,
            "unpaired_seeds": sorted(set(a) ^ set(b))}
        for s in seeds:
            lines.append(f"| {task} | {metric} | {s} | {a[s]['value']:.3f} | {b[s]['value']:.3f} | "
                         f"{b[s]['value'] - a[s]['value']:+.3f} |")
        if seeds:
            t = summary["tasks"][task]
            lines.append(f"| {task} | {metric} | mean ± sd | {t['drop01_mean']:.3f} ± {t['drop01_std']:.3f} | "
                         f"{t['drop0_mean']:.3f} ± {t['drop0_std']:.3f} | {t['paired_difference_mean']:+.3f} |")
    lines += ["", "RMSE: lower is better; ROC-AUC: higher is better. sd over seeds (population)."]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "finetune_dropout.json").write_text(json.dumps(summary, indent=2))
    (out_dir / "finetune_dropout.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return summary


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=Path, default=Path("/tmp/finetune_dropout"), help="sciptm bench output folders")
    ap.add_argument("--run", action="store_true", help="fine-tune the missing task x seed x setting cells first")
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    if args.run:
        for task in TASKS:
            for seed in args.seeds:
                for setting in SETTINGS:
                    done = collect(args.runs).get(task, {}).get(setting, {})
                    if seed not in done:
                        subprocess.run(command(task, seed, setting, args.runs), check=True)
    summarize(args.runs, args.out)


if __name__ == "__main__":
    main()
