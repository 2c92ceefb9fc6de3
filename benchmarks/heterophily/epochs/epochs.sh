#!/usr/bin/env bash
# Does the shared search budget's 500 epochs bind a model? Reruns a shipped config on the 10
# splits with a longer cap (patience, and everything else, as shipped), in a folder beside
# this script that git keeps (resumable: rerun after a stop). Platonov et al. trained 1000
# steps. Usage: benchmarks/heterophily/epochs/epochs.sh MODEL DATASET [EPOCHS]
#   benchmarks/heterophily/epochs/epochs.sh graff minesweeper 1000
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
model="$1" dataset="$2" epochs="${3:-1000}"
exec graff train --dataset "$dataset" --model "$model" --set "optim.epochs=$epochs" \
  --threads 1 --no-progress --out "$here/$dataset-$model-$epochs"
