"""nst.study.plan.build / nst.study.plan.catalog: expanding a config into runs and trials, and refusing bad input."""
from __future__ import annotations

import copy
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from nst.errors import ImageError
from nst.study.plan.build import PlanError, build_plan, layer_subsets
from nst.contracts.presets import preset

from kit import make_images, small_config

REPO = Path(__file__).resolve().parents[3]


# --- the paper's study ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def paper_plan(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper")
    make_images(root / "images/content", ["dancer", "bridge"])
    make_images(root / "images/style", ["cubist", "impressionist"])
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    checkpoints = root / "torch-home/hub/checkpoints"  # both networks "present" (planning only looks)
    checkpoints.mkdir(parents=True)
    (checkpoints / "vgg19-dcbb9e9d-features.pth").write_bytes(b"stand-in")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCH_HOME", str(root / "torch-home"))
        return build_plan(config, root=root)


def test_paper_plan_trials_per_experiment(paper_plan):
    counts = {name: len(paper_plan.trials_of(name)) for name in paper_plan.experiments}
    pairs = 2 * 2
    assert counts == {
        "baseline": 1, "iterations": 6, "layers": 124, "style_weight": 4, "content_weight": 5,
        "shift": 5, "shift_crop": 5, "shift_modes": 2 * 5, "init": 3, "style_type": pairs, "loss": 2, "optimizer": 4,
        "weights": 2, "weights_revised": 2,  # imagenet, caffe
        "reconstructions": 5 + 5,  # each content layer alone, the growing style sets
        "revised": 5 * 4 * 3 * pairs,  # content weight x style weight x init, per pair
    }


def test_paper_plan_computes_the_baseline_once(paper_plan):
    one_at_a_time = ["baseline", "iterations", "layers", "style_weight", "content_weight",
                     "shift", "init", "loss", "optimizer"]
    trials = sum(len(paper_plan.trials_of(n)) for n in one_at_a_time)
    # Trials that ask for exactly the baseline settings on the study pair, besides `baseline`
    # itself: iterations=300, content {conv_4}, style {conv_1..5}, style weight 1e6, content
    # weight 1, init content, loss l2, optimizer lbfgs.
    baseline_repeats = 8
    study_pair_runs = trials - baseline_repeats
    matrix_runs = 4 - 1  # the study pair's baseline is shared with the content x style matrix
    revised_runs = len(paper_plan.trials_of("revised"))  # all distinct
    # weights: imagenet is the baseline; weights_revised: imagenet is the revised candidate
    # (content weight 1, style weight 1e6, init content) on the study pair; caffe is new in both
    weights_runs = 2
    reconstruction_runs = 10  # from noise with one term: none is another experiment's run
    crop_runs = 5  # Table 2 as published; shift_modes only crosses these with shift's runs
    assert len(paper_plan.runs) == (study_pair_runs + matrix_runs + revised_runs + weights_runs
                                    + reconstruction_runs + crop_runs) == 406
    base_id = paper_plan.trials_of("baseline")[0].run_id
    sharing = {t.experiment for t in paper_plan.trials if t.run_id == base_id}
    assert sharing == {"baseline", "iterations", "layers", "style_weight", "content_weight",
                       "init", "loss", "optimizer", "style_type", "weights"}


def test_paper_plan_uses_the_paper_settings(paper_plan):
    run = next(iter(paper_plan.runs.values()))
    assert run.params.size == 512 and run.params.weights == "imagenet"
    revised = {paper_plan.runs[f"{t.content}/{t.style}/{t.run_id}"].params for t in paper_plan.trials_of("revised")}
    assert {p.optimizer for p in revised} == {"adam"} and {p.loss for p in revised} == {"l1"}
    assert {p.content_layers for p in revised} == {("relu_5",)}
    assert {p.iterations for p in revised} == {600}
    assert (paper_plan.results_array.baseline, paper_plan.results_array.revised) == ("style_type", "revised")
    rebuilt = [paper_plan.runs[f"{t.content}/{t.style}/{t.run_id}"].params for t in paper_plan.trials_of("reconstructions")]
    assert {(p.init, p.size, p.weights) for p in rebuilt} == {("noise", 512, "imagenet")}
    assert [p.content_layers for p in rebuilt[:5]] == [(f"relu_{i}",) for i in (2, 4, 6, 10, 14)]
    assert [len(p.style_layers) for p in rebuilt[5:]] == [1, 2, 3, 4, 5]


