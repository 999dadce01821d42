"""Fixtures shared by the tests; the helpers they use live in kit.py."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kit import make_image, make_images


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
    """One headless Chromium for the session's browser tests (tests/browser_kit.py)."""
    from playwright.sync_api import sync_playwright

    from browser_kit import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()
