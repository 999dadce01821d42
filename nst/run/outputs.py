"""One run on disk (DESIGN.md): image.png, history.csv, run.json, snapshots/<iteration>.png
(+ <iteration>.json: the run's own losses and the reference evaluation at that iteration).

Every file is written under a temporary name and renamed; run.json goes last, so a folder
with run.json in it is a finished run, and a killed job leaves nothing that looks finished.

The file names below are the run folder's layout; nst/study/layout.py (results/ as a whole)
takes them from here. This module imports torch only when it writes a run, so reading the
names or a finished run's record stays torch-free.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import csv
import io

from ..errors import OutputError
from ..files import finite_or_null, staged_run_folder, write_text

if TYPE_CHECKING:
    from .engine import RunResult

IMAGE = "image.png"
HISTORY = "history.csv"
RECORD = "run.json"  # written last: its presence marks a finished run
SNAPSHOTS = "snapshots"  # <iteration>.png and <iteration>.json per requested snapshot


def history_csv(rows: list[dict], columns: list[str]) -> str:
    """One line per iteration. The csv module, not pandas, because this is on every job's path
    and pandas costs ~0.4 s to import; floats are written with repr, so they read back exact."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_run(result: RunResult, outdir: str | os.PathLike) -> Path:
    """Write a run's files into `outdir` (staged, then moved in, run.json last; see
    files.staged_run_folder). Whether a finished run there may be replaced is the caller's
    decision (check_outdir)."""
    from .checkpoint import resume_file
    from .engine import history_columns
    from .images import save_png

    outdir = Path(outdir)
    with staged_run_folder(outdir) as staging:
        for iteration, image in sorted(result.snapshots.items()):
            save_png(image, staging / SNAPSHOTS / f"{iteration}.png")
            write_text(staging / SNAPSHOTS / f"{iteration}.json",
                       json.dumps(finite_or_null(result.snapshot_scores[iteration]), indent=2) + "\n")
        save_png(result.image, staging / IMAGE)
        write_text(staging / HISTORY, history_csv(result.history, history_columns(result.params)))
        write_text(staging / RECORD, json.dumps(finite_or_null(result.record()), indent=2) + "\n")
    resume_file(outdir).unlink(missing_ok=True)  # finished: nothing to resume (snapshot states stay)
    return outdir


def finished_run_id(outdir: str | os.PathLike) -> str | None:
    """The run id of the finished run in `outdir`, if there is one ("?" if its run.json is
    unreadable: still a finished run's folder, not to be overwritten silently)."""
    record = Path(outdir) / RECORD
    if not record.is_file():
        return None
    try:
        return str(json.loads(record.read_text()).get("run_id", "?"))
    except (OSError, ValueError):
        return "?"


def check_outdir(outdir: str | os.PathLike, run_id: str, overwrite: bool) -> bool:
    """Whether to compute `run_id` into `outdir`: True if the folder is new, unfinished, or
    the user asked to overwrite; False if it already holds this very run, finished. Another
    finished run there is an OutputError: a later command never destroys one unasked."""
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"-o {str(outdir)!r} is a file; name a folder for the run's files")
    finished = finished_run_id(outdir)
    if finished is None or overwrite:
        return True
    if finished == run_id:
        return False
    raise OutputError(f"{str(outdir)!r} holds another finished run ({finished}); choose another -o "
                      f"folder, or add --overwrite to replace it")


def image_named(record: dict, key: str) -> str | None:
    """The path of the content or style image a run.json names (None in a plain params file)."""
    entry = record.get(key)
    return entry.get("path") if isinstance(entry, dict) else None
