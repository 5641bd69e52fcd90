"""#13 must-show 4 (PropertyPredictor part): the same seed gives identical predictions, twice in one process
(whatever the global random state before ``fit``) and in a second process; ``fit`` leaves the caller's
global state (deterministic-algorithms switch, RNG states) as it found it.

    SCIPTM_DATA_MIRROR=../shared/datasets OMP_NUM_THREADS=1 nice -n 10 python benchmarks/determinism/fit_twice.py
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

TARGET = "measured log solubility in mols per litre"


def fit_predict(global_seed: int, epochs: int) -> np.ndarray:
    import sciptm

    mirror = Path(os.environ.get("SCIPTM_DATA_MIRROR", "../shared/datasets"))
    esol = pd.read_csv(mirror / "chem" / "delaney-processed.csv")
    order = np.random.default_rng(0).permutation(len(esol))
    tr, va, te = order[:300], order[300:400], order[400:]
    X, y = esol.smiles.to_numpy(), esol[TARGET].to_numpy()
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    torch.manual_seed(global_seed)  # the caller's global state differs...
    np.random.seed(global_seed)
    model = sciptm.PropertyPredictor(enc, task="regression", epochs=epochs, seed=0, augment=True, dropout=0.2)
    model.fit(X[tr], y[tr], valid=(X[va], y[va]))  # ...the predictions must not
    return model.predict(X[te])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--child", help="(internal) write this process's predictions here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.child:
        np.save(args.child, fit_predict(2, args.epochs))
        return
    torch.use_deterministic_algorithms(False)
    a = fit_predict(1, args.epochs)
    print(f"after fit: torch.are_deterministic_algorithms_enabled() = {torch.are_deterministic_algorithms_enabled()}"
          " (was False before)")
    b = fit_predict(2, args.epochs)
    print(f"same process, global seeds 1 vs 2, fit(seed=0): max |diff| = {np.abs(a - b).max()!r} "
          f"over {len(a)} test molecules")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "child.npy"
        subprocess.run([sys.executable, __file__, "--epochs", str(args.epochs), "--child", str(out)], check=True)
        c = np.load(out)
    print(f"second process vs first:                  max |diff| = {np.abs(a - c).max()!r}")
    print(f"predictions span {a.min():.2f}..{a.max():.2f} log units (std {a.std():.2f}: not a constant model)")
    if np.abs(a - b).max() != 0 or np.abs(a - c).max() != 0 or torch.are_deterministic_algorithms_enabled():
        raise SystemExit(1)


if __name__ == "__main__":
    main()
