#!/usr/bin/env bash
# What the shipped configs of the heterophily table do to the features' energy: split 0 of
# each (model, graph) trained as `graff train` does, then `graff analyze` (GRAFF: the energy
# along its Euler steps, its W spectrum and regime; a baseline: the energy after each layer).
# Resumable: a trained split is kept and only analysed again.
#   benchmarks/heterophily/energy.sh            # runs in runs/heterophily-energy/
#   python benchmarks/heterophily/energy.py     # energy.md / energy.json / energy.png here
set -euo pipefail
runs="${RUNS:-runs/heterophily-energy}"
pairs="${PAIRS:-graff:minesweeper gcn:minesweeper sage:minesweeper gat:minesweeper
  gat_sep:minesweeper graff:tolokers gcn:tolokers sage:tolokers gat:tolokers gat_sep:tolokers
  graff:chameleon-filtered gcn:chameleon-filtered graff:squirrel-filtered gcn:squirrel-filtered}"
for pair in $pairs; do
  model="${pair%%:*}"; ds="${pair#*:}"; out="$runs/$ds-$model"
  if [[ ! -f "$out/split_0.pt" ]]; then
    echo "== $model on $ds: training split 0 ($(date -u +%T))"
    graff train --dataset "$ds" --model "$model" --set 'data.splits=[0]' --threads 1 \
      --no-progress --overwrite --out "$out"
  fi
  graff analyze "$out" --no-plots --threads 1 --out "$out/analysis" > /dev/null
  echo "== $model on $ds: $out/analysis/analysis.json"
done
