"""Writing files so that no reader, and no job killed half-way, ever sees half of one: write
under a temporary name in the same folder, then rename onto the real name (atomic on POSIX).
Reading the JSON a user names (a params file, a run.json), with one clear error when it cannot
be read. Torch-free and pandas-free: used on every job's path and at planning time. Content
hashes are nst/hashes.py's."""
from __future__ import annotations

import contextlib
import errno
import fcntl
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
    return OutputError(f"cannot write {str(path)!r}: {_reason(err)}")


def _reason(err: OSError) -> str:
    if err.errno in (errno.EEXIST, errno.ENOTDIR):
        return "a file stands where a folder is needed"
    return err.strerror or str(err)


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


# --- run folders ---------------------------------------------------------------------------
LOCK_FILE = ".nst-lock"  # held by the one process that writes a run folder (run_folder_lock)


@contextmanager
def run_folder_lock(outdir: str | os.PathLike) -> Iterator[Path]:
    """Create the run folder `outdir` (and its parents) and hold its lock while the block runs,
    so that one process at a time writes it. Checked before any computing, each in one line
    (OutputError): a folder that cannot be created (a name too long, a symlink loop, /proc/x,
    a file in the way) or written, and a folder another process is writing. The lock is
    flock(2) on LOCK_FILE, released by the kernel when its process dies; the file is removed
    on release, and a lock taken on a file that was removed meanwhile is taken again."""
    outdir = Path(outdir)
    if os.path.exists(outdir) and not os.path.isdir(outdir):  # os.path: a name too long is not an error here
        raise OutputError(f"-o {str(outdir)!r} is a file; name a folder for the run's files")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create the output folder {str(outdir)!r}: {_reason(err)}") from None
    path = outdir / LOCK_FILE
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise OutputError(f"cannot write into the output folder {str(outdir)!r}: {_reason(err)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise OutputError(f"another nst run (pid {holder}) is writing into {str(outdir)!r}: wait for it to "
                              f"finish, or choose another -o folder") from None
        except OSError:
            break  # a filesystem without locks (some network mounts): go on unlocked
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # its holder removed it as we opened it: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield outdir
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # before the lock goes: a process that opened it meanwhile sees another inode
        os.close(fd)


def process_alive(pid: int) -> bool:
    """Whether process `pid` runs on this host (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


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
