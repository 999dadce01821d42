#!/usr/bin/env bash
# Install into .venv and run the demo study (workflow/demo.yaml): 2 content x 2 style images at
# 128 px on the CPU, a few experiments, the Results Array, Table 5 and the HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"
CORES=${CORES:-$(nproc 2>/dev/null || echo 2)}

nst demo-images images/demo > /dev/null
weights=()
if ! nst weights fetch > /dev/null 2>&1; then
  echo "WARNING: ImageNet VGG-19 weights are not here and cannot be downloaded:" >&2
  echo "WARNING: the demo runs with RANDOM weights (not real style transfer; every figure says so)." >&2
  echo "WARNING: on a machine with internet, 'nst weights fetch' gets the real ones." >&2
  weights=(--config "params={weights: random}")
fi
snakemake --cores "$CORES" --configfile workflow/demo.yaml "${weights[@]}" "$@"
snakemake --cores 1 --configfile workflow/demo.yaml "${weights[@]}" --report results/report.html > /dev/null 2>&1 \
  || snakemake --cores 1 --configfile workflow/demo.yaml "${weights[@]}" --report results/report.html
echo "Report: $PWD/results/report.html"
echo "Results Array: $PWD/results/figures/results_array.png   Table 5: $PWD/results/tables/table5.csv"
