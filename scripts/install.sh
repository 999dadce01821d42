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
# pip byte-compiles what it installs: keep it. Without it, where PYTHONDONTWRITEBYTECODE is set
# (as on these machines), every process would compile torch again: 6 s per job instead of 2.
.venv/bin/python -m pip install --quiet -e '.[test]' 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import nst, torch, torchvision, kornia, snakemake" \
  || { echo "install.sh: the environment in .venv is incomplete" >&2; exit 1; }
