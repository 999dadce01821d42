"""The gallery's folder (results/gallery/), built in one step from what the study has made:

    index.html, gallery.css, *.js     the page (assets/, written here: no CDN, no build step)
    data.js                           every run (data.py), loaded by <script src>
    runs/<content>/<style>/<run_id>.webp, .js, .png
                                      per run: its card's thumbnail and curve (a job's
                                      output) and the run's image
    images/content/, images/style/    the study's content and style images

Per-run files are hard links where the file system allows them (a copy otherwise): no image is
stored twice on disk, 10,000 runs link in seconds, and the folder is whole by itself, which is
what the report's zip needs (it carries this folder and nothing else of results/). On disk a
card links to the run's own folder (../runs/<content>/<style>/<run_id>/); inside the zip the
page links to the copy of its image instead. The folder is built under a temporary name and then swapped in.
"""
from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path

import pandas as pd

from ...contracts import layout
from ...contracts.manifest import Manifest
from ...errors import InputError
from ...files import write_failure, write_text, WRITE_ERRNOS
from ..tables.aggregate import read_csv
from .data import data_script, gallery_data

ASSETS = ("index.html", "gallery.css", "format.js", "state.js", "chart.js", "grid.js", "detail.js",
          "compare.js", "filters.js", "app.js")
RUN_COPIES = ("runs", "images")  # the folders a build writes besides the assets


def asset_text(name: str) -> str:
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def link_or_copy(source: str | os.PathLike, dest: str | os.PathLike) -> None:
    """`dest` as a hard link of `source`, else a copy; InputError naming a missing source."""
    try:
        os.link(source, dest)
    except FileNotFoundError:
        if not os.path.isfile(source):
            raise InputError(f"gallery: {str(source)!r} is missing (snakemake makes it; was it deleted?)") from None
        raise
    except OSError:  # another file system, or one without hard links
        shutil.copyfile(source, dest)


def tuned_tables(manifest: Manifest, results) -> dict[str, pd.DataFrame]:
    return {name: read_csv(layout.table(name, results))
            for name, exp in manifest.experiments.items() if exp.kind == "tune"}


def copy_images(manifest: Manifest, folder: Path) -> dict[str, dict[str, str]]:
    """The content and style images into folder/images/<role>/ (a blend is shown by its
    heaviest member, as in the grids); {role: {stem: path inside the gallery}}."""
    out: dict[str, dict[str, str]] = {"content": {}, "style": {}}
    for role, images in manifest.images.items():
        for stem, path in images.items():
            name = Path(path).name
            dest = folder / "images" / role / name
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                link_or_copy(path, dest)
            out[role][stem] = f"images/{role}/{name}"
    return out


# The gallery's copy of each run's files, named by the run: runs/<content>/<style>/<run_id>.<ext>
COPIES = {"webp": ("card", layout.THUMB), "js": ("card", layout.CURVE), "png": ("run", layout.IMAGE)}


def link_runs(runs: pd.DataFrame, results, folder: Path) -> None:
    """Each run's thumbnail, curve and image into folder/runs/<content>/<style>/ (flat, three
    files a run: on a network file system every file and folder is a round trip; plain string
    paths: at 10,000 runs pathlib's objects cost more than the links)."""
    runs_dir = layout.runs_folder(results)
    made = set()
    for content, style, run_id in zip(runs["content"].astype(str), runs["style"].astype(str),
                                      runs["run_id"].astype(str)):
        pair = os.path.join(folder, "runs", content, style)
        if pair not in made:
            os.makedirs(pair, exist_ok=True)
            made.add(pair)
        for ext, (kind, name) in COPIES.items():
            source = (layout.card_file(content, style, run_id, name, results) if kind == "card"
                      else layout.run_file(content, style, run_id, name, runs_dir))
            link_or_copy(source, os.path.join(pair, f"{run_id}.{ext}"))


def build_gallery(manifest: Manifest, results: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the gallery of the study under `results` (its runs.csv, tuned tables, cards and
    runs) to the folder `out`, replacing what was there. Returns `out`."""
    out = Path(out)
    runs = read_csv(layout.table("runs", results))
    tables = tuned_tables(manifest, results)
    staging = out.with_name(f".{out.name}.staging{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        images = copy_images(manifest, staging)
        data = gallery_data(manifest, runs, tables, images)
        link_runs(runs, results, staging)
        for name in ASSETS:
            write_text(staging / name, asset_text(name))
        write_text(staging / "data.js", data_script(data))
        _swap_in(staging, out)
    except OSError as err:
        if err.errno in WRITE_ERRNOS:
            raise write_failure(out, err) from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _swap_in(staging: Path, out: Path) -> None:
    """Replace `out` by `staging`: the old folder is moved aside first and removed last."""
    old = out.with_name(f".{out.name}.old{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)
