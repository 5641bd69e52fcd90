#!/usr/bin/env bash
# Resumable, nice'd background chain of the zoo benchmark runs (issue 11). Each line of queue.txt is one
# `sciptm bench ...` command; finished (task, model, seed) runs are skipped by sciptm itself, and a line that
# completed is recorded in done.txt so a restart continues with the next one. New lines may be appended while
# it runs; no new line is started after STOP_AT (HH:MM UTC).
set -u
cd "$(dirname "$0")/../.."
. .venv/bin/activate
export SCIPTM_DATA_MIRROR=${SCIPTM_DATA_MIRROR:-/work/shared/datasets} OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
Q=benchmarks/zoo/queue.txt; D=benchmarks/zoo/done.txt; touch "$D"
STOP_AT=${STOP_AT:-22:05}
while true; do
  line=$(grep -v '^#' "$Q" | grep -v '^$' | grep -vxFf "$D" | head -1)
  [ -z "$line" ] && { echo "queue empty $(date -u +%T)"; break; }
  if [[ "$(date -u +%H:%M)" > "$STOP_AT" ]]; then echo "past $STOP_AT: not starting: $line"; break; fi
  echo "=== $(date -u +%T) start: $line"
  s=$(date +%s)
  if nice -n 10 bash -c "$line"; then echo "$line" >> "$D"; fi
  echo "=== $(date -u +%T) end ($(( $(date +%s) - s )) s): $line"
done
