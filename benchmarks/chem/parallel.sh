#!/usr/bin/env bash
# Run the full chemistry grid (9 MoleculeNet sets x 5 models x seeds 0 1 2, scaffold_balanced) as
# independent `sciptm bench` processes writing into one results folder, then collect results.json
# and the report with one final (resuming, so nothing is redone) call. Used on the 16-core GPU machine:
#   RESULTS=results/chem LIMIT=540 bash benchmarks/chem/parallel.sh
set -u
RESULTS=${RESULTS:-results/chem}; LIMIT=${LIMIT:-540}
CFG=benchmarks/chem/models.yaml
B="python3 -m sciptm bench chem --split scaffold_balanced --model-config $CFG --out $RESULTS --no-report"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONUNBUFFERED=1
mkdir -p "$RESULTS/logs"
launch() { timeout "$LIMIT" $B "$@" > "$RESULTS/logs/$(echo "$*" | tr ' /,' '___' | cut -c1-80).log" 2>&1 & }
for t in esol freesolv lipo bbbp bace clintox tox21 sider; do
  launch --tasks $t --models mean,ecfp-rf,rdkit2d-rf --seeds 0 1 2
  launch --tasks $t --models chemprop --seeds 0 1 2
done
launch --tasks esol,freesolv,bbbp,bace,clintox,sider --models tiny --seeds 0 1 2
launch --tasks lipo,tox21 --models tiny --seeds 0 1 2
for s in 0 1 2; do
  launch --tasks hiv --models tiny --seeds $s
  launch --tasks hiv --models chemprop --seeds $s
  launch --tasks hiv --models mean,ecfp-rf,rdkit2d-rf --seeds $s
done
wait
