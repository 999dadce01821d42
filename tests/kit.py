"""Helpers shared by the tests (a plain module, not a test file; fixtures live in conftest.py).

Engine kit: everything runs on the CPU with seeded random VGG-19 weights, tiny images made here
with numpy + Pillow (nothing is committed), and a handful of iterations.

Workflow kit: a tiny study in a temporary copy of the workflow, run through the real
`snakemake` CLI.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import json

import numpy as np
import pandas as pd
import yaml
from PIL import Image

import nst
from nst.contracts import layout
from nst.study.plan.build import build_plan
from nst.study.plan.trajectory import share_trajectories, shares_trajectories

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# history.csv columns that hold losses (everything but the wall-clock `seconds`)
NOT_LOSSES = ("seconds",)


# --- the engine kit ------------------------------------------------------------------------
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


def loss_rows(history) -> list[dict]:
    """History rows without the timing column (rows of RunResult.history or a DataFrame)."""
    if hasattr(history, "to_dict"):
        history = history.to_dict("records")
    return [{k: v for k, v in row.items() if k not in NOT_LOSSES} for row in history]


def nst_command() -> list[str]:
    """The installed `nst` console script next to this interpreter, else `python -m nst.cli`."""
    script = shutil.which("nst", path=str(BIN))
    return [script] if script else [sys.executable, "-m", "nst.cli"]


def run_nst(args, env: dict | None = None, cwd: Path | None = None, timeout: int = 120):
    """Run the `nst` command in a subprocess; returns the CompletedProcess (text mode)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        nst_command() + [str(a) for a in args], capture_output=True, text=True,
        env=full_env, cwd=cwd or ROOT, timeout=timeout,
    )


# --- the workflow kit ----------------------------------------------------------------------
PAIR = [{"content": "cat", "style": "wave"}]

TINY_CONFIG = {
    "images": {"content": "images/content", "style": "images/style"},
    "pairs": "all",
    "params": {"size": 32, "iterations": 4, "weights": "random"},
    "execution": {"device": "cpu", "threads": 1},
    "experiments": {
        "matrix": {"title": "Every pair", "paper": "Figs. 13-14", "base": "baseline"},
        "style_weight": {"paper": "Fig. 8", "pairs": PAIR, "vary": {"style_weight": [1.0e+5, 1.0e+6]}},
        "iterations": {"paper": "Fig. 6", "pairs": PAIR, "vary": {"iterations": [2, 4]}},
        "layers": {"paper": "Fig. 7", "pairs": PAIR, "subsets": {"style_layers": ["conv_1", "conv_3"]}},
        "diverge": {"pairs": PAIR, "vary": {"style_weight": [1.0e+39]}},
        "revised": {"base": "revised", "tune": {"style_weight": [1.0e+5, 1.0e+6]}},
    },
    "results_array": {"baseline": "matrix", "revised": "revised"},
}


def write_image(path: Path, seed: int, side: int = 40) -> None:
    """Write a `side` x `side` RGB noise image (PNG unless the suffix says otherwise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((side, side, 3)) * 255).astype("uint8")).save(path)


def make_study(root: Path, config: dict = TINY_CONFIG) -> Path:
    """A study in `root`: a copy of the workflow, two content and two style images, and
    `config` as study.yaml; returns `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "environment.yml"):
        shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / "workflow", root / "workflow", ignore=shutil.ignore_patterns("__pycache__"))
    for i, stem in enumerate(["cat", "dog"]):
        write_image(root / "images/content" / f"{stem}.png", i)
    for i, stem in enumerate(["wave", "mosaic"]):
        write_image(root / "images/style" / f"{stem}.png", 10 + i)
    (root / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def snakemake(root: Path, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run `snakemake --cores 2 --configfile study.yaml ARGS` in `root`; with `check`, a
    failure raises AssertionError with the tail of its output."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [str(BIN / "snakemake"), "--cores", "2", "--configfile", "study.yaml", *args]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def planned_jobs(root: Path, rule: str = "stylize") -> int:
    """How many jobs of `rule` a dry run would execute."""
    out = snakemake(root, "-n", "--quiet", "rules").stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == rule:
            return int(parts[1])
    return 0


def plan_of(root: Path, config: dict = TINY_CONFIG):
    """The study's plan as the workflow makes it (shared trajectories included), without
    reading the images."""
    plan = build_plan(config, root=root, verify_images=False)
    return share_trajectories(plan, Path(root) / layout.RUNS) if shares_trajectories(config) else plan


# --- comparing two runs' files ----------------------------------------------------------------
def losses(folder) -> pd.DataFrame:
    return pd.read_csv(folder / "history.csv").drop(columns=["seconds"])


def run_json(folder) -> dict:
    return json.loads((folder / "run.json").read_text())


def assert_same_run_files(a, b):
    """The files of two runs are equal (timing and the resume record apart)."""
    pd.testing.assert_frame_equal(losses(a), losses(b), check_exact=True)
    snapshots = [*(a / "snapshots").glob("*.png"), *(a / "snapshots").glob("*.json")]
    for name in ["image.png", *sorted(p.relative_to(a).as_posix() for p in snapshots)]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ra, rb = run_json(a), run_json(b)
    for record in (ra, rb):
        record.pop("timing"), record.pop("resumed_from", None)
    assert ra == rb


# --- planning kit: tiny images and a config over them ------------------------------------
def make_images(folder: Path, stems, ext=".png", side=8) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(stems))
    for stem in stems:
        Image.fromarray((rng.random((side, side, 3)) * 255).astype("uint8")).save(folder / f"{stem}{ext}")


def small_config(**experiments) -> dict:
    return {
        "images": {"content": "images/content", "style": "images/style"},
        "pairs": "all",
        "params": {"size": 32, "weights": "random", "iterations": 3},
        "execution": {"device": "cpu", "threads": 1},
        "experiments": experiments or {"base": {"base": "baseline"}},
    }
