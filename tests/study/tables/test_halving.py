"""Successive halving's decisions and tables (nst/study/tables/halving.py): which candidates
stop at each rung, the table of a halving experiment, and the tables beside it."""
from __future__ import annotations

import pandas as pd
import pytest

from nst.errors import NSTError
from nst.study.plan.build import build_plan

from study_kit import halving_config


# --- decisions and the table ----------------------------------------------------------------------------
def test_stopped_candidates_are_recorded_with_their_rung(root):
    """Rungs 3, 6, 12 with eta 2: 4 candidates at 3, the best 2 (smallest eval_total) at 6, the
    best of those at 12; the table has each trial's last run, stopped_at, and selects among
    the full runs only, even when a stopped one scored better at its rung."""
    from nst.study.tables import aggregate, halving
    from study_kit import fabricate_run, write_scores

    def fabricate(params, n, total):
        fabricate_run(runs_dir, "cat", "wave", params, n=n, eval_total=total)
        write_scores(runs_dir, "cat", "wave", params.run_id, manifest.evaluation[0], 1.0, 1.0)

    plan = build_plan(halving_config(), root=root)
    manifest, runs_dir, results = plan.manifest(), root / "results/runs", root / "results"
    info = manifest.experiment("tuned").halving
    trials = manifest.trials_of("tuned")
    # at rung 3 the candidates rank 2, 0, 3, 1 (eval_total); at 6: 0 beats 2; at 12 only 0 runs
    totals = {0: [20, 5], 1: [40], 2: [10, 8], 3: [30]}
    decisions = []
    for rung in range(2):
        for i, trial in enumerate(trials):
            if len(totals[i]) > rung:
                params = plan.runs[f"cat/wave/{info['ladders'][trial.run_id][rung]}"].params
                fabricate(params, i + 1, totals[i][rung])
        decision = halving.decide(manifest, "tuned", rung, runs_dir, decisions)
        halving.write_decision(decision, halving.layout.rung_decision("tuned", rung, results))
        decisions.append(decision)
    assert decisions[0]["pairs"]["cat__wave"]["promoted"] == [trials[0].run_id, trials[2].run_id]
    assert decisions[1]["pairs"]["cat__wave"]["promoted"] == [trials[0].run_id]
    fabricate(plan.runs[f"cat/wave/{trials[0].run_id}"].params, 1, 50)

    resolved = halving.resolve(manifest, results)
    table = aggregate.experiment_table(resolved, aggregate.runs_table(resolved, runs_dir), "tuned")
    assert [None if pd.isna(v) else v for v in table["stopped_at"]] == [None, 3, 6, 3]
    assert table["selected"].tolist() == [True, False, False, False]  # 2 scored 8 at 6, yet stopped there
    assert table["eval_total"].tolist() == [50, 40, 8, 30]  # each trial's scores: its last rung's
    assert table.loc[1, "note"] == "stopped at 3 iterations (successive halving)"
    assert table["run_id"].tolist()[1] == info["ladders"][trials[1].run_id][0]
    counted = halving.computed_iterations(manifest, "tuned", results)
    assert counted == {"halving": 12 + 3 + 6 + 3, "full_grid": 48}


def test_another_experiments_table_does_not_wait_for_a_halving_decision(root):
    """Its job's inputs hold no halving decision (the workflow may run it first): the table of
    an experiment beside a halving one is made before any rung is decided; the halving
    experiment's own table still needs them."""
    from nst.study.tables import halving
    from study_kit import fabricate_run, write_scores
    from kit import run_nst

    config = halving_config()
    config["experiments"]["sweep"] = {"vary": {"style_weight": [1.0, 2.0]}}
    plan = build_plan(config, root=root)
    manifest, results = plan.manifest(), root / "results"
    (root / "manifest.json").write_text(manifest.to_json())
    for n, trial in enumerate(manifest.trials_of("sweep")):
        fabricate_run(results / "runs", trial.content, trial.style, plan.runs[f"cat/wave/{trial.run_id}"].params, n=n + 1)
        write_scores(results / "runs", trial.content, trial.style, trial.run_id, manifest.evaluation[0], 1.0, 1.0)
    with pytest.raises(NSTError, match="decision at rung 0"):
        halving.resolve(manifest, results)
    assert halving.resolve(manifest, results, ["sweep"]).trials_of("tuned") == manifest.trials_of("tuned")
    for what in ("sweep", "tuned"):
        done = run_nst(["aggregate", "experiment", what, "--manifest", str(root / "manifest.json"),
                        "--results", str(results), "-o", str(root / f"{what}.csv")])
        assert (done.returncode == 0) == (what == "sweep"), done.stderr
    assert len(pd.read_csv(root / "sweep.csv")) == 2
    assert "decision at rung 0" in done.stderr and "Traceback" not in done.stderr


def test_an_override_candidate_is_always_promoted(root):
    """select.override names the run to keep: halving keeps it going to the full count (with
    the best of the others, up to ceil(n / eta))."""
    from nst.study.tables import halving
    from study_kit import fabricate_run, write_scores

    config = halving_config(select={"metric": "eval_total", "override": {"cat__wave": {"style_weight": 1000.0}}})
    plan = build_plan(config, root=root)
    manifest, runs_dir = plan.manifest(), root / "results/runs"
    info = manifest.experiment("tuned").halving
    trials = manifest.trials_of("tuned")
    for i, (trial, total) in enumerate(zip(trials, [20, 40, 10, 30])):
        params = plan.runs[f"cat/wave/{info['ladders'][trial.run_id][0]}"].params
        fabricate_run(runs_dir, "cat", "wave", params, n=i + 1, eval_total=total)
        write_scores(runs_dir, "cat", "wave", params.run_id, manifest.evaluation[0], 1.0, 1.0)
    decision = halving.decide(manifest, "tuned", 0, runs_dir, [])
    assert decision["pairs"]["cat__wave"]["promoted"] == [trials[2].run_id, trials[3].run_id]
