#!/usr/bin/env bash
# Create .venv (if missing) and install scalinglab with its extras.
# torch is installed first as the CPU build 2.13.0 so that the `train` extra's range
# (torch>=2.5, as pyproject.toml says: the model's attention uses enable_gqa, new in 2.5) is
# already satisfied and no multi-GB CUDA build is pulled. On a GPU box, install
# the torch build you want first (or set SCALINGLAB_TORCH="torch==X"), then run this script.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
if ! python -c "import torch" 2>/dev/null; then
  pip install -q "${SCALINGLAB_TORCH:-torch==2.13.0}"
fi
pip install -q -e ".[dev,train,ray,parquet,mlflow,wandb,tensorboard]"
