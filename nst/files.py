"""Writing files so that no reader, and no job killed half-way, ever sees half of one: write
under a temporary name in the same folder, then rename onto the real name (atomic on POSIX).
Torch-free and pandas-free: used on every job's path and at planning time."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary name next to `path` to write to: renamed onto `path` when the block ends
    without an error, removed when it raises. Creates the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def copy_file(source: str | os.PathLike, dest: str | os.PathLike) -> Path:
    with atomic_path(dest) as tmp:
        shutil.copyfile(source, tmp)
    return Path(dest)
