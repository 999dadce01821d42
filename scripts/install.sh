#!/usr/bin/env bash
# Create .venv (if missing) and install the project with its test and demo extras into it.
# torch/torchvision ranges in pyproject.toml admit what pip already finds on the build machines.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
# --no-compile: pip's byte-compiling of every installed module (torch's thousands) is about a
# seventh of a fresh install; Python compiles what is imported, once, on first use instead.
.venv/bin/python -m pip install --quiet --no-compile -e '.[test,demo]' 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import nst, torch, torchvision, kornia, snakemake" \
  || { echo "install.sh: the environment in .venv is incomplete" >&2; exit 1; }
