"""The package installs as a package: the wheel built from pyproject.toml holds every module of
nst/, and `nst` installed from it into an empty virtual environment runs outside the source
tree (an editable install would hide a package missing from the wheel)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from kit import ROOT

# the wheel is built from these alone: what pyproject.toml needs (readme) and the package
SOURCES = ("pyproject.toml", "README.md", "nst")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel, the bin folder of an empty venv it is installed into, --no-deps). The venv
    reaches this environment's installed dependencies through a .pth file that names its
    site-packages folder: a folder added that way is searched but its own .pth files (this
    checkout's editable install among them) are not run, so `nst` can only come from the wheel."""
    tmp = tmp_path_factory.mktemp("package")
    source = tmp / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    # no build isolation: the build uses this environment's setuptools (no download)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(tmp / "dist"),
                    str(source)], check=True, capture_output=True, text=True, timeout=600)
    wheel = next((tmp / "dist").glob("nst_sweeps-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    subprocess.run([*pip, "--python", str(venv / "bin" / "python"), "install", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True, text=True, timeout=600)
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return wheel, venv / "bin"


def run_outside(bin_dir: Path, *command: str) -> subprocess.CompletedProcess:
    """`command` from the venv's bin folder, in a folder outside the source tree, with no
    PYTHONPATH: nothing can import this checkout's nst/."""
    elsewhere = bin_dir.parent.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([str(bin_dir / command[0]), *command[1:]], cwd=elsewhere, env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_wheel_holds_every_module_of_nst(installed):
    wheel, _ = installed
    with zipfile.ZipFile(wheel) as archive:
        packed = {name for name in archive.namelist() if name.startswith("nst/")}
    source = {p.relative_to(ROOT).as_posix() for p in (ROOT / "nst").rglob("*.py")}
    # the pages nst writes or serves (the gallery's, the rating page) are its only data files
    pages = {p.relative_to(ROOT).as_posix() for folder in ("nst/study/gallery/assets", "nst/judge/page")
             for p in (ROOT / folder).iterdir() if p.is_file()}
    assert pages and source | pages == packed  # every module and page, and nothing else
    assert "nst/cli/__init__.py" in packed


def test_nst_runs_from_the_wheel_outside_the_source_tree(installed):
    _, bin_dir = installed
    where = run_outside(bin_dir, "python", "-c", "import nst.cli, nst.study.plan.build; print(nst.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(bin_dir.parent), where.stdout  # the wheel's, not nst/
    assert not Path(where.stdout.strip()).is_relative_to(ROOT)
    helped = run_outside(bin_dir, "nst", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "presets" in helped.stdout and "run" in helped.stdout
    presets = run_outside(bin_dir, "nst", "presets")
    assert presets.returncode == 0, presets.stderr
    assert "baseline:" in presets.stdout and "gatys:" in presets.stdout
