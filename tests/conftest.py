"""Shared helpers for the engine tests.

Everything runs on the CPU with seeded random VGG-19 weights, tiny images made here with
numpy + Pillow (nothing is committed), and a handful of iterations.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import nst

ROOT = Path(__file__).resolve().parents[1]

# history.csv columns that hold losses (everything but the wall-clock `seconds`)
NOT_LOSSES = ("seconds",)


def tiny_params(name: str = "baseline", **overrides) -> nst.RunParams:
    """A preset shrunk to test size: random weights, 32 px, 5 iterations, CPU."""
    settings = dict(weights="random", size=32, iterations=5, device="cpu")
    settings.update(overrides)
    return nst.preset(name, **settings)


def image_array(width: int, height: int, seed: int) -> np.ndarray:
    """A smooth colour pattern plus some noise (uint8 HxWx3): structured like a photo, not
    flat, so that losses and gradients are not degenerate."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    freq, phase = rng.uniform(1, 4, 3), rng.uniform(0, 2 * math.pi, 3)
    channels = [100 + 80 * np.sin(2 * math.pi * freq[c] * (xx + (c + 1) * yy) + phase[c]) for c in range(3)]
    pattern = np.stack(channels, axis=-1) + rng.normal(0, 20, (height, width, 3))
    return np.clip(pattern, 0, 255).astype(np.uint8)


def make_image(path: Path, width: int = 32, height: int = 32, seed: int = 0, mode: str = "RGB") -> Path:
    """Write a test image (format from the suffix) and return its path."""
    img = Image.fromarray(image_array(width, height, seed), "RGB")
    if mode != "RGB":
        img = img.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


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


def loss_rows(history) -> list[dict]:
    """History rows without the timing column (rows of RunResult.history or a DataFrame)."""
    if hasattr(history, "to_dict"):
        history = history.to_dict("records")
    return [{k: v for k, v in row.items() if k not in NOT_LOSSES} for row in history]


def nst_command() -> list[str]:
    """The installed `nst` console script next to this interpreter, else `python -m nst.cli`."""
    script = shutil.which("nst", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "nst.cli"]


def run_nst(args, env: dict | None = None, cwd: Path | None = None, timeout: int = 120):
    """Run the `nst` command in a subprocess; returns the CompletedProcess (text mode)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        nst_command() + [str(a) for a in args], capture_output=True, text=True,
        env=full_env, cwd=cwd or ROOT, timeout=timeout,
    )