def test_paper_plan_runs_table_2_as_published_and_compares_it_with_the_mirrored_view(paper_plan):
    def runs(name):
        return {t.run_id for t in paper_plan.trials_of(name)}

    def params(name):
        return [paper_plan.runs[f"{t.content}/{t.style}/{t.run_id}"].params for t in paper_plan.trials_of(name)]

    assert {p.shift_mode for p in params("shift")} == {"mirror"}
    assert {p.shift_mode for p in params("shift_crop")} == {"crop"}
    assert [p.shift for p in params("shift_crop")] == [0.95, 0.96, 0.97, 0.98, 0.99]
    assert runs("shift_modes") == runs("shift") | runs("shift_crop") and not runs("shift") & runs("shift_crop")


# --- expansion -----------------------------------------------------------------------------
def test_layer_subsets_are_every_nonempty_subset():
    subsets = layer_subsets(["a", "b", "c", "d", "e"])
    assert len(subsets) == 31 and len({tuple(s) for s in subsets}) == 31
    assert ["a"] in subsets and ["a", "b", "c", "d", "e"] in subsets


def test_vary_grid_tune_and_pairs(root):
    config = small_config(
        sw={"vary": {"style_weight": [1e5, 1e6]}, "pairs": [{"content": "cat", "style": "wave"}]},
        grid={"grid": {"style_weight": [1e5, 1e6], "init": ["content", "zeros", "noise"]},
              "pairs": [{"content": "cat", "style": "wave"}]},
        matrix={"base": "baseline"},
        tuned={"base": "revised", "tune": {"style_weight": [1e5, 1e6]}},
    )
    plan = build_plan(config, root=root)
    assert len(plan.trials_of("sw")) == 2
    assert len(plan.trials_of("grid")) == 6
    assert [(t.content, t.style) for t in plan.trials_of("matrix")] == [
        ("cat", "mosaic"), ("cat", "wave"), ("dog", "mosaic"), ("dog", "wave")]
    assert len(plan.trials_of("tuned")) == 2 * 4
    assert plan.experiments["tuned"].select["metric"] == "pareto"  # the two-sided default
    assert plan.trials_of("sw")[0].label == "style_weight=100000"
    # sw=1e6 on cat/wave is the matrix's cat/wave run: one run, two trials
    shared = {t.run_id for t in plan.trials_of("sw")} & {t.run_id for t in plan.trials_of("matrix")}
    assert len(shared) == 1


def test_settings_are_layered_preset_params_set_values(root):
    config = small_config(e={"base": "revised", "set": {"lr": 0.1}, "vary": {"init": ["zeros"]}})
    plan = build_plan(config, root=root)
    params = next(iter(plan.runs.values())).params
    expected = preset("revised", size=32, weights="random", iterations=3, lr=0.1, init="zeros")
    assert params.run_id == expected.run_id
    assert params.device == "cpu" and params.threads == 1  # execution settings travel along


def test_execution_settings_do_not_change_run_ids(root):
    a = build_plan(small_config(), root=root)
    config = small_config()
    config["execution"] = {"device": "auto", "threads": 4}
    b = build_plan(config, root=root)
    assert set(a.runs) == set(b.runs)


# --- bad input: one clear message naming the key or file -----------------------------------
@pytest.mark.parametrize("experiments, needle", [
    ({"e": {"vary": {"style_weight": [1], "content_weight": [1]}}}, "experiments.e.vary"),
    ({"e": {"vary": {"style_wieght": [1]}}}, "style_wieght"),
    ({"e": {"varry": {"style_weight": [1]}}}, "experiments.e.varry"),
    ({"e": {"base": "gatsby"}}, "unknown preset 'gatsby'"),
    ({"e": {"vary": {"content_layers": [["conv_99"]]}}}, "conv_99"),
    ({"e": {"vary": {"style_weight": ["lots"]}}}, "style_weight"),
    ({"e": {"vary": {"shift": [1.5]}}}, "shift"),
    ({"e": {"vary": {"lr": [1.0e+39]}}}, "float32's range"),
    ({"e": {"vary": {"style_weight": [1]}, "grid": {"init": ["zeros"]}}}, "at most one"),
    ({"e": {"subsets": {"style_weight": [1, 2]}}}, "experiments.e.subsets.style_weight"),
    ({"e": {"pairs": [{"content": "cat", "style": "nope"}]}}, "no style image named 'nope'"),
    ({"e": {"tune": {"init": ["zeros"]}, "select": {"override": {"cat__nope": {"init": "zeros"}}}}},
     "cat__nope"),
    ({"e": {"tune": {"init": ["zeros"]}, "select": {"override": {"cat__wave": {"init": "noise"}}}}},
     "not among the tuned values"),
    ({"e": {"vary": {"init": ["zeros"]}, "select": {"metric": "eval_total"}}}, "only an experiment with 'tune'"),
    ({"e": {"tune": {"init": ["zeros"]}, "select": {"metric": "pareto", "style_share": 0.2}}},
     "only metric tradeoff takes a style_share"),
])
def test_bad_experiments_are_refused_with_the_key(root, experiments, needle):
    with pytest.raises(PlanError, match=None) as info:
        build_plan(small_config(**experiments), root=root)
    assert needle in str(info.value)


