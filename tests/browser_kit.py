"""Chromium for the browser tests: Debian's package (scripts/install-browser.sh installs it),
driven by Playwright for Python with that executable (Playwright's own browser download is not
reachable from CI). The session's one browser is conftest.py's `browser` fixture."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = os.environ.get("NST_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} is missing: run scripts/install-browser.sh (as root) or set NST_CHROMIUM"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -e '.[test]'"
    return None


@contextmanager
def launched_browser():
    """A headless Chromium (Playwright Browser), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def launch(playwright):
    """A headless Chromium from CHROMIUM through an open Playwright (scripts that drive their own);
    AssertionError saying how to get it when it is missing."""
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: run scripts/install-browser.sh (or set NST_CHROMIUM)"
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
