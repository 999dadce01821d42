"""Judgements: what people said about pairs of a study's images, the contract between the
rating page (nst/judge/, which writes them) and the workflow's rules (which read them).

One SQLite database per study, results/judgements.sqlite (nst/contracts/layout.py), in WAL mode,
one row per judgement in table `judgements`:

    id          the judgement's id, made by the page (a retry of the same POST carries it again,
                so a judgement is stored once however often it was sent)
    rater       who judged (the name typed once on the page, or the one a per-rater link names)
    content, style   the image pair both outputs were made from
    run_a, run_b     the two runs, in sorted order of their run ids
    sha256_a, sha256_b   sha256 of each run's image.png when it was judged: a run recomputed
                since then has another image, and its old judgements are recognised as stale
    left        which run was shown on the left: "a" or "b" (the page randomises it)
    answer      "left", "right" or "same"
    question    a key of QUESTIONS
    repeat      1 for a comparison shown again in the same round (rater consistency), else 0
    round       the page's id for one round of one rater
    response_ms time from showing the images to the answer, as the page measured it
    time        when it was stored (UTC, ISO 8601)

Readers open the file read-only (`read_judgements`), so reading never checkpoints or rewrites
it, and a rule that reads it never changes its modification time. Only pandas and the standard
library: no torch.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pandas as pd

from ...contracts.layout import IMAGE, run_file
from ...errors import InputError
from ...hashes import sha256_file

FORMAT = 1  # the schema's version, kept in table `meta`
QUESTIONS = {
    "overall": "Which is the better style transfer?",
    "content": "Which keeps the content better?",
    "style": "Which has more of the style?",
}
ANSWERS = ("left", "right", "same")
SIDES = ("a", "b")
COLUMNS = ("id", "rater", "content", "style", "run_a", "run_b", "sha256_a", "sha256_b", "left",
           "answer", "question", "repeat", "round", "response_ms", "time")
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('format', '{FORMAT}');
CREATE TABLE IF NOT EXISTS judgements (
    id TEXT PRIMARY KEY,
    rater TEXT NOT NULL,
    content TEXT NOT NULL,
    style TEXT NOT NULL,
    run_a TEXT NOT NULL,
    run_b TEXT NOT NULL,
    sha256_a TEXT NOT NULL,
    sha256_b TEXT NOT NULL,
    left TEXT NOT NULL CHECK (left IN ('a', 'b')),
    answer TEXT NOT NULL CHECK (answer IN ('left', 'right', 'same')),
    question TEXT NOT NULL,
    repeat INTEGER NOT NULL DEFAULT 0,
    round TEXT NOT NULL DEFAULT '',
    response_ms INTEGER,
    time TEXT NOT NULL,
    CHECK (run_a < run_b)
);
CREATE INDEX IF NOT EXISTS judgements_pair ON judgements (content, style, run_a, run_b);
"""


# --- a comparison: two runs of one pair ------------------------------------------------------------
def ordered(run_x: str, run_y: str) -> tuple[str, str]:
    """(run_a, run_b): the two run ids in the order the table keeps them."""
    if run_x == run_y:
        raise ValueError(f"a comparison needs two different runs, not {run_x} twice")
    return (run_x, run_y) if run_x < run_y else (run_y, run_x)


def comparison_id(content: str, style: str, run_x: str, run_y: str) -> str:
    """An opaque name of a comparison (the page sees this, never run ids or settings)."""
    a, b = ordered(run_x, run_y)
    return hashlib.sha256(f"{content}/{style}/{a}/{b}".encode()).hexdigest()[:16]


def chosen_side(left: str, answer: str) -> str:
    """"a", "b" or "same": the run the answer picked, from the side it was shown on."""
    if answer == "same":
        return "same"
    if answer == "left":
        return left
    return "b" if left == "a" else "a"


# --- reading ---------------------------------------------------------------------------------------
def read_judgements(path: str | os.PathLike) -> pd.DataFrame:
    """Every judgement of the database at `path`, in the order stored, with COLUMNS plus
    `chosen` ("a", "b" or "same"). Opened read-only. InputError naming the file if it is
    missing, not SQLite, or of another format."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"judgements {str(path)!r} do not exist (nst judge writes them)")
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as conn:
            found = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if not found or found[0] != str(FORMAT):
                raise InputError(f"judgements {str(path)!r} are of format {found and found[0]!r}; "
                                 f"this nst reads format {FORMAT}")
            frame = pd.read_sql_query(f"SELECT {', '.join(COLUMNS)} FROM judgements ORDER BY rowid", conn)
    except sqlite3.DatabaseError as err:
        raise InputError(f"judgements {str(path)!r} cannot be read as an SQLite database: {err}") from None
    frame["chosen"] = [chosen_side(left, answer) for left, answer in zip(frame["left"], frame["answer"])]
    return frame


def mark_stale(frame: pd.DataFrame, runs_dir: str | os.PathLike) -> pd.DataFrame:
    """`frame` with `stale`: True where a run's image.png is not the one judged (its sha256
    differs, or the run is gone). Each image is hashed once."""
    hashes: dict[tuple[str, str, str], str | None] = {}

    def current(content: str, style: str, run_id: str) -> str | None:
        key = (content, style, run_id)
        if key not in hashes:
            try:
                hashes[key] = sha256_file(run_file(content, style, run_id, IMAGE, runs=runs_dir))
            except OSError:
                hashes[key] = None
        return hashes[key]

    frame = frame.copy()
    frame["stale"] = [current(c, s, a) != ha or current(c, s, b) != hb for c, s, a, b, ha, hb in
                      zip(frame["content"], frame["style"], frame["run_a"], frame["run_b"],
                          frame["sha256_a"], frame["sha256_b"])]
    return frame