def test_results_array_must_name_a_tuned_experiment(root):
    config = small_config(a={"base": "baseline"}, b={"base": "revised"})
    config["results_array"] = {"baseline": "a", "revised": "b"}
    with pytest.raises(PlanError, match="results_array.revised"):
        build_plan(config, root=root)


def test_missing_and_empty_image_folders(tmp_path):
    with pytest.raises(ImageError, match="content image folder .* does not exist"):
        build_plan(small_config(), root=tmp_path)
    (tmp_path / "images/content").mkdir(parents=True)
    (tmp_path / "images/content/README.txt").write_text("not an image")
    make_images(tmp_path / "images/style", ["s"])
    with pytest.raises(ImageError, match="has no image files"):
        build_plan(small_config(), root=tmp_path)


def test_duplicate_stems_are_refused(root):
    make_images(root / "images/content", ["cat"], ext=".jpg")
    with pytest.raises(ImageError, match="share the name 'cat'"):
        build_plan(small_config(), root=root)


def test_unreadable_image_is_named(root):
    (root / "images/style/broken.png").write_bytes(b"this is not a png")
    with pytest.raises(ImageError, match="broken.png"):
        build_plan(small_config(), root=root)


@pytest.mark.parametrize("name, suggestion", [
    ("my photo.png", "my_photo.png"),
    ("café.png", "cafe.png"),
    ("a__b.png", "a_b.png"),
])
def test_unusable_file_names_are_refused_with_a_rename(root, name, suggestion):
    make_images(root / "images/content", ["x"])
    os.rename(root / "images/content/x.png", root / "images/content" / name)
    with pytest.raises(ImageError) as info:
        build_plan(small_config(), root=root)
    assert name in str(info.value) and suggestion in str(info.value)


def test_dots_dashes_and_other_files_are_fine(root):
    make_images(root / "images/content", ["my.photo-2"])
    (root / "images/content/notes.txt").write_text("ignored")
    (root / "images/content/.DS_Store").write_bytes(b"\0")
    plan = build_plan(small_config(), root=root)
    assert sorted(plan.content_images) == ["cat", "dog", "my.photo-2"]


def test_config_is_not_modified(root):
    config = small_config(e={"vary": {"style_weight": [1e5]}})
    before = copy.deepcopy(config)
    build_plan(config, root=root)
    assert config == before


def test_varying_the_optimizer_brings_its_own_learning_rate(root):
    config = small_config(opt={"vary": {"optimizer": ["lbfgs", "adam"]}})
    plan = build_plan(config, root=root)
    lrs = {plan.runs[f"{t.content}/{t.style}/{t.run_id}"].params.optimizer:
           plan.runs[f"{t.content}/{t.style}/{t.run_id}"].params.lr for t in plan.trials_of("opt")}
    assert lrs == {"lbfgs": 1.0, "adam": 0.05}


# --- what a job would otherwise find out after the workflow started ------------------------
def test_a_missing_init_image_stops_planning_with_experiment_and_file(root):
    config = small_config(e={"vary": {"init": ["content", "images/missing.png"]}})
    with pytest.raises(PlanError) as info:
        build_plan(config, root=root)
    assert "experiment 'e'" in str(info.value) and "missing.png" in str(info.value)
    make_images(root / "images", ["missing"])
    assert len(build_plan(config, root=root).runs) == 2 * 2 * 2


def test_a_missing_weights_file_stops_planning_naming_it(root):
    with pytest.raises(PlanError, match=r"experiment 'e'.*my\.pth.*does not exist"):
        build_plan(small_config(e={"set": {"weights": "my.pth"}}), root=root)


