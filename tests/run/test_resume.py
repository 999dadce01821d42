"""Resuming a killed run (nst/run/checkpoint.py): a run stopped after some iteration and started
again is the same optimisation as one that was never stopped, bit for bit on the CPU."""
from __future__ import annotations

import errno
import math
import os
import random
import shutil
import signal
import subprocess
import time

import pandas as pd
import pytest
import torch

from nst.contracts import run_folder
from nst.run import checkpoint
from nst.run.engine import stylize
from nst.errors import NSTError
from nst.run.writer import write_run
from nst.study.plan.build import execution_settings

from kit import assert_same_run_files, losses, make_image, nst_command, run_json, run_nst, tiny_params

pytestmark = pytest.mark.usefixtures("one_torch_thread")

OPTIMIZERS = ["lbfgs", "adam", "adagrad", "sgd"]


@pytest.fixture
def every_iteration(monkeypatch):
    """With checkpoint_seconds shorter than an iteration, a state after every iteration: no cap
    on the share of time spent saving (which would space them out)."""
    monkeypatch.setattr(checkpoint, "MAX_TIME_SHARE", math.inf)


class Killed(Exception):
    """Stands in for a kill: raised by the progress hook after an iteration."""


def kill_after(iteration: int):
    """After the first step that reaches `iteration` (a line search's step may pass it)."""
    def progress(row: dict) -> None:
        if row["iteration"] >= iteration:
            raise Killed
    return progress


def run_into(folder, params, content_path, style_path, kill_at: int | None = None):
    """stylize into `folder` (saving and resuming states there) and write the run; with
    `kill_at`, stop after that iteration the way a killed process stops: nothing written."""
    progress = kill_after(kill_at) if kill_at else None
    try:
        result = stylize(params, content_path, style_path, progress=progress, outdir=folder)
    except Killed:
        return None
    write_run(result, folder)
    return result


# --- in-process: stopped after iteration k, then started again --------------------------------
def state_after(monkeypatch, iteration: int) -> None:
    """One time-based state, after `iteration` (Checkpoints.due is asked once per iteration)."""
    asked = []
    monkeypatch.setattr(checkpoint.Checkpoints, "due", lambda self: asked.append(1) or len(asked) == iteration)


