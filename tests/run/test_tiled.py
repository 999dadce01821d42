"""The tiled objective (nst/run/tiled.py) is the untiled one: the same loss terms and the same
gradient, for every style loss and Gram normalisation, content layers, blends, per-layer
weights, TV and shifting (float64, random weights, small forced tiles); a run with forced
tiling has the untiled run's history; the tiled evaluation gives the untiled numbers; a
memory budget below the untiled run's need makes the engine tile."""
from __future__ import annotations

import contextlib

import pytest
import torch

from nst.run import memory
from nst.run.engine import RunState, bind_network, stylize
from nst.run.objective import Objective
from nst.run.score import network_scores, ssim_content
from nst.contracts.evaluators import BUILT_IN
from nst.run.shift import RandomShift
from nst.run.tiled import TiledObjective
from nst.run.vgg import make_extractor

from kit import make_image, tiny_params


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def images(height: int, width: int, styles: int = 1):
    gen = torch.Generator().manual_seed(3)
    content, image = torch.rand(1, 3, height, width, generator=gen), torch.rand(1, 3, height, width, generator=gen)
    return content, image, [torch.rand(1, 3, height + 8 * k, width - 8 * k, generator=gen) for k in range(styles)]


def loss_and_gradient(params, extractor, content, image, styles, tile: int = 0):
    shift = RandomShift(params.shift, params.shift_rotation, torch.Generator().manual_seed(1)) if params.shift else None
    extra = {"tile": tile} if tile else {}
    objective = (TiledObjective if tile else Objective)(params, extractor, content, styles, shift,
                                                       contextlib.nullcontext(), **extra)
    x = image.clone().requires_grad_(True)
    terms = objective(x)
    terms["total"].backward()
    return {k: float(v.detach()) for k, v in terms.items()}, x.grad


CASES = {  # preset, overrides, size (h, w), tile
    "gram abcd, conv layers": ("baseline", {}, (72, 64), 32),
    "gram spatial, max pooling": ("tutorial", {"gram_norm": "spatial"}, (64, 72), 32),
    "gram elements, l1, TV": ("baseline", {"gram_norm": "elements", "loss": "l1", "tv_weight": 0.3}, (64, 72), 32),
    "mean_std, layer weights": ("baseline", {"style_loss": "mean_std", "style_layer_weights": "gatys"}, (72, 64), 32),
    "wasserstein": ("baseline", {"style_loss": "wasserstein"}, (64, 64), 32),
    "shift and rotation, relu layers, l1": ("revised", {}, (72, 72), 32),
    "blend of two styles": ("baseline", {"style_blend_weights": [3, 1]}, (64, 72), 32),
    "several content layers": ("baseline", {"content_layers": ["conv_2", "conv_4", "relu_5"]}, (64, 64), 32),
    "colour: luminance": ("baseline", {"color": "luminance"}, (64, 72), 32),
    "colour: histogram": ("baseline", {"color": "histogram"}, (72, 64), 32),
}


@pytest.mark.parametrize("case", CASES)
def test_tiled_loss_and_gradient_equal_the_untiled(float64_default, case):
    name, overrides, (height, width), tile = CASES[case]
    params = tiny_params(name, size=max(height, width), **overrides)
    extractor = make_extractor(params.content_layers + params.style_layers, params.pooling, None)
    content, image, styles = images(height, width, len(params.style_blend_weights or (1,)))
    untiled, grad = loss_and_gradient(params, extractor, content, image, styles)
    tiled, tiled_grad = loss_and_gradient(params, extractor, content, image, styles, tile)
    assert set(tiled) == set(untiled)
    rtol = 1e-7 if params.style_loss == "wasserstein" else 1e-12  # its eigenvalues amplify rounding
    for key, value in untiled.items():
        assert tiled[key] == pytest.approx(value, rel=rtol, abs=1e-300), key
    assert float((tiled_grad - grad).abs().max()) <= rtol * float(grad.abs().max())


def test_tiles_reaching_relu5_1_are_exact():
    """Gatys et al.'s layers (relu1_1..relu5_1, relu4_2): four levels of crops, each cut down.
    In float32 (float64 convolutions to relu5_1 take minutes on a CPU): the two differ by
    float32 rounding, a crop that missed part of a field by orders of magnitude more."""
    params = tiny_params("gatys", weights="random", size=176)
    extractor = make_extractor(params.content_layers + params.style_layers, params.pooling, None)
    content, image, styles = images(176, 160)
    untiled, grad = loss_and_gradient(params, extractor, content, image, styles)
    tiled, tiled_grad = loss_and_gradient(params, extractor, content, image, styles, 80)
    for key, value in untiled.items():
        assert tiled[key] == pytest.approx(value, rel=1e-5), key
    assert float((tiled_grad - grad).abs().max()) <= 1e-5 * float(grad.abs().max())


def test_an_untouched_tiled_call_without_gradients_only_scores(float64_default):
    params = tiny_params(size=64)
    extractor = make_extractor(params.content_layers + params.style_layers, params.pooling, None)
    content, image, styles = images(64, 64)
    objective = TiledObjective(params, extractor, content, styles, None, contextlib.nullcontext(), 32)
    with torch.no_grad():
        terms = objective(image.clone().requires_grad_(True))
    assert not terms["total"].requires_grad
    assert float(terms["total"]) == pytest.approx(float(Objective(params, extractor, content, styles, None,
                                                                  contextlib.nullcontext())(image)["total"]))


