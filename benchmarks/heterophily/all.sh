#!/usr/bin/env bash
# Every search of the heterophily table, in two chains sharing a 2-core machine (one
# thread each: GRAFF; the baselines). Resumable: rerun after a stop and every study goes
# on where it was; a finished search with its final 10-split run is skipped (search.sh).
#   benchmarks/heterophily/all.sh            # logs in runs/heterophily/*.log
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
logs="${OUT_ROOT:-runs/heterophily}"
mkdir -p "$logs"
# Two chains (one per core), what the table needs first: GRAFF and the baselines on
# Platonov et al.'s graphs, then the filtered graphs.
(
  "$here/search.sh" graff minesweeper tolokers chameleon-filtered squirrel-filtered
) >> "$logs/graff.log" 2>&1 &
(
  for m in gat gat_sep; do "$here/search.sh" "$m" minesweeper; done
  for m in gcn sage mlp gat gat_sep; do "$here/search.sh" "$m" tolokers; done
  for ds in chameleon-filtered squirrel-filtered; do
    for m in gcn sage mlp gat gat_sep; do "$here/search.sh" "$m" "$ds"; done
  done
) >> "$logs/baselines.log" 2>&1 &
wait
