"""Fixtures shared by the tests; the helpers they use live in kit.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from browser_kit import launched_browser, missing_browser
from kit import make_image, make_images


@pytest.fixture(scope="session", autouse=True)
def hash_cache(tmp_path_factory):
    """Remembered content hashes (nst/hashes.py) go to a folder of the test session, not the
    user's ~/.cache; set in the environment, so that `nst` and `snakemake` subprocesses use it."""
    folder = tmp_path_factory.mktemp("hash-cache")
    old = os.environ.get("NST_CACHE_DIR")
    os.environ["NST_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("NST_CACHE_DIR", None)
    else:
        os.environ["NST_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("images")


@pytest.fixture(scope="session")
def content_path(image_dir) -> Path:
    return make_image(image_dir / "content.png", 32, 32, seed=1)


@pytest.fixture(scope="session")
def style_path(image_dir) -> Path:
    return make_image(image_dir / "style.png", 32, 32, seed=2)


@pytest.fixture
def float64_default():
    """Run a test with float64 as torch's default dtype (restored afterwards)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


@pytest.fixture(scope="module")
def one_torch_thread():
    """For a module of 32 px runs (pytestmark = pytest.mark.usefixtures("one_torch_thread")):
    they gain nothing from more threads, and on a busy 2-core machine torch's spinning threads
    made such a module 7x slower; restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def root(tmp_path):
    """A study folder with content images cat, dog and style images wave, mosaic (8 px)."""
    make_images(tmp_path / "images/content", ["cat", "dog"])
    make_images(tmp_path / "images/style", ["wave", "mosaic"])
    return tmp_path


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session (tests/browser_kit.py). Without Chromium or
    Playwright the browser tests fail with the reason: they are never skipped (CI runs them)."""
    reason = missing_browser()
    if reason:
        pytest.fail(reason)
    with launched_browser() as chromium:
        yield chromium
