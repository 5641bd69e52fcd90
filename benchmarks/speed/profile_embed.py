"""Where the CPU time of int8 ``embed`` goes: MOSES SMILES, ``sciptm/smiles-small``, one thread.

Stages are timed separately in CPU time (``time.process_time``, medians of ``--repeats``): the whole
``Encoder.embed(..., quantize="int8")``, RDKit validation + canonical SMILES (``Encoder.prepare``), token ids, and the
lean int8 forward alone (:meth:`LeanEncoder.embed_sequences` on the length-sorted ids, as ``embed`` calls it). One
``torch.profiler`` pass over the forward gives the shares of its operators (the profiler inflates absolute times;
the shares are applied to the forward's own CPU time).

``--fused ab`` (the default) measures the forward and ``embed`` with the C kernels of
:mod:`sciptm.encoders.fused_attention` off and on (``SCIPTM_FUSED_ATTENTION=0/1``), the repeats interleaved
(off, on, off, on...) so both see the same load, and profiles both; ``--fused all`` adds the side ``onednn``
(C attention/GELU/LayerNorm with PyTorch's dynamic int8 ``Linear``: ``lean.INT8_KERNEL = False``, the int8
path before stop 23), ``--fused int8ab`` is ``onednn`` vs ``on``; ``--fused on``/``off``/``onednn`` one side.

Usage::

    OMP_NUM_THREADS=1 nice python benchmarks/speed/profile_embed.py --n 2000
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernel_sides import LABELS, use
from run import moses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--skip", type=int, default=20000, help="first MOSES row used")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--fused", choices=["ab", "all", "int8ab", "on", "off", "onednn"], default="ab",
                    help="sides: off/on (ab), off/onednn/on (all), onednn/on (int8ab), or one side")
    args = ap.parse_args()
    sides = {"ab": ["off", "on"], "all": ["off", "onednn", "on"], "int8ab": ["onednn", "on"], "on": ["on"],
             "off": ["off"], "onednn": ["onednn"]}[args.fused]

    import torch
    from torch.profiler import ProfilerActivity, profile

    import sciptm
    from sciptm.encoders.lean import inference_lean, token_ids

    torch.set_num_threads(1)
    smiles = moses(args.n, skip=args.skip)
    enc = sciptm.Encoder.from_pretrained("sciptm/smiles-small")
    enc.embed(smiles[:256], quantize="int8", progress=False)  # int8 copy made, kernels built
    n = len(smiles)

    for side in sides:  # every side's kernels built (onednn: its per-shape kernels)
        use(side)
        enc.embed(smiles[:256], quantize="int8", progress=False)

    def cpu_ms(fn, modes=("",)):
        """Median CPU ms per molecule of ``fn`` for each side in ``modes`` (``""``: whatever is set), the
        repeats interleaved."""
        times: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(args.repeats):
            for m in modes:
                if m:
                    use(m)
                c = time.process_time()
                fn()
                times[m].append((time.process_time() - c) * 1e3 / n)
        return {m: statistics.median(v) for m, v in times.items()}

    load = os.getloadavg()[0]
    texts = enc.prepare(smiles).texts
    ids = token_ids(enc, texts)
    lean = inference_lean(enc, "int8")
    seqs = sorted(ids, key=len, reverse=True)

    def forward():
        return lean.embed_sequences(seqs, enc.pooling, 4096, fixed_shapes=True, max_rows=256)

    whole = cpu_ms(lambda: enc.embed(smiles, quantize="int8", progress=False), sides)
    rdkit = cpu_ms(lambda: enc.prepare(smiles))[""]
    tok = cpu_ms(lambda: token_ids(enc, texts))[""]
    fwd = cpu_ms(forward, sides)
    tokens = sum(len(s) for s in seqs) / n
    print(f"{n} MOSES SMILES, {tokens:.1f} tokens/molecule, 1 thread, load average {load:.2f} -> "
          f"{os.getloadavg()[0]:.2f}")
    for m in sides:
        print(f"{m} ({LABELS[m]}):")
        rest = whole[m] - rdkit - tok - fwd[m]
        for k, v in [("embed (end to end)", whole[m]), ("RDKit validation + canonical SMILES", rdkit),
                     ("token ids", tok), ("int8 lean forward", fwd[m]), ("rest (sorting, packing, output)", rest)]:
            print(f"  {k:40s} {v:6.3f} ms CPU/molecule")
    for m in sides[1:]:
        print(f"{m}/{sides[0]}: embed {whole[m] / whole[sides[0]]:.3f}, forward {fwd[m] / fwd[sides[0]]:.3f}")

    for m in sides:
        use(m)
        c = time.process_time()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            forward()
        spent = (time.process_time() - c) * 1e6  # us of CPU in the profiled pass (profiler overhead included)
        events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
        ops = sum(e.self_cpu_time_total for e in events)
        print(f"{m}: int8 lean forward, shares of the profiled pass's CPU time (torch.profiler "
              f"operators; the rest is outside every operator: the C kernels via ctypes, Python, the profiler), "
              f"applied to its {fwd[m]:.3f} ms:")
        for e in events[: args.top]:
            share = e.self_cpu_time_total / spent
            print(f"  {e.key:52s} {100 * share:5.1f}%  {share * fwd[m]:6.3f} ms  calls {e.count}")
        rest = max(0.0, 1 - ops / spent)
        print(f"  {'outside operators (C kernels, Python)':52s} {100 * rest:5.1f}%  {rest * fwd[m]:6.3f} ms")

if __name__ == "__main__":
    main()
