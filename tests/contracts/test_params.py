"""RunParams: validation messages, run_id identity, presets."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nst
from nst.errors import ParamsError
from nst.contracts.params import DEFAULT_LR, FIELD_NAMES, RunParams

from kit import ROOT, tiny_params


# --- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, value, allowed",
    [
        ("optimizer", "rmsprop", "lbfgs | adam | adagrad | sgd"),
        ("loss", "l3", "l2 | l1"),
        ("pooling", "min", "avg | max"),
        ("precision", "fp16", "fp32 | tf32 | bf16"),
        ("resize", "crop", "square | keep_aspect"),
        ("iterations", 0, "an integer >= 1"),
        ("iterations", "many", "an integer"),
        ("iterations", True, "an integer"),
        ("size", 8, "[16, 8192]"),
        ("seed", -1, ">= 0"),
        ("lr", -0.1, "(0, 3.4e38]"),
        ("lr", 1e39, "float32's range"),  # torch's optimizers would overflow inside step 1
        ("content_weight", -1, ">= 0"),
        ("style_weight", "lots", "a finite number"),
        ("style_weight", float("inf"), "a finite number"),
        ("shift", 0, "(0, 1]"),
        ("shift", 1.5, "(0, 1]"),
        ("shift_rotation", 200, "[0, 180]"),
        ("shift_mode", "zoom", "mirror | crop"),
        ("device", "gpu", "auto | cpu | cuda | cuda:N | mps"),
        ("channels_last", "sometimes", "auto | true | false"),
        ("cudnn_benchmark", "auto", "true | false"),
        ("snapshots", [0, 3], "positive iteration numbers"),
        ("lbfgs_history", 0, ">= 1"),
        ("content_layers", [], "non-empty list of VGG-19 layer names"),
        ("style_layers", ["conv_1", "conv_99"], "conv_1..conv_16"),
        ("lbfgs_bounds", "box", "clamp | projected | strong_wolfe | free"),
    ],
)
def test_invalid_value_names_key_and_allowed_values(key, value, allowed):
    with pytest.raises(ValueError) as info:
        tiny_params(**{key: value})
    message = str(info.value)
    assert repr(key) in message
    assert allowed in message


def test_unknown_key_is_refused_with_the_allowed_keys():
    with pytest.raises(ValueError) as info:
        RunParams.from_dict({"colour": "red"})
    message = str(info.value)
    assert "'colour'" in message
    for name in ("iterations", "style_layers", "optimizer", "weights_file"):
        assert name in message


def test_unknown_preset_is_refused():
    with pytest.raises(ValueError, match="baseline, revised, tutorial"):
        nst.preset("fancy")


def test_both_weights_zero_is_refused():
    with pytest.raises(ValueError, match="content_weight and style_weight"):
        tiny_params(content_weight=0, style_weight=0)


def test_values_are_coerced_from_strings():
    """--set and config values arrive as text; they become typed values."""
    p = RunParams.from_dict({
        "iterations": "7", "style_weight": "1e5", "optimizer": "L-BFGS", "style_layers": "relu1_1, conv_2",
        "shift": "none", "snapshots": "5,2", "resize": "keep-aspect", "weights": "Random",
    })
    assert p.iterations == 7 and p.style_weight == 1e5 and p.optimizer == "lbfgs"
    assert p.style_layers == ("relu_1", "conv_2")
    assert p.shift is None and p.snapshots == (2, 5) and p.resize == "keep_aspect"
    assert p.weights == "random"


@pytest.mark.parametrize("key", [f for f in FIELD_NAMES if f not in ("lr", "weights_file", "caffe_weights_file")])
def test_null_is_a_value_error_or_the_empty_default(key):
    """A key left empty in YAML (None) gets the one clear ValueError, never a TypeError."""
    try:
        params = RunParams.from_dict({key: None}, base=tiny_params())
    except ValueError as err:
        assert repr(key) in str(err)
    else:
        nullable = ("snapshots", "shift", "style_layer_weights", "style_blend_weights", "scales", "scale_iterations")
        assert key in nullable and getattr(params, key) in ((), None)


# --- run_id --------------------------------------------------------------------------------
def test_run_id_is_stable_across_processes():
    """The id is a hash of canonical JSON, not of Python's per-process salted hash()."""
    settings = dict(size=32, weights="random", style_layers=["relu_1", "conv3_1"], shift=0.9)
    code = (
        "import json, sys, nst; "
        "print(nst.preset('revised', **json.loads(sys.argv[1])).run_id)"
    )
    ids = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code, json.dumps(settings)], capture_output=True,
                             text=True, env=env, cwd=ROOT, timeout=120, check=True)
        ids.add(out.stdout.strip())
    assert ids == {nst.preset("revised", **settings).run_id}
    assert len(ids.pop()) == 12


