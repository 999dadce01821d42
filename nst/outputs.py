"""One run on disk (DESIGN.md): image.png, history.csv, run.json, snapshots/<iteration>.png
(+ <iteration>.json: the run's own losses and the reference evaluation at that iteration).

Every file is written under a temporary name and renamed; run.json goes last, so a folder
with run.json in it is a finished run, and a killed job leaves nothing that looks finished.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import csv
import io
import math

from .engine import RunResult, history_columns
from .files import write_text
from .images import save_png


def history_csv(rows: list[dict], columns: list[str]) -> str:
    """One line per iteration. The csv module, not pandas, because this is on every job's path
    and pandas costs ~0.4 s to import; floats are written with repr, so they read back exact."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def finite_or_null(value):
    """Non-finite numbers (a diverged run's losses) as null: strict JSON has no Infinity/NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_null(v) for v in value]
    return value


def write_run(result: RunResult, outdir: str | os.PathLike) -> Path:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "run.json").unlink(missing_ok=True)  # a re-run is unfinished until it ends
    for iteration, image in sorted(result.snapshots.items()):
        save_png(image, outdir / "snapshots" / f"{iteration}.png")
        write_text(outdir / "snapshots" / f"{iteration}.json",
                   json.dumps(finite_or_null(result.snapshot_scores[iteration]), indent=2) + "\n")
    save_png(result.image, outdir / "image.png")
    write_text(outdir / "history.csv", history_csv(result.history, history_columns(result.params)))
    write_text(outdir / "run.json", json.dumps(finite_or_null(result.record()), indent=2) + "\n")
    return outdir


def read_record(run_dir: str | os.PathLike) -> dict:
    return json.loads((Path(run_dir) / "run.json").read_text())
