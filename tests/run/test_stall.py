"""A run whose loss stopped changing says so (nst/run/stall.py): the rule, and where it shows
(run.json, the one-line outcome, snapshots and the runs derived from them, runs.csv, grids)."""
from __future__ import annotations

import json

import pytest

from nst.contracts.run_record import RunRecord
from nst.run.engine import stylize
from nst.run.writer import write_run
from nst.run.stall import STALL_MIN, STALL_RTOL, stalled_at
from nst.study.tables import aggregate
from nst.study.figures.run_grids import run_flag
from nst.study.plan.trajectory import derive_run

from kit import tiny_params

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- the rule --------------------------------------------------------------------------------
def descending(n: int, rate: float = 0.01) -> list[float]:
    return [100.0 * (1 - rate) ** k for k in range(n)]


def test_a_loss_that_stays_the_same_stalls_where_it_stopped():
    totals = descending(60) + [descending(60)[-1]] * 40
    assert stalled_at(totals, [100]) == 60  # iteration 60 was the last that changed it


def test_a_loss_still_coming_down_slowly_does_not_stall():
    assert stalled_at(descending(300, rate=1e-4), [300]) is None  # 1e-4 a step is progress
    assert stalled_at(descending(300, rate=1e-4)[:200] + [1.0] * 100, [300]) is not None


def test_worse_trial_points_do_not_count_as_change():
    """A line search's trials (or a rejected step) evaluate worse points: the best so far is
    what counts."""
    flat = [5.0] * 30
    spiky = descending(50) + [v * (3 if k % 2 else 1) for k, v in enumerate([descending(50)[-1]] * 30)]
    assert stalled_at(descending(50) + flat, [80]) is not None
    assert stalled_at(spiky, [80]) == 50


def test_a_change_within_the_tolerance_is_none_and_the_stretch_must_be_long():
    base = descending(50)[-1]
    creeping = descending(50) + [base * (1 - STALL_RTOL / 100 * k) for k in range(1, 51)]
    assert stalled_at(creeping, [100]) is not None
    short = descending(95) + [descending(95)[-1]] * (STALL_MIN - 1)
    assert stalled_at(short, [95 + STALL_MIN - 1]) is None  # fewer than STALL_MIN after it
    assert stalled_at(descending(80) + [descending(80)[-1]] * 20, [1000]) is None  # < 10 % of the budget


def test_each_stage_is_judged_on_its_own_and_a_non_finite_loss_is_not_a_stall():
    coarse = descending(20) + [descending(20)[-1]] * 30  # stalls at 20 of its 50
    assert stalled_at(coarse + descending(50), [50, 50]) == 20
    assert stalled_at(descending(50) + descending(30) + [descending(30)[-1]] * 20, [50, 50]) == 80
    assert stalled_at(descending(50) + [float("nan")] * 50, [100]) is None


# --- where it shows ------------------------------------------------------------------------------
def test_a_run_that_cannot_move_is_recorded_as_stalled(content_path, style_path, tmp_path):
    """Style weight 0 from the content image: the loss is 0 and its gradient too, so L-BFGS
    never moves (the tutorial's loop: torch returns at once on a zero gradient). The run still
    does its 30 evaluations, and says it stalled at the first."""
    params = tiny_params(style_weight=0.0, iterations=30, lbfgs_bounds="clamp", snapshots=[20])
    result = stylize(params, content_path, style_path)
    assert len(result.history) == 30 and result.status == "ok"
    assert result.stalled_at == 1
    assert result.outcome().startswith("ok, stalled at iteration 1 (its loss stopped changing")
    write_run(result, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "run.json").read_text())["stalled_at"] == 1
    # the snapshot says what a 20-iteration run would, and the run derived from it carries it
    assert json.loads((tmp_path / "run" / "snapshots" / "20.json").read_text())["stalled_at"] == 1
    derived = json.loads((derive_run(tmp_path / "run", 20, tmp_path / "derived") / "run.json").read_text())
    alone = stylize(params.replace(iterations=20, snapshots=[]), content_path, style_path)
    assert derived["stalled_at"] == alone.stalled_at == 1


def test_a_run_that_descends_is_not_stalled(content_path, style_path):
    result = stylize(tiny_params(iterations=12, init="noise"), content_path, style_path)
    assert result.stalled_at is None and result.outcome() == "ok" and result.record()["stalled_at"] is None


def test_a_shifted_run_is_not_judged(content_path, style_path):
    """Random shifting makes each evaluation a different objective: no stall is claimed."""
    params = tiny_params(style_weight=0.0, iterations=30, shift=0.9)
    assert stylize(params, content_path, style_path).stalled_at is None


def test_the_tables_and_grids_show_a_stall():
    record = {"run_id": "abc", "status": "ok", "diverged_at": None, "stalled_at": 42, "params": {},
              "final": {}, "evaluation": {}, "timing": {}}
    row = aggregate.run_row(RunRecord.from_dict(record), "c", "s")
    assert row["stalled_at"] == 42
    assert run_flag({"status": "ok", "stalled_at": 42.0}) == "STALLED AT 42"
    assert run_flag({"status": "ok", "stalled_at": float("nan")}) is None
    assert run_flag({"status": "diverged", "stalled_at": None, "selected": True}) == "SELECTED / DIVERGED"
