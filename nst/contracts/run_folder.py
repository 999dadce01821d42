"""One run on disk (DESIGN.md): image.png, history.csv, run.json, snapshots/<iteration>.png
(+ <iteration>.json: the run's own losses and the reference evaluation at that iteration).

Every file is written under a temporary name and renamed; run.json goes last, so a folder
with run.json in it is a finished run, and a killed job leaves nothing that looks finished.

The file names below are the run folder's layout, spelled nowhere else in nst/ (tests/test_house.py
checks); nst/contracts/layout.py (results/ as a whole) takes them from here. This module is
torch-free: reading the names or a finished run's record (read_record, probe_record: a
RunRecord, nst/contracts/run_record.py) never loads torch. The staged write
(staged_run_folder) is here too, since it is the order the names land in; nst/run/writer.py
writes a run through it, as does a run written from a longer run's snapshot (study/plan/trajectory.py).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ImageError, InputError, OutputError
from ..files import WRITE_ERRNOS, process_alive, read_json_object, unreadable, write_failure
from ..hashes import content_sha256
from .image_files import image_header
from .param_values import INITS
from .run_record import RunRecord

if TYPE_CHECKING:
    from .params import RunParams

IMAGE = "image.png"
HISTORY = "history.csv"
RECORD = "run.json"  # written last: its presence marks a finished run
SNAPSHOTS = "snapshots"  # <iteration>.png and <iteration>.json per requested snapshot (+ <k>.pt)
SCORES = "scores"  # <evaluator hash>.json per evaluator (nst/contracts/layout.py's score_name)
RESUME = "resume.pt"  # the latest resumable state, only while the run is unfinished (nst/run/checkpoint.py)
STAGING_PREFIX = ".staging"  # + the pid of the process writing a run's files (staged_run_folder)


def history_columns(params: RunParams) -> list[str]:
    """history.csv's columns: iteration, the weighted losses (tv when the run has a TV term),
    each layer's, seconds, and the stage's size for a multi-scale run."""
    return (["iteration", "content", "style", "total"] + (["tv"] if params.tv_weight > 0 else [])
            + [f"content_{n}" for n in params.content_layers]
            + [f"style_{n}" for n in params.style_layers] + ["seconds"]
            + (["scale"] if params.scales else []))


def history_csv(rows: list[dict], columns: list[str]) -> str:
    """One line per iteration. The csv module, not pandas, because this is on every job's path
    and pandas costs ~0.4 s to import; floats are written with repr, so they read back exact."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_record(outdir: str | os.PathLike, what: str = "run record") -> RunRecord:
    """The record (run.json) of the finished run in `outdir`. Raises InputError naming `what`
    and the file if it is missing, unreadable, not JSON or not a run's record."""
    path = Path(outdir) / RECORD
    return RunRecord.from_dict(read_json_object(path, what), f"{what} {str(path)!r}")


def probe_record(outdir: str | os.PathLike, what: str = "run record") -> RunRecord | None:
    """The record of the finished run in `outdir`, None if it holds none (no run.json). A
    run.json that cannot be read is still a finished run's: InputError, as read_record."""
    if not (Path(outdir) / RECORD).is_file():
        return None
    return read_record(outdir, what)


def usable_record(outdir: str | os.PathLike) -> RunRecord | None:
    """The record of the finished run in `outdir`, None if it has none or it cannot be read: for
    the planner's steps that read finished runs, where an unreadable run.json is left to the job
    that rewrites it (nst run -o refuses such a folder itself, with one message)."""
    try:
        return probe_record(outdir)
    except InputError:
        return None


# --- writing a run's files: staged, then moved in with run.json last ---------------------
@contextmanager
def staged_run_folder(outdir: str | os.PathLike) -> Iterator[Path]:
    """A staging folder to write one run's files into (image.png, history.csv, run.json,
    snapshots/). When the block ends they replace the run folder's: the old run.json is
    removed only once everything new is written (a full disk leaves a finished run as it
    was), the new run.json lands last, and every snapshot file this run did not stage is
    removed, so a folder never mixes two runs. On an error the staging folder goes away;
    staging folders that killed processes left behind go when a run lands."""
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"cannot write a run into {str(outdir)!r}: it is a file, not a folder")
    staging = outdir / f"{STAGING_PREFIX}{os.getpid()}"
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        yield staging
        _move_run_files(staging, outdir)
        remove_dead_staging(outdir)
    except OSError as err:
        if err.errno in WRITE_ERRNOS:
            raise write_failure(outdir, err) from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_dead_staging(outdir: Path) -> None:
    """Remove the staging folders in `outdir` whose process is gone (a kill during a run's
    final write leaves one); those of live processes stay."""
    for folder in outdir.glob(f"{STAGING_PREFIX}*"):
        pid = re.fullmatch(rf"{re.escape(STAGING_PREFIX)}(\d+)", folder.name)
        if pid and folder.is_dir() and not process_alive(int(pid.group(1))):
            shutil.rmtree(folder, ignore_errors=True)


