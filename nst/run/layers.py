"""VGG-19 layer names.

The paper and the PyTorch tutorial number layers sequentially inside `vgg19().features`:
conv_1..conv_16, relu_1..relu_16, pool_1..pool_5. Block names (conv2_2, relu3_1, pool4)
are accepted as aliases and normalised to the sequential form.
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
        f"unknown VGG-19 layer {name!r}; valid names are conv_1..conv_16, relu_1..relu_16, "
        f"pool_1..pool_5 or block names such as conv4_2, relu3_1, pool5"
    )


def deepest_index(layers) -> int:
    """Index (in `vgg19().features`) of the deepest of `layers`."""
    return max(LAYER_INDEX[normalize_layer(n)] for n in layers)


def min_side(layers) -> int:
    """Smallest image side (px) that still reaches the deepest of `layers`: each 2x2 pool
    before it halves the image, so a shorter side leaves nothing for that layer."""
    deepest = deepest_index(layers)
    return 2 ** sum(1 for name in LAYER_ORDER[: deepest + 1] if name.startswith("pool"))
