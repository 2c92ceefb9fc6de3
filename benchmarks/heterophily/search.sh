#!/usr/bin/env bash
# The searches behind the heterophily table (README of this folder): one budget for every
# model. Resumable: rerun the same command after a stop and each study goes on where it was
# (graff tune's journal); a finished study returns at once.
#   benchmarks/heterophily/search.sh MODEL DATASET [DATASET ...]
# Budget: TRIALS counted trials (default 40), at most EPOCHS epochs (default 500) with
# patience PATIENCE (default 100), the objective's default splits, one thread.
# Each study lives in OUT_ROOT/<dataset>-<model> (default: studies/ beside this script, whose
# small files git keeps: commit them and a search goes on from a new checkout).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
model="$1"; shift
trials="${TRIALS:-40}"; epochs="${EPOCHS:-500}"; patience="${PATIENCE:-100}"
# GRAFF's widened space lives here; the baselines use their shipped recipe space by name
# (graff/spaces/residual/<model>.yaml: Platonov et al.'s residual block, AdamW).
# The baselines' shipped configs were written for the plain block: their model.params (e.g.
# GAT's output_heads) are replaced by the residual build's defaults (model.params={}).
# A model that is residual only (gat_sep, gt_sep) searches its default space.
extra=()
if [[ -f "$here/spaces/$model.yaml" ]]; then
  space="$here/spaces/$model.yaml"
elif python -c "import sys; from graff.tune import available_spaces as a; sys.exit('residual/$model' not in a(nested=True))"; then
  space="residual/$model"; extra=(--set "model.params={}")
else
  space="$model"; extra=(--set "model.params={}")
fi
for ds in "$@"; do
  out="${OUT_ROOT:-$here/studies}/$ds-$model"
  if [[ -f "$out/best.yaml" && -f "$out/final/summary.json" ]]; then
    # searched to the end and run on every split; once shipped, the model's config (the
    # study's base) is the winner, so resuming would be refused as a search with another
    # base. A final run without best.yaml is of an unfinished search: it goes on (and its
    # final run is reused if the best config stays the same)
    echo "== $model on $ds: done ($out/final/summary.json)"; continue
  fi
  if [[ ! -f "$out/study.journal" ]]; then
    # a finished row of results.json whose folder is gone (table.py carries it): say that
    # this starts its search again, from scratch
    python - "$here/results.json" "$ds" "$model" <<'PY' || true
import json, sys
path, ds, model = sys.argv[1:]
try:
    rows = json.load(open(path))["rows"]
except (OSError, ValueError, KeyError):
    rows = []
for r in rows:
    # a finished row, as table.py's carry() counts one
    if (r.get("dataset"), r.get("model")) == (ds, model) and "mean" in r and not r.get("unfinished"):
        print(f"note: results.json holds a finished {model} row on {ds} ({r['mean']:.2f} ± "
              f"{r['std']:.2f}) whose search folder is not here; this starts that search anew")
PY
  fi
  echo "== $model on $ds -> $out ($(date -u +%H:%M:%S))"
  graff tune --dataset "$ds" --model "$model" --space "$space" --trials "$trials" \
    --set "optim.epochs=$epochs" --set "optim.patience=$patience" --threads 1 \
    "${extra[@]}" --no-progress --out "$out"
done
