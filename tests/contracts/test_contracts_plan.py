"""The plan record (nst/contracts/plan.py): one home for Plan and Run, which build_plan fills."""
from __future__ import annotations

import dataclasses

import pytest

from nst.contracts.params import RunParams
from nst.contracts.plan import Plan, Run
from nst.study.plan import build as plan_module, rungs as halving_plan


def test_build_plan_makes_the_contracts_plan():
    assert plan_module.Plan is Plan  # no second Plan type in the builder


def test_a_run_is_frozen_and_keyed_by_its_pair_and_run_id():
    run = Run("cat", "wave", RunParams(iterations=5))
    assert run.key == f"cat/wave/{RunParams(iterations=5).run_id}"
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.content = "dog"


def test_two_trials_with_the_same_settings_share_one_run():
    plan = Plan({"cat": "c.png"}, {"wave": "w.png"}, experiments={})
    params = RunParams(iterations=5)
    plan.add("a", "cat", "wave", params, {"iterations": 5})
    plan.add("b", "cat", "wave", params, {})
    assert len(plan.runs) == 1 and len(plan.trials) == 2
    assert [t.label for t in plan.trials_of("a")] == ["iterations=5"]


def test_add_ladders_plans_every_rung_each_continuing_the_one_before():
    plan = Plan({"cat": "c.png"}, {"wave": "w.png"}, experiments={})
    plan.add("t", "cat", "wave", RunParams(iterations=90), {"init": "content"})
    info = halving_plan.add_ladders(plan, "t", "experiments.t", {"eta": 3, "min_iterations": 10})
    assert info["rungs"] == [10, 30, 90]
    ladder = [plan.runs[k] for k in plan.ladder_runs]
    by_iterations = {r.params.iterations: r for r in ladder}
    assert sorted(by_iterations) == [10, 30, 90]
    assert by_iterations[10].resumes is None
    assert by_iterations[30].resumes == by_iterations[10].key
    assert by_iterations[90].resumes == by_iterations[30].key
