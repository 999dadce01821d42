#!/usr/bin/env bash
# Install into .venv and run the whole test suite (CPU, random weights, tiny images).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/install-browser.sh  # Chromium for the browser tests (Debian's package, when missing)
export PATH="$PWD/.venv/bin:$PATH"
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider "$@"
