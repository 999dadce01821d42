"""Writing files so that no reader, and no job killed half-way, ever sees half of one: write
under a temporary name in the same folder, then rename onto the real name (atomic on POSIX).
Reading the JSON a user names (a params file, a run.json), with one clear error when it cannot
be read. Torch-free and pandas-free: used on every job's path and at planning time."""
from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import math
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError, OutputError


# Failures of a write that the user must act on (free space, permissions, a file in the way):
# reported with the path being written, not as a bare "[Errno 28] No space left on device".
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EEXIST,
                errno.ENOTDIR, errno.EISDIR, errno.EFBIG}


def write_failure(path: str | os.PathLike, err: OSError) -> OutputError:
    reason = err.strerror or str(err)
    if err.errno in (errno.EEXIST, errno.ENOTDIR):
        reason = "a file stands where a folder is needed"
    return OutputError(f"cannot write {str(path)!r}: {reason}")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary name next to `path` to write to: renamed onto `path` when the block ends
    without an error, removed when it raises. Creates the folder. A write that fails for lack
    of space or permission raises OutputError naming `path`, as does a path that names no file
    ("", ".": an empty -o would otherwise be Path's ValueError)."""
    if not str(path).strip() or Path(path).name in ("", ".", ".."):
        raise OutputError(f"output path {str(path)!r} names no file; give the file to write")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        if err.errno in WRITE_ERRNOS:
            raise write_failure(path, err) from None
        raise
    finally:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # nothing written, or no folder
            tmp.unlink()


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def copy_file(source: str | os.PathLike, dest: str | os.PathLike) -> Path:
    with atomic_path(dest) as tmp:
        shutil.copyfile(source, tmp)
    return Path(dest)


def content_sha256(path: str | os.PathLike, rehash: bool = False) -> str:
    """sha256 of a file's bytes, remembered by (size, mtime) in the file's sidecar
    (`<file>.json`, shared with the ImageNet verification record) and in the process: a
    full-precision VGG-19 is 548 MB, and planning and every job ask for it. `rehash` reads the
    file again. OSError (IsADirectoryError for a folder) if it cannot be read."""
    stat = os.stat(path)
    if not Path(path).is_file():
        raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
    if rehash:
        _remembered_sha256.cache_clear()
    return _remembered_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, rehash)


@functools.lru_cache(maxsize=64)
def _remembered_sha256(path: str, size: int, mtime_ns: int, rehash: bool) -> str:
    meta = read_sidecar(path)
    if not rehash and meta.get("hashed") == [size, mtime_ns] and meta.get("sha256"):
        return meta["sha256"]
    digest = sha256_file(path)
    write_sidecar(path, {**meta, "sha256": digest, "hashed": [size, mtime_ns]})
    return digest


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes, read now; OSError if it cannot be read."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def sidecar(path: str | os.PathLike) -> Path:
    """Where a weights file's record lives: `<file>.json` beside it."""
    return Path(path).with_name(Path(path).name + ".json")


def read_sidecar(path: str | os.PathLike) -> dict:
    """The record beside `path`; {} if there is none or it is unreadable (it is only a cache)."""
    side = sidecar(path)
    try:
        meta = json.loads(side.read_text()) if side.is_file() else {}
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def write_sidecar(path: str | os.PathLike, meta: dict) -> None:
    """Write the record beside `path`; a read-only folder only costs a re-hash next time."""
    try:
        write_text(sidecar(path), json.dumps(meta))
    except (OSError, OutputError):
        pass


@contextmanager
def staged_run_folder(outdir: str | os.PathLike) -> Iterator[Path]:
    """A staging folder to write one run's files into (image.png, history.csv, run.json,
    snapshots/). When the block ends they replace the run folder's: the old run.json is
    removed only once everything new is written (a full disk leaves a finished run as it
    was), the new run.json lands last, and snapshots of steps this run did not write are
    removed, so a folder never mixes two runs. On an error the staging folder goes away."""
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"cannot write a run into {str(outdir)!r}: it is a file, not a folder")
    staging = outdir / f".staging{os.getpid()}"
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        yield staging
        _move_run_files(staging, outdir)
    except OSError as err:
        if err.errno in WRITE_ERRNOS:
            raise write_failure(outdir, err) from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_run_files(staging: Path, outdir: Path) -> None:
    (outdir / "run.json").unlink(missing_ok=True)  # unfinished from here until the new one lands
    staged_snapshots = staging / "snapshots"
    steps = {p.name.split(".")[0] for p in staged_snapshots.iterdir()} if staged_snapshots.is_dir() else set()
    old_snapshots = outdir / "snapshots"
    if old_snapshots.is_dir():
        for old in old_snapshots.iterdir():
            if old.name.split(".")[0] not in steps:
                old.unlink()
    for new in sorted(staged_snapshots.iterdir()) if steps else []:
        old_snapshots.mkdir(exist_ok=True)
        os.replace(new, old_snapshots / new.name)
    for name in ("image.png", "history.csv", "run.json"):  # run.json last: the run is finished
        if (staging / name).exists():
            os.replace(staging / name, outdir / name)


# --- reading what the user names -----------------------------------------------------------
def unreadable(where: str, err: OSError) -> str:
    """One line on why the file described by `where` (e.g. "--params file 'x.json'") could not
    be read: missing, a folder, or the system's reason."""
    if isinstance(err, FileNotFoundError):
        return f"{where} does not exist"
    if isinstance(err, IsADirectoryError):
        return f"{where} is a folder, not a file"
    return f"cannot read {where}: {err.strerror or err}"


def read_json_object(path: str | os.PathLike, what: str) -> dict:
    """The JSON object in the file at `path`. Raises InputError, naming `what` (e.g. "--params
    file") and the path, if the file is missing, a folder, unreadable, not JSON or not an object."""
    path = Path(path)
    where = f"{what} {str(path)!r}"
    try:
        text = path.read_text()
    except OSError as err:
        raise InputError(unreadable(where, err)) from None
    except UnicodeDecodeError:
        raise InputError(f"{where} is not JSON (not even text)") from None
    return parse_json_object(text, where)


def parse_json_object(text: str, where: str) -> dict:
    """The JSON object in `text`; InputError naming `where` if it is not JSON or not an object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{where} is not JSON: {err}") from None
    if not isinstance(value, dict):
        kind = "null" if value is None else JSON_KINDS.get(type(value), type(value).__name__)
        raise InputError(f"{where} holds {kind}, not a JSON object {{...}}")
    return value


JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false"}


def finite_or_null(value):
    """Non-finite floats (a diverged run's losses) as null, in nested dicts and lists: strict
    JSON has no Infinity or NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_null(v) for v in value]
    return value
