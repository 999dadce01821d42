"""Layer reconstructions (Gatys et al. 2016, Fig. 1): planning an experiment of kind
`reconstruct` (nst/study/plan/reconstruct.py through build_plan) and its figure
(nst/study/figures/reconstruction.py), from runs fabricated as tests/study_kit.py does."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest
from PIL import Image

import study_kit
from kit import small_config, make_study, snakemake
from nst.errors import AggregateError
from nst.contracts import layout
from nst.study.figures import grids
from nst.study.plan.build import PlanError, build_plan
from nst.study.plan.reconstruct import CONTENT_WEIGHT, fit_layer_weights, reconstruction_label, reconstruction_trials
from nst.study.figures.reconstruction import column_labels, reconstruction_figure, reconstruction_grid
from nst.contracts.presets import preset

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


# --- the figure ------------------------------------------------------------------------------
def reconstruction_study(root, content_layers=FIVE[:3], style_layers=FIVE[:3], weights="random",
                         status=None):
    """A fabricated study with one reconstruct experiment on two pairs."""
    s = study_kit.Study(root)
    spec = {k: v for k, v in (("content_layers", content_layers), ("style_layers", style_layers)) if v}
    s.experiment("rec", "reconstruct", list(spec))
    for values in reconstruction_trials(spec, "rec"):
        for pair in (("c1", "s1"), ("c2", "s2")):
            s.trial("rec", *pair, values, label=reconstruction_label(values),
                    status=(status or {}).get(reconstruction_label(values), "ok"))
    return s


def test_figure_has_a_content_and_a_style_row_per_pair(tmp_path):
    s = reconstruction_study(tmp_path)
    out = tmp_path / "rec.png"
    geo = reconstruction_figure(s.manifest(), "rec", s.runs_dir, out)
    assert (geo.n_rows, geo.n_cols) == (4, 4)  # 2 pairs x (content, style); reference + 3 layers
    with Image.open(out) as img:
        assert img.size == (geo.width, geo.height)
        pixels = np.asarray(img.convert("RGB"))
    with Image.open(s.images["style"]["s1"]) as style:
        x0, y0, x1, y1 = geo.cell_box(1, 0)  # c1/s1's style row starts with the style image
        assert tuple(pixels[(y0 + y1) // 2, (x0 + x1) // 2]) == style.getpixel((0, 0))
    trial = next(t for t in s.trials if t.label == "style_layers=relu_1+relu_3" and t.pair == ("c2", "s2"))
    n = round(s.records[("c2", "s2", trial.run_id)]["timing"]["seconds"] / 0.1)
    x0, y0, x1, y1 = geo.cell_box(3, 2)
    assert tuple(pixels[(y0 + y1) // 2, (x0 + x1) // 2]) == study_kit.color_of(n)
    assert geo.note_h > 0  # random weights: the banner


def test_figure_labels_name_the_layers_as_gatys_does(tmp_path):
    s = reconstruction_study(tmp_path)
    grid = reconstruction_grid(s.manifest(), "rec", s.runs_dir)
    assert grid.col_labels == ["reference", "relu1_1", "relu2_1", "relu3_1"]
    assert [c[1] for c in grid.cells[0]] == ["content image: c1", "relu1_1", "relu2_1", "relu3_1"]
    assert [c[1] for c in grid.cells[1]] == ["style image: s1", "relu1_1", "relu1_1 + relu2_1",
                                             "relu1_1 + relu2_1 + relu3_1"]
    assert grid.row_labels[:2] == ["c1 / s1\ncontent from one layer", "c1 / s1\nstyle from the layers up to"]
    assert grid.random


def test_content_and_style_layers_of_one_block_label_the_block(tmp_path):
    s = reconstruction_study(tmp_path, content_layers=["relu1_2", "relu2_2"], style_layers=["relu1_1", "relu2_1"])
    geo = reconstruction_figure(s.manifest(), "rec", s.runs_dir, tmp_path / "rec.png")
    assert (geo.n_rows, geo.n_cols) == (4, 3)
    rows = {"content_layers": [t for t in s.trials if "content_layers" in t.values and t.pair == ("c1", "s1")],
            "style_layers": [t for t in s.trials if "style_layers" in t.values and t.pair == ("c1", "s1")]}
    assert column_labels(rows, 3) == ["reference", "block 1", "block 2"]


def test_a_diverged_reconstruction_is_flagged(tmp_path):
    s = reconstruction_study(tmp_path, style_layers=None, status={"content_layers=relu_3": "diverged"})
    out = tmp_path / "rec.png"
    geo = reconstruction_figure(s.manifest(), "rec", s.runs_dir, out)
    assert (geo.n_rows, geo.n_cols) == (2, 4)  # content rows only
    red = (np.asarray(Image.open(out).convert("RGB")) == grids.FLAG_COLORS["DIVERGED"]).all(axis=2)
    x0, y0, x1, y1 = geo.cell_box(0, 2)
    assert red[y0:y1, x0:x1].any()
    x0, y0, x1, y1 = geo.cell_box(0, 1)
    assert not red[y0:y1, x0:x1].any()


def test_only_a_reconstruct_experiment_has_the_figure(tmp_path):
    s = reconstruction_study(tmp_path)
    s.experiment("other", "vary", ["iterations"])
    s.trial("other", "c1", "s1", {"iterations": 5})
    with pytest.raises(AggregateError, match="not reconstruct"):
        reconstruction_figure(s.manifest(), "other", s.runs_dir, tmp_path / "x.png")


# --- the workflow ----------------------------------------------------------------------------
@pytest.mark.workflow
def test_the_workflow_draws_the_layer_figures(tmp_path):
    config = {
        "images": {"content": "images/content", "style": "images/style"},
        "pairs": [{"content": "cat", "style": "wave"}],
        "params": {"size": 32, "iterations": 3, "weights": "random"},
        "execution": {"device": "cpu", "threads": 1},
        "experiments": {"rec": {"reconstruct": {"content_layers": ["relu1_1", "relu2_1"],
                                                "style_layers": ["relu1_1", "relu2_1"]}}},
        "evaluation": [{"name": "paper", "weights": "random"}],
    }
    root = make_study(tmp_path / "study", config)
    snakemake(root)
    for path in (layout.layer_chart("rec"), layout.reconstruction_figure("rec")):
        with Image.open(root / path) as img:
            assert img.format == "PNG" and img.width > 200, path
    snakemake(root, "--report", "report.zip")  # a zip: the report holds the gallery's folder
    with zipfile.ZipFile(root / "report.zip") as archive:
        html = archive.read("report/report.html").decode(errors="ignore")
    assert "layers.png" in html and "reconstruction.png" in html
