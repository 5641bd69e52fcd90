#!/usr/bin/env bash
# Create .venv (if missing) and install sciptm into it with the given extras, e.g. `scripts/setup.sh test`.
# torch==2.13.0 goes in first: the CPU build when this machine has no NVIDIA GPU (so pip pulls no CUDA packages).
# Idempotent: a second call only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
TORCH="${TORCH_VERSION:-2.13.0}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
pip=("$VENV/bin/python" -m pip install -q)
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup: NVIDIA GPU found: torch==$TORCH (CUDA build)"
    "${pip[@]}" "torch==$TORCH"
  elif "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
import urllib.request
urllib.request.urlopen("https://download.pytorch.org/whl/cpu/torch/", timeout=5)
PY
  then
    echo "setup: no GPU: torch==$TORCH CPU build from download.pytorch.org"
    "${pip[@]}" "torch==$TORCH" --index-url https://download.pytorch.org/whl/cpu \
      || "${pip[@]}" "torch==$TORCH"
  else
    echo "setup: no GPU, download.pytorch.org unreachable: torch==$TORCH from the configured index (a CPU wheel when one is there)"
    "${pip[@]}" "torch==$TORCH"
  fi
fi
spec="."
[ -n "$extras" ] && spec=".[$extras]"
"${pip[@]}" -e "$spec"
echo "setup: $("$VENV/bin/python" -c 'import sciptm, torch; print(f"sciptm {sciptm.__version__}, torch {torch.__version__}")')"
