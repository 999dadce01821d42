"""`nst run -o DIR` and the folder it writes (issue 19): a run is told apart from another by
the images it was made from, not only by its settings."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from nst import cli
from nst.hashes import sha256_file

from kit import make_image, nst_command, run_nst

LOCK_FILE = ".nst-lock"  # a run folder's lock (nst/files.py)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_run_args(content, style, out, *extra):
    """`nst run` of a tiny run; `style` may be a list (a blend)."""
    styles = style if isinstance(style, list) else [style]
    return [str(a) for a in ["run", content, *styles, "-o", out, "--set", "weights=random", "--image-size", "32",
                             "--num-iterations", "2", "--device", "cpu", "-q", *extra]]


def folder_state(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def record_of(out) -> dict:
    return json.loads((out / "run.json").read_text())


@pytest.fixture
def images(tmp_path):
    return {name: make_image(tmp_path / f"{name}.png", 32, 32, seed=seed)
            for name, seed in (("c1", 1), ("s1", 2), ("c2", 3), ("s2", 4))}


# --- item 1: the same settings on other images are another run ------------------------------
def test_run_json_records_the_content_hash_of_every_image(images, tmp_path):
    out = tmp_path / "run"
    assert cli.main(tiny_run_args(images["c1"], images["s1"], out)) == 0
    record = record_of(out)
    assert record["content"]["sha256"] == sha256_file(images["c1"])
    assert record["style"]["sha256"] == sha256_file(images["s1"])
    blend = tmp_path / "blend"
    assert cli.main(tiny_run_args(images["c1"], [images["s1"], images["s2"]], blend)) == 0
    assert [s["sha256"] for s in record_of(blend)["styles"]] == [sha256_file(images["s1"]), sha256_file(images["s2"])]


def test_other_images_with_the_same_settings_are_not_already_finished(images, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(tiny_run_args(images["c1"], images["s1"], out)) == 0
    before = folder_state(out)
    capsys.readouterr()

    assert cli.main(tiny_run_args(images["c2"], images["s2"], out)) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "other images" in err and "--overwrite" in err and err.count("\n") == 1
    assert folder_state(out) == before  # still c1 x s1, untouched

    # the same images under other names: the same run (content, not path)
    shutil.copy(images["c1"], tmp_path / "copy_of_c1.png")
    shutil.copy(images["s1"], tmp_path / "copy_of_s1.png")
    assert cli.main(tiny_run_args(tmp_path / "copy_of_c1.png", tmp_path / "copy_of_s1.png", out)) == 0
    assert "already finished" in capsys.readouterr().out
    assert folder_state(out) == before

    assert cli.main(tiny_run_args(images["c2"], images["s2"], out, "--overwrite")) == 0
    record = record_of(out)
    assert (record["content"]["sha256"], record["style"]["sha256"]) == (sha256_file(images["c2"]),
                                                                         sha256_file(images["s2"]))


def test_an_image_replaced_under_the_same_name_is_another_run(images, tmp_path, capsys):
    out = tmp_path / "run"
    content = tmp_path / "content.png"
    shutil.copy(images["c1"], content)
    assert cli.main(tiny_run_args(content, images["s1"], out)) == 0
    shutil.copy(images["c2"], content)
    capsys.readouterr()
    assert cli.main(tiny_run_args(content, images["s1"], out)) == 2
    assert "other images" in capsys.readouterr().err


# --- item 2: one `nst run` at a time writes a folder -------------------------------------------
def test_a_second_run_into_a_folder_being_written_is_refused_in_one_line(images, tmp_path):
    """Two different runs started into one -o at once: the second is refused while the first
    computes; the first finishes and its run is the folder's (it was replaced unasked)."""
    out = tmp_path / "run"
    first = subprocess.Popen(nst_command() + tiny_run_args(images["c1"], images["s1"], out)
                             + ["--num-iterations", "400"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / LOCK_FILE).exists():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        second = run_nst(tiny_run_args(images["c1"], images["s1"], out, "--set", "style_weight=1e5"))
        assert first.poll() is None, "the first run ended before the second started: the test proves nothing"
    finally:
        _, first_err = first.communicate(timeout=300)
    assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
    assert "is writing into" in second.stderr and str(out) in second.stderr and "Traceback" not in second.stderr
    assert first.returncode == 0, first_err
    assert record_of(out)["params"]["iterations"] == 400 and record_of(out)["params"]["style_weight"] == 1e6
    assert not (out / LOCK_FILE).exists()


# --- item 3: --overwrite keeps the old run whole until the new one has finished ----------------
class Killed(KeyboardInterrupt):
    """A Ctrl-C after an iteration of the run."""


def test_an_overwrite_killed_half_way_leaves_the_old_run_whole_and_resumable(images, tmp_path, monkeypatch, capsys):
    from nst.cli import run_command
    from nst.run import checkpoint

    out = tmp_path / "run"
    old = tiny_run_args(images["c1"], images["s1"], out, "--set", "snapshots=1,2", "--set", "checkpoint_seconds=0")
    assert cli.main(old) == 0
    before = folder_state(out)
    assert "snapshots/2.pt" in before  # its state at its last iteration: what --resume-from continues

    def kill_at_4(self, row):
        if row["iteration"] == 4:
            raise Killed
    new = tiny_run_args(images["c1"], images["s1"], out, "--num-iterations", "6", "--set", "snapshots=3",
                        "--seed", "7", "--overwrite", "--set", "checkpoint_seconds=0.000001")
    monkeypatch.setattr(checkpoint, "MAX_TIME_SHARE", math.inf)  # a state after every iteration
    monkeypatch.setattr(run_command.Progress, "__call__", kill_at_4)
    assert cli.main(new) == 130
    monkeypatch.setattr(run_command.Progress, "__call__", lambda self, row: None)
    assert {k: v for k, v in folder_state(out).items() if not k.startswith(".")} == before  # the old run, whole

    # it still continues: the state at its last iteration is there
    longer = tiny_run_args(images["c1"], images["s1"], tmp_path / "longer", "--num-iterations", "3",
                           "--resume-from", out)
    assert cli.main(longer) == 0
    assert record_of(tmp_path / "longer")["continued_from"] == record_of(out)["run_id"]

    capsys.readouterr()
    assert cli.main(new) == 0  # the replacement, resumed from its own state
    record = record_of(out)
    assert record["params"]["seed"] == 7 and record["resumed_from"] == [4]
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == ["3.json", "3.png"]
    assert sorted(p.name for p in out.iterdir()) == ["history.csv", "image.png", "run.json", "snapshots"]


# --- item 10: an -o that cannot be written is found before any computing -------------------------
@pytest.mark.parametrize("case", ["proc", "too long", "symlink loop", "under a file"])
def test_an_output_folder_that_cannot_be_made_is_one_line_before_the_run(case, images, tmp_path, monkeypatch, capsys):
    from nst.run import engine

    def never(*args, **kwargs):
        raise AssertionError("the run started before its output folder was checked")

    monkeypatch.setattr(engine, "stylize", never)
    if case == "symlink loop":
        (tmp_path / "loop").symlink_to(tmp_path / "loop")
    if case == "under a file":
        (tmp_path / "taken").write_text("mine")
    out = {"proc": Path("/proc/nst-test/run"), "too long": tmp_path / ("x" * 300),
           "symlink loop": tmp_path / "loop" / "run", "under a file": tmp_path / "taken" / "run"}[case]
    assert cli.main(tiny_run_args(images["c1"], images["s1"], out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("nst: error:") and err.count("\n") == 1 and str(out)[:40] in err, err
    assert "Errno" not in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder: only runs as a normal user")
def test_a_read_only_output_folder_is_one_line_before_the_run(images, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert cli.main(tiny_run_args(images["c1"], images["s1"], out)) == 2
    finally:
        out.chmod(0o755)
    assert "Permission denied" in capsys.readouterr().err


# --- item 16: staging folders of killed writes are cleaned -------------------------------------
def dead_pid() -> int:
    pid = 4_000_000
    while Path(f"/proc/{pid}").exists():
        pid += 1
    return pid


def test_staging_folders_of_dead_processes_are_removed_when_a_run_completes(images, tmp_path):
    out = tmp_path / "run"
    assert cli.main(tiny_run_args(images["c1"], images["s1"], out)) == 0
    dead, alive = out / f".staging{dead_pid()}", out / f".staging{os.getppid()}"
    for folder in (dead, alive):
        (folder / "snapshots").mkdir(parents=True)
        (folder / "image.png").write_bytes(b"half a write")
    assert cli.main(tiny_run_args(images["c1"], images["s1"], out, "--seed", "7", "--overwrite")) == 0
    assert not dead.exists()
    assert alive.is_dir()  # its process may still be writing
