"""Tile planning for the exact tiled objective (nst/run/tiled.py): torch-free, pure.

Every VGG-19 feature is a function of a bounded window of pixels, its receptive field: a 3x3
convolution (zero padding 1) widens it by one position of its level on each side, a 2x2 pool by
one position on one side and doubles the distance between positions (the stride). A tile is an
*inner* region of the image (the tiles' inner regions partition it) plus what the features of
its inner positions read, cut out of the image and run through the network on its own. Those
features equal the whole image's when

- the crop starts on the deepest layer's pooling grid (a multiple of its total stride, 16 px at
  relu5_1), so that every 2x2 pool pairs the same positions as on the whole image;
- the crop holds every position the inner features depend on, at every level: the network's
  zero padding at the crop's edge then only changes positions that no inner feature reads;
- a crop that reaches the image's border stops there, where the network's padding is the
  image's own.

Rather than one margin for the whole stack (relu5_1: 70 px each side, `receptive_field`), the
plan keeps at each level only what the deeper layers still read (its *cone*): the crop is cut
down again after every pooling, so the deepest blocks recompute a few positions around a tile
instead of a 70 px frame. Inner regions start on the deepest layer's grid, so that every wanted
layer's positions are partitioned too (rows [s/j, e/j) at stride j; the last tile takes the
rest of the map, which for a side that is no multiple of 16 holds positions of shallow layers
that the deepest layer does not have).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from ..contracts.layers import LAYER_CHANNELS, LAYER_INDEX, LAYER_ORDER, normalize_layer

Span = tuple[int, int]  # [start, stop) positions along one axis, at one level


def kind(name: str) -> str:
    """conv | relu | pool: what a layer of LAYER_ORDER does."""
    return name.split("_")[0]


@dataclass(frozen=True)
class Field:
    """The receptive field of one position of a layer: position i reads pixels
    [i * stride + offset, i * stride + offset + size) (offset < 0: into the zero padding)."""
    size: int
    stride: int
    offset: int

    @property
    def margin(self) -> int:
        """Pixels a position reads beyond its own stride x stride block, on each side."""
        return -self.offset


@functools.lru_cache(maxsize=None)  # pure; the memory model asks it per tile and candidate
def receptive_field(layer: str) -> Field:
    """The receptive field of `layer` (any name normalize_layer takes) in VGG-19's features:
    relu5_1's is 156 px (stride 16, 70 px beyond its block each side), relu4_2's 84 px."""
    size, stride, offset = 1, 1, 0
    for name in LAYER_ORDER[: LAYER_INDEX[normalize_layer(layer)] + 1]:
        if kind(name) == "conv":  # 3x3, padding 1
            size, offset = size + 2 * stride, offset - stride
        elif kind(name) == "pool":  # 2x2, stride 2
            size, stride = size + stride, stride * 2
    return Field(size, stride, offset)


def level_sizes(length: int, depth: int) -> list[int]:
    """Positions along an axis of `length` pixels after each module 0..depth (pools floor)."""
    sizes, n = [], length
    for name in LAYER_ORDER[: depth + 1]:
        n = n // 2 if kind(name) == "pool" else n
        sizes.append(n)
    return sizes


@dataclass(frozen=True)
class AxisTile:
    """One tile along one axis. `inner`: its pixels; `crop`: the input pixels it reads;
    `recrops`: (pool index, positions kept after that pool); `lengths`: positions computed by
    each module 0..depth (for the memory model); `wanted`: (layer, its inner positions), in
    network order (an empty span where the tile holds none of a deep layer's positions)."""
    inner: Span
    crop: Span
    recrops: tuple[tuple[int, Span], ...]
    lengths: tuple[int, ...]
    wanted: tuple[tuple[str, Span], ...]
    depth: int  # the deepest module with an inner position here (a last tile may hold none deep)


def _axis_tile(length: int, inner: Span, wanted: tuple[str, ...], depth: int) -> AxisTile:
    """The cone of `inner` along one axis: walked back from the deepest layer, each module's
    output positions that it or a deeper wanted layer reads, cut down at pool outputs."""
    sizes = level_sizes(length, depth)
    strides = [receptive_field(n).stride for n in LAYER_ORDER[: depth + 1]]
    start, stop = inner
    mine: dict[str, Span] = {}
    for name in wanted:
        i, j = LAYER_INDEX[name], strides[LAYER_INDEX[name]]
        mine[name] = (start // j, stop // j if stop < length else sizes[i])
    need: Span | None = None  # positions of module i's output that are read (None: none)
    recrops: dict[int, Span] = {}
    last = -1  # the deepest module this tile needs (a last tile may hold no deep position)
    for i in range(depth, -1, -1):
        name = LAYER_ORDER[i]
        if name in mine and mine[name][1] > mine[name][0]:
            need = mine[name] if need is None else (min(need[0], mine[name][0]), max(need[1], mine[name][1]))
        if need is None:
            continue
        last = max(last, i)
        if kind(name) == "pool" and i < last:  # a crop point: start on the grid of the pools to come
            step = strides[last] // strides[i]
            need = (need[0] // step * step, min(need[1], sizes[i]))
            recrops[i] = need
        if kind(name) == "conv":
            before = sizes[i - 1] if i else length
            need = (max(need[0] - 1, 0), min(need[1] + 1, before))
        elif kind(name) == "pool":
            need = (2 * need[0], 2 * need[1])
    top = strides[last]
    crop = (need[0] // top * top, need[1])
    lengths, n = [], crop[1] - crop[0]
    for i in range(last + 1):
        n = n // 2 if kind(LAYER_ORDER[i]) == "pool" else n
        n = recrops[i][1] - recrops[i][0] if i in recrops else n
        lengths.append(n)
    return AxisTile(inner, crop, tuple(sorted(recrops.items())), tuple(lengths),
                    tuple(sorted(mine.items(), key=lambda item: LAYER_INDEX[item[0]])), last)


def splits(length: int, tile: int, stride: int) -> list[Span]:
    """Inner spans along an axis: as few tiles of at most `tile` px as cover it, of equal
    size rounded up to `stride` (the last one takes the rest)."""
    count = max(1, math.ceil(length / tile))
    size = math.ceil(length / count / stride) * stride
    edges = [min(k * size, length) for k in range(count)] + [length]
    return [(a, b) for a, b in zip(edges, edges[1:]) if b > a]


@dataclass(frozen=True)
class TilePlan:
    """Tiles of a height x width image for `layers`: every tile is a (row tile, column tile)."""
    height: int
    width: int
    tile: int  # the inner size asked for, a multiple of `stride`
    layers: tuple[str, ...]
    stride: int
    rows: tuple[AxisTile, ...]
    cols: tuple[AxisTile, ...]

    @property
    def count(self) -> int:
        return len(self.rows) * len(self.cols)

    def tiles(self) -> list[tuple[AxisTile, AxisTile]]:
        return [(r, c) for r in self.rows for c in self.cols]

    def global_sizes(self, layer: str) -> tuple[int, int]:
        """(h, w) of `layer`'s map for the whole image."""
        i = LAYER_INDEX[layer]
        return level_sizes(self.height, i)[i], level_sizes(self.width, i)[i]

    def describe(self) -> dict:
        """What run.json records of a stage's tiling."""
        return {"tile": self.tile, "tiles": [len(self.rows), len(self.cols)], "stride": self.stride,
                "margin": receptive_field(self.layers[-1]).margin,
                "recomputed": round(conv_work(self) - 1, 4)}


def plan_tiles(height: int, width: int, tile: int, layers) -> TilePlan:
    """The tiles of a height x width image with inner regions of at most `tile` px (rounded down
    to the deepest layer's stride, at least one stride) for the features of `layers`."""
    names = tuple(sorted({normalize_layer(n) for n in layers}, key=LAYER_INDEX.__getitem__))
    depth = LAYER_INDEX[names[-1]]
    stride = receptive_field(names[-1]).stride
    tile = max(stride, tile // stride * stride)
    rows = tuple(_axis_tile(height, span, names, depth) for span in splits(height, tile, stride))
    cols = tuple(_axis_tile(width, span, names, depth) for span in splits(width, tile, stride))
    return TilePlan(height, width, tile, names, stride, rows, cols)


def _kept_floats(names, rows, cols, wanted) -> int:
    """Floats a forward with gradients keeps for the backward over positions rows x cols per
    module: every ReLU's and pool's output (the next module saves it), wanted conv outputs, and
    at the peak of the backward the gradients of the widest module's input and output."""
    kept, widest = 0, 0
    for name, h, w in zip(names, rows, cols):
        size = LAYER_CHANNELS[name] * h * w
        if kind(name) != "conv" or name in wanted:
            kept += size
        widest = max(widest, size)
    return kept + 2 * widest


def activation_floats(plan: TilePlan | None, height: int, width: int, layers) -> int:
    """Floats a forward and backward through `layers`' network keeps at its peak (see
    _kept_floats), for the largest tile of `plan`, or for the whole image when plan is None."""
    names = sorted({normalize_layer(n) for n in layers}, key=LAYER_INDEX.__getitem__)
    stack = LAYER_ORDER[: LAYER_INDEX[names[-1]] + 1]
    if plan is None:
        rows, cols = level_sizes(height, len(stack) - 1), level_sizes(width, len(stack) - 1)
        return 3 * height * width + _kept_floats(stack, rows, cols, names)
    # a tile is a row span x a column span: the distinct ones of each axis (even splits: a few) suffice
    rows = {(r.crop[1] - r.crop[0], tuple(r.lengths)) for r in plan.rows}
    cols = {(c.crop[1] - c.crop[0], tuple(c.lengths)) for c in plan.cols}
    return max(3 * rc * cc + _kept_floats(stack, rl, cl, names) for rc, rl in rows for cc, cl in cols)


def conv_work(plan: TilePlan) -> float:
    """Multiply-adds of the tiles' convolutions (one forward) over the whole image's: 1 + the
    share recomputed in margins."""
    depth = LAYER_INDEX[plan.layers[-1]]
    rows, cols = level_sizes(plan.height, depth), level_sizes(plan.width, depth)
    widths = [3, *(LAYER_CHANNELS[n] for n in LAYER_ORDER[:depth])]

    def work(row_lengths, col_lengths) -> int:
        return sum(widths[i] * LAYER_CHANNELS[n] * h * w
                   for i, (n, h, w) in enumerate(zip(LAYER_ORDER, row_lengths, col_lengths)) if kind(n) == "conv")

    return sum(work(r.lengths, c.lengths) for r, c in plan.tiles()) / work(rows, cols)
