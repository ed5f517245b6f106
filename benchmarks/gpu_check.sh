#!/usr/bin/env bash
# GPU check (issue 15): paper-preset 4-s clip time and train-step times. Run from the repository root on a machine
# with CUDA (it also runs on a CPU, where the numbers are not the targets). Extra arguments go to gpu_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}"
"$PY" -c 'import torch; print("cuda available:", torch.cuda.is_available())'
exec "$PY" benchmarks/gpu_check.py "$@"
