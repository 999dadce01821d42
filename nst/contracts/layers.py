"""VGG-19 layer names.

People, Gatys et al. and every NST tool name a layer by its block and place: conv1_1 ..
conv5_4, relu1_1 .. relu5_4, pool1 .. pool5 (the standard names). The paper and the PyTorch
tutorial it builds on number them in order inside `vgg19().features` instead: conv_1..conv_16,
relu_1..relu_16, pool_1..pool_5 (conv_4 is conv2_2, relu_10 is relu4_2). Both are accepted;
the code keys layers by the sequential name (`normalize_layer`: run ids, history.csv columns,
score files), and whatever a person reads shows the standard one (`standard_name`,
`standard_text`; `paper_name` for where the paper's presets are described: "conv_4 (conv2_2)").
"""
from __future__ import annotations

import re

# Convolutions per block in VGG-19 (configuration "E"), and each block's channel count.
BLOCKS = (2, 2, 4, 4, 4)
BLOCK_CHANNELS = (64, 128, 256, 512, 512)


def _build_tables() -> tuple[list[str], dict[str, str]]:
    order: list[str] = []
    aliases: dict[str, str] = {}
    conv = 0
    for block, n_convs in enumerate(BLOCKS, start=1):
        for k in range(1, n_convs + 1):
            conv += 1
            order += [f"conv_{conv}", f"relu_{conv}"]
            aliases[f"conv{block}_{k}"] = f"conv_{conv}"
            aliases[f"relu{block}_{k}"] = f"relu_{conv}"
        order.append(f"pool_{block}")
        aliases[f"pool{block}"] = f"pool_{block}"
    return order, aliases


LAYER_ORDER, BLOCK_ALIASES = _build_tables()
LAYER_INDEX = {name: i for i, name in enumerate(LAYER_ORDER)}
STANDARD_NAMES = {sequential: block for block, sequential in BLOCK_ALIASES.items()}
SEQUENTIAL_NAME = re.compile(r"\b(?:conv|relu|pool)_\d+\b")


def _channel_table() -> dict[str, int]:
    """Every layer's output channels: a block's convs and ReLUs have the block's width, and
    its pool keeps it."""
    table: dict[str, int] = {}
    conv = 0
    for block, (n_convs, width) in enumerate(zip(BLOCKS, BLOCK_CHANNELS), start=1):
        for _ in range(n_convs):
            conv += 1
            table[f"conv_{conv}"] = table[f"relu_{conv}"] = width
        table[f"pool_{block}"] = width
    return table


LAYER_CHANNELS = _channel_table()


def channels(layer: str) -> int:
    """Output channels of a VGG-19 layer (block aliases accepted); ValueError if unknown."""
    return LAYER_CHANNELS[normalize_layer(layer)]


def normalize_layer(name: str) -> str:
    """Return the sequential name of a layer, accepting block aliases; ValueError if unknown."""
    key = re.sub(r"\s+", "", str(name)).lower()
    if key in LAYER_INDEX:
        return key
    if key in BLOCK_ALIASES:
        return BLOCK_ALIASES[key]
    raise ValueError(
        f"unknown VGG-19 layer {name!r}; valid names are conv1_1..conv5_4, relu1_1..relu5_4, pool1..pool5 "
        f"(blocks 1-2 have _1, _2; blocks 3-5 _1.._4), or the PyTorch tutorial's sequential "
        f"conv_1..conv_16, relu_1..relu_16, pool_1..pool_5"
    )


def standard_name(layer: str) -> str:
    """The standard (block) name of a layer: conv_4 -> conv2_2, relu_10 -> relu4_2, pool_2 ->
    pool2; a block name stays as it is; ValueError if unknown."""
    return STANDARD_NAMES[normalize_layer(layer)]


def paper_name(layer: str) -> str:
    """A layer as the paper's presets are described: its sequential name with the standard one
    beside it, "conv_4 (conv2_2)"; a name given by block stays as it is."""
    key = re.sub(r"\s+", "", str(layer)).lower()
    return f"{key} ({standard_name(key)})" if key in LAYER_INDEX else standard_name(key)


def standard_text(text: str) -> str:
    """`text` with every sequential layer name in it (a whole word: conv_4, relu_10; not
    my_conv_4) replaced by its standard name, for labels and titles made from config values."""
    return SEQUENTIAL_NAME.sub(lambda m: STANDARD_NAMES.get(m.group(0), m.group(0)), str(text))


def deepest_index(layers) -> int:
    """Index (in `vgg19().features`) of the deepest of `layers`."""
    return max(LAYER_INDEX[normalize_layer(n)] for n in layers)


def min_side(layers) -> int:
    """Smallest image side (px) that still reaches the deepest of `layers`: each 2x2 pool
    before it halves the image, so a shorter side leaves nothing for that layer."""
    deepest = deepest_index(layers)
    return 2 ** sum(1 for name in LAYER_ORDER[: deepest + 1] if name.startswith("pool"))
