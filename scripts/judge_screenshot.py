"""The README's picture of the rating page: start `nst judge` on a study's results folder, open
the page in Chromium (as the browser tests do), give a rater's name and save a screenshot.

    .venv/bin/python scripts/judge_screenshot.py RESULTS_DIR docs/judge_page.png

docs/judge_page.png was made from a study of the demo's photographs and paintings (96 px, the
Caffe VGG-19, the revised preset at style weights 1e3, 1e5, 1e7 on two pairs)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_kit import launch  # noqa: E402


def main(results: str, out: str) -> int:
    from playwright.sync_api import sync_playwright

    nst = Path(sys.executable).parent / "nst"
    proc = subprocess.Popen([str(nst), "judge", "--results", results, "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            return 1  # nst judge said why on stderr
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.goto(url)
            page.fill("#rater", "README")
            page.click("#rater-form button")
            page.wait_for_selector("#rating:not([hidden])")
            page.wait_for_function("() => [...document.querySelectorAll('#rating img')].every(i => i.complete)")
            page.screenshot(path=out)
            browser.close()
    finally:
        proc.terminate()
        proc.wait()
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
