"""Embed 100,000 MOSES SMILES with ``sciptm/smiles-small``, streamed to disk: molecules/s, peak RSS, 1M estimate.

The inputs are embedded through the streaming API (``Encoder.embed(..., out="*.npy")``, which reads, validates
and embeds ``chunk_size`` rows at a time into a memory-mapped ``.npy``) in slices of ``--slice`` molecules, so a
``--max-minutes`` limit can stop the run between slices on a busy machine. A run can also cover a part of the
100k (``--offset``/``--count``): parts are kept in the results file, keyed by offset, and the totals are
recomputed over all parts, so the 100k can be measured in pieces on a shared machine. The output rows of each
slice are checked to be in input order (a sample of rows against ``embed`` of those rows alone).

The raw ``transformers`` loop (AutoModel, batches of 64 in input order, padded to the longest) runs on the first
``--raw-n`` molecules of the part, and sciptm on the same molecules, for the ratio. Peak RSS is the process's
maximum resident set (``getrusage``), everything included (torch, the model, RDKit). The process CPU time per
molecule is recorded too: on a shared machine it gives the time dedicated cores would take
(``cpu_1M_min_2cores`` = CPU seconds for 1M / 2 cores, one process of one thread per core: the work of one
molecule does not depend on the other core).

Usage::

    nice python benchmarks/speed/embed_100k.py --threads 1 --quantize int8                       # all 100k
    nice python benchmarks/speed/embed_100k.py --threads 1 --offset 50000 --count 50000          # a part
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


def _totals(parts: dict[str, dict], threads: int, n_requested: int) -> dict:
    done = sum(p["n_done"] for p in parts.values())
    wall = sum(p["seconds"] for p in parts.values())
    cpu = sum(p["cpu_seconds"] for p in parts.values())
    raw_t = sum(p["raw_loop"]["raw_seconds"] for p in parts.values())
    ours_t = sum(p["raw_loop"]["sciptm_seconds"] for p in parts.values())
    raw_n = sum(p["raw_loop"]["n"] for p in parts.values())
    rate = done / wall
    return {"n_requested": n_requested, "n_done": done, "threads": threads, "mol_per_s": rate, "seconds": wall,
            "cpu_seconds": cpu, "cpu_ms_per_mol": 1e3 * cpu / done, "mol_per_cpu_s": done / cpu,
            "extrapolated_100k_min": 1e5 / rate / 60, "extrapolated_1M_min_this_process": 1e6 / rate / 60,
            # 2 cores, one single-thread process each (the input split in two): CPU time is the per-core work
            "cpu_1M_min_2cores": 1e6 * cpu / done / 2 / 60,
            "peak_rss_gb": max(p["peak_rss_gb"] for p in parts.values()),
            "raw_loop": {"n": raw_n, "raw_mol_per_s": raw_n / raw_t, "sciptm_mol_per_s": raw_n / ours_t,
                         "ratio": raw_t / ours_t},
            "load_avg": [p["load_avg_start"] for p in parts.values()] + [p["load_avg_end"] for p in parts.values()]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="molecules in the whole measurement")
    ap.add_argument("--offset", type=int, default=0, help="first molecule of this part")
    ap.add_argument("--count", type=int, default=None, help="molecules in this part (default: to --n)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quantize", choices=["none", "int8"], default="int8")
    ap.add_argument("--slice", type=int, default=10_000)
    ap.add_argument("--raw-n", type=int, default=1000)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    import torch
    from transformers import AutoModel, AutoTokenizer

    import sciptm
    from sciptm.encoders.fused_attention import kernel as fused_kernels
    from sciptm.encoders.hub import resolve_name

    torch.set_num_threads(args.threads)
    quantize = None if args.quantize == "none" else args.quantize
    count = args.count if args.count is not None else args.n - args.offset
    smiles = moses(count, skip=args.offset)
    enc = sciptm.Encoder.from_pretrained("sciptm/smiles-small")
    start_load = os.getloadavg()[0]

    # ratio on the first raw_n molecules: raw transformers loop vs sciptm, same threads, same process
    folder = resolve_name("sciptm/smiles-small")
    tok = AutoTokenizer.from_pretrained(folder)
    raw = AutoModel.from_pretrained(folder, dtype=torch.float32).eval()
    head = smiles[: args.raw_n]
    enc.embed(head[:64], quantize=quantize, progress=False)
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
    rng = np.random.default_rng(0)
    deadline = None if args.max_minutes is None else time.time() + 60 * args.max_minutes
    with tempfile.TemporaryDirectory() as tmp:
        for k, start in enumerate(range(0, len(smiles), args.slice)):
            part = smiles[start:start + args.slice]
            t, c = time.perf_counter(), time.process_time()
            arr = enc.embed(part, quantize=quantize, out=Path(tmp) / f"part{k}.npy", progress=False)
            elapsed += time.perf_counter() - t
            cpu += time.process_time() - c
            assert arr.shape == (len(part), enc.hidden_size) and np.isfinite(arr).all()
            # input order kept: a few rows embedded alone are each nearest to their own streamed row (int8 scales
            # activations per batch, so the vectors differ slightly)
            rows = np.sort(rng.choice(len(part), size=min(8, len(part)), replace=False))
            alone = enc.embed([part[i] for i in rows], quantize=quantize, progress=False)
            unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
            sim = unit(alone) @ unit(np.asarray(arr[rows])).T
            assert (sim.argmax(1) == np.arange(len(rows))).all() and sim.diagonal().min() > 0.99, (k, sim)
            done += len(part)
            print(f"{args.offset + done} molecules, {done / elapsed:.1f} mol/s, {done / cpu:.1f} mol/CPU-s, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
            del arr
            os.unlink(Path(tmp) / f"part{k}.npy")
            if deadline is not None and time.time() > deadline:
                break
    part_result = {"offset": args.offset, "n_done": done, "seconds": elapsed, "cpu_seconds": cpu,
                   "mol_per_s": done / elapsed, "mol_per_cpu_s": done / cpu,
                   "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                   "raw_loop": {"n": len(head), "raw_seconds": t_raw, "sciptm_seconds": t_ours, "ratio": t_raw / t_ours},
                   "load_avg_start": start_load, "load_avg_end": os.getloadavg()[0],
                   "fused_kernels": fused_kernels() is not None,
                   "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                   "command": " ".join(["python", "benchmarks/speed/embed_100k.py", *sys.argv[1:]])}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "embed_100k.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    same = old.get("n_requested") == args.n and old.get("quantize") == quantize and old.get("threads") == args.threads
    parts = old.get("parts", {}) if same else {}
    parts[str(args.offset)] = part_result
    result = {**_totals(parts, args.threads, args.n), "quantize": quantize, "parts": parts}
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "parts"}, indent=2))


if __name__ == "__main__":
    main()
