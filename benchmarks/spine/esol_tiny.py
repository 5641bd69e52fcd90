"""Issue 2, Must-show 2 and 3: a tiny encoder trained from scratch on ESOL (random 80/10/10, seed 0),
with and without RDKit 2D side-features, next to the mean predictor; same-seed reproducibility and
save -> load equality.

    SCIPTM_DATA_MIRROR=../shared/datasets python benchmarks/spine/esol_tiny.py --out benchmarks/spine/results

Writes ``esol_tiny.json`` in ``--out`` and prints a table.
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import sciptm
from sciptm import datasets, metrics
from sciptm.splits import make_split


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/spine/results")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ds = datasets.load("esol")
    X, y = ds.inputs, ds.targets.iloc[:, 0]
    split = make_split("random", n=len(X), seed=0)
    tr, va, te = split.train, split.valid, split.test
    rows = [{"model": "mean predictor", "test_rmse": metrics.compute("rmse", y.iloc[te].to_numpy(),
                                                                      np.full(len(te), y.iloc[tr].mean())),
             "seconds": 0.0}]
    runs: dict[str, np.ndarray] = {}
    for name, feats in [("tiny (no features)", None), ("tiny + rdkit2d", "rdkit2d"), ("tiny + rdkit2d (repeat)", "rdkit2d")]:
        t0 = time.perf_counter()
        enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
        model = sciptm.PropertyPredictor(enc, task="regression", features=feats, epochs=args.epochs, patience=20, seed=0)
        model.fit(X.iloc[tr], y.iloc[tr], valid=(X.iloc[va], y.iloc[va]))
        pred = model.predict(X.iloc[te])
        runs[name] = pred
        row = {"model": name, "test_rmse": metrics.compute("rmse", y.iloc[te].to_numpy(), pred),
               "best_epoch": model.best_epoch_, "epochs_run": len(model.history_),
               "seconds": time.perf_counter() - t0}
        if feats and "repeat" not in name:
            with tempfile.TemporaryDirectory() as tmp:
                model.save_pretrained(tmp)
                again = sciptm.PropertyPredictor.from_pretrained(tmp).predict(X.iloc[te])
            row["save_load_max_abs_diff"] = float(np.max(np.abs(again - pred)))
        rows.append(row)
        print(row, flush=True)
    mean_rmse = rows[0]["test_rmse"]
    for r in rows[1:]:
        r["vs_mean_predictor"] = 1 - r["test_rmse"] / mean_rmse
    result = {
        "command": "python benchmarks/spine/esol_tiny.py", "split": "random 80/10/10 seed 0", "split_hash": split.hash,
        "data_sha256": ds.data_sha256, "rows": rows,
        "same_seed_identical": bool(np.array_equal(runs["tiny + rdkit2d"], runs["tiny + rdkit2d (repeat)"])),
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "threads": args.threads,
                    "device": "cpu"},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "esol_tiny.json").write_text(json.dumps(result, indent=2))
    print("\n| model | test RMSE | vs mean predictor | seconds |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['test_rmse']:.3f} | {r.get('vs_mean_predictor', 0):+.0%} | {r['seconds']:.0f} |")
    print("same seed identical:", result["same_seed_identical"])


if __name__ == "__main__":
    main()
