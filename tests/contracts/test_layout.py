"""Every path under results/ (nst/contracts/layout.py). The strings are pinned: an existing study's
results folder must stay where the workflow looks for it."""
from __future__ import annotations

import subprocess
import sys

from nst.contracts import layout

from kit import ROOT


def test_paths_are_where_existing_studies_keep_them():
    assert layout.MANIFEST == "results/plan/manifest.json"
    assert (layout.MANIFESTS, layout.EXECUTIONS, layout.PRESCORE_REQUESTS) == (
        "results/plan/manifests", "results/plan/execution", "results/plan/prescore")
    assert layout.run_folder("cat", "wave", "0123456789ab") == "results/runs/cat/wave/0123456789ab"
    assert layout.run_file("cat", "wave", "0123456789ab") == "results/runs/cat/wave/0123456789ab/run.json"
    assert (layout.run_file("cat", "wave", "0123456789ab", layout.score_name("fedcba987654"))
            == "results/runs/cat/wave/0123456789ab/scores/fedcba987654.json")
    assert (layout.IMAGE, layout.HISTORY, layout.RECORD, layout.SNAPSHOTS) == (
        "image.png", "history.csv", "run.json", "snapshots")
    assert (layout.RUNS_TABLE, layout.TABLE5, layout.table("matrix")) == (
        "results/tables/runs.csv", "results/tables/table5.csv", "results/tables/matrix.csv")
    assert [layout.figure("matrix", name) for name in (*layout.EXPERIMENT_FIGURES, "selection")] == [
        "results/figures/matrix/grid.png", "results/figures/matrix/chart.png", "results/figures/matrix/selection.png"]
    assert layout.RESULTS_ARRAY == "results/figures/results_array.png"
    assert layout.weights_record("caffe") == "results/weights/caffe.json"


def test_rule_patterns_name_the_same_files_as_the_functions():
    """The rules' output patterns and the targets (common.smk) must meet, or nothing runs."""
    wildcards = dict(content="cat", style="wave", run_id="0123456789ab", evaluator="fedcba987654", experiment="e")
    run = ("cat", "wave", "0123456789ab")
    assert layout.RUN_PATTERN.format(**wildcards) == layout.run_folder(*run)
    assert layout.SCORE_PATTERN.format(**wildcards) == layout.run_file(*run, layout.score_name("fedcba987654"))
    assert layout.EXPERIMENT_TABLE_PATTERN.format(**wildcards) == layout.table("e")
    assert layout.figure_pattern("grid").format(**wildcards) == layout.figure("e", "grid")


def test_another_results_folder_and_the_one_a_manifest_is_in():
    assert layout.run_folder("cat", "wave", "0123456789ab", runs=layout.runs_folder("/data/study")) == (
        "/data/study/runs/cat/wave/0123456789ab")
    assert layout.table("runs", results="/data/study") == "/data/study/tables/runs.csv"
    assert layout.results_of_manifest(layout.MANIFEST) == layout.RESULTS
    assert layout.results_of_manifest("/data/study/plan/manifest.json") == "/data/study"


def test_the_layout_imports_no_torch():
    """The workflow imports it while planning, where torch would cost seconds."""
    code = "import sys, nst.contracts.layout; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
