"""A finished study notices what its runs were made from by content (issue 19, item 6), through
the real `snakemake` CLI: an image replaced by a file with an older mtime, and a deleted
image.png of a finished run, are rerun, never "Nothing to be done"."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from nst.hashes import sha256_file

from kit import PAIR, TINY_CONFIG, make_study, plan_of, planned_jobs, snakemake, write_image

pytestmark = pytest.mark.workflow

CONFIG = {**TINY_CONFIG, "params": {"size": 32, "iterations": 2, "weights": "random"},
          "experiments": {"matrix": {"base": "baseline"},
                          "iterations": {"pairs": PAIR, "vary": {"iterations": [1, 2]}}}}
CONFIG.pop("results_array")


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    root = make_study(tmp_path_factory.mktemp("identity") / "study", CONFIG)
    snakemake(root)
    return root


@pytest.fixture
def study(finished, tmp_path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy, symlinks=True)
    return copy


def records(root: Path, content: str) -> dict[str, dict]:
    return {str(p.parent.relative_to(root)): json.loads(p.read_text())
            for p in root.glob(f"results/runs/{content}/*/*/run.json")}


def test_an_image_replaced_by_an_older_file_reruns_its_runs(study):
    """`cp -p` of another picture over cat.png, or an unpacked archive: the new file's mtime is
    older than the runs, so only its content tells."""
    cat = study / "images/content/cat.png"
    old = cat.stat()
    write_image(cat, seed=77)
    os.utime(cat, ns=(old.st_atime_ns, old.st_mtime_ns - 3600 * 10**9))
    before = records(study, "cat")
    assert all(r["content"]["sha256"] != sha256_file(cat) for r in before.values())
    cat_runs = [r for r in plan_of(study, CONFIG).runs.values() if r.content == "cat"]  # a derived one too
    assert planned_jobs(study, "stylize") == len(cat_runs) == 3
    snakemake(study)
    after = records(study, "cat")
    assert set(after) == set(before)
    assert all(r["content"]["sha256"] == sha256_file(cat) for r in after.values())
    assert planned_jobs(study, "stylize") == 0  # and once rerun, it stays done


def test_an_image_put_back_as_it_was_reruns_nothing(study):
    cat = study / "images/content/cat.png"
    saved = cat.read_bytes()
    cat.write_bytes(saved)  # the same content, a newer mtime: Snakemake's checksum says unchanged
    assert planned_jobs(study, "stylize") == 0


def test_a_deleted_image_of_a_finished_run_is_recomputed(study):
    run = next(r for r in plan_of(study, CONFIG).runs.values() if r.source is None and r.content == "dog")
    (study / "results/runs" / run.key / "image.png").unlink()
    assert planned_jobs(study, "stylize") == 1
    time.sleep(0.01)
    snakemake(study)
    assert (study / "results/runs" / run.key / "image.png").is_file()
