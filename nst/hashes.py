"""Content hashes (sha256) of the files a run is made from: weights files and images. A run's
identity and its record count files by content, never by path, size or mtime.

A full-precision VGG-19 is 548 MB, and planning and every job ask for its hash, so a hash is
remembered: in the process, and in a cache folder of our own (`$NST_CACHE_DIR`, else
`$XDG_CACHE_HOME/nst-sweeps`, else `~/.cache/nst-sweeps`), one small JSON file per hashed file,
named by the hash of the file's resolved path. Nothing is ever written beside the user's file,
where `vgg.pth.json` may be their own notes.

A remembered hash is used only while the file's stamp is the one it was hashed with: device,
inode, size, mtime and ctime (nanoseconds). A copy with the old size and mtime (`cp -p`, a
restored backup, a synced folder) is another inode with a new ctime; a rewrite in place changes
the ctime, which no tool can set back (only the system clock could). What a stamp cannot see
is a rewrite of the same size within one tick of the filesystem's clock after the hash was
taken; so, as git does for its index, a hash taken less than RACY_NS after the file's last
change is not trusted, and the file is hashed again until a hash taken later stands.
Torch-free: planning calls it.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import time
from pathlib import Path

from .errors import OutputError
from .files import write_text

CACHE_VARIABLE = "NST_CACHE_DIR"
# Larger than any filesystem's timestamp granularity (FAT: 2 s; ext4, xfs, tmpfs: the kernel's
# coarse clock, a few ms): a change that close to the hashing could share the stamp.
RACY_NS = 3_000_000_000

_MEMO: dict[str, dict] = {}  # this process's entries, by resolved path


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes, read now; OSError if it cannot be read."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def now_ns() -> int:
    return time.time_ns()


def cache_dir() -> Path:
    """The folder of remembered hashes (created when first written)."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "nst-sweeps"


def _stamp(stat: os.stat_result) -> list[int]:
    return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _entry_file(resolved: str) -> Path:
    return cache_dir() / "sha256" / f"{hashlib.sha256(resolved.encode()).hexdigest()[:32]}.json"


def _trusted(entry: dict | None, resolved: str, stamp: list[int]) -> str | None:
    """The entry's hash if it was taken of this very file as it is now, else None."""
    if not isinstance(entry, dict) or entry.get("path") != resolved or entry.get("stamp") != stamp:
        return None
    hashed_at, changed = entry.get("hashed_at_ns"), max(stamp[3], stamp[4])
    if not isinstance(hashed_at, int) or hashed_at - changed < RACY_NS:
        return None  # taken so soon after the last change that a rewrite could share the stamp
    digest = entry.get("sha256")
    return digest if isinstance(digest, str) and len(digest) == 64 else None


def _read_entry(resolved: str) -> dict | None:
    try:
        return json.loads(_entry_file(resolved).read_text())
    except (OSError, ValueError):
        return None  # no entry, or a broken one: it is only a cache


def _regular_file(path: str | os.PathLike) -> tuple[str, os.stat_result]:
    stat = os.stat(path)
    if not Path(path).is_file():
        raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
    return str(Path(path).resolve()), stat


def known_sha256(path: str | os.PathLike) -> str | None:
    """The file's remembered hash, if one can be trusted; None otherwise (nothing is read but
    the cache). OSError if the file is not there."""
    resolved, stat = _regular_file(path)
    stamp = _stamp(stat)
    return _trusted(_MEMO.get(resolved), resolved, stamp) or _trusted(_read_entry(resolved), resolved, stamp)


def content_sha256(path: str | os.PathLike, rehash: bool = False) -> str:
    """sha256 of a file's bytes: remembered if the file is as it was when it was hashed (see
    the module's docstring), else read now and remembered. `rehash` reads it in any case.
    OSError (IsADirectoryError for a folder) if it cannot be read."""
    resolved, stat = _regular_file(path)
    if not rehash:
        known = known_sha256(path)
        if known:
            return known
    started = now_ns()
    digest = sha256_file(path)
    after = os.stat(path)
    if _stamp(after) == _stamp(stat):  # not changed while it was read
        entry = {"path": resolved, "stamp": _stamp(after), "hashed_at_ns": started, "sha256": digest}
        _MEMO[resolved] = entry
        if _trusted(entry, resolved, entry["stamp"]):  # a racy entry would only be read to be ignored
            try:
                write_text(_entry_file(resolved), json.dumps(entry) + "\n")
            except (OSError, OutputError):
                pass  # a cache folder that cannot be written only costs a hash next time
    return digest