@pytest.mark.parametrize("evaluator", ["paper", "gatys"])
def test_tiled_evaluation_gives_the_untiled_scores(evaluator):
    """float32, as the engine scores: the two differ by rounding only."""
    settings = {**BUILT_IN[evaluator], "weights": "random"}
    extractor = make_extractor(list(settings["content_layers"]) + list(settings["style_layers"]),
                               settings["pooling"], None)
    side, tile = (176, 80) if evaluator == "gatys" else (72, 32)  # gatys reaches relu5_1
    content, image, styles = images(side, side - 16)
    untiled = network_scores(settings, extractor, image, content, styles[0])
    tiled = network_scores(settings, extractor, image, content, styles[0], tile=tile)
    for key in ("content", "style", "total"):
        assert tiled[key] == pytest.approx(untiled[key], rel=1e-5)
    # SSIM is computed in float32 either way: bands and the whole differ in summation order only
    assert ssim_content(image, content, rows=24) == pytest.approx(ssim_content(image, content), rel=1e-5)


def test_a_run_with_forced_tiles_has_the_untiled_history(tmp_path):
    content = make_image(tmp_path / "c.png", 64, 56, seed=1)
    style = make_image(tmp_path / "s.png", 48, 64, seed=2)
    params = tiny_params(size=64, resize="keep_aspect", iterations=5)
    untiled = stylize(params, content, style)
    tiled = stylize(params.replace(tile_size=32), content, style)
    assert tiled.record()["memory"][0]["tile"] == 32 and "memory" not in untiled.record()
    for a, b in zip(untiled.history, tiled.history, strict=True):
        for key in a:
            if key != "seconds":  # float32, L-BFGS: rounding grows over the iterations
                assert b[key] == pytest.approx(a[key], rel=1e-3), (a["iteration"], key)
    assert tiled.final["total"] == pytest.approx(untiled.final["total"], rel=1e-3)
    assert tiled.evaluation["eval_total"] == pytest.approx(untiled.evaluation["eval_total"], rel=1e-3)


def test_the_engine_tiles_only_below_the_untiled_need(tmp_path):
    content = make_image(tmp_path / "c.png", 64, 64, seed=1)
    style = make_image(tmp_path / "s.png", 64, 64, seed=2)
    params = tiny_params(size=64)
    need = memory.plan_stage(params, 64, 64, params.iterations, 10**13, [(64, 64)]).peak_bytes
    for budget, tiled in ((need * 1.01, False), (need * 0.999, True)):
        run = RunState(params.replace(max_memory_gb=budget / 1e9), content, style)
        bind_network([run], run.params, params.content_layers + params.style_layers, torch.device("cpu"))
        assert isinstance(run.objective, TiledObjective) == tiled and bool(run.memory.tile) == tiled


def test_a_constant_channel_rounded_below_zero_variance_has_a_finite_std():
    """Float32 sums can put a dead channel's variance at -1e-12 (caffe, 96 px, relu5_1): the
    std must be sqrt(STD_EPS) as torch.var_mean gives, not NaN."""
    from nst.run.losses import STD_EPS
    from nst.run.tiled import statistic_from_sums
    n, c = 36, 0.7
    sums = (torch.tensor([-c * n], dtype=torch.float64), torch.tensor([c * c * n * (1 - 1e-7)], dtype=torch.float64))
    mean, std = statistic_from_sums("mean_std", "spatial", sums, (1, 6, 6), torch.tensor([c]), torch.float32)
    assert torch.isfinite(std).all() and float(std) == pytest.approx(STD_EPS ** 0.5)
    assert float(mean) == pytest.approx(0.0, abs=1e-6)


def test_mean_std_sums_of_float32_features_keep_a_small_variance_far_from_the_centre():
    """The centre is the style's mean, which an image's channel can be far from: float32 sums
    of (phi - c)^2 then lose a small variance to cancellation (benchmarks.tiling at 384 px,
    caffe: a 3.6e-3 relative gradient difference from untiled float32); the sums are float64."""
    from nst.run.losses import STD_EPS
    from nst.run.tiled import add_into, statistic_from_sums, style_sums
    gen = torch.Generator().manual_seed(0)
    features = (50 + 0.01 * torch.randn(1, 4, 64, 64, generator=gen, dtype=torch.float64)).float()
    centre = torch.zeros(4)
    totals = {}
    for rows in features.split(16, dim=2):  # four tiles
        add_into(totals, "layer", style_sums("mean_std", rows, centre))
    mean, std = statistic_from_sums("mean_std", "spatial", totals["layer"], (4, 64, 64), centre, torch.float32)
    var, expected_mean = torch.var_mean(features.double(), dim=(0, 2, 3), unbiased=False)
    torch.testing.assert_close(std.double(), torch.sqrt(var + STD_EPS), rtol=1e-5, atol=0)
    torch.testing.assert_close(mean.double(), expected_mean, rtol=1e-6, atol=0)
