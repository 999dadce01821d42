"""Shared trajectories: the snapshot at k of a longer run is the run with `iterations: k`."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nst import preset
from nst.run.engine import stylize
from nst.run.writer import write_run
from nst.contracts import layout
from nst.study.plan.build import build_plan
from nst.study.plan.trajectory import derive_run, share_trajectories, shares_trajectories

LOSS_COLUMNS = ["iteration", "content", "style", "total"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pair")
    rng = np.random.default_rng(5)
    for name in ("content", "style"):
        Image.fromarray((rng.random((36, 36, 3)) * 255).astype("uint8")).save(folder / f"{name}.png")
    return folder / "content.png", folder / "style.png"


def run_to(tmp, pair, name, **settings):
    params = preset("baseline", weights="random", size=32, device="cpu", **settings)
    return write_run(stylize(params, *pair), tmp / name)


@pytest.mark.parametrize("settings", [
    {"optimizer": "lbfgs"},
    {"optimizer": "adam", "init": "noise", "shift": 0.9, "shift_rotation": 5.0},
])
def test_snapshot_is_bit_for_bit_the_shorter_run(tmp_path, pair, settings):
    long_dir = run_to(tmp_path, pair, "long", iterations=7, snapshots=[3], **settings)
    short_dir = run_to(tmp_path, pair, "short", iterations=3, **settings)
    derived = derive_run(long_dir, 3, tmp_path / "derived")

    assert (derived / "image.png").read_bytes() == (short_dir / "image.png").read_bytes()
    h_derived, h_short = pd.read_csv(derived / "history.csv"), pd.read_csv(short_dir / "history.csv")
    assert list(h_derived.columns) == list(h_short.columns)
    pd.testing.assert_frame_equal(h_derived.drop(columns="seconds"), h_short.drop(columns="seconds"), check_exact=True)
    r_derived = json.loads((derived / "run.json").read_text())
    r_short = json.loads((short_dir / "run.json").read_text())
    assert r_derived["run_id"] == r_short["run_id"]
    assert r_derived["final"] == r_short["final"]
    assert r_derived["evaluation"] == r_short["evaluation"]
    assert r_derived["params"]["iterations"] == 3 and r_derived["derived_from"] != r_derived["run_id"]
    # and it is not simply the longer run's final image
    assert (derived / "image.png").read_bytes() != (long_dir / "image.png").read_bytes()


def test_a_divergence_before_k_is_inherited(tmp_path, pair):
    long_dir = run_to(tmp_path, pair, "long", iterations=5, snapshots=[2], style_weight=1e39)
    derived = derive_run(long_dir, 2, tmp_path / "derived")
    record = json.loads((derived / "run.json").read_text())
    assert record["status"] == "diverged" and record["diverged_at"] == 1
    assert len(pd.read_csv(derived / "history.csv")) == 1


def test_derive_refuses_a_missing_snapshot(tmp_path, pair):
    long_dir = run_to(tmp_path, pair, "long", iterations=4)
    with pytest.raises(Exception, match="no snapshot at iteration 2"):
        derive_run(long_dir, 2, tmp_path / "derived")


# --- planning -----------------------------------------------------------------------------
def _config(iterations, share=True):
    return {
        "params": {"size": 32, "weights": "random"},
        "execution": {"device": "cpu", "share_trajectories": share},
        "experiments": {"it": {"vary": {"iterations": iterations}}},
    }


@pytest.fixture
def study(tmp_path, pair):
    for role, path in zip(("content", "style"), pair):
        (tmp_path / "images" / role).mkdir(parents=True)
        (tmp_path / "images" / role / "x.png").write_bytes(path.read_bytes())
    return tmp_path


def shared_plan(config, study):
    """Planning, then sharing, as the workflow does (common.smk)."""
    plan = build_plan(config, root=study)
    return share_trajectories(plan, study / layout.RUNS) if shares_trajectories(config) else plan


def test_plan_maps_shorter_runs_to_the_longest(study):
    plan = shared_plan(_config([2, 6, 4]), study)
    by_iterations = {r.params.iterations: r for r in plan.runs.values()}
    leader = by_iterations[6]
    assert leader.source is None and leader.params.snapshots == (2, 4)
    assert by_iterations[2].source == by_iterations[4].source == leader.key
    assert all(r.source is None for r in shared_plan(_config([2, 6], share=False), study).runs.values())


def test_sharing_is_on_unless_the_config_turns_it_off():
    assert shares_trajectories({}) and shares_trajectories({"execution": {"device": "cpu"}})
    assert not shares_trajectories(_config([2, 6], share=False))


def test_planning_alone_shares_nothing_and_reads_no_run(study):
    """build_plan reads the config and images only; sharing is the separate step."""
    plan = build_plan(_config([2, 6, 4]), root=study)
    assert all(r.source is None and r.params.snapshots == () for r in plan.runs.values())
    assert share_trajectories(plan, study / layout.RUNS) is plan  # changed in place, returned
    assert sum(r.source is not None for r in plan.runs.values()) == 2


def test_plan_never_redoes_finished_work_for_sharing(study):
    plan = shared_plan(_config([2, 6]), study)
    leader = max(plan.runs.values(), key=lambda r: r.params.iterations)
    folder = study / layout.run_folder(leader.content, leader.style, leader.run_id)
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"params": {"snapshots": [2]}, "run_id": leader.run_id}))
    # a finished leader keeps its snapshots; a new count it lacks is computed on its own
    plan = shared_plan(_config([2, 3, 6]), study)
    by_iterations = {r.params.iterations: r for r in plan.runs.values()}
    assert by_iterations[6].params.snapshots == (2,)
    assert by_iterations[2].source == leader.key and by_iterations[3].source is None


def test_a_blown_up_snapshot_is_derived_with_the_status_a_shorter_run_gets(tmp_path, pair):
    """sgd at lr=1e9 stays finite (pixels are clamped) but blows up: a run written from the
    longer run's snapshot must be judged as the shorter run itself is, not reported ok."""
    settings = dict(optimizer="sgd", lr=1e9)
    long_dir = run_to(tmp_path, pair, "long", iterations=12, snapshots=[10], **settings)
    short_dir = run_to(tmp_path, pair, "short", iterations=10, **settings)
    derived = json.loads((derive_run(long_dir, 10, tmp_path / "derived") / "run.json").read_text())
    short = json.loads((short_dir / "run.json").read_text())
    assert short["status"] == "diverged" and short["diverged_reason"]
    assert (derived["status"], derived["diverged_at"], derived["diverged_reason"]) == (
        short["status"], short["diverged_at"], short["diverged_reason"])
