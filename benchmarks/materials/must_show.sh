#!/usr/bin/env bash
# Issue 5 must-show on a 2-core CPU: baselines on all 5 official folds, the tiny encoder on fold 0 only.
# Run from the repository root; needs the data mirror (SCIPTM_DATA_MIRROR).
set -euo pipefail
OUT=${OUT:-benchmarks/materials/results}
MATBENCH="matbench_phonons matbench_expt_gap matbench_expt_is_metal matbench_steels matbench_glass"
CFG=benchmarks/materials/models.yaml
sciptm bench materials --tasks "$MATBENCH" --models "dummy rf-composition" --seeds "0 1 2 3 4" \
  --out "$OUT" --model-config "$CFG" --no-report
sciptm bench materials --tasks "$MATBENCH" --models "tiny tiny+magpie" --seeds "0" \
  --out "$OUT" --model-config "$CFG" --no-report
sciptm bench materials --tasks mp_formation_energy --models "dummy rf-composition" --seeds "0" \
  --out "$OUT" --model-config "$CFG" --no-report
python -m sciptm.benchmarks.matbench "$OUT" --tasks $MATBENCH mp_formation_energy \
  --models dummy rf-composition tiny tiny+magpie --seeds 0 1 2 3 4
