"""Successive halving as planned (nst/study/plan/rungs.py): the rungs, how many go on, every
candidate's ladder of runs in the plan, bad settings refused, and a finished continuation
that keeps its job once halving is turned off."""
from __future__ import annotations

import json

import pytest

from nst.study.plan.build import PlanError, build_plan
from nst.study.plan.rungs import promoted_count, rungs

from kit import small_config
from study_kit import halving_config


# --- rungs, by hand ------------------------------------------------------------------------------
def test_rungs_multiply_by_eta_and_end_at_the_full_count():
    assert rungs(100, 3, 1000) == [100, 300, 900, 1000]
    assert rungs(100, 3, 900) == [100, 300, 900]
    assert rungs(50, 2, 120) == [50, 100, 120]
    assert rungs(3, 3, 9) == [3, 9]
    with pytest.raises(ValueError, match="fewer than the full iterations"):
        rungs(300, 3, 300)


def test_the_best_third_goes_on_rounded_up():
    assert [promoted_count(n, 3) for n in (1, 2, 3, 4, 6, 7, 9)] == [1, 1, 1, 2, 2, 3, 3]
    assert [promoted_count(n, 2) for n in (1, 2, 3, 5)] == [1, 1, 2, 3]


# --- planning --------------------------------------------------------------------------------------
def test_the_plan_holds_every_candidates_ladder(root):
    plan = build_plan(halving_config(), root=root)
    info = plan.experiments["tuned"].halving
    assert info["rungs"] == [3, 6, 12] and info["eta"] == 2
    assert len(plan.trials) == 4 and len(plan.runs) == 12  # 4 candidates x 3 rungs
    for trial in plan.trials:
        ids = info["ladders"][trial.run_id]
        assert ids[-1] == trial.run_id  # the full run: the run computed straight through
        runs = [plan.runs[f"cat/wave/{i}"] for i in ids]
        assert [r.params.iterations for r in runs] == [3, 6, 12]
        assert [list(r.params.snapshots) for r in runs[:-1]] == [[3], [6]]
        assert runs[0].resumes is None and [r.resumes for r in runs[1:]] == [runs[0].key, runs[1].key]


@pytest.mark.parametrize("experiment, key, message", [
    ({"eta": 1}, "experiments.tuned.eta", "whole number >= 2"),
    ({"min_iterations": 12}, "experiments.tuned.min_iterations", "fewer than the full iterations"),
    ({"min_iterations": 0}, "experiments.tuned.min_iterations", "whole number >= 1"),
    ({"schedule": "fast"}, "experiments.tuned.schedule", "allowed: full, halving"),
    ({"schedule": "full"}, "experiments.tuned.eta", "only with schedule: halving"),
    ({"tune": {"iterations": [3, 6]}}, "experiments.tuned.tune.iterations", "chooses iterations itself"),
])
def test_planning_refuses_bad_halving_settings(root, experiment, key, message):
    with pytest.raises(PlanError, match=f"config key '{key}': .*{message}"):
        build_plan(halving_config(**experiment), root=root)


def test_a_schedule_outside_tune_is_refused(root):
    config = small_config(sweep={"vary": {"style_weight": [1.0, 2.0]}, "schedule": "halving"})
    with pytest.raises(PlanError, match="config key 'experiments.sweep.schedule': only an experiment with 'tune'"):
        build_plan(config, root=root)


def test_a_finished_continued_run_keeps_its_job_when_halving_is_turned_off(root):
    """Finished work is never redone: once `schedule: halving` is gone, the plain plan still
    has the full run continuing its rung's run (planned as it ran, though no target), so its
    job's inputs and flags are those it ran with; a halving run computed straight through
    continues nothing."""
    from nst.study.plan.rungs import keep_finished_continuations
    from study_kit import fabricate_run

    runs_dir = root / "results/runs"
    halving_plan = build_plan(halving_config(), root=root)
    trial = halving_plan.trials[0]
    ladder = [halving_plan.runs[f"cat/wave/{i}"] for i in halving_plan.experiments["tuned"].halving["ladders"][trial.run_id]]
    for before, run in zip([None, *ladder], ladder):
        fabricate_run(runs_dir, "cat", "wave", run.params, n=1)
        if before is not None:
            path = runs_dir / run.key / "run.json"
            path.write_text(json.dumps({**json.loads(path.read_text()), "continued_from": before.run_id}))

    config = halving_config()
    for key in ("schedule", "eta", "min_iterations"):
        del config["experiments"]["tuned"][key]
    plain = keep_finished_continuations(build_plan(config, root=root), runs_dir)
    full = plain.runs[f"cat/wave/{trial.run_id}"]
    assert full.resumes == ladder[1].key and plain.runs[ladder[1].key].resumes == ladder[0].key
    assert plain.runs[ladder[0].key].resumes is None and list(plain.runs[ladder[1].key].params.snapshots) == [6]

    straight = halving_plan.runs[f"cat/wave/{halving_plan.trials[1].run_id}"]
    fabricate_run(runs_dir, "cat", "wave", straight.params, n=2)
    again = keep_finished_continuations(build_plan(halving_config(), root=root), runs_dir)
    assert again.runs[f"cat/wave/{halving_plan.trials[1].run_id}"].resumes is None  # computed straight through
