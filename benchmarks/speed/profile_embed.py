"""Where the CPU time of int8 ``embed`` goes: MOSES SMILES, ``sciptm/smiles-small``, one thread.

Stages are timed separately in CPU time (``time.process_time``, medians of ``--repeats``): the whole
``Encoder.embed(..., quantize="int8")``, RDKit validation + canonical SMILES (``Encoder.prepare``), token ids, and the
lean int8 forward alone (:meth:`LeanEncoder.embed_sequences` on the length-sorted ids, as ``embed`` calls it). One
``torch.profiler`` pass over the forward gives the shares of its operators (the profiler inflates absolute times;
the shares are applied to the forward's own CPU time).

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
from run import moses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--skip", type=int, default=20000, help="first MOSES row used")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile

    import sciptm
    from sciptm.encoders.lean import inference_lean, token_ids

    torch.set_num_threads(1)
    smiles = moses(args.n, skip=args.skip)
    enc = sciptm.Encoder.from_pretrained("sciptm/smiles-small")
    enc.embed(smiles[:256], quantize="int8", progress=False)  # int8 copy made, kernels built
    n = len(smiles)

    def cpu_ms(fn):
        times = []
        for _ in range(args.repeats):
            c = time.process_time()
            fn()
            times.append((time.process_time() - c) * 1e3 / n)
        return statistics.median(times)

    load = os.getloadavg()[0]
    texts = enc.prepare(smiles).texts
    ids = token_ids(enc, texts)
    lean = inference_lean(enc, "int8")
    seqs = sorted(ids, key=len, reverse=True)

    def forward():
        return lean.embed_sequences(seqs, enc.pooling, 4096, fixed_shapes=True, max_rows=256)

    stages = {"embed (end to end)": cpu_ms(lambda: enc.embed(smiles, quantize="int8", progress=False)),
              "RDKit validation + canonical SMILES": cpu_ms(lambda: enc.prepare(smiles)),
              "token ids": cpu_ms(lambda: token_ids(enc, texts)),
              "int8 lean forward": cpu_ms(forward)}
    rest = stages["embed (end to end)"] - sum(v for k, v in stages.items() if k != "embed (end to end)")
    tokens = sum(len(s) for s in seqs) / n
    print(f"{n} MOSES SMILES, {tokens:.1f} tokens/molecule, 1 thread, load average {load:.2f} -> "
          f"{os.getloadavg()[0]:.2f}")
    for k, v in stages.items():
        print(f"  {k:40s} {v:6.3f} ms CPU/molecule")
    print(f"  {'rest (sorting, packing, output)':40s} {rest:6.3f} ms CPU/molecule")

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        forward()
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events)
    print(f"int8 lean forward, operator shares (torch.profiler), applied to its {stages['int8 lean forward']:.3f} ms:")
    for e in events[: args.top]:
        share = e.self_cpu_time_total / total
        print(f"  {e.key:52s} {100 * share:5.1f}%  {share * stages['int8 lean forward']:6.3f} ms  calls {e.count}")


if __name__ == "__main__":
    main()
