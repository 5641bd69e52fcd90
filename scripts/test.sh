#!/usr/bin/env bash
# The README's test command on a fresh machine: set up .venv with the test extras and the Chemprop peer, then
# the whole test suite. Real-data tests read the data mirror: SCIPTM_DATA_MIRROR, else ../shared/datasets when
# that folder exists (they skip with a reason without one). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/setup.sh "test,peers"
if [ -z "${SCIPTM_DATA_MIRROR:-}" ] && [ -d ../shared/datasets ]; then
  export SCIPTM_DATA_MIRROR="$(cd ../shared/datasets && pwd)"
fi
echo "test: set-up took $(( $(date +%s) - start )) s; data mirror: ${SCIPTM_DATA_MIRROR:-(none: real-data tests skip)}"
.venv/bin/python -m pytest -q "$@"
echo "test: total $(( $(date +%s) - start )) s"