@pytest.mark.parametrize("shift", [None, 0.9], ids=["unshifted", "shifted"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_a_stopped_run_resumes_as_the_same_optimisation(optimizer, shift, content_path, style_path, tmp_path,
                                                        monkeypatch):
    """Stopped after iteration 6 with its last state after 4 and a snapshot at 3: it
    continues from 4 (snapshot 3 from its files), recomputes 5..6, and ends exactly where an
    uninterrupted run ends (noise init; shifting draws from the saved generator)."""
    params = tiny_params(optimizer=optimizer, init="noise", shift=shift, shift_rotation=3.0 if shift else 0.0,
                         iterations=9, snapshots=[3, 9], checkpoint_seconds=60)
    run_into(tmp_path / "whole", params, content_path, style_path)
    state_after(monkeypatch, 4)
    assert run_into(tmp_path / "resumed", params, content_path, style_path, kill_at=6) is None
    assert (tmp_path / "resumed" / "resume.pt").is_file() and not (tmp_path / "resumed" / "run.json").exists()
    result = run_into(tmp_path / "resumed", params, content_path, style_path)

    assert result.resumed_from == [4] and run_json(tmp_path / "resumed")["resumed_from"] == [4]
    assert "resumed_from" not in run_json(tmp_path / "whole")
    assert_same_run_files(tmp_path / "whole", tmp_path / "resumed")
    seconds = pd.read_csv(tmp_path / "resumed" / "history.csv")["seconds"]
    assert seconds.is_monotonic_increasing  # elapsed time carries over the restart
    # finished: nothing left to resume; the state at its last iteration stays (for --resume-from)
    assert not (tmp_path / "resumed" / "resume.pt").exists()
    assert sorted(p.name for p in (tmp_path / "resumed" / "snapshots").glob("*.pt")) == ["9.pt"]


def test_time_checkpoints_resume_from_the_last_iteration_twice(content_path, style_path, tmp_path, every_iteration):
    """Checkpoints every iteration (an interval shorter than one): killed after 4, then after 7,
    it resumes from exactly there each time and records both."""
    params = tiny_params(init="noise", shift=0.9, iterations=9, checkpoint_seconds=1e-6)
    run_into(tmp_path / "whole", params, content_path, style_path)
    folder = tmp_path / "resumed"
    run_into(folder, params, content_path, style_path, kill_at=4)
    run_into(folder, params, content_path, style_path, kill_at=7)
    result = run_into(folder, params, content_path, style_path)
    assert result.resumed_from == [4, 7]
    assert_same_run_files(tmp_path / "whole", folder)


@pytest.mark.parametrize("bounds", ["clamp", "projected", "strong_wolfe", "free"])
def test_every_lbfgs_bounds_resumes_as_the_same_optimisation(bounds, content_path, style_path, tmp_path,
                                                               every_iteration):
    """Killed twice with a state after every step (strong_wolfe's steps hold several
    evaluations, and the point its last line search ended on travels in the state so that it
    is not evaluated again): the same files as a run never stopped."""
    params = tiny_params(init="noise", iterations=12, checkpoint_seconds=1e-6, lbfgs_bounds=bounds)
    run_into(tmp_path / "whole", params, content_path, style_path)
    folder = tmp_path / "resumed"
    assert run_into(folder, params, content_path, style_path, kill_at=4) is None
    assert run_into(folder, params, content_path, style_path, kill_at=8) is None
    result = run_into(folder, params, content_path, style_path)
    assert len(result.resumed_from) == 2 and result.resumed_from[0] >= 4
    assert_same_run_files(tmp_path / "whole", folder)


def test_the_state_file_is_plain_data_with_the_run_id_and_iteration(content_path, style_path, tmp_path, every_iteration):
    """L-BFGS's history (lists of tensors, Python floats) and the generator state load under
    weights_only=True."""
    params = tiny_params(iterations=9, checkpoint_seconds=1e-6, shift=0.9, lbfgs_bounds="clamp")  # torch's L-BFGS
    run_into(tmp_path, params, content_path, style_path, kill_at=5)
    state = torch.load(tmp_path / "resume.pt", weights_only=True)
    assert (state["run_id"], state["iteration"], len(state["history"])) == (params.run_id, 5, 5)
    lbfgs = state["optimizer"]["state"][0]
    assert len(lbfgs["old_dirs"]) == 4 and all(isinstance(d, torch.Tensor) for d in lbfgs["old_dirs"])
    assert isinstance(lbfgs["prev_loss"], float) and state["generator"].dtype == torch.uint8


def test_a_state_of_another_run_is_ignored_and_removed(content_path, style_path, tmp_path, every_iteration):
    params = tiny_params(init="noise", iterations=6, checkpoint_seconds=1e-6)
    other = params.replace(seed=1)
    run_into(tmp_path / "folder", other, content_path, style_path, kill_at=4)
    assert torch.load(tmp_path / "folder" / "resume.pt", weights_only=True)["run_id"] == other.run_id

    made = run_folder.inputs_key(run_folder.inputs_now(params, content_path, style_path))
    assert checkpoint.resumable_state(tmp_path / "folder", params, made) is None
    assert not (tmp_path / "folder" / "resume.pt").exists()  # a folder never mixes two runs
    result = run_into(tmp_path / "folder", params, content_path, style_path)
    run_into(tmp_path / "whole", params, content_path, style_path)
    assert result.resumed_from == []
    assert_same_run_files(tmp_path / "whole", tmp_path / "folder")


def test_a_state_made_from_other_images_is_not_resumed(content_path, style_path, tmp_path, every_iteration):
    """Killed, then the content image is replaced under its name: the same run id, but the
    state belongs to the old image, so the run starts afresh (issue 19, item 6)."""
    params = tiny_params(init="noise", iterations=6, checkpoint_seconds=1e-6)
    content = tmp_path / "content.png"
    shutil.copy(content_path, content)
    run_into(tmp_path / "folder", params, content, style_path, kill_at=4)
    assert (tmp_path / "folder" / "resume.pt").is_file()
    make_image(content, 32, 32, seed=5)  # another picture under the old name
    result = run_into(tmp_path / "folder", params, content, style_path)
    run_into(tmp_path / "whole", params, content, style_path)
    assert result.resumed_from == []
    assert_same_run_files(tmp_path / "whole", tmp_path / "folder")


def test_an_unreadable_state_is_ignored(content_path, style_path, tmp_path):
    params = tiny_params(iterations=3)
    (tmp_path / "resume.pt").write_bytes(b"not a torch file")
    result = run_into(tmp_path, params, content_path, style_path)
    assert result.resumed_from == [] and len(result.history) == 3


def test_a_finished_run_starts_from_zero_when_run_again(content_path, style_path, tmp_path):
    """Its state at its last iteration stays, but only an unfinished run (resume.pt) is continued."""
    params = tiny_params(iterations=5, snapshots=[2, 5])
    run_into(tmp_path, params, content_path, style_path)
    assert sorted(p.name for p in (tmp_path / "snapshots").glob("*.pt")) == ["5.pt"]
    assert not (tmp_path / "resume.pt").exists()
    assert run_into(tmp_path, params, content_path, style_path).resumed_from == []


def test_a_snapshot_asked_for_later_makes_it_start_afresh(content_path, style_path, tmp_path, every_iteration):
    """Killed after 7 with its state at 7, then started again asking for a snapshot at 5 as
    well (re-planned): the state at 7 cannot give snapshot 5 (snapshots keep no state), so it
    starts afresh, and snapshot 5 is the one an uninterrupted run takes; asked for a snapshot
    after 7 only, it resumes."""
    first = tiny_params(optimizer="adam", init="noise", iterations=9, snapshots=[3], checkpoint_seconds=1e-6)
    run_into(tmp_path / "resumed", first, content_path, style_path, kill_at=7)
    params = first.replace(snapshots=[3, 5])
    result = run_into(tmp_path / "resumed", params, content_path, style_path)
    run_into(tmp_path / "whole", params, content_path, style_path)
    assert result.resumed_from == []
    assert_same_run_files(tmp_path / "whole", tmp_path / "resumed")

    run_into(tmp_path / "later", first, content_path, style_path, kill_at=7)
    later = first.replace(snapshots=[3, 8])
    assert run_into(tmp_path / "later", later, content_path, style_path).resumed_from == [7]
    run_into(tmp_path / "later-whole", later, content_path, style_path)
    assert_same_run_files(tmp_path / "later-whole", tmp_path / "later")


# --- the setting ------------------------------------------------------------------------------
def test_checkpoint_seconds_is_an_execution_setting():
    params = tiny_params()
    assert params.checkpoint_seconds == 60
    assert params.replace(checkpoint_seconds=0).run_id == params.run_id
    with pytest.raises(NSTError, match="'checkpoint_seconds'.*seconds >= 0"):
        params.replace(checkpoint_seconds=-1)
    assert execution_settings({"execution": {"checkpoint_seconds": 5, "batch_size": 2}}) == {"checkpoint_seconds": 5}


# --- the done-criterion: kill -9 of a real `nst run` -------------------------------------------
def test_kill_9_at_a_random_moment_then_rerun_gives_the_uninterrupted_run(content_path, style_path, tmp_path):
    """A 2000-iteration `nst run` (32 px, random weights, a state every 0.2 s) is killed with
    SIGKILL at a moment drawn from a seeded RNG (past a random iteration, plus a random fraction
    of a checkpoint interval); the same command again resumes and gives the history and image of
    an uninterrupted run."""
    args = ["run", content_path, style_path, "--preset", "baseline", "--set", "weights=random",
            "--image-size", "32", "--num-iterations", "2000", "--device", "cpu", "--threads", "1",
            "--set", "checkpoint_seconds=0.2", "-q"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    done = run_nst(args + ["-o", whole], timeout=300)
    assert done.returncode == 0, done.stderr

    rng = random.Random(2026)
    past, then = rng.randint(100, 1800), rng.uniform(0, 0.2)
    process = subprocess.Popen(nst_command() + [str(a) for a in args + ["-o", killed]],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and saved_iteration(killed) < past and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(then)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it was killed"
    assert not (killed / "run.json").exists()

    again = run_nst(args + ["-o", killed], timeout=300)
    assert again.returncode == 0, again.stderr
    resumed_from = run_json(killed)["resumed_from"]
    assert len(resumed_from) == 1 and past <= resumed_from[0] < 2000, (past, resumed_from)
    pd.testing.assert_frame_equal(losses(whole), losses(killed), check_exact=True)
    assert (whole / "image.png").read_bytes() == (killed / "image.png").read_bytes()
    assert run_json(whole)["final"] == run_json(killed)["final"]
    assert not (killed / "resume.pt").exists()
    assert not list(killed.glob(".*tmp*"))  # a write killed half-way left nothing behind


def saved_iteration(folder) -> int:
    state = checkpoint.read_state(checkpoint.resume_file(folder), peek=True)
    return -1 if state is None else state["iteration"]


# --- issue 19, item 9: a state that cannot be saved is a warning, not the end of the run -----------
@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"),
                                     RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 "
                                                  "vs 598")], ids=["oserror", "torch-runtimeerror"])
def test_a_state_save_on_a_full_disk_warns_with_the_path_and_the_run_goes_on(failure, content_path, style_path,
                                                                             tmp_path, monkeypatch, capsys):
    """torch.save on a full disk raises a RuntimeError without a path (the second case is its
    text); the run's final files are small and may still fit."""
    from nst import cli

    def disk_full(*args, **kwargs):
        raise failure

    monkeypatch.setattr(checkpoint, "MAX_TIME_SHARE", math.inf)
    monkeypatch.setattr(checkpoint.torch, "save", disk_full)
    out = tmp_path / "run"
    args = ["run", content_path, style_path, "-o", out, "--set", "weights=random", "--image-size", "32",
            "--num-iterations", "4", "--device", "cpu", "-q", "--set", "checkpoint_seconds=0.000001",
            "--set", "snapshots=2,4"]
    assert cli.main([str(a) for a in args]) == 0
    err = capsys.readouterr().err
    warnings_ = [line for line in err.splitlines() if line.startswith("nst: warning: could not save")]
    assert warnings_ and all("run goes on" in line for line in warnings_), err
    assert str(out) in warnings_[0] and ".pt" in warnings_[0]
    assert "Traceback" not in err
    assert run_json(out)["iterations_done"] == 4 and (out / "image.png").is_file()
    assert not list(out.rglob("*.tmp*"))


# --- issue 19, item 17: snapshots keep images and scores; a state only where one is needed -----
def test_every_snapshot_keeps_its_image_and_scores_and_only_the_last_its_state(content_path, style_path, tmp_path,
                                                                             monkeypatch):
    """--save-iter 1 kept a full optimizer state (with the whole history) per snapshot. A
    snapshot is its image and scores; a state is kept at the run's last iteration only (what
    --resume-from continues), and resume.pt is saved by time as ever."""
    saves = []
    real = checkpoint.save_state
    monkeypatch.setattr(checkpoint, "save_state", lambda state, path: saves.append(path.name) or real(state, path))
    params = tiny_params(optimizer="adam", iterations=6, snapshots=[1, 2, 3, 4, 5, 6])
    run_into(tmp_path / "run", params, content_path, style_path)
    files = sorted(p.name for p in (tmp_path / "run" / "snapshots").iterdir())
    assert files == sorted([f"{k}.png" for k in range(1, 7)] + [f"{k}.json" for k in range(1, 7)] + ["6.pt"])
    assert saves == ["6.pt"]
    assert not (tmp_path / "run" / "resume.pt").exists()


def test_a_killed_run_with_a_snapshot_at_every_iteration_resumes_bit_for_bit(content_path, style_path, tmp_path,
                                                                             every_iteration):
    """The snapshots before the state it resumes from come from their files (image, scores)."""
    params = tiny_params(optimizer="adam", init="noise", shift=0.9, iterations=8, snapshots=list(range(1, 9)),
                         checkpoint_seconds=1e-6)
    run_into(tmp_path / "whole", params, content_path, style_path)
    run_into(tmp_path / "resumed", params, content_path, style_path, kill_at=5)
    assert not list((tmp_path / "resumed" / "snapshots").glob("[1-4].pt"))
    result = run_into(tmp_path / "resumed", params, content_path, style_path)
    assert result.resumed_from == [5]
    assert_same_run_files(tmp_path / "whole", tmp_path / "resumed")
