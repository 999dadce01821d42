"""Launching Chromium for the browser tests: Debian's package (scripts/install-browser.sh
installs it) driven by Playwright for Python; Playwright's own browser download is not
reachable from CI. The `browser` fixture (tests/conftest.py) uses this."""
from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = os.environ.get("NST_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def launch(playwright):
    """A headless Chromium from CHROMIUM; AssertionError saying how to get it when it is missing."""
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: run scripts/install-browser.sh (or set NST_CHROMIUM)"
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