def test_an_image_too_small_after_keep_aspect_stops_planning(root):
    """A 64x30 image at keep_aspect 64 px is 64x30: too short for pool_5 (32 px needed)."""
    Image.fromarray(np.zeros((30, 64, 3), dtype="uint8")).save(root / "images/content/wide.png")
    config = small_config(e={"set": {"size": 64, "resize": "keep_aspect", "content_layers": ["pool_5"]}})
    with pytest.raises(PlanError) as info:
        build_plan(config, root=root)
    message = str(info.value)
    assert "wide.png" in message and "64x30" in message and "layer pool5," in message and "32 px" in message
    config["experiments"]["e"]["set"]["resize"] = "square"
    build_plan(config, root=root)


def test_weights_file_counts_by_content_not_path(root):
    """Replacing a custom weights file in place gives new run ids; moving it keeps them."""
    import torch

    torch.save({"features.0.bias": torch.zeros(64)}, root / "w1.pth")
    config = small_config(e={"set": {"weights": str(root / "w1.pth")}})
    first = set(build_plan(config, root=root).runs)
    torch.save({"features.0.bias": torch.ones(64)}, root / "w1.pth")
    second = set(build_plan(config, root=root).runs)
    assert first.isdisjoint(second)
    (root / "w1.pth").rename(root / "w2.pth")
    config["experiments"]["e"]["set"]["weights"] = str(root / "w2.pth")
    assert set(build_plan(config, root=root).runs) == second


# --- the demo study ------------------------------------------------------------------------
@pytest.fixture
def demo_root(tmp_path):
    make_images(tmp_path / "images/demo/content", ["astronaut", "chelsea"])
    shutil.copytree(REPO / "images/styles", tmp_path / "images/styles")
    return tmp_path


def test_demo_plans_real_weights_without_the_torchvision_file(demo_root, monkeypatch):
    """On a machine without torchvision's file (CI, any offline machine) the demo runs the
    original Caffe VGG-19, never random weights, and its weights experiments say what they skip."""
    monkeypatch.setenv("TORCH_HOME", str(demo_root / "empty-torch-home"))
    plan = build_plan(yaml.safe_load((REPO / "workflow/demo.yaml").read_text()), root=demo_root)
    assert {run.params.weights for run in plan.runs.values()} == {"caffe"}
    assert {t.style for t in plan.trials} == {"starry_night", "the_scream", "shipwreck", "woman_with_a_hat",
                                             "starry_scream"}  # the demo's blend
    assert len(plan.notes) == 1 and "skipping weights=imagenet" in plan.notes[0]
    assert {t.values["weights"] for t in plan.trials_of("weights")} == {"caffe"}


def test_weights_experiment_keeps_imagenet_when_its_file_is_there(demo_root, monkeypatch):
    checkpoints = demo_root / "torch-home/hub/checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "vgg19-dcbb9e9d-features.pth").write_bytes(b"stand-in: planning only looks for the file")
    monkeypatch.setenv("TORCH_HOME", str(demo_root / "torch-home"))
    plan = build_plan(yaml.safe_load((REPO / "workflow/demo.yaml").read_text()), root=demo_root)
    assert {t.values["weights"] for t in plan.trials_of("weights")} == {"imagenet", "caffe"}
    assert plan.notes == []


def test_an_experiment_without_any_available_network_is_left_out(root, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(root / "empty"))
    config = small_config(a={"base": "baseline"}, b={"skip_missing_weights": True, "set": {"weights": "imagenet"}})
    plan = build_plan(config, root=root)
    assert list(plan.experiments) == ["a"] and "experiment 'b' left out" in plan.notes[-1]


# --- blends ----------------------------------------------------------------------------------
def test_a_blend_is_a_style_of_its_own_with_its_weights(root):
    config = small_config(matrix={"base": "baseline"})
    config["blends"] = {"mix": {"wave": 3, "mosaic": 1}}
    plan = build_plan(config, root=root)
    pairs = [(t.content, t.style) for t in plan.trials_of("matrix")]
    assert ("cat", "mix") in pairs and ("dog", "mix") in pairs and len(pairs) == 6
    run = next(r for r in plan.runs.values() if r.style == "mix")
    assert run.params.style_blend_weights == (0.75, 0.25)
    assert plan.style_inputs("mix") == [plan.style_images["wave"], plan.style_images["mosaic"]]
    assert plan.style_inputs("wave") == [plan.style_images["wave"]]
    assert plan.style_images["mix"] == plan.style_images["wave"]  # pictures show the heaviest member
    plain = next(r for r in plan.runs.values() if r.style == "wave" and r.content == run.content)
    assert plain.params.style_blend_weights is None and plain.run_id != run.run_id


