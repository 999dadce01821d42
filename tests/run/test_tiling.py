"""Tile planning (nst/run/tiling.py) and the memory budget (nst/run/memory.py): receptive
fields as the network has them, inner regions that partition the image and every wanted
layer's map, crops on the pooling grid and clipped at the borders, and a budget that tiles a
run only when the untiled one does not fit."""
from __future__ import annotations

import itertools

import pytest
import torch

from nst.errors import ParamsError
from nst.run import memory
from nst.contracts.layers import LAYER_INDEX, LAYER_ORDER, normalize_layer
from nst.run.tiling import level_sizes, plan_tiles, receptive_field, splits
from nst.run.vgg import make_extractor

from kit import tiny_params

GATYS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1", "relu4_2")


def test_receptive_fields_of_the_layers_people_use():
    assert receptive_field("relu5_1").size == 156 and receptive_field("relu5_1").stride == 16
    assert receptive_field("conv4_2").size == receptive_field("relu4_2").size == 84
    assert receptive_field("relu5_1").margin == 70 and receptive_field("conv4_2").margin == 38
    assert receptive_field("conv1_1").size == 3 and receptive_field("pool1").stride == 2


@pytest.mark.parametrize("layer", ["conv3_1", "relu3_2", "pool3"])
def test_receptive_field_is_what_the_network_reads(layer):
    """The pixels whose change moves one feature position are exactly its computed field
    (random weights, float64; the gradient's support, measured)."""
    torch.set_default_dtype(torch.float64)
    try:
        extractor = make_extractor([layer], "avg", None)
        image = torch.rand(1, 3, 96, 96, requires_grad=True)
        name = normalize_layer(layer)
        feats = extractor(image, {name})[name]
        i = feats.shape[-1] // 2
        feats[0, :, i, i].sum().backward()
    finally:
        torch.set_default_dtype(torch.float32)
    support = image.grad[0].abs().sum(0).nonzero()
    field = receptive_field(layer)
    first = i * field.stride + field.offset
    assert support.min().item() == first and support.max().item() == first + field.size - 1


@pytest.mark.parametrize("height, width, tile, layers", [
    (97, 61, 32, GATYS), (250, 181, 64, GATYS), (64, 200, 48, ("conv_4", "conv_1", "conv_5")),
    (33, 33, 16, ("relu_1", "relu_3", "relu_5", "relu_9", "relu_13")), (300, 40, 1000, GATYS),
])
def test_inner_regions_partition_the_image_and_every_layer(height, width, tile, layers):
    plan = plan_tiles(height, width, tile, layers)
    covered = torch.zeros(height, width, dtype=torch.int32)
    for row, col in plan.tiles():
        covered[row.inner[0]:row.inner[1], col.inner[0]:col.inner[1]] += 1
    assert bool((covered == 1).all())
    for axis, length in ((plan.rows, height), (plan.cols, width)):
        for name in plan.layers:
            i = LAYER_INDEX[name]
            spans = [dict(t.wanted)[name] for t in axis]
            positions = [p for a, b in spans for p in range(a, b)]
            assert positions == list(range(level_sizes(length, i)[i])), name


@pytest.mark.parametrize("height, width, tile", [(250, 181, 64), (333, 97, 96), (500, 500, 128)])
def test_crops_start_on_the_grid_hold_the_margin_and_stop_at_the_borders(height, width, tile):
    plan = plan_tiles(height, width, tile, GATYS)
    assert plan.stride == 16 and plan.tile == tile // 16 * 16
    for axis, length in ((plan.rows, height), (plan.cols, width)):
        for t in axis:
            assert 0 <= t.crop[0] < t.crop[1] <= length and t.crop[0] % 16 == 0
            assert t.inner[0] % 16 == 0 and (t.inner[1] % 16 == 0 or t.inner[1] == length)
            margin = receptive_field(LAYER_ORDER[t.depth]).margin  # of the deepest layer it holds
            assert t.crop[0] <= max(t.inner[0] - margin, 0) and t.crop[1] >= min(t.inner[1] + margin, length)
        if length > 2 * (plan.tile + 2 * 70):  # a side long enough: no tile reads all of it
            assert all(t.crop[1] - t.crop[0] < length for t in axis)


def test_splits_are_even_and_few():
    assert splits(1000, 512, 16) == [(0, 512), (512, 1000)]
    assert splits(1100, 512, 16) == [(0, 368), (368, 736), (736, 1100)]
    assert splits(100, 512, 16) == [(0, 100)]
    for length, tile in itertools.product((17, 100, 257), (16, 48, 64)):
        spans = splits(length, tile, 16)
        assert spans[0][0] == 0 and spans[-1][1] == length and all(b - a <= tile for a, b in spans)


# --- the budget ------------------------------------------------------------------------------
def test_a_run_that_fits_is_untiled_and_one_that_does_not_is_tiled_within_the_budget():
    params = tiny_params("gatys", weights="random")
    fits = memory.plan_stage(params, 512, 512, 500, 64 * 10**9, [(512, 512)])
    assert fits.tile == 0 and fits.lbfgs_history == 100
    untiled = fits.peak_bytes
    budget = untiled - 10**9
    tight = memory.plan_stage(params, 512, 512, 500, budget, [(512, 512)])
    assert 0 < tight.tile < 512 and tight.peak_bytes <= budget and tight.lbfgs_history == 100
    # a budget only just above the tiled need keeps tiles but shortens L-BFGS's history
    fixed = memory.fixed_bytes(params, 512, 512, [(512, 512)])
    small = fixed + memory.network_bytes(params, 512, 512, 128, [(512, 512)]) + 20 * memory.history_bytes(512, 512, 1)
    short = memory.plan_stage(params, 512, 512, 500, small, [(512, 512)])
    assert short.tile > 0 and 1 <= short.lbfgs_history < 100 and short.peak_bytes <= small
    with pytest.raises(ParamsError, match="max_memory_gb"):
        memory.plan_stage(params, 512, 512, 500, fixed // 2, [(512, 512)])


def test_tile_size_forces_tiles_and_a_tile_as_large_as_the_image_is_untiled():
    params = tiny_params("gatys", weights="random", tile_size=200)
    forced = memory.plan_stage(params, 512, 512, 500, 64 * 10**9, [(512, 512)])
    assert forced.tile == 200
    whole = memory.plan_stage(params.replace(tile_size=512), 512, 384, 500, 64 * 10**9, [(512, 512)])
    assert whole.tile == 0


def test_the_budget_defaults_to_a_share_of_the_memory_available():
    assert memory.budget_bytes(2.5) == 2_500_000_000
    assert memory.budget_bytes(0, cuda_free_bytes=10**10) == int(memory.CUDA_SHARE * 10**10)
    assert 0 < memory.budget_bytes(0) <= memory.DEFAULT_SHARE * memory.available_bytes() + 1


def test_execution_settings_are_checked_and_never_change_the_run_id():
    base = tiny_params()
    assert base.replace(max_memory_gb="8", tile_size="512").run_id == base.run_id
    with pytest.raises(ParamsError, match="max_memory_gb"):
        base.replace(max_memory_gb=-1)
    with pytest.raises(ParamsError, match="tile_size"):
        base.replace(tile_size="big")


def test_keep_aspect_keeps_a_large_photograph_4_to_3():
    from nst.contracts.image_files import target_size
    assert target_size(4000, 3000, 4096, "keep_aspect") == (4096, 3072)
    assert target_size(4000, 3000, 2048, "keep_aspect") == (2048, 1536)
