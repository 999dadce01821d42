"""Writing judgements: the rating page's database (schema and readers: nst/study/tables/judgements.py).

SQLite in WAL mode with synchronous=FULL: a judgement is committed, its WAL frame written and
fsync'ed, before the page is told it was stored. Process crashes (kill -9 of the server) lose
no acknowledged judgement under NORMAL either (the committed WAL frames are in the operating
system's cache and reach the disk without the process); FULL also keeps them through a power
loss or a kernel crash, for one fsync per judgement, which people answering about one pair a
second never notice (BENCHMARKS.md measures both). One connection, one lock: SQLite has one
writer at a time anyway, and the lock makes "is this id stored?" and the insert one step, so a
retried POST is stored once.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from ..errors import InputError, OutputError
from ..study.tables.judgements import COLUMNS, FORMAT, SCHEMA

SYNCHRONOUS = "FULL"
CHECKPOINT_SECONDS = 2.0  # how stale the main file may be (Snakemake reruns rules by its mtime)


class ConflictError(ValueError):
    """A judgement id that is already stored with other contents."""


class Store:
    """The judgements database at `path`, opened for writing (created when missing)."""

    def __init__(self, path: str | os.PathLike, synchronous: str = SYNCHRONOUS):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            self._conn.executescript(SCHEMA)
            found = self._conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()[0]
        except sqlite3.DatabaseError as err:
            raise InputError(f"judgements {str(self.path)!r} cannot be opened as an SQLite database: {err}") from None
        except OSError as err:
            raise OutputError(f"cannot write {str(self.path)!r}: {err.strerror or err}") from None
        if mode.lower() != "wal":
            raise OutputError(f"judgements {str(self.path)!r}: SQLite refused WAL mode here ({mode}); "
                              "put the results folder on a local disk")
        if found != str(FORMAT):
            raise InputError(f"judgements {str(self.path)!r} are of format {found!r}; this nst writes format {FORMAT}")
        self._lock = threading.Lock()
        self._last_checkpoint = time.monotonic()

    def add(self, judgement: dict) -> bool:
        """Store one judgement (every column of COLUMNS but `time`, which is set here).
        True if it is new, False if the same judgement (same id, same contents) was stored
        before: a retry. ConflictError if the id is stored with other contents. Returns once
        the judgement is committed."""
        row = {**judgement, "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
        values = [row[c] for c in COLUMNS]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                old = self._conn.execute(f"SELECT {', '.join(COLUMNS)} FROM judgements WHERE id = ?",
                                         (row["id"],)).fetchone()
                if old is None:
                    self._conn.execute(f"INSERT INTO judgements ({', '.join(COLUMNS)}) VALUES "
                                       f"({', '.join('?' * len(COLUMNS))})", values)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._maybe_checkpoint()
        if old is None:
            return True
        same = all(a == b for c, a, b in zip(COLUMNS, old, values) if c != "time")
        if not same:
            raise ConflictError(f"judgement {row['id']!r} is already stored with other contents")
        return False

    def _maybe_checkpoint(self) -> None:
        """Copy the WAL into the main file now and then (PASSIVE: never waits for a reader), so
        that its modification time follows the judgements and `snakemake` sees them."""
        now = time.monotonic()
        if now - self._last_checkpoint >= CHECKPOINT_SECONDS:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self._last_checkpoint = now

    def rows(self, columns: tuple[str, ...] = COLUMNS) -> list[tuple]:
        """Every stored judgement (the columns asked for), in the order stored."""
        with self._lock:
            return self._conn.execute(f"SELECT {', '.join(columns)} FROM judgements ORDER BY rowid").fetchall()

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM judgements").fetchone()[0]

    def close(self) -> None:
        """Checkpoint everything into the main file and close (the WAL file is then empty)."""
        with self._lock:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._conn.close()
