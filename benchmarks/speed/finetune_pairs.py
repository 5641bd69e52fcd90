"""Fine-tuning ``tiny`` on ESOL against Chemprop 2, as paired fits over many seeds and thread counts in one run.

``run.py``'s ``finetune`` section runs three seeds and several sciptm variants; on this shared machine a fit's
seconds per epoch move by up to ~25% between fits with nothing changed, so three pairs do not settle a ratio
near 1. Here each seed is one pair (sciptm's default fit and Chemprop's, back to back, which one runs first
alternating by seed) on the same rows (``run.py``'s split of the seed: 80/10/10), at each ``--threads``
setting (the same number of threads on both sides, PyTorch's ``set_num_threads``); the thread counts
alternate within a seed so both see the same stretch of machine time. Per thread count it reports the median
s/epoch of each side, the ratio of the medians, the per-seed ratios (median, geometric mean, range) and how
many seeds sciptm was faster, plus the test RMSE of both sides.

Usage::

    python benchmarks/speed/finetune_pairs.py --threads 1 2 --seeds 0 1 2 3 4 5 6 7 \\
        --out benchmarks/speed/results/finetune_pairs

Writes ``finetune_pairs.json`` (every fit) and ``finetune_pairs.md`` in ``--out``; resumable (finished
(threads, seed) pairs are kept unless ``--force``).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import OUT, _chemprop_epochs, _sciptm_epochs, ceiling, mirror


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {"pairs": {}}


def summary(pairs: dict[str, Any], threads: int) -> dict[str, Any] | None:
    """Medians, ratios and counts over the finished seeds of one thread count."""
    rows = [p for p in pairs.values() if p["threads"] == threads and "sciptm" in p and "chemprop" in p]
    if not rows:
        return None
    ours = np.array([r["sciptm"]["s_per_epoch"] for r in rows])
    ref = np.array([r["chemprop"]["s_per_epoch"] for r in rows])
    ratio = ref / ours  # > 1: sciptm faster
    return {"threads": threads, "seeds": [r["seed"] for r in rows], "n": len(rows),
            "sciptm_s_per_epoch": float(np.median(ours)), "chemprop_s_per_epoch": float(np.median(ref)),
            "ratio_of_medians": float(np.median(ref) / np.median(ours)),
            "ratio_median": float(np.median(ratio)), "ratio_geomean": float(np.exp(np.mean(np.log(ratio)))),
            "ratio_min": float(ratio.min()), "ratio_max": float(ratio.max()),
            "sciptm_faster": int((ratio > 1).sum()),
            "sciptm_cpu_s_per_epoch": float(np.median([r["sciptm"]["cpu_s_per_epoch"] for r in rows])),
            "chemprop_cpu_s_per_epoch": float(np.median([r["chemprop"]["cpu_s_per_epoch"] for r in rows])),
            "sciptm_test_rmse": [float(np.mean([r["sciptm"]["test_rmse"] for r in rows])),
                                 float(np.std([r["sciptm"]["test_rmse"] for r in rows]))],
            "chemprop_test_rmse": [float(np.mean([r["chemprop"]["test_rmse"] for r in rows])),
                                   float(np.std([r["chemprop"]["test_rmse"] for r in rows]))]}


def markdown(result: dict[str, Any]) -> str:
    lines = ["# Fine-tuning `tiny` on ESOL vs Chemprop 2: paired fits", "",
             f"Command: `{result['command']}`  ", f"Started {result['when']}; {result['machine']}", "",
             ("Each seed: sciptm's default `fit` and Chemprop's on the same rows, back to back (order alternating by "
              f"seed), {result['epochs']} epochs, batch {result['batch_size']}; s/epoch = median over epochs after "
              "the first of training + validation. Ratio > 1: sciptm faster."), "",
             ("| threads per side | seeds | sciptm s/epoch | Chemprop s/epoch | ratio of medians | per-seed ratio: "
              "median (geo. mean) [min, max] | sciptm faster | CPU s/epoch sciptm / Chemprop | test RMSE sciptm / "
              "Chemprop |"), "|---|---|---|---|---|---|---|---|---|"]
    for s in result["summary"]:
        lines.append(
            f"| {s['threads']} | {s['n']} | {s['sciptm_s_per_epoch']:.2f} | {s['chemprop_s_per_epoch']:.2f} | "
            f"**{s['ratio_of_medians']:.2f}x** | {s['ratio_median']:.2f} ({s['ratio_geomean']:.2f}) "
            f"[{s['ratio_min']:.2f}, {s['ratio_max']:.2f}] | {s['sciptm_faster']} of {s['n']} | "
            f"{s['sciptm_cpu_s_per_epoch']:.2f} / {s['chemprop_cpu_s_per_epoch']:.2f} | "
            f"{s['sciptm_test_rmse'][0]:.3f} ± {s['sciptm_test_rmse'][1]:.3f} / "
            f"{s['chemprop_test_rmse'][0]:.3f} ± {s['chemprop_test_rmse'][1]:.3f} |")
    lines += ["", "Per pair (s/epoch, sciptm / Chemprop, in the order they ran):", ""]
    for key in sorted(result["pairs"], key=lambda k: (result["pairs"][k]["seed"], result["pairs"][k]["threads"])):
        p = result["pairs"][key]
        if "sciptm" in p and "chemprop" in p:
            lines.append(f"- seed {p['seed']}, {p['threads']} thread(s), {p['when']}, {' then '.join(p['order'])}: "
                         f"{p['sciptm']['s_per_epoch']:.3f} / {p['chemprop']['s_per_epoch']:.3f} "
                         f"({p['chemprop']['s_per_epoch'] / p['sciptm']['s_per_epoch']:.2f}x)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    import pandas as pd
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--out", type=Path, default=OUT / "finetune_pairs")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "finetune_pairs.json"
    result = {"pairs": {}} if args.force else _load(path)
    result.update(command="python benchmarks/speed/" + Path(__file__).name + " " + " ".join(sys.argv[1:] if argv is None
                                                                                          else argv),
                  when=result.get("when") or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                  machine=f"{os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.2f}",
                  epochs=args.epochs, batch_size=args.batch_size)
    df = pd.read_csv(mirror() / "chem" / "delaney-processed.csv")
    smiles = df["smiles"].tolist()
    y = df["measured log solubility in mols per litre"].to_numpy(float)
    for k, seed in enumerate(args.seeds):
        perm = np.random.default_rng(seed).permutation(len(smiles))
        n_tr, n_va = int(0.8 * len(perm)), int(0.1 * len(perm))
        tr, va, te = perm[:n_tr], perm[n_tr:n_tr + n_va], perm[n_tr + n_va:]
        for threads in (args.threads if k % 2 == 0 else args.threads[::-1]):
            key = f"{threads}/{seed}"
            if key in result["pairs"]:
                continue
            torch.set_num_threads(threads)
            ceil = ceiling(args)["matmul_gflops"]
            order = ["chemprop", "sciptm"] if k % 2 else ["sciptm", "chemprop"]
            pair: dict[str, Any] = {"seed": seed, "threads": threads, "order": order, "ceiling_gflops": ceil,
                                    "when": time.strftime("%H:%M UTC", time.gmtime()), "load": os.getloadavg()[0]}
            for side in order:
                pair[side] = (_sciptm_epochs(smiles, y, tr, va, te, seed, args.epochs, args.batch_size)
                              if side == "sciptm" else
                              _chemprop_epochs(smiles, y, tr, va, te, seed, args.epochs, args.batch_size))
            result["pairs"][key] = pair
            print(f"seed {seed}, {threads} thread(s): sciptm {pair['sciptm']['s_per_epoch']:.3f} / Chemprop "
                  f"{pair['chemprop']['s_per_epoch']:.3f} s/epoch", flush=True)
            result["summary"] = [s for t in args.threads if (s := summary(result["pairs"], t)) is not None]
            path.write_text(json.dumps(result, indent=1))
            (args.out / "finetune_pairs.md").write_text(markdown(result))
    print((args.out / "finetune_pairs.md").read_text())


if __name__ == "__main__":
    main()
