"""nst.study.tables.aggregate, select and manifest: the typed manifest, runs table, experiment
tables, tune selection, Table 5, CSV files.

The study is fabricated on disk by tests/study_kit.py (run folders as nst.contracts.run_folder writes
them, the manifest the planner would make).
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from nst.errors import AggregateError, InputError, MissingRunError
from nst.contracts.presets import preset
from nst.study.tables import aggregate, select
from nst.contracts.manifest import (MANIFEST_FORMAT, Experiment, Manifest, Trial, label_of, pair_key)
from study_kit import (GATYS, TUNE_PAIRS, baseline_id, build_study, manifest, plan_select, runs,  # noqa: F401
                       scored_study, study, with_select, write_manifest)

DOCUMENTED_RUN_COLUMNS = [
    "content", "style", "run_id", "status", "diverged_at", "stalled_at", "final_content", "final_style",
    "final_total", "eval_content", "eval_style", "eval_total", "ssim_content",
    "color_distance_style", "seconds", "device", "weights", "random_weights",
]


# --- manifest -------------------------------------------------------------------------------
def test_manifest_round_trips_through_its_json(study):
    for evaluation in ((), (GATYS,)):
        made = study.manifest(evaluation)
        loaded = Manifest.load(write_manifest(study, made))
        assert loaded == made
        assert loaded.to_json() == made.to_json()
    assert json.loads(made.to_json())["format"] == MANIFEST_FORMAT


@pytest.mark.parametrize("breakage, detail", [
    (lambda m: m.pop("format"), "format None"),
    (lambda m: m.update(format=MANIFEST_FORMAT + 1), f"format {MANIFEST_FORMAT + 1}"),
    (lambda m: m["trials"][0].pop("run_id"), "run_id"),
    (lambda m: m["experiments"]["matrix"].update(kind="sweep"), "kind 'sweep'"),
    (lambda m: m.pop("images"), "images"),
])
def test_a_manifest_of_another_version_is_one_clear_error_naming_the_file(study, breakage, detail):
    data = study.manifest().to_dict()
    breakage(data)
    path = write_manifest(study, data)
    with pytest.raises(InputError, match="is not a manifest of this nst version") as err:
        Manifest.load(path)
    assert str(path) in str(err.value) and detail in str(err.value)


def test_manifest_names_trials_and_labels_one_way(manifest):
    assert [t.run_id for t in manifest.trials_of("optimizer")] == [
        baseline_id(optimizer="lbfgs"), baseline_id(optimizer="sgd")]
    assert label_of({}) == "base"
    assert label_of({"style_layers": ["relu_1", "relu_2"], "style_weight": 1e5}) == \
        "style_layers=relu_1+relu_2, style_weight=100000"
    assert pair_key("c2", "s2") == "c2__s2"
    only = manifest.restricted_to(["optimizer"])
    assert {t.experiment for t in only.trials} == {"optimizer"}
    assert only.experiments == manifest.experiments
    with pytest.raises(AggregateError, match="unknown experiment 'nope'; planned: iterations"):
        manifest.trials_of("nope")


# --- runs table -----------------------------------------------------------------------------
def test_runs_table_has_one_row_per_distinct_run(study, manifest, runs):
    distinct = {(t.content, t.style, t.run_id) for t in study.trials}
    assert len(distinct) < len(study.trials)  # the study does share runs
    assert len(runs) == len(distinct)
    assert set(zip(runs["content"], runs["style"], runs["run_id"])) == distinct
    for column in DOCUMENTED_RUN_COLUMNS + ["iterations", "content_weight", "style_layers",
                                            "optimizer", "init", "param_device", "param_weights"]:
        assert column in runs.columns, column
    assert list(runs.columns[:3]) == ["content", "style", "run_id"]


def test_runs_table_values_come_from_run_json(study, runs):
    assert runs["random_weights"].dtype == bool and runs["random_weights"].all()
    for _, row in runs.iterrows():
        record = study.records[(row["content"], row["style"], row["run_id"])]
        assert row["final_total"] == record["final"]["total"]
        assert row["eval_total"] == record["evaluation"]["eval_total"]
        assert row["status"] == record["status"]
        assert row["seconds"] == record["timing"]["seconds"]
        assert row["style_layers"] == ",".join(record["params"]["style_layers"])
        assert row["weights"] == "random"
        assert row["device"] == "cpu" and row["param_device"] == "auto"


def test_runs_table_missing_run_json_names_the_path(study, tmp_path):
    other = build_study(tmp_path)
    content, style, run_id = next(iter(other.records))
    missing = other.runs_dir / content / style / run_id / "run.json"
    missing.unlink()
    manifest = Manifest.load(write_manifest(other))
    with pytest.raises(MissingRunError) as err:
        aggregate.runs_table(manifest, other.runs_dir)
    assert str(missing) in str(err.value)


# --- experiment tables ----------------------------------------------------------------------
def test_shared_run_appears_once_in_runs_but_in_several_experiments(manifest, runs):
    shared = baseline_id()  # iterations=300 == style_weight=1e6 == lbfgs == matrix c1 x s1
    def count(table):
        return ((table["run_id"] == shared) & (table["content"] == "c1")
                & (table["style"] == "s1")).sum()

    assert count(runs) == 1
    for name in ("iterations", "style_weight", "optimizer", "matrix"):
        assert count(aggregate.experiment_table(manifest, runs, name)) == 1, name


def test_experiment_table_rows_follow_plan_order_with_key_columns(study, manifest, runs):
    table = aggregate.experiment_table(manifest, runs, "iterations")
    trials = [t for t in study.trials if t.experiment == "iterations"]
    assert list(table["run_id"]) == [t.run_id for t in trials]
    assert list(table["label"]) == [t.label for t in trials]
    assert list(table.columns[:7]) == ["experiment", "trial", "content", "style", "run_id",
                                       "label", "iterations"]
    assert list(table["iterations"]) == [t.values["iterations"] for t in trials]
    assert "selected" not in table.columns
    # every runs column is there, once
    assert set(runs.columns) <= set(table.columns)
    assert len(set(table.columns)) == len(table.columns)


def test_subsets_table_joins_layer_lists(manifest, runs):
    table = aggregate.experiment_table(manifest, runs, "layers")
    assert len(table) == 15
    assert table["style_layers"].iloc[0] == "relu_1"
    assert table["style_layers"].iloc[-1] == "relu_1,relu_2,relu_3,relu_4"


def _selected(table):
    return {(r.content, r.style): dict(content_weight=r.content_weight, init=r.init)
            for r in table.itertuples() if r.selected}


def test_tune_selects_min_among_ok_runs_and_override_wins(manifest, runs):
    table = aggregate.experiment_table(manifest, runs, "revised")
    assert table["selected"].dtype == bool
    chosen = _selected(table)
    # (c1, s1): the diverged run has the smallest eval_total (0.5) but is not eligible
    assert chosen[("c1", "s1")] == {"content_weight": 1.0, "init": "zeros"}
    # (c2, s2): the override beats the minimum (eval 5 at content_weight=1, init=content)
    assert chosen[("c2", "s2")] == {"content_weight": 5.0, "init": "zeros"}
    # (c2, s1): all diverged, nothing selected, and said so
    assert ("c2", "s1") not in chosen
    notes = table[(table["content"] == "c2") & (table["style"] == "s1")]["note"]
    assert all("all runs diverged" in n for n in notes)
    assert table.groupby(["content", "style"])["selected"].sum().to_dict() == {
        ("c1", "s1"): 1, ("c2", "s1"): 0, ("c2", "s2"): 1}


def test_tune_mode_max_and_other_metric(manifest, runs):
    m = with_select(manifest, "revised", {"metric": "eval_total", "mode": "max", "override": {}})
    chosen = _selected(aggregate.experiment_table(m, runs, "revised"))
    assert chosen[("c1", "s1")] == {"content_weight": 1.0, "init": "content"}  # 40
    assert chosen[("c2", "s2")] == {"content_weight": 5.0, "init": "zeros"}   # 80
    m = with_select(manifest, "revised", {"metric": "no_such_metric", "mode": "min", "override": {}})
    with pytest.raises(AggregateError, match="no_such_metric"):
        aggregate.experiment_table(m, runs, "revised")


@pytest.mark.parametrize("override, message", [
    ({"c2__s2": {"content_weight": 7, "init": "zeros"}}, "'c2__s2'.*matches none"),
    ({"c2__s2": {"content_weight": 5}}, "'c2__s2'.*matches 2 trials"),
    ({"c9__s2": {"content_weight": 5, "init": "zeros"}}, "'c9__s2'"),
])
def test_bad_override_is_a_clear_error(manifest, runs, override, message):
    m = with_select(manifest, "revised", {**manifest.experiments["revised"].select, "override": override})
    with pytest.raises(AggregateError, match=message):
        aggregate.experiment_table(m, runs, "revised")


def test_override_values_are_normalised(manifest, runs):
    m = with_select(manifest, "revised", {**manifest.experiments["revised"].select,
                                          "override": {"c1__s1": {"content_weight": "5.0", "init": "Content"}}})
    assert _selected(aggregate.experiment_table(m, runs, "revised"))[("c1", "s1")] == {
        "content_weight": 5.0, "init": "content"}


# --- Table 5 --------------------------------------------------------------------------------
def test_table5_numbers_are_the_runs_own(study, manifest, runs):
    t5 = aggregate.table5(manifest, runs)
    assert list(t5.columns) == aggregate.TABLE5_COLUMNS
    assert list(zip(t5["content"], t5["style"])) == TUNE_PAIRS
    assert list(t5["row"]) == [1, 2, 3]
    for row in t5.itertuples():
        # the baseline is the iterations trial at the preset's 300 iterations, not the first
        base = study.records[(row.content, row.style, baseline_id(iterations=300))]
        assert row.baseline_run_id == base["run_id"]
        assert row.baseline_L_S == base["final"]["style"]
        assert row.baseline_L_C == base["final"]["content"]
        assert row.baseline_eval_total == base["evaluation"]["eval_total"]
        assert row.baseline_ssim == base["evaluation"]["ssim_content"]
        assert row.random_weights
    first = t5.iloc[0]
    revised = study.records[("c1", "s1", preset("revised", size=32, weights="random",
                                                content_weight=1, init="zeros").run_id)]
    assert first["revised_run_id"] == revised["run_id"]
    assert first["revised_L_S"] == revised["final"]["style"]
    assert first["revised_L_C"] == revised["final"]["content"]
    assert first["revised_eval_style"] == revised["evaluation"]["eval_style"]
    last = t5.iloc[2]
    assert pd.isna(last["revised_L_S"]) and pd.isna(last["revised_run_id"])
    assert "diverged" in last["note"]


def test_table5_needs_a_results_array(manifest, runs):
    with pytest.raises(AggregateError, match="results_array"):
        aggregate.table5(dataclasses.replace(manifest, results_array=None), runs)


# --- files ----------------------------------------------------------------------------------
def test_write_csv_is_atomic_and_read_csv_keeps_text(tmp_path):
    df = pd.DataFrame({"content": ["007"], "style": ["1e5"], "run_id": ["000123456789"],
                       "label": ["1"], "final_total": [1.5], "note": [""], "diverged_at": [None],
                       "random_weights": [True]})
    path = aggregate.write_csv(df, tmp_path / "sub" / "t.csv")
    assert [p.name for p in path.parent.iterdir()] == ["t.csv"]
    back = aggregate.read_csv(path)
    assert back.loc[0, "content"] == "007" and back.loc[0, "style"] == "1e5"
    assert back.loc[0, "run_id"] == "000123456789" and back.loc[0, "label"] == "1"
    assert back.loc[0, "final_total"] == 1.5 and pd.isna(back.loc[0, "diverged_at"])
    assert bool(back.loc[0, "random_weights"]) is True


def test_tables_survive_a_csv_round_trip(manifest, runs, tmp_path):
    back = aggregate.read_csv(aggregate.write_csv(runs, tmp_path / "runs.csv"))
    assert len(back) == len(runs)
    direct = aggregate.experiment_table(manifest, runs, "revised")
    again = aggregate.experiment_table(manifest, back, "revised")
    assert list(again["selected"]) == list(direct["selected"])
    t5 = aggregate.table5(manifest, back)
    assert list(t5["baseline_L_S"]) == list(aggregate.table5(manifest, runs)["baseline_L_S"])


def test_modules_import_without_torch_or_snakemake():
    code = ("import sys, nst.contracts.manifest, nst.study.tables.select, nst.study.tables.aggregate, nst.study.figures.grids, "
            "nst.study.figures.run_grids, nst.study.figures.charts; "
            "bad = [m for m in ('torch', 'snakemake') if m in sys.modules]; "
            "sys.exit(str(bad) if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[3])
    assert result.returncode == 0, result.stderr + result.stdout


# --- evaluators' scores and the two-sided selection ----------------------------------------
def test_runs_table_has_each_evaluators_scores_per_layer(tmp_path):
    s = scored_study(tmp_path)
    manifest = Manifest.load(write_manifest(s, s.manifest([GATYS])))
    runs = aggregate.runs_table(manifest, s.runs_dir)
    assert set(GATYS.columns()) <= set(runs.columns)
    for row in runs.itertuples():
        data = json.loads(aggregate.score_path(s.runs_dir, row.content, row.style, row.run_id, GATYS).read_text())
        assert row.score_gatys_style == data["scores"]["style"]
        assert row.score_gatys_content_relu4_2 == data["scores"]["content_layers"]["relu_10"]
        assert row.score_gatys_style_relu5_1 == data["scores"]["style_layers"]["relu_13"]
        assert row.score_gatys_evaluator.startswith(f"gatys [{GATYS.hash}]: random VGG-19")
    t5 = aggregate.table5(manifest, runs)
    assert {"baseline_score_gatys_style", "revised_score_gatys_content", "score_gatys_evaluator"} <= set(t5.columns)
    # a run without its score file is named, with the evaluator
    content, style, run_id = next(iter(s.records))
    aggregate.score_path(s.runs_dir, content, style, run_id, GATYS).unlink()
    with pytest.raises(MissingRunError, match=f"{run_id}.*gatys \\[{GATYS.hash}\\]"):
        aggregate.runs_table(manifest, s.runs_dir)


def hand_made(points: dict[str, tuple[float, float, float]], select: dict) -> pd.DataFrame:
    """A tuned experiment of one pair whose candidates have the given (style score, content
    score, eval_total), made in memory: runs table and manifest by hand."""
    trials, rows = [], []
    for k, (label, (style_score, content_score, eval_total)) in enumerate(points.items()):
        run_id = f"{k:012d}"
        trials.append(Trial("t", "c", "s", run_id, {"content_weight": k + 1}, label))
        rows.append({"content": "c", "style": "s", "run_id": run_id, "content_weight": float(k + 1),
                     "status": "ok", "eval_total": eval_total,
                     GATYS.column("style"): style_score, GATYS.column("content"): content_score})
    experiment = Experiment("tune", ("content_weight",), "revised", "t", "", plan_select(select, [GATYS]))
    manifest = Manifest({"t": experiment}, tuple(trials), evaluation=(GATYS,))
    return aggregate.experiment_table(manifest, pd.DataFrame(rows), "t")


# style distance, content distance, eval_total (the paper's definition: it favours the content)
CANDIDATES = {
    "content copy": (0.90, 0.00, 1.0),   # nothing transferred: best eval_total, best content
    "balanced": (0.30, 0.25, 5.0),       # near both bests
    "all style": (0.25, 0.95, 9.0),      # best style, content lost
    "dominated": (0.60, 0.50, 7.0),      # worse than "balanced" in both
}


def chosen(table: pd.DataFrame) -> str:
    return table.loc[table["selected"], "label"].item()


def test_default_selection_is_two_sided_where_one_sided_differs():
    default = hand_made(CANDIDATES, {})  # metric defaults to pareto
    assert chosen(default) == "balanced"
    assert "Pareto front" in default.loc[default["selected"], "note"].item()
    assert chosen(hand_made(CANDIDATES, {"metric": "eval_total"})) == "content copy"
    assert chosen(hand_made(CANDIDATES, {"metric": "score_style"})) == "all style"
    assert chosen(hand_made(CANDIDATES, {"metric": "score_content"})) == "content copy"
    ranks = dict(zip(default["label"], default["pareto_rank"]))
    assert ranks == {"content copy": 1, "balanced": 1, "all style": 1, "dominated": 2}
    # tradeoff: a stated share of style vs content on the same relative scale
    assert chosen(hand_made(CANDIDATES, {"metric": "tradeoff", "style_share": 1.0})) == "all style"
    assert chosen(hand_made(CANDIDATES, {"metric": "tradeoff", "style_share": 0.0})) == "content copy"


def test_pareto_choice_ignores_dominated_candidates_and_score_scales():
    base = {k: v for k, v in CANDIDATES.items() if k != "content copy"}
    first = chosen(hand_made(base, {}))
    worse = {**base, "terrible": (5.0, 9.0, 1.0)}  # dominated by all: the choice stays
    assert chosen(hand_made(worse, {})) == first
    scaled = {k: (1e4 * s, c, e) for k, (s, c, e) in base.items()}  # another scale of style score
    assert chosen(hand_made(scaled, {})) == first


def test_pareto_ranks_and_relative_excess():
    assert select.pareto_ranks({0: (1, 1), 1: (2, 2), 2: (0, 3), 3: (3, 3)}) == {0: 1, 2: 1, 1: 2, 3: 3}
    assert select.relative_excess({0: 2.0, 1: 3.0}) == {0: 0.0, 1: 0.5}
    assert select.relative_excess({0: 0.0, 1: 4.0, 2: 2.0}) == {0: 0.0, 1: 1.0, 2: 0.5}
