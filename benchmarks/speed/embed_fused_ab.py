"""Streamed int8 ``embed`` of MOSES SMILES with the C kernels off and on, interleaved in one process (#16).

``Encoder.embed(..., quantize="int8", out="*.npy")`` (the path ``embed_100k.py`` times) on the same ``--n``
molecules, the ``--sides`` alternating (``--repeats`` each, the order rotated every round), one thread: CPU ms
per molecule, medians and their ratios to the first side. Both sides see the same load, so the ratio holds on
a shared machine where the absolute CPU time of a molecule moves with what runs on the other core. Sides:
``off`` (``SCIPTM_FUSED_ATTENTION=0``: PyTorch attention/GELU/LayerNorm, onednn int8 ``Linear``), ``onednn``
(the C attention/GELU/LayerNorm kernels, onednn int8 ``Linear``: ``lean.INT8_KERNEL = False``), ``on`` (all C
kernels, the int8 layers included).

Usage::

    /work/notes/heavy python benchmarks/speed/embed_fused_ab.py --n 5000 --repeats 4 --sides off,onednn,on
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernel_sides import LABELS, SIDES, use
from run import moses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--skip", type=int, default=20000, help="first MOSES row used")
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--sides", default="off,onednn,on", help="comma-separated: off, onednn, on")
    args = ap.parse_args()
    sides = args.sides.split(",")
    if not sides or any(x not in SIDES for x in sides):
        ap.error(f"--sides: comma-separated values of {', '.join(SIDES)}")

    import torch

    import sciptm

    torch.set_num_threads(1)
    smiles = moses(args.n, skip=args.skip)
    enc = sciptm.Encoder.from_pretrained("sciptm/smiles-small")
    for side in sides:  # int8 copy made, kernels compiled and built, onednn's per-shape kernels made
        use(side)
        enc.embed(smiles[:256], quantize="int8", progress=False)
    load = os.getloadavg()[0]
    times: dict[str, list[float]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for side in sides[r % len(sides):] + sides[:r % len(sides)]:
                use(side)
                path = Path(tmp) / f"{side}-{r}.npy"
                c = time.process_time()
                enc.embed(smiles, quantize="int8", out=path, progress=False)
                times[side].append((time.process_time() - c) * 1e3 / len(smiles))
                path.unlink()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{len(smiles)} MOSES SMILES streamed, int8, 1 thread, load average {load:.2f} -> {os.getloadavg()[0]:.2f}")
    for side in sides:
        print(f"  {side:7s} ({LABELS[side]}): {med[side]:.3f} ms CPU/molecule "
              f"(runs {', '.join(f'{v:.3f}' for v in times[side])}); 1M on 2 cores {med[side] * 1e6 / 2 / 6e4:.1f} min")
    for side in sides[1:]:
        print(f"  {side}/{sides[0]}: {med[side] / med[sides[0]]:.3f} ({med[sides[0]] / med[side]:.3f}x)")


if __name__ == "__main__":
    main()