def test_equal_settings_share_a_run_id():
    a = tiny_params(optimizer="adam")
    same = [
        RunParams.from_dict(a.to_dict()),                                   # round trip through JSON
        RunParams.from_dict(json.loads(json.dumps(a.to_dict()))),
        tiny_params(optimizer="Adam", lr=DEFAULT_LR["adam"]),               # spelling, explicit default
        tiny_params(optimizer="adam", style_layers=["conv_5", "conv_3", "conv_1", "conv_4", "conv_2"]),
        tiny_params(optimizer="adam", style_layers="conv_1,conv_2,conv_3,conv_4,conv_5"),
        tiny_params().replace(optimizer="adam"),
    ]
    for other in same:
        assert other == a
        assert other.run_id == a.run_id


def test_block_layer_names_normalise_to_the_same_run_id():
    sequential = tiny_params(content_layers=["conv_4"], style_layers=["relu_1", "relu_3", "relu_5"])
    blocks = tiny_params(content_layers=["conv2_2"], style_layers=["relu1_1", "RELU2_1", "relu3_1"])
    assert blocks.content_layers == ("conv_4",)
    assert blocks.style_layers == ("relu_1", "relu_3", "relu_5")
    assert blocks.run_id == sequential.run_id


@pytest.mark.parametrize(
    "change",
    [
        {"iterations": 6}, {"content_layers": ["conv_5"]}, {"style_layers": ["conv_1"]},
        {"content_weight": 2.0}, {"style_weight": 1e5}, {"loss": "l1"}, {"optimizer": "adam"},
        {"lr": 0.5}, {"lbfgs_history": 10}, {"init": "noise"}, {"shift": 0.9},
        {"shift_rotation": 3.0}, {"pooling": "max"}, {"size": 48}, {"resize": "keep_aspect"},
        {"seed": 1}, {"weights": "imagenet"}, {"precision": "bf16"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_identity_field_changes_the_run_id(change):
    base = tiny_params()
    assert base.replace(**change).run_id != base.run_id


@pytest.mark.parametrize(
    "change",
    [{"device": "auto"}, {"device": "cuda:1"}, {"threads": 2}, {"snapshots": [1, 3]},
     {"weights_file": "/somewhere/vgg19-dcbb9e9d.pth"}, {"channels_last": True}, {"cudnn_benchmark": True},
     {"max_memory_gb": 3.5}, {"tile_size": 256}],
    ids=lambda change: next(iter(change)),
)
def test_execution_field_leaves_the_run_id_alone(change):
    base = tiny_params()
    changed = base.replace(**change)
    assert changed != base
    assert changed.run_id == base.run_id


EXECUTION_FIELDS = {"device", "threads", "snapshots", "weights_file", "caffe_weights_file", "channels_last",
                    "cudnn_benchmark", "checkpoint_seconds", "max_memory_gb", "tile_size"}
# added with issue 13: part of the identity only away from their defaults
CONTROLS = {"style_layer_weights": "gatys", "gram_norm": "spatial", "style_loss": "wasserstein",
            "color": "luminance", "tv_weight": 0.1, "style_scale": 0.5, "style_blend_weights": [1, 1],
            "scales": [16], "scale_iterations": [2], "init_noise": 0.2}


# added with issue 18: likewise
LATER = {"shift_mode"}


def test_every_field_is_either_identity_or_execution():
    identity = set(tiny_params().identity())
    assert identity == set(FIELD_NAMES) - EXECUTION_FIELDS - set(CONTROLS) - LATER
    assert set(FIELD_NAMES) == identity | EXECUTION_FIELDS | set(CONTROLS) | LATER


def test_shift_mode_counts_only_away_from_its_default_and_only_with_a_shift():
    shifted = tiny_params(shift=0.9)
    crop = shifted.replace(shift_mode="crop")
    assert crop.identity()["shift_mode"] == "crop" and crop.run_id != shifted.run_id
    assert "shift_mode" not in shifted.identity()
    assert shifted.replace(shift_mode="mirror").run_id == shifted.run_id
    # without a shift nothing moves: the mode changes no image, so no run id
    assert tiny_params(shift_mode="crop").run_id == tiny_params().run_id
    # ... and a mode set before the shift (a preset or `set`, then a trial's shift) is kept
    assert tiny_params(shift_mode="crop").replace(shift=0.9).run_id == crop.run_id


@pytest.mark.parametrize("key", sorted(CONTROLS))
def test_a_control_counts_in_the_identity_only_away_from_its_default(key):
    base = tiny_params(size=32)
    changed = base.replace(**{key: CONTROLS[key]}) if key != "scale_iterations" else \
        base.replace(scales=[16], scale_iterations=[2])
    assert key in changed.identity() and changed.run_id != base.run_id
    default = dataclasses.fields(RunParams)[FIELD_NAMES.index(key)].default
    assert key not in base.replace(**{key: default}).identity()


def test_lbfgs_bounds_counts_in_the_identity_of_lbfgs_runs_away_from_the_tutorials_clamp():
    """The default (clamp, the loop every run before issue 18 had) is left out, so no existing
    run id changed; another value is another run; for Adam & co. it does not apply and does not
    count, but is kept for a trial that switches back to L-BFGS."""
    plain = RunParams()
    assert plain.lbfgs_bounds == "clamp" and "lbfgs_bounds" not in plain.identity()
    ids = {RunParams(lbfgs_bounds=b).run_id for b in ("clamp", "projected", "strong_wolfe", "free")}
    assert len(ids) == 4 and plain.run_id in ids
    adam = RunParams(optimizer="adam", lbfgs_bounds="projected")
    assert "lbfgs_bounds" not in adam.identity() and adam.run_id == RunParams(optimizer="adam").run_id
    assert adam.replace(optimizer="lbfgs").lbfgs_bounds == "projected"
    assert RunParams.from_dict({"lbfgs_bounds": "Strong-Wolfe"}).lbfgs_bounds == "strong_wolfe"


def test_strong_wolfe_refuses_snapshots_in_one_line():
    with pytest.raises(ParamsError, match=r"snapshots \[5\] cannot be taken with lbfgs_bounds: "
                                                      r"strong_wolfe"):
        RunParams(lbfgs_bounds="strong_wolfe", snapshots=[5])
    assert RunParams(lbfgs_bounds="strong_wolfe", optimizer="adam", snapshots=[5]).snapshots == (5,)
    assert RunParams(lbfgs_bounds="projected", snapshots=[5]).snapshots == (5,)


def test_the_run_ids_of_existing_studies_do_not_change():
    """Every run the shipped configs planned before the controls existed keeps its id: the
    settings recorded then (tests/data) still hash to the ids recorded then."""
    recorded = json.loads((Path(__file__).resolve().parents[1] / "data" / "run_ids_before_issue13.json").read_text())
    for config, runs in recorded.items():
        assert runs, config
        for run_id, settings in runs.items():
            assert RunParams.from_dict(settings).run_id == run_id, (config, settings)


# --- presets -------------------------------------------------------------------------------
def test_presets_hold_their_documented_settings():
    baseline, revised, tutorial = (nst.preset(n) for n in ("baseline", "revised", "tutorial"))
    assert (baseline.pooling, baseline.loss, baseline.optimizer) == ("avg", "l2", "lbfgs")
    assert baseline.content_layers == ("conv_4",)
    assert baseline.style_layers == ("conv_1", "conv_2", "conv_3", "conv_4", "conv_5")
    assert (revised.loss, revised.optimizer, revised.content_layers) == ("l1", "adam", ("relu_5",))
    assert tutorial.pooling == "max"
    # the tutorial is the baseline with max pooling and the tutorial's own L-BFGS loop
    assert (baseline.lbfgs_bounds, tutorial.lbfgs_bounds) == ("projected", "clamp")
    assert tutorial.replace(pooling="avg", lbfgs_bounds="projected").identity() == baseline.identity()
    assert nst.preset("gatys").lbfgs_bounds == "free"  # as his code: nothing bounded while L-BFGS runs
    assert revised.lbfgs_bounds == "projected" and nst.preset("revised", optimizer="lbfgs").lbfgs_bounds == "projected"


def test_the_gatys_preset_is_gatys_et_al_s_reference_recipe():
    """relu1_1..relu5_1 weighted 1e3/n^2, content relu4_2, Gram / (h*w), L-BFGS from the
    content image, average pooling, the Caffe VGG-19, 500 iterations; style weight 255^2 for
    activations in 1/255 of Caffe's units."""
    gatys = nst.preset("gatys")
    assert gatys.style_layers == ("relu_1", "relu_3", "relu_5", "relu_9", "relu_13")
    assert gatys.content_layers == ("relu_10",)
    assert (gatys.style_layer_weights, gatys.gram_norm, gatys.weights) == ("gatys", "spatial", "caffe")
    assert (gatys.optimizer, gatys.init, gatys.pooling, gatys.iterations) == ("lbfgs", "content", "avg", 500)
    assert (gatys.content_weight, gatys.style_weight) == (1.0, 255.0 ** 2)


def test_preset_override_of_optimizer_brings_its_default_lr():
    """preset(name, optimizer=X) means the same as the CLI's --optimizer X on that preset."""
    for name in ("baseline", "revised"):
        for optimizer, lr in DEFAULT_LR.items():
            params = nst.preset(name, optimizer=optimizer)
            assert params.lr == lr
            assert params == nst.preset(name).replace(optimizer=optimizer)
    assert nst.preset("baseline", optimizer="adam", lr=0.3).lr == 0.3
    assert nst.preset("revised", seed=3).lr == nst.PRESETS["revised"]["lr"]


def test_each_family_takes_its_own_local_file(tmp_path):
    """One study can compare both networks: imagenet's weights_file is not read as a Caffe file;
    a full-precision Caffe file is another network than the packaged one (another run id)."""
    imagenet_copy, caffe_file = tmp_path / "vgg19-dcbb9e9d.pth", tmp_path / "vgg19-d01eb7cb.pth"
    imagenet_copy.write_bytes(b"imagenet")
    caffe_file.write_bytes(b"caffe")
    packaged = tiny_params(weights="caffe")
    with_imagenet_copy = tiny_params(weights="caffe", weights_file=str(imagenet_copy))
    assert with_imagenet_copy.family_weights_file is None and with_imagenet_copy.run_id == packaged.run_id
    assert tiny_params(weights="imagenet", weights_file=str(imagenet_copy)).family_weights_file == str(imagenet_copy)
    full = tiny_params(weights="caffe", caffe_weights_file=str(caffe_file))
    assert full.family_weights_file == str(caffe_file) and full.run_id != packaged.run_id


def test_a_list_setting_reads_brackets_as_set_writes_it():
    """`nst run --set scales=[256,512,1024]` (the README's high-resolution command) as `256,512,1024`."""
    p = tiny_params(size=64).replace(scales="[16, 32]", scale_iterations="[3]")
    assert p.scales == (16, 32) and p.scale_iterations == (3,)
