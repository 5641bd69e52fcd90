"""The same `tiny` ESOL fit repeated in one process: how much one machine's s/epoch moves with nothing changed.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/speed/finetune_repeat.py [--repeats 4] [--epochs 6]``.
Prints, per repeat, the peak RSS (MB) and the wall and CPU seconds of every epoch (training + validation, as
``run.py``'s ``finetune`` section times them; epoch 0 holds the set-up). Same rows as ``run.py`` seed 0.
"""
from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import sciptm
from sciptm.training.trainer import epoch_callback


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=6)
    args = ap.parse_args()
    torch.set_num_threads(1)
    df = pd.read_csv(Path(os.environ.get("SCIPTM_DATA_MIRROR", "../shared/datasets")) / "chem" / "delaney-processed.csv")
    s = df["smiles"].tolist()
    y = df["measured log solubility in mols per litre"].to_numpy(float)
    perm = np.random.default_rng(0).permutation(len(s))
    tr, va = perm[:int(0.8 * len(s))], perm[int(0.8 * len(s)):int(0.9 * len(s))]
    for rep in range(args.repeats):
        enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
        model = sciptm.PropertyPredictor(enc, task="regression", epochs=args.epochs, batch_size=64, seed=0,
                                         patience=10**6)
        wall: list[float] = []
        cpu: list[float] = []
        t0, c0 = time.perf_counter(), time.process_time()
        with epoch_callback(lambda row, w=wall, c=cpu: (w.append(time.perf_counter()), c.append(time.process_time()))):
            model.fit([s[i] for i in tr], y[tr], valid=([s[i] for i in va], y[va]))
        print(rep, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, "wall",
              np.round(np.diff([t0, *wall]), 2), "cpu", np.round(np.diff([c0, *cpu]), 2), flush=True)


if __name__ == "__main__":
    main()
