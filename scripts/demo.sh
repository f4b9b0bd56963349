#!/usr/bin/env bash
# Install (scripts/install.sh) and run the main job: the end-to-end demo on CPU
# (an IsoFLOP study on the built-in corpus, fits, backtest, plan, HTML report in demo-out/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
scalinglab demo --out "${1:-demo-out}"
