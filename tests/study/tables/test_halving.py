"""Successive halving for tuned experiments (nst/study/tables/halving.py): rungs, promotion, and a
promoted run that is the same run as one computed straight through."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from nst.errors import NSTError
from nst.run.checkpoint import continued_state
from nst.run.engine import stylize
from nst.run.writer import write_run

from nst.study.plan.rungs import promoted_count, rungs
from nst.study.plan.build import PlanError, build_plan

from kit import small_config, assert_same_run_files, run_json, tiny_params

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run_into(folder, params, content_path, style_path, continue_from=None):
    write_run(stylize(params, content_path, style_path, outdir=folder, continue_from=continue_from), folder)
    return folder


# --- a promoted run: continued from the rung's state ------------------------------------------------
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_promoted_run_is_the_run_computed_straight_through(optimizer, content_path, style_path, tmp_path):
    """3 iterations (saving its state at 3), continued to 6, then to 9: the same files as 9
    straight through (noise init and shifting: the generator's state carries over)."""
    settings = dict(optimizer=optimizer, init="noise", shift=0.9, shift_rotation=3.0, checkpoint_seconds=0)
    whole = run_into(tmp_path / "whole", tiny_params(iterations=9, **settings), content_path, style_path)
    r0 = run_into(tmp_path / "r0", tiny_params(iterations=3, snapshots=[3], **settings), content_path, style_path)
    r1 = run_into(tmp_path / "r1", tiny_params(iterations=6, snapshots=[6], **settings), content_path, style_path,
                  continue_from=r0)
    full = run_into(tmp_path / "full", tiny_params(iterations=9, **settings), content_path, style_path,
                    continue_from=r1)
    record = run_json(full)
    assert_same_run_files(whole, _without_continued_from(full, tmp_path / "compared"))
    assert record["run_id"] == run_json(whole)["run_id"]
    assert record["continued_from"] == run_json(r1)["run_id"] and record["resumed_from"] == [3, 6]
    assert run_json(r1)["continued_from"] == run_json(r0)["run_id"]


def _without_continued_from(folder, copy):
    """A copy of a run folder whose run.json lacks continued_from (the one expected difference)."""
    import json
    import shutil

    shutil.copytree(folder, copy)
    record = run_json(copy)
    record.pop("continued_from")
    (copy / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    return copy


def test_only_a_shorter_run_of_the_same_settings_is_continued(content_path, style_path, tmp_path):
    r0 = run_into(tmp_path / "r0", tiny_params(iterations=3, snapshots=[3]), content_path, style_path)
    no_state = run_into(tmp_path / "plain", tiny_params(iterations=3), content_path, style_path)
    with pytest.raises(NSTError, match="differs from this run in more than iterations"):
        stylize(tiny_params(iterations=6, style_weight=7.0), content_path, style_path, outdir=tmp_path / "x",
                continue_from=r0)
    with pytest.raises(NSTError, match="no state at its last iteration"):
        stylize(tiny_params(iterations=6), content_path, style_path, outdir=tmp_path / "y", continue_from=no_state)
    with pytest.raises(NSTError, match="made from other images"):  # issue 19: the images count, by content
        stylize(tiny_params(iterations=6), style_path, content_path, outdir=tmp_path / "z", continue_from=r0)


@pytest.mark.parametrize("record, message", [
    (None, "no finished run there"), ("[]", "not a JSON object"), ("{\"status\": \"ok\"}", "holds no run"),
    ("{oops", "is not JSON")])
def test_a_folder_that_holds_no_run_is_one_message(tmp_path, record, message):
    """--resume-from a folder whose run.json is missing, not an object, not JSON or no run
    record: one NSTError (the CLI's one line), never a TypeError."""
    (tmp_path / "src").mkdir()
    if record is not None:
        (tmp_path / "src" / "run.json").write_text(record)
    with pytest.raises(NSTError, match=message):
        continued_state(tmp_path / "src", tiny_params(iterations=6), made=None)


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
def halving_config(**experiment) -> dict:
    tune = {"tune": {"style_weight": [1.0, 10.0, 100.0, 1000.0]}, "schedule": "halving", "eta": 2,
            "min_iterations": 3, "select": {"metric": "eval_total"}, **experiment}
    config = small_config(tuned=tune)
    config["params"]["iterations"] = 12
    config["pairs"] = [{"content": "cat", "style": "wave"}]
    return config


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
