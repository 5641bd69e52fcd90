#!/usr/bin/env bash
# Issue 5 must-show on a 2-core CPU: every model on all 5 official folds of the Matbench tasks (the fine-tuned
# shipped encoder on phonons and expt_gap), mp_formation_energy (seed 0) with the baselines and the shipped
# encoder as a probe. Run from the repository root; needs the data mirror (SCIPTM_DATA_MIRROR). Resumable.
set -euo pipefail
OUT=${OUT:-benchmarks/materials/results}
MATBENCH="matbench_phonons matbench_expt_gap matbench_expt_is_metal matbench_steels matbench_glass"
CFG=benchmarks/materials/models.yaml
sciptm bench materials --tasks "$MATBENCH" --models "dummy rf-composition tiny tiny+magpie sciptm/crystal-small:probe" \
  --seeds "0 1 2 3 4" --out "$OUT" --model-config "$CFG" --no-report
sciptm bench materials --tasks "matbench_phonons matbench_expt_gap" --models "sciptm/crystal-small" \
  --seeds "0 1 2 3 4" --out "$OUT" --model-config "$CFG" --no-report
sciptm bench materials --tasks mp_formation_energy --models "dummy rf-composition sciptm/crystal-small:probe" \
  --seeds "0" --out "$OUT" --model-config "$CFG" --no-report
python -m sciptm.benchmarks.matbench "$OUT" --tasks $MATBENCH mp_formation_energy \
  --models dummy rf-composition tiny tiny+magpie sciptm/crystal-small:probe sciptm/crystal-small --seeds 0 1 2 3 4
