"""VGG-19 layer names and the truncated feature extractor."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from nst.contracts.layers import (BLOCK_ALIASES, LAYER_INDEX, LAYER_ORDER, deepest_index, normalize_layer, paper_name,
                            standard_name, standard_text)
from nst.run.vgg import make_extractor, vgg19_feature_layers


def tutorial_names() -> list[str]:
    """Names the PyTorch tutorial gives the modules of torchvision's vgg19().features."""
    names, i = [], 0
    for module in make_layers(cfgs["E"]):
        if isinstance(module, nn.Conv2d):
            i += 1
            names.append(f"conv_{i}")
        elif isinstance(module, nn.ReLU):
            names.append(f"relu_{i}")
        elif isinstance(module, nn.MaxPool2d):
            names.append(f"pool_{i}")
    return names


def test_sequential_names_follow_torchvision_features():
    """Each name sits at its module's index in torchvision's feature stack (the tutorial's
    numbering: pool_N after conv_N; the engine uses pool_<block>, checked below)."""
    torchvision_modules = list(make_layers(cfgs["E"]))
    assert len(LAYER_ORDER) == len(torchvision_modules) == 37
    for name, module in zip(LAYER_ORDER, torchvision_modules):
        kind = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}[name.split("_")[0]]
        assert isinstance(module, kind), name
    convs_and_relus = [n for n in LAYER_ORDER if not n.startswith("pool")]
    assert convs_and_relus == [n for n in tutorial_names() if not n.startswith("pool")]
    assert [n for n in LAYER_ORDER if n.startswith("pool")] == [f"pool_{b}" for b in range(1, 6)]


def test_the_engine_stack_is_torchvisions_vgg19_features():
    """Same modules, shapes and state-dict keys as torchvision's vgg19().features (max pooling),
    so torchvision's `features.N.*` tensors load into it one to one."""
    ours = nn.Sequential(*vgg19_feature_layers("max"))
    theirs = make_layers(cfgs["E"])
    assert len(ours) == len(theirs) == 37
    for index, (a, b) in enumerate(zip(ours, theirs)):
        assert type(a) is type(b), index
        if isinstance(a, nn.Conv2d):
            fields = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups")
            assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields], index
        if isinstance(a, nn.MaxPool2d):
            fields = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
            assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields], index
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    avg = vgg19_feature_layers("avg")
    assert [i for i, m in enumerate(avg) if isinstance(m, nn.AvgPool2d)] == [4, 9, 18, 27, 36]
    assert all(m.kernel_size == 2 and m.stride == 2 for m in avg if isinstance(m, nn.AvgPool2d))
    assert len(vgg19_feature_layers("avg", depth=8)) == 8


@pytest.mark.parametrize(
    "block, sequential, in_channels, out_channels",
    [("conv1_1", "conv_1", 3, 64), ("conv2_2", "conv_4", 128, 128), ("conv3_1", "conv_5", 128, 256),
     ("conv4_2", "conv_10", 512, 512), ("conv5_4", "conv_16", 512, 512)],
)
def test_block_names_map_to_the_right_convolution(block, sequential, in_channels, out_channels):
    assert normalize_layer(block) == sequential
    module = list(make_layers(cfgs["E"]))[LAYER_INDEX[sequential]]
    assert (module.in_channels, module.out_channels) == (in_channels, out_channels)


def test_documented_aliases():
    assert normalize_layer("conv2_2") == "conv_4"
    assert normalize_layer("relu3_1") == "relu_5"
    assert normalize_layer(" Relu3_1 ") == "relu_5"
    assert normalize_layer("conv5_4") == "conv_16"
    assert normalize_layer("pool5") == "pool_5"
    assert LAYER_ORDER[-1] == "pool_5"
    # relu_5 is the ReLU right after conv3_1 (the first conv of block 3)
    assert LAYER_INDEX["relu_5"] == LAYER_INDEX["conv_5"] + 1 == LAYER_INDEX[BLOCK_ALIASES["conv3_1"]] + 1


@pytest.mark.parametrize("bad", ["conv_17", "relu_0", "pool_6", "conv6_1", "fc7", ""])
def test_unknown_layer_lists_the_valid_names(bad):
    with pytest.raises(ValueError) as info:
        normalize_layer(bad)
    message = str(info.value)
    assert repr(bad) in message
    for valid in ("conv1_1..conv5_4", "relu1_1..relu5_4", "pool1..pool5", "conv_1..conv_16", "relu_1..relu_16",
                  "pool_1..pool_5"):
        assert valid in message
    assert message.index("relu1_1..relu5_4") < message.index("relu_1..relu_16")  # the standard names first


@pytest.mark.parametrize("sequential, standard", [
    ("conv_1", "conv1_1"), ("conv_4", "conv2_2"), ("conv_5", "conv3_1"), ("relu_5", "relu3_1"), ("relu_9", "relu4_1"),
    ("relu_10", "relu4_2"), ("relu_13", "relu5_1"), ("relu_16", "relu5_4"), ("pool_2", "pool2"), ("pool_5", "pool5")])
def test_standard_names_of_the_tutorials_sequential_count(sequential, standard):
    assert standard_name(sequential) == standard == standard_name(standard)
    assert paper_name(sequential) == f"{sequential} ({standard})" and paper_name(standard) == standard


def test_standard_text_renames_whole_layer_names_only():
    text = "style_layers=relu_1+relu_3, content conv_4; pool_5. my_conv_4 relu_17 score_gatys_style_relu_1"
    assert standard_text(text) == ("style_layers=relu1_1+relu2_1, content conv2_2; pool5. my_conv_4 relu_17 "
                                   "score_gatys_style_relu_1")


@pytest.mark.parametrize(
    "layers, deepest",
    [(["conv_1"], "conv_1"), (["conv_4"], "conv_4"), (["relu_5", "conv_1"], "relu_5"),
     (["conv_1", "conv5_4", "relu_2"], "conv_16"), (["pool5"], "pool_5")],
)
def test_extractor_is_cut_after_the_deepest_requested_layer(layers, deepest):
    extractor = make_extractor(layers, "avg", None)
    assert deepest_index(layers) == LAYER_INDEX[deepest]
    assert len(extractor.body) == LAYER_INDEX[deepest] + 1
    out = extractor(torch.rand(1, 3, 32, 32))
    assert set(out) == {normalize_layer(n) for n in layers}


def test_extractor_features_have_the_layer_shapes():
    extractor = make_extractor(["conv_1", "conv_4", "relu_5", "pool_2"], "avg", None)
    out = extractor(torch.rand(1, 3, 32, 32))
    assert out["conv_1"].shape == (1, 64, 32, 32)
    assert out["conv_4"].shape == (1, 128, 16, 16)
    assert out["pool_2"].shape == (1, 128, 8, 8)
    assert out["relu_5"].shape == (1, 256, 8, 8)
    assert out["relu_5"].min() >= 0 and out["conv_4"].min() < 0  # conv outputs are read before the ReLU


@pytest.mark.parametrize("pooling, kind", [("avg", nn.AvgPool2d), ("max", nn.MaxPool2d)])
def test_pooling_choice(pooling, kind):
    extractor = make_extractor(["pool_5"], pooling, None)
    pools = [m for m in extractor.body if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d))]
    assert len(pools) == 5 and all(isinstance(m, kind) for m in pools)


def test_extractor_is_frozen_and_relus_not_in_place():
    extractor = make_extractor(["relu_16"], "avg", None)
    assert not any(p.requires_grad for p in extractor.parameters())
    assert not extractor.training
    assert all(not m.inplace for m in extractor.body if isinstance(m, nn.ReLU))
