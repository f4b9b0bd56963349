#!/usr/bin/env bash
# Install (scripts/install.sh) and run the main job: the end-to-end demo on CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
OUT=${1:-demo-out}
mkdir -p "$OUT"
scalinglab fit example:chinchilla-240 --law chinchilla --bootstrap 1000 --at-compute 5.76e23 \
  --json "$OUT/fit.json"