def _move_run_files(staging: Path, outdir: Path) -> None:
    (outdir / RECORD).unlink(missing_ok=True)  # unfinished from here until the new one lands
    staged_snapshots = staging / SNAPSHOTS
    staged = {p.name for p in staged_snapshots.iterdir()} if staged_snapshots.is_dir() else set()
    old_snapshots = outdir / SNAPSHOTS
    if old_snapshots.is_dir():
        for old in old_snapshots.iterdir():
            if old.name not in staged:
                old.unlink()
    for name in sorted(staged):
        old_snapshots.mkdir(exist_ok=True)
        os.replace(staged_snapshots / name, old_snapshots / name)
    for name in (IMAGE, HISTORY, RECORD):  # run.json last: the run is finished
        if (staging / name).exists():
            os.replace(staging / name, outdir / name)


# --- what a run was made from: its images, by content -------------------------------------
def made_from(record: dict) -> dict | None:
    """{content, styles, init} content hashes of the images a run record lists (run.json, or
    the same shape made from ImageInfos); None when it lists none (a run.json written before
    records had them) or is not a record."""
    def digest(entry):
        return entry.get("sha256") if isinstance(entry, dict) else None

    styles = record.get("styles") or [record.get("style")]
    made = {"content": digest(record.get("content")), "styles": [digest(s) for s in styles],
            "init": digest(record.get("init_image"))}
    return made if made["content"] and all(made["styles"]) else None


def inputs_now(params, content: str | os.PathLike, styles) -> dict:
    """made_from of a run of `params` on these image files as they are now (an init file
    included); ImageError naming a file that cannot be read."""
    styles = [styles] if isinstance(styles, (str, os.PathLike)) else list(styles)

    def digest(path) -> str:
        image_header(path)  # missing, a folder, empty, not an image: the run's own messages
        try:
            return content_sha256(path)
        except OSError as err:
            raise ImageError(unreadable(f"image {str(path)!r}", err)) from None

    init = digest(params.init) if params.init not in INITS else None
    return {"content": digest(content), "styles": [digest(s) for s in styles], "init": init}


def inputs_key(made: dict | None) -> str | None:
    """A short hash of made_from, kept in a run's resumable states (nst/run/checkpoint.py)."""
    if made is None:
        return None
    return hashlib.sha256(json.dumps(made, sort_keys=True).encode()).hexdigest()[:16]


def check_outdir(outdir: str | os.PathLike, run_id: str, made: dict, overwrite: bool, paths=None) -> bool:
    """Whether to compute `run_id` on the images `made` (inputs_now) into `outdir`: True if
    the folder is new, unfinished, or the user asked to overwrite; False if it already holds
    this very run, finished: the same settings on the same images (by content). Another
    finished run there is an OutputError: a later command never destroys one unasked. A
    run.json that lists no image hashes (written before records had them) counts as this run
    only if it names the same files as `paths` (content, style or styles)."""
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"-o {str(outdir)!r} is a file; name a folder for the run's files")
    choose = "choose another -o folder, or add --overwrite to replace it"
    try:
        record = probe_record(outdir)
    except InputError:  # unreadable: still a finished run's folder, not to be overwritten silently
        if overwrite:
            return True
        raise OutputError(f"{str(outdir)!r} holds another finished run (?); {choose}") from None
    if record is None or overwrite:
        return True
    finished = record.run_id
    recorded = made_from(record.data)
    same_files = paths is not None and _named_files(record.data) == _named_files(
        {"content": {"path": paths[0]}, "styles": [{"path": s} for s in _as_list(paths[1])]})
    if finished == run_id and (recorded == made or (recorded is None and same_files)):
        return False
    if finished != run_id:
        raise OutputError(f"{str(outdir)!r} holds another finished run ({finished}); {choose}")
    if recorded is None:
        raise OutputError(f"{str(outdir)!r} holds a finished run {finished} of other image files, whose run.json "
                          f"lists no content hashes (written by an older nst); {choose}")
    raise OutputError(f"{str(outdir)!r} holds a finished run {finished} of these settings on other images "
                      f"(their content differs); {choose}")


def _as_list(styles) -> list:
    return [styles] if isinstance(styles, (str, os.PathLike)) else list(styles)


def _named_files(record: dict) -> list[str]:
    """The resolved paths of the content and style images a record names."""
    entries = [record.get("content"), *(record.get("styles") or [record.get("style")])]
    return [str(Path(e["path"]).resolve()) if isinstance(e, dict) and e.get("path") else "" for e in entries]


def image_named(record: dict, key: str) -> str | None:
    """The path of the content or style image a run.json names (None in a plain params file)."""
    entry = record.get(key)
    return entry.get("path") if isinstance(entry, dict) else None
