#!/usr/bin/env bash
# What the shipped configs of the heterophily table do to the features' energy: split 0 of
# each (model, graph) trained as `graff train` does, then `graff analyze` (GRAFF: the energy
# along its Euler steps, its W spectrum and regime; a baseline: the energy after each layer).
# Resumable: a trained split of the config shipped now is kept and only analysed again; one
# of a config since replaced (a search shipped after it ran) is trained again.
#   benchmarks/heterophily/energy.sh            # runs in runs/heterophily-energy/
#   python benchmarks/heterophily/energy.py     # energy.md / energy.json / energy.png here
set -euo pipefail
runs="${RUNS:-runs/heterophily-energy}"
pairs="${PAIRS:-graff:minesweeper gcn:minesweeper sage:minesweeper gat:minesweeper
  gat_sep:minesweeper graff:tolokers gcn:tolokers sage:tolokers gat:tolokers gat_sep:tolokers
  graff:chameleon-filtered gcn:chameleon-filtered graff:squirrel-filtered gcn:squirrel-filtered}"
for pair in $pairs; do
  model="${pair%%:*}"; ds="${pair#*:}"; out="$runs/$ds-$model"
  # finished (this config, split 0), other (a config since replaced), resume or new
  state="$(python - "$out" "$ds" "$model" <<'PY'
import sys
from graff.train.resolve import resolve_config
from graff.train.rundir import run_state
out, ds, model = sys.argv[1:]
cfg, _ = resolve_config(dataset=ds, model=model, overrides=["data.splits=[0]"])
print(run_state(out, cfg, [0])[0])
PY
)"
  if [[ "$state" != finished ]]; then
    echo "== $model on $ds: training split 0 ($(date -u +%T); the run there: $state)"
    graff train --dataset "$ds" --model "$model" --set 'data.splits=[0]' --threads 1 \
      --no-progress --overwrite --out "$out"
  fi
  graff analyze "$out" --no-plots --threads 1 --out "$out/analysis" > /dev/null
  echo "== $model on $ds: $out/analysis/analysis.json"
done
