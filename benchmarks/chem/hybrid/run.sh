#!/usr/bin/env bash
# The hybrid chemistry grid (issue #12 Must-show 1), in resumable pieces: each line is one `sciptm bench` call
# through the shared CPU queue (/work/notes/heavy: one slot, 1 thread); finished (task, model, seed) runs are
# skipped, so a rerun continues where it stopped. Small sets first, hiv last.
set -u
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
export SCIPTM_DATA_MIRROR=${SCIPTM_DATA_MIRROR:-/work/shared/datasets} OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
HEAVY=${HEAVY:-/work/notes/heavy}
OUT=benchmarks/chem/hybrid
CFG=$OUT/models.yaml
HYB=rxnfp/bert-pretrained+rdkit2d:probe,sciptm/smiles-small+rdkit2d:probe
bench() { $HEAVY sciptm bench chem --split scaffold_balanced --seeds 0 1 2 --model-config $CFG --out $OUT --no-report "$@"; }
bench --tasks esol,freesolv,bace,bbbp,clintox --models $HYB
bench --tasks lipo,sider --models $HYB
bench --tasks tox21 --models rdkit2d-rf,$HYB
bench --tasks hiv --models rdkit2d-rf,rxnfp/bert-pretrained+rdkit2d:probe