@pytest.mark.parametrize("blends, key", [
    ({"wave": {"mosaic": 1}}, "blends.wave"),          # a style image's name
    ({"mix": {"sea": 1}}, "blends.mix.sea"),           # no such style image
    ({"mix": {"wave": 0}}, "blends.mix.wave"),         # weight not > 0
    ({"mix": {}}, "blends.mix"),
])
def test_bad_blends_name_the_key(root, blends, key):
    config = small_config(matrix={"base": "baseline"})
    config["blends"] = blends
    with pytest.raises(PlanError, match=re.escape(repr(key))):
        build_plan(config, root=root)


# --- names that become path parts (issue 19, item 7) ----------------------------------------
@pytest.mark.parametrize("name", ["../../../escaped", "a/b", "/abs", "my exp", ".hidden", "-x", "", "x.summary",
                                  "runs", "Table5", "findings", "caf\u00e9"])
def test_an_experiment_name_that_is_not_a_safe_path_part_is_refused(root, name):
    """An experiment's name becomes results/tables/<name>.csv, results/figures/<name>/, logs:
    it may not leave results/, hide, start like a flag, or be another table's name."""
    with pytest.raises(PlanError) as info:
        build_plan(small_config(**{name: {"base": "baseline"}}), root=root)
    message = str(info.value)
    assert repr(f"experiments.{name}") in message and "letters, digits" in message, message
    assert "\n" not in message


def test_an_experiment_name_that_is_not_text_is_refused(root):
    config = small_config()
    config["experiments"] = {2024: {"base": "baseline"}}
    with pytest.raises(PlanError, match=re.escape("'experiments.2024'") + ".*quote it"):
        build_plan(config, root=root)


def test_safe_experiment_names_are_kept(root):
    plan = build_plan(small_config(**{"Style-weight_2": {"base": "baseline"}, "e1": {"base": "baseline"}}), root=root)
    assert list(plan.experiments) == ["Style-weight_2", "e1"]


@pytest.mark.parametrize("name", ["../../../../x", "my mix", "a__b", ".mix", "mix/1"])
def test_a_blend_name_that_is_not_a_safe_path_part_is_refused(root, name):
    """A blend's name is a style stem: results/runs/<content>/<blend>/, logs/runs/..."""
    config = small_config(matrix={"base": "baseline"})
    config["blends"] = {name: {"wave": 1, "mosaic": 1}}
    with pytest.raises(PlanError) as info:
        build_plan(config, root=root)
    assert repr(f"blends.{name}") in str(info.value) and "letters, digits" in str(info.value)


# --- image folders: every bad name at once, what was skipped said (issue 19, item 14) ---------
def test_every_unusable_file_name_of_a_folder_is_reported_at_once(root):
    names = {"my photo.png": "my_photo.png", "café.png": "cafe.png", "a__b.jpg": "a_b.jpg", "-x.png": "x.png"}
    make_images(root / "images/content", ["p0", "p1", "p2", "p3"])
    for i, name in enumerate(names):
        os.rename(root / f"images/content/p{i}.png", root / "images/content" / name)
    with pytest.raises(ImageError) as info:
        build_plan(small_config(), root=root)
    message = str(info.value)
    for name, suggestion in names.items():
        assert repr(name) in message and repr(suggestion) in message, message
    assert "4 image file names" in message and "\n" not in message


def test_what_an_image_folder_skips_is_said(root):
    folder = root / "images/style"
    (folder / "gone.png").symlink_to(folder / "deleted.png")     # a dangling link
    (folder / "loop.png").symlink_to(folder / "loop.png")        # a link to itself
    (folder / "x.png").mkdir()                                   # a folder named like an image
    (folder / "notes.txt").write_text("not an image, not worth a word")
    plan = build_plan(small_config(), root=root)
    assert sorted(plan.style_images) == ["mosaic", "wave"]
    skipped = [note for note in plan.notes if "skipped" in note]
    assert len(skipped) == 1, plan.notes
    note = skipped[0]
    assert "style image folder" in note and str(folder) in note
    assert "'gone.png' (a symbolic link to a missing file)" in note
    assert "'loop.png' (a symbolic link loop)" in note and "'x.png' (a folder)" in note
    assert "notes.txt" not in note


def test_a_folder_of_only_skipped_entries_says_why_it_has_no_images(tmp_path):
    make_images(tmp_path / "images/content", ["cat"])
    (tmp_path / "images/style").mkdir(parents=True)
    (tmp_path / "images/style/wave.png").symlink_to(tmp_path / "elsewhere/wave.png")
    with pytest.raises(ImageError, match=r"has no image files .*skipped 'wave.png' \(a symbolic link to a missing"):
        build_plan(small_config(), root=tmp_path)
