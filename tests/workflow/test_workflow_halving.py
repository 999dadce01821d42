"""Successive halving through the real snakemake CLI: a tiny tune experiment (32 px, random
weights) with schedule: halving runs end to end, computes fewer iterations than its full grid,
and a second call plans nothing."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from nst.contracts import layout
from nst.study.tables import halving
from nst.contracts.manifest import Manifest
from kit import PAIR, TINY_CONFIG, make_study, snakemake

pytestmark = pytest.mark.workflow

HALVING_CONFIG = {
    **{k: v for k, v in TINY_CONFIG.items() if k != "results_array"},
    "params": {"size": 32, "iterations": 6, "weights": "random"},
    "experiments": {"tuned": {"base": "revised", "pairs": PAIR, "schedule": "halving", "eta": 3,
                              "min_iterations": 2, "tune": {"style_weight": [1.0e+3, 1.0e+5, 1.0e+7]}}},
}


def test_a_halving_experiment_runs_end_to_end_and_computes_less(tmp_path):
    root = make_study(tmp_path / "study", HALVING_CONFIG)
    snakemake(root)
    table = pd.read_csv(root / layout.table("tuned"))
    assert len(table) == 3 and table["selected"].sum() == 1
    stopped = table[table["stopped_at"].notna()]
    assert stopped["stopped_at"].tolist() == [2, 2] and not stopped["selected"].any()
    assert table.loc[table["selected"], "stopped_at"].isna().all()
    assert table.loc[table["selected"], "iterations"].tolist() == [6]

    decision = json.loads((root / layout.rung_decision("tuned", 0)).read_text())
    promoted = decision["pairs"]["cat__wave"]["promoted"]
    assert len(promoted) == 1 and decision["iterations"] == 2 and decision["next_iterations"] == 6
    full = json.loads((root / layout.run_file("cat", "wave", promoted[0])).read_text())
    assert full["params"]["iterations"] == 6 and full["iterations_done"] == 6
    manifest = Manifest.load(root / layout.MANIFEST)
    rung_run = manifest.experiment("tuned").halving["ladders"][promoted[0]][0]
    assert full["resumed_from"] == [2] and full["continued_from"] == rung_run  # continued, not restarted
    # 3 candidates x 2 iterations, then 4 more for the promoted one: 10 of the full grid's 18
    assert halving.computed_iterations(manifest, "tuned", root / "results") == {"halving": 10, "full_grid": 18}

    assert "Nothing to be done" in snakemake(root, "-n").stdout
