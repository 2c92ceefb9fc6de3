#!/usr/bin/env bash
# The searches behind the heterophily table (README of this folder): one budget for every
# model. Resumable: rerun the same command after a stop and each study goes on where it was
# (graff tune's journal); a finished study returns at once.
#   benchmarks/heterophily/search.sh MODEL DATASET [DATASET ...]
# MODEL is a graff model, or gat-sep / gt-sep (their -sep rows: the model with model.sep).
# Budget: TRIALS counted trials (default 40), at most EPOCHS epochs (default 500) with
# patience PATIENCE (default 100), the objective's default splits, one thread.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
label="$1"; shift
model="${label%-sep}"
trials="${TRIALS:-40}"; epochs="${EPOCHS:-500}"; patience="${PATIENCE:-100}"
# GRAFF's widened space lives here; the baselines use their shipped recipe space by name
# (graff/spaces/residual/<model>.yaml: Platonov et al.'s residual block, AdamW).
# The baselines' shipped configs were written for the plain block: their model.params (e.g.
# GAT's output_heads) are replaced by the residual build's defaults (model.params={}).
extra=()
if [[ -f "$here/spaces/$label.yaml" ]]; then
  space="$here/spaces/$label.yaml"
else
  space="residual/$label"; extra=(--set "model.params={}")
fi
for ds in "$@"; do
  out="${OUT_ROOT:-runs/heterophily}/$ds-$label"
  if [[ -f "$out/final/summary.json" ]]; then
    # searched and run on every split; once shipped, the model's config (the study's base)
    # is the winner, so resuming would be refused as a search with another base
    echo "== $label on $ds: done ($out/final/summary.json)"; continue
  fi
  echo "== $label on $ds -> $out ($(date -u +%H:%M:%S))"
  graff tune --dataset "$ds" --model "$model" --space "$space" --trials "$trials" \
    --study "$label-$ds" \
    --set "optim.epochs=$epochs" --set "optim.patience=$patience" --threads 1 \
    "${extra[@]}" --no-progress --out "$out"
done
