#!/usr/bin/env bash
# The GPU checks of graff in one short script, for a session lent a device machine (the
# `device` tool; CI never runs this). Every step is time-boxed so the whole ends inside one
# call (≤ 9 min), and what it measured comes back under $OUT (at most 8 files):
#   env.txt            nvidia-smi, python, torch, PyG
#   tests.log          the device-parametrised tests (their cuda ids) — pass/fail
#   bench-cuda.json/md `graff bench --device cuda` (GRAFF against PyG's GCN, speed)
#   published.log      Platonov et al.'s published setting rerun on the GPU
#                      (benchmarks/heterophily/published.py), rows in PUBLISHED_ROWS order,
#                      one line per finished depth, until its time box ends
#
# Here, once (copies the data files these steps read into .device-data/, git-ignored):
#   tools/device-check.sh --prepare
# Then, with the device tool:  run(command="bash tools/device-check.sh",
#   carry=[".device-data"], timeout_s=570)
# Knobs: BENCH_S, PUBLISHED_S (seconds), PUBLISHED_ROWS ("row:dataset ..."), DEVICE.
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"

if [[ "${1:-}" == "--prepare" ]]; then
  src="${GRAFF_DATA:-../shared/data}"
  grep -qx "/.device-data/" .git/info/exclude 2>/dev/null || echo "/.device-data/" >> .git/info/exclude
  rm -rf .device-data && mkdir -p .device-data/geom-gcn/new_data .device-data/geom-gcn/splits
  cp -r "$src/planetoid" "$src/heterophilous-graphs" .device-data/
  cp -r "$src/geom-gcn/new_data/texas" .device-data/geom-gcn/new_data/
  cp "$src"/geom-gcn/splits/{texas,cora,pubmed}_* .device-data/geom-gcn/splits/
  du -sh .device-data
  exit 0
fi

OUT="${OUT:-/tmp/device-check}"
mkdir -p "$OUT"
DEVICE="${DEVICE:-cuda}"
export PYTHONPATH="$here/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export GRAFF_DATA="$here/.device-data"
py=python3
{
  nvidia-smi 2>&1 || echo "no nvidia-smi"
  $py -c "import sys, torch, torch_geometric as g; print(sys.version); print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else ''); print('pyg', g.__version__)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

echo "== device tests ($(date -u +%T))"
timeout "${TESTS_S:-150}" $py -m pytest -q -p no:cacheprovider -k "$DEVICE" \
  tests/test_device.py tests/test_bench.py tests/train/test_precision.py tests/nn/test_interop.py \
  > "$OUT/tests.log" 2>&1
echo "tests rc=$?"; tail -3 "$OUT/tests.log"

echo "== graff bench --device $DEVICE ($(date -u +%T))"
timeout "${BENCH_S:-150}" $py -m graff bench --device "$DEVICE" --graphs cora,pubmed,synthetic \
  --no-progress --out "$OUT/bench-$DEVICE.json" > /dev/null 2>&1
echo "bench rc=$?"; cat "$OUT/bench-$DEVICE.md" 2>/dev/null | head -30

echo "== Platonov et al.'s published setting ($(date -u +%T))"
end=$(( $(date +%s) + ${PUBLISHED_S:-200} ))
for cell in ${PUBLISHED_ROWS:-gcn:minesweeper sage:minesweeper gat-sep:minesweeper gcn:tolokers}; do
  left=$(( end - $(date +%s) ))
  (( left > 10 )) || break
  timeout "$left" $py benchmarks/heterophily/published.py --models "${cell%%:*}" \
    --datasets "${cell##*:}" --device "$DEVICE" --out /tmp/published \
    --json "/tmp/published/${cell/:/-}.json" 2>&1 | grep -v "^|" | tee -a "$OUT/published.log"
done
echo "done ($(date -u +%T))"
