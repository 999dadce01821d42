"""Planning layer reconstructions (Gatys et al. 2016, Fig. 1): an experiment of kind
`reconstruct` (nst/study/plan/reconstruct.py through build_plan): single content layers,
growing style sets, their weights and labels, bad specs refused with the key."""
from __future__ import annotations

import pytest

from kit import small_config
from nst.contracts.presets import preset
from nst.study.plan.build import PlanError, build_plan
from nst.study.plan.reconstruct import CONTENT_WEIGHT, fit_layer_weights, reconstruction_label, reconstruction_trials

FIVE = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
SEQUENTIAL = ["relu_1", "relu_3", "relu_5", "relu_9", "relu_13"]


def reconstruct(**spec) -> dict:
    return {"base": "baseline", "pairs": [{"content": "cat", "style": "wave"}], "reconstruct": spec}


def planned(plan, name):
    return [(t, plan.runs[f"{t.content}/{t.style}/{t.run_id}"].params) for t in plan.trials_of(name)]


# --- planning --------------------------------------------------------------------------------
def test_reconstruct_expands_into_single_content_layers_and_growing_style_sets(root):
    plan = build_plan(small_config(rec=reconstruct(content_layers=FIVE, style_layers=FIVE)), root=root)
    trials = planned(plan, "rec")
    assert len(trials) == 10 and len(plan.runs) == 10
    content, style = trials[:5], trials[5:]
    base = preset("baseline")
    for (trial, params), layer in zip(content, SEQUENTIAL):
        assert params.content_layers == (layer,) and params.style_weight == 0
        assert params.content_weight == CONTENT_WEIGHT and params.style_layers == base.style_layers
        assert params.init == "noise" and trial.label == f"content_layers={layer}"
    for k, (trial, params) in enumerate(style, start=1):
        assert params.style_layers == tuple(SEQUENTIAL[:k]) and params.content_weight == 0
        assert params.style_weight == base.style_weight and params.init == "noise"
        assert trial.label == "style_layers=" + "+".join(SEQUENTIAL[:k])
    assert plan.experiments["rec"].kind == "reconstruct"
    assert plan.experiments["rec"].keys == ("content_layers", "style_layers")
    # the manifest keeps the kind: what the figure reads back
    assert plan.manifest().experiment("rec").kind == "reconstruct"


def test_the_trial_wins_over_the_experiments_set_and_one_key_is_enough(root):
    spec = {**reconstruct(style_layers=["relu1_1", "relu2_1"]), "set": {"init": "content", "iterations": 7}}
    trials = planned(build_plan(small_config(rec=spec), root=root), "rec")
    assert [p.style_layers for _, p in trials] == [("relu_1",), ("relu_1", "relu_3")]
    assert {(p.init, p.iterations) for _, p in trials} == {("noise", 7)}


def test_style_sets_grow_in_the_order_given():
    trials = reconstruction_trials({"style_layers": ["relu5_1", "relu1_1"]}, "x")
    assert [t["style_layers"] for t in trials] == [["relu_13"], ["relu_13", "relu_1"]]
    assert reconstruction_label(trials[1]) == "style_layers=relu_13+relu_1"


def test_a_list_of_layer_weights_gives_way_to_equal_weights_in_the_growing_sets():
    trials = reconstruction_trials({"content_layers": ["relu1_1"], "style_layers": ["relu1_1", "relu2_1"]}, "x")
    assert fit_layer_weights(trials, preset("baseline")) == trials  # no weights list: unchanged
    if "style_layer_weights" not in preset("baseline").to_dict():
        pytest.skip("RunParams has no style_layer_weights")
    listed = preset("baseline", style_layer_weights=[1, 2, 3, 4, 5])
    fitted = fit_layer_weights(trials, listed)
    assert fitted[0] == trials[0]  # a content trial keeps the base's style layers and weights
    assert [t["style_layer_weights"] for t in fitted[1:]] == [None, None]
    assert fit_layer_weights(trials, preset("baseline", style_layer_weights="gatys")) == trials


@pytest.mark.parametrize("spec, needle", [
    ({"content_layers": ["relu9_9"]}, "experiments.e.reconstruct.content_layers[0]"),
    ({"style_layers": ["relu1_1", "conv_99"]}, "experiments.e.reconstruct.style_layers[1]"),
    ({"content_layers": []}, "experiments.e.reconstruct.content_layers'"),
    ({"style_layers": "relu1_1"}, "experiments.e.reconstruct.style_layers'"),
    ({"style_layers": ["relu1_1", "relu_1"]}, "'relu_1' is listed twice (as relu1_1)"),
    ({"style_weight": [1]}, "experiments.e.reconstruct.style_weight"),
    ({}, "experiments.e.reconstruct'"),
])
def test_bad_reconstructions_are_refused_with_the_key(root, spec, needle):
    with pytest.raises(PlanError) as info:
        build_plan(small_config(e={"reconstruct": spec}), root=root)
    assert needle in str(info.value)
    assert str(info.value).count("\n") == 0


def test_reconstruct_is_one_design_among_the_others(root):
    with pytest.raises(PlanError, match="at most one"):
        build_plan(small_config(e={"reconstruct": {"style_layers": FIVE}, "vary": {"iterations": [1]}}),
                   root=root)
