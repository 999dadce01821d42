"""The judgements database (nst/judge/store.py writes it, nst/study/tables/judgements.py reads it):
WAL mode, synchronous FULL, one row per judgement id, readers that never modify it, and
`nst judge --export`."""
from __future__ import annotations

import sqlite3
import time

import pandas as pd
import pytest

from kit import run_nst
from nst.errors import InputError
from nst.judge import store as store_module
from nst.judge.store import ConflictError, Store
from nst.study.tables.judgements import COLUMNS, read_judgements


def judgement(n: int, **change) -> dict:
    row = {"id": f"judgement-{n:06d}", "rater": "ann", "content": "c1", "style": "s1", "run_a": "aaaa", "run_b": "bbbb",
           "sha256_a": "0" * 64, "sha256_b": "1" * 64, "left": "a", "answer": "left", "question": "overall",
           "repeat": 0, "round": "r1", "response_ms": 900}
    return {**row, **change}


def test_the_database_is_in_wal_mode_with_full_synchronous_writes(tmp_path):
    store = Store(tmp_path / "results/judgements.sqlite")
    try:
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "results/judgements.sqlite") as conn:  # WAL is the file's own setting
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_judgement_is_stored_once_and_another_with_its_id_is_refused(tmp_path):
    store = Store(tmp_path / "j.sqlite")
    try:
        assert store.add(judgement(1)) is True
        assert store.add(judgement(1)) is False  # a retry
        with pytest.raises(ConflictError):
            store.add(judgement(1, answer="right"))
        assert store.add(judgement(2, answer="same")) is True
        assert store.count() == 2
    finally:
        store.close()
    frame = read_judgements(tmp_path / "j.sqlite")
    assert list(frame["id"]) == ["judgement-000001", "judgement-000002"]
    assert list(frame["answer"]) == ["left", "same"] and list(frame["chosen"]) == ["a", "same"]
    assert frame["time"].str.endswith("+00:00").all()


def test_the_schema_refuses_a_row_that_breaks_the_contract(tmp_path):
    store = Store(tmp_path / "j.sqlite")
    try:
        for change in ({"left": "middle"}, {"answer": "maybe"}, {"run_a": "zzzz"}):  # run_a < run_b
            with pytest.raises(sqlite3.IntegrityError):
                store.add(judgement(3, **change))
        assert store.count() == 0
    finally:
        store.close()


def test_reading_while_the_server_writes_changes_nothing_of_the_file(tmp_path):
    path = tmp_path / "j.sqlite"
    store = Store(path)
    try:
        store.add(judgement(1))
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = path.stat().st_mtime_ns
        time.sleep(0.02)
        assert len(read_judgements(path)) == 1
        assert path.stat().st_mtime_ns == before  # read-only: no checkpoint, no rewrite
        store.add(judgement(2))
        assert len(read_judgements(path)) == 2  # a reader sees what is committed, checkpointed or not
    finally:
        store.close()


def test_the_main_file_follows_the_judgements_so_snakemake_sees_them(tmp_path, monkeypatch):
    """Snakemake reruns what reads the file by its modification time, and in WAL mode commits go
    to the -wal file: the store checkpoints every CHECKPOINT_SECONDS."""
    monkeypatch.setattr(store_module, "CHECKPOINT_SECONDS", 0.0)
    path = tmp_path / "j.sqlite"
    store = Store(path)
    try:
        store.add(judgement(1))
        before = (path.stat().st_mtime_ns, path.stat().st_size)
        time.sleep(0.02)
        for n in range(2, 40):
            store.add(judgement(n))
        assert (path.stat().st_mtime_ns, path.stat().st_size) != before
    finally:
        store.close()


def test_unreadable_or_foreign_databases_are_named_in_one_line(tmp_path):
    with pytest.raises(InputError, match="do not exist"):
        read_judgements(tmp_path / "missing.sqlite")
    (tmp_path / "text.sqlite").write_text("not a database at all " * 50)
    with pytest.raises(InputError, match="text.sqlite"):
        read_judgements(tmp_path / "text.sqlite")
    with sqlite3.connect(tmp_path / "old.sqlite") as conn:
        conn.executescript("CREATE TABLE meta (key TEXT, value TEXT); INSERT INTO meta VALUES ('format', '0');")
    with pytest.raises(InputError, match="format '0'"):
        read_judgements(tmp_path / "old.sqlite")
    with pytest.raises(InputError, match="format"):
        Store(tmp_path / "old.sqlite")


def test_nst_judge_export_writes_every_judgement_as_csv(tmp_path):
    store = Store(tmp_path / "results/judgements.sqlite")
    for n in range(5):
        store.add(judgement(n, answer=["left", "right", "same"][n % 3]))
    store.close()
    proc = run_nst(["judge", "--results", tmp_path / "results", "--export", tmp_path / "out.csv"])
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "out.csv")
    assert list(table.columns) == [*COLUMNS, "chosen"] and len(table) == 5
    assert list(table["answer"]) == ["left", "right", "same", "left", "right"]
    proc = run_nst(["judge", "--results", tmp_path / "results", "--export", "-"])
    assert proc.returncode == 0 and proc.stdout.splitlines()[0].startswith("id,rater,")
    proc = run_nst(["judge", "--results", tmp_path / "nothing", "--export", "-"])
    assert proc.returncode == 2 and "nst judge writes them" in proc.stderr
