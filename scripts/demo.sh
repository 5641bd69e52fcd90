#!/usr/bin/env bash
# The README's main job on a fresh machine: set up .venv, then the quick chemistry benchmark (ESOL + BBBP,
# scaffold split, baselines beside the shipped pretrained encoder) with its report. Needs no data mirror and
# no internet beyond the package index: ESOL and BBBP ship inside the package (sciptm/data/embedded/).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/setup.sh ""
echo "demo: set-up took $(( $(date +%s) - start )) s"
job=$(date +%s)
OUT="${OUT:-results/quick}"
.venv/bin/sciptm bench chem --quick --out "$OUT"
echo "demo: main job took $(( $(date +%s) - job )) s; report: $OUT/report.html ($OUT/report.md)"
echo "demo: total $(( $(date +%s) - start )) s"
