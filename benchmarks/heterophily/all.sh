#!/usr/bin/env bash
# Every search of the heterophily table, in two chains sharing a 2-core machine, one thread
# each: (1) GRAFF, then the filtered graphs' baselines; (2) the baselines of Platonov et
# al.'s graphs. Resumable: rerun after a stop and every study goes on where it was (a killed
# trial's configuration first); a finished search with its final 10-split run is skipped.
#   benchmarks/heterophily/all.sh            # logs in runs/heterophily/*.log
# Order: Platonov et al.'s graphs first, and within a chain the cheaper searches first, so
# a stop leaves as many finished rows as the hours allowed (projected cost of the rest:
# `python benchmarks/heterophily/table.py`, "Still to run").
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
logs="${OUT_ROOT:-runs/heterophily}"
mkdir -p "$logs"
# The GRAFF chain goes on with the baselines of the filtered graphs, so neither core idles
# while the other chain still has Platonov et al.'s graphs to search.
(
  "$here/search.sh" graff minesweeper squirrel-filtered chameleon-filtered tolokers
  for ds in chameleon-filtered squirrel-filtered; do
    for m in mlp gcn sage gat gat_sep; do "$here/search.sh" "$m" "$ds"; done
  done
) >> "$logs/graff.log" 2>&1 &
(
  for m in mlp gcn sage; do "$here/search.sh" "$m" tolokers; done
  for m in gat gat_sep; do "$here/search.sh" "$m" minesweeper tolokers; done
) >> "$logs/baselines.log" 2>&1 &
wait
