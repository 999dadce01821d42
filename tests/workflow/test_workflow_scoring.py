"""Scoring as a per-run target, through the real `snakemake` CLI (tiny images, CPU): every run is
scored by the study's evaluator on one network, and changing `evaluation:` re-scores every run
without re-optimising any."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from nst.contracts.evaluators import resolve_evaluation
from nst.study.plan.build import build_plan
from kit import PAIR, make_study, planned_jobs, snakemake

pytestmark = pytest.mark.workflow

CONFIG = {
    "pairs": PAIR,
    "params": {"size": 32, "iterations": 3, "weights": "random"},
    "execution": {"device": "cpu", "threads": 1},
    "experiments": {
        # a run optimised on the Caffe network; the revised runs use random weights
        "caffe": {"base": "baseline", "set": {"weights": "caffe"}},
        "revised": {"base": "revised", "tune": {"style_weight": [1.0e+5, 1.0e+6]}},
    },
    "evaluation": "gatys",
}


def runs_of(root, config):
    return build_plan(config, root=root, verify_images=False).runs.values()


def run_stamps(root) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.glob("results/runs/*/*/*/run.json")}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = make_study(tmp_path_factory.mktemp("scoring"), CONFIG)
    snakemake(root)
    return root


def test_every_run_is_scored_by_one_network_whatever_it_was_optimised_with(study):
    gatys = resolve_evaluation(CONFIG["evaluation"])[0]
    records = {}
    for run in runs_of(study, CONFIG):
        folder = study / "results/runs" / run.key
        scores = json.loads((folder / "scores" / f"{gatys.hash}.json").read_text())
        records[run.params.weights] = scores["weights"]
        assert scores["evaluator"]["hash"] == gatys.hash and scores["run_id"] == run.run_id
    assert set(records) == {"random", "caffe"}
    assert records["random"] == records["caffe"]  # the run optimised with random weights too
    assert records["random"]["family"] == "caffe" and len(records["random"]["sha256"]) == 64
    # each run's own process scored it (torch was loaded there); the score jobs took those files
    logs = list(study.glob("logs/scores/*/*/*.log"))
    assert len(logs) == len(list(runs_of(study, CONFIG))) and all("scored by the run's process" in p.read_text() for p in logs)

    runs = pd.read_csv(study / "results/tables/runs.csv")
    for column in gatys.columns():
        assert column in runs.columns, column
    assert runs["score_gatys_style"].notna().all()
    assert runs["score_gatys_evaluator"].str.contains(gatys.hash).all()
    revised = pd.read_csv(study / "results/tables/revised.csv")
    assert revised["selected"].sum() == 1
    assert "Pareto front of gatys" in revised.loc[revised["selected"], "note"].item()
    assert (study / "results/figures/revised/selection.png").stat().st_size > 10_000


def test_changing_the_evaluation_rescores_every_run_and_reoptimises_none(study, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(study, root, symlinks=True)
    before = pd.read_csv(root / "results/tables/runs.csv").set_index("run_id")
    stamps = run_stamps(root)
    config = {**CONFIG, "evaluation": {"name": "gatys", "style_layers": ["relu1_1", "relu2_1"]}}
    (root / "study.yaml").write_text(yaml.safe_dump(config))

    n_runs = len(list(runs_of(root, config)))
    assert planned_jobs(root, "stylize") == 0
    assert planned_jobs(root, "score") == n_runs
    snakemake(root)
    assert run_stamps(root) == stamps  # no run was optimised again

    after = pd.read_csv(root / "results/tables/runs.csv").set_index("run_id")
    assert "score_gatys_style_relu2_1" in after.columns and "score_gatys_style_relu5_1" not in after.columns
    assert (after["score_gatys_style"] != before.loc[after.index, "score_gatys_style"]).all()
    assert (after["score_gatys_content"] == before.loc[after.index, "score_gatys_content"]).all()
    assert (after["final_total"] == before.loc[after.index, "final_total"]).all()
    assert after["score_gatys_evaluator"].str.contains("style relu1_1,relu2_1,").all()
