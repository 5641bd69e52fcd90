#!/usr/bin/env bash
# Must-show 3 measured directly (#16): 2 x PER MOSES SMILES (rows 100,000 on; PER = 100,000 by default, the
# issue's 100,000 molecules with PER=50000) embedded with sciptm/smiles-small, int8, by two single-thread
# processes at once (one per core), nothing else running; wall time for the 2 x PER, scaled to 1M.
# Usage: [PER=50000] bash benchmarks/speed/embed_2cores.sh [OUT_DIR]
# Writes OUT_DIR/{a,b}/embed_100k.json (per process) and OUT_DIR/embed_2cores.json (the wall time).
set -eu
cd "$(dirname "$0")/../.."
OUT=${1:-benchmarks/speed/results/embed_2cores}
PER=${PER:-100000}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
load0=$(cut -d' ' -f1 /proc/loadavg)
s=$(date +%s.%N)
python benchmarks/speed/embed_100k.py --threads 1 --quantize int8 --offset 100000 --count "$PER" --raw-n 64 --out "$OUT/a" > "$OUT.a.log" 2>&1 &
python benchmarks/speed/embed_100k.py --threads 1 --quantize int8 --offset $((100000 + PER)) --count "$PER" --raw-n 64 --out "$OUT/b" > "$OUT.b.log" 2>&1 &
wait
e=$(date +%s.%N)
python - "$OUT" "$s" "$e" "$load0" "$PER" <<'PY'
import json, sys, time
from pathlib import Path
out, s, e, load0 = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
n = 2 * int(sys.argv[5])
parts = [json.loads((out / k / "embed_100k.json").read_text()) for k in ("a", "b")]
wall = e - s
embed_s = max(sum(p["seconds"] for p in d["parts"].values()) for d in parts)
res = {"molecules": n, "processes": 2, "threads_per_process": 1, "wall_s": wall,
       "embed_s_slowest_process": embed_s, "min_1M_wall": 1e6 / n * wall / 60, "min_1M_embed_only": 1e6 / n * embed_s / 60,
       "mol_per_s_total": n / embed_s,
       "peak_rss_gb": max(p["peak_rss_gb"] for d in parts for p in d["parts"].values()),
       "fused_kernels": all(p["fused_kernels"] for d in parts for p in d["parts"].values()),
       "load_avg_start": load0, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(s)),
       "command": f"PER={n // 2} bash benchmarks/speed/embed_2cores.sh"}
(out / "embed_2cores.json").write_text(json.dumps(res, indent=1) + "\n")
print(json.dumps(res, indent=1))
PY
