#!/usr/bin/env bash
# Chromium for the browser tests (tests/test_*browser*.py drive it with Playwright for Python,
# launched with this executable: Playwright's own browser download is not reachable from CI).
# Debian's package, installed only when missing; needs root and apt-get. Without them it says so
# and exits 0: the browser tests then fail with the reason (they are not skipped in CI).
set -euo pipefail
CHROMIUM=${NST_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get > /dev/null 2>&1; then
  echo "install-browser.sh: $CHROMIUM is missing and this is not root with apt-get; install Debian's chromium package (or set NST_CHROMIUM)" >&2
  exit 0
fi
echo "install-browser.sh: installing chromium (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq > /dev/null 2>&1 || apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium > /dev/null 2>&1 \
  || apt-get install -y -qq --no-install-recommends chromium
