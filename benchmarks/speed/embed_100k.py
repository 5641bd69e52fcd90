"""Embed 100,000 MOSES SMILES with ``sciptm/smiles-small``, streamed to disk: molecules/s, peak RSS, 1M estimate.

The inputs are embedded through the streaming API (``Encoder.embed(..., out="*.npy")``) in slices of
``--slice`` molecules, so a ``--max-minutes`` limit can stop the run between slices on a busy machine; the
rate is then measured on the molecules done and the time for 100k and 1M is extrapolated from it. The
raw ``transformers`` loop (AutoModel, batches of 64 in input order, padded to the longest) runs on the first
``--raw-n`` molecules, and sciptm on the same molecules, for the ratio. Peak RSS is the process's maximum
resident set (``getrusage``), everything included (torch, the model, RDKit). The process CPU time per
molecule is recorded too: on a shared machine it gives the time a dedicated one would take
(``dedicated_1M_min_estimate`` = CPU seconds for 1M / threads).

Usage::

    nice python benchmarks/speed/embed_100k.py --threads 2 --quantize int8
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import OUT, moses  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quantize", choices=["none", "int8"], default="int8")
    ap.add_argument("--slice", type=int, default=10_000)
    ap.add_argument("--raw-n", type=int, default=2000)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    import torch
    from transformers import AutoModel, AutoTokenizer

    import sciptm
    from sciptm.encoders.hub import resolve_name

    torch.set_num_threads(args.threads)
    quantize = None if args.quantize == "none" else args.quantize
    smiles = moses(args.n)
    enc = sciptm.Encoder.from_pretrained("sciptm/smiles-small")
    start_load = os.getloadavg()[0]

    # ratio on the first raw_n molecules: raw transformers loop vs sciptm, same threads, same process
    folder = resolve_name("sciptm/smiles-small")
    tok = AutoTokenizer.from_pretrained(folder)
    raw = AutoModel.from_pretrained(folder, dtype=torch.float32).eval()
    head = smiles[: args.raw_n]
    t = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(head), 64):
            b = tok(head[i:i + 64], padding=True, truncation=True, return_tensors="pt", return_token_type_ids=False)
            raw(**b)
    t_raw = time.perf_counter() - t
    t = time.perf_counter()
    enc.embed(head, quantize=quantize, progress=False)
    t_ours = time.perf_counter() - t
    del raw

    done, elapsed, cpu = 0, 0.0, 0.0
    deadline = None if args.max_minutes is None else time.time() + 60 * args.max_minutes
    with tempfile.TemporaryDirectory() as tmp:
        for k, start in enumerate(range(0, len(smiles), args.slice)):
            part = smiles[start:start + args.slice]
            t, c = time.perf_counter(), time.process_time()
            arr = enc.embed(part, quantize=quantize, out=Path(tmp) / f"part{k}.npy", progress=False)
            elapsed += time.perf_counter() - t
            cpu += time.process_time() - c
            assert arr.shape == (len(part), enc.hidden_size) and np.isfinite(arr).all()
            done += len(part)
            print(f"{done} molecules, {done / elapsed:.1f} mol/s, load {os.getloadavg()[0]:.1f}", flush=True)
            if deadline is not None and time.time() > deadline:
                break
    rate = done / elapsed
    peak_rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    result = {"n_requested": args.n, "n_done": done, "threads": args.threads, "quantize": quantize,
              "mol_per_s": rate, "seconds": elapsed, "extrapolated_100k_min": 1e5 / rate / 60,
              "extrapolated_1M_min": 1e6 / rate / 60, "peak_rss_gb": peak_rss_gb,
              # CPU seconds per molecule: what a dedicated machine would need, whatever the load here
              "cpu_s_per_mol": cpu / done,
              "dedicated_1M_min_estimate": 1e6 * cpu / done / args.threads / 60,
              "raw_loop": {"n": len(head), "raw_mol_per_s": len(head) / t_raw, "sciptm_mol_per_s": len(head) / t_ours,
                           "ratio": t_raw / t_ours},
              "load_avg_start": start_load, "load_avg_end": os.getloadavg()[0],
              "command": " ".join(["python", "benchmarks/speed/embed_100k.py", *sys.argv[1:]])}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "embed_100k.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
