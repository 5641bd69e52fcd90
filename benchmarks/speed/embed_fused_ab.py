"""Streamed int8 ``embed`` of MOSES SMILES with the C kernels off and on, interleaved in one process (#16).

``Encoder.embed(..., quantize="int8", out="*.npy")`` (the path ``embed_100k.py`` times) on the same ``--n``
molecules, ``SCIPTM_FUSED_ATTENTION=0`` and ``=1`` alternating (``--repeats`` each, the order flipped every
round), one thread: CPU ms per molecule, medians and their ratio. Both sides see the same load, so the ratio
holds on a shared machine where the absolute CPU time of a molecule moves with what runs on the other core.

Usage::

    /work/notes/heavy python benchmarks/speed/embed_fused_ab.py --n 5000 --repeats 4
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
from run import moses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--skip", type=int, default=20000, help="first MOSES row used")
    ap.add_argument("--repeats", type=int, default=4)
    args = ap.parse_args()

    import torch

    import sciptm

    torch.set_num_threads(1)
    smiles = moses(args.n, skip=args.skip)
    enc = sciptm.Encoder.from_pretrained("sciptm/smiles-small")
    enc.embed(smiles[:256], quantize="int8", progress=False)  # int8 copy made, kernels compiled and built
    load = os.getloadavg()[0]
    times: dict[str, list[float]] = {"0": [], "1": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for side in ("0", "1") if r % 2 == 0 else ("1", "0"):
                os.environ["SCIPTM_FUSED_ATTENTION"] = side
                path = Path(tmp) / f"{side}-{r}.npy"
                c = time.process_time()
                enc.embed(smiles, quantize="int8", out=path, progress=False)
                times[side].append((time.process_time() - c) * 1e3 / len(smiles))
                path.unlink()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{len(smiles)} MOSES SMILES streamed, int8, 1 thread, load average {load:.2f} -> {os.getloadavg()[0]:.2f}")
    for side, label in (("0", "PyTorch attention, GELU, LayerNorm"), ("1", "C kernels")):
        print(f"  SCIPTM_FUSED_ATTENTION={side} ({label}): {med[side]:.3f} ms CPU/molecule "
              f"(runs {', '.join(f'{v:.3f}' for v in times[side])}); 1M on 2 cores {med[side] * 1e6 / 2 / 6e4:.1f} min")
    print(f"  on/off: {med['1'] / med['0']:.3f} ({med['0'] / med['1']:.3f}x)")


if __name__ == "__main__":
    main()
