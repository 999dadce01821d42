"""The objective's controls: style_layer_weights, gram_norm, style_loss (gram | mean_std |
wasserstein) and tv_weight, each against an independent computation, and the defaults
against the formula every run used before the controls existed."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from nst.run import losses
from nst.run.engine import stylize
from nst.run.images import load_image
from nst.contracts.layers import BLOCK_ALIASES, LAYER_ORDER, channels
from nst.run.objective import Objective, style_layer_weights
from nst.run.vgg import VGG19_CONFIG, make_extractor

from kit import loss_rows, tiny_params


def random_features(channels_: int = 8, height: int = 6, width: int = 5, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(1, channels_, height, width, generator=gen) * 1.5 + 0.3


def numpy_channels(features: torch.Tensor) -> np.ndarray:
    """(channels, positions) float64 copy of batch-1 features."""
    return features[0].detach().double().reshape(features.shape[1], -1).numpy()


# --- layers: channel counts ----------------------------------------------------------------
def test_channels_follow_vgg19s_configuration():
    convs = [width for width in VGG19_CONFIG if width != "M"]
    for k, width in enumerate(convs, start=1):
        assert channels(f"conv_{k}") == channels(f"relu_{k}") == width
    for block, width in enumerate((64, 128, 256, 512, 512), start=1):
        assert channels(f"pool_{block}") == width
    assert channels("relu4_1") == 512 and channels("conv2_2") == 128
    assert set(BLOCK_ALIASES.values()) <= set(LAYER_ORDER)


# --- gram_norm -----------------------------------------------------------------------------
@pytest.mark.parametrize("norm, divisor", [("abcd", lambda c, h, w: c * h * w),
                                           ("spatial", lambda c, h, w: h * w),
                                           ("elements", lambda c, h, w: c * h * w)])
def test_gram_norms_divide_by_what_they_say(norm, divisor):
    feats = random_features(8, 6, 5)
    x = numpy_channels(feats)
    expected = x @ x.T / divisor(8, 6, 5)
    np.testing.assert_allclose(losses.gram(feats, norm).double().numpy(), expected, rtol=1e-5)


def test_gram_default_is_the_tutorials_operation_for_the_evaluators():
    feats = random_features()
    flat = feats.reshape(8, 30)
    assert torch.equal(losses.gram(feats), (flat @ flat.t()) / (1 * 8 * 6 * 5))


# --- mean_std ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["l2", "l1"])
def test_mean_std_loss_matches_numpy_and_is_zero_for_identical_features(kind):
    out, style = random_features(seed=1), random_features(seed=2) * 2
    target = losses.style_target("mean_std", style)
    assert float(losses.style_layer_loss("mean_std", kind, style, target)) == 0.0
    x, t = numpy_channels(out), numpy_channels(style)
    dist = (lambda a, b: np.mean((a - b) ** 2)) if kind == "l2" else (lambda a, b: np.mean(np.abs(a - b)))
    expected = dist(x.mean(1), t.mean(1)) + dist(x.std(1), t.std(1))
    assert float(losses.style_layer_loss("mean_std", kind, out, target)) == pytest.approx(expected, rel=1e-5)


def test_mean_std_gradient_is_finite_for_a_constant_channel():
    feats = random_features()
    feats[0, 3] = 0.7  # a dead channel: zero variance
    feats.requires_grad_(True)
    losses.style_layer_loss("mean_std", "l2", feats, losses.style_target("mean_std", random_features(seed=4))).backward()
    assert torch.isfinite(feats.grad).all()


# --- wasserstein ---------------------------------------------------------------------------
def numpy_w2(out: torch.Tensor, style: torch.Tensor, ridge: float) -> float:
    """The squared 2-Wasserstein distance of the two Gaussians (covariance over N positions,
    plus the ridge), per channel, with scipy's matrix square root."""
    x, t = numpy_channels(out), numpy_channels(style)
    c = x.shape[0]
    cov_x = np.cov(x, bias=True) + ridge * np.eye(c)
    cov_t = np.cov(t, bias=True) + ridge * np.eye(c)
    root_t = scipy.linalg.sqrtm(cov_t)
    cross = np.trace(scipy.linalg.sqrtm(root_t @ cov_x @ root_t)).real
    w2 = np.sum((x.mean(1) - t.mean(1)) ** 2) + np.trace(cov_x) + np.trace(cov_t) - 2 * cross
    return w2 / c


def test_wasserstein_matches_scipy_and_is_zero_for_identical_features():
    out, style = random_features(8, 12, 10, seed=1), random_features(8, 12, 10, seed=2) * 2
    target = losses.style_target("wasserstein", style)
    # the ridge is the documented share of the style's mean channel variance
    assert target.ridge == pytest.approx(losses.W2_RIDGE * np.var(numpy_channels(style), axis=1).mean(), rel=1e-9)
    assert abs(float(losses.style_layer_loss("wasserstein", "l2", style, target))) < 1e-6
    value = float(losses.style_layer_loss("wasserstein", "l2", out, target))
    assert value > 0.1
    assert value == pytest.approx(numpy_w2(out, style, target.ridge), rel=1e-6)
    # l1/l2 is mean_std's and gram's choice, not wasserstein's
    assert float(losses.style_layer_loss("wasserstein", "l1", out, target)) == value


@pytest.mark.parametrize("shape", [(16, 8, 8), (64, 3, 3)], ids=["full-rank", "more-channels-than-positions"])
def test_wasserstein_gradient_is_finite(shape):
    feats = random_features(*shape, seed=5)
    feats[0, 0] = 0.0  # a dead channel as well
    target = losses.style_target("wasserstein", random_features(*shape, seed=6))
    for start in (feats, random_features(*shape, seed=6)):  # away from and at the target
        x = start.clone().requires_grad_(True)
        loss = losses.style_layer_loss("wasserstein", "l2", x, target)
        loss.backward()
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
        assert torch.isfinite(x.grad).all()


# --- total variation -----------------------------------------------------------------------
def test_total_variation_is_the_mean_absolute_neighbour_difference():
    image = torch.rand(1, 3, 7, 5, generator=torch.Generator().manual_seed(0))
    x = image[0].numpy().astype(np.float64)
    diffs = np.concatenate([np.abs(np.diff(x, axis=1)).ravel(), np.abs(np.diff(x, axis=2)).ravel()])
    assert float(losses.total_variation(image)) == pytest.approx(diffs.mean(), rel=1e-6)
    assert float(losses.total_variation(torch.full((1, 3, 4, 4), 0.3))) == 0.0


# --- through the Objective -----------------------------------------------------------------
@pytest.fixture(scope="module")
def images(content_path, style_path):
    return load_image(content_path, 32, "square")[0], load_image(style_path, 32, "square")[0]


@pytest.fixture(scope="module")
def extractor():
    return make_extractor(["conv_1", "conv_2", "conv_3", "conv_4", "conv_5"], "avg", None)


@pytest.fixture(scope="module")
def image():
    return torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))


def objective_terms(extractor, images, image, **settings) -> dict[str, torch.Tensor]:
    content, style = images
    objective = Objective(tiny_params(**settings), extractor, content, [style], None, contextlib.nullcontext())
    with torch.no_grad():
        return objective(image)


def old_terms(extractor, images, image, params) -> dict[str, torch.Tensor]:
    """The objective as every run computed it before the controls: the tutorial's Gram
    matrix, MSE, unweighted layer sums; written out here, not imported."""
    content, style = images

    def old_gram(f):
        a, b, c, d = f.shape
        flat = f.reshape(a * b, c * d)
        return (flat @ flat.t()) / (a * b * c * d)

    with torch.no_grad():
        c_t = extractor(content, set(params.content_layers))
        s_t = {n: old_gram(f) for n, f in extractor(style, set(params.style_layers)).items()}
        feats = extractor(image)
        c_l = {n: F.mse_loss(feats[n], t) for n, t in c_t.items()}
        s_l = {n: F.mse_loss(old_gram(feats[n]), t) for n, t in s_t.items()}
    content_sum = params.content_weight * torch.stack(list(c_l.values())).sum()
    style_sum = params.style_weight * torch.stack(list(s_l.values())).sum()
    terms = {"content": content_sum, "style": style_sum, "total": content_sum + style_sum}
    terms.update({f"content_{n}": v for n, v in c_l.items()})
    terms.update({f"style_{n}": v for n, v in s_l.items()})
    return terms


def test_defaults_are_todays_objective_bit_for_bit(extractor, images, image):
    expected = old_terms(extractor, images, image, tiny_params())
    terms = objective_terms(extractor, images, image)
    assert list(terms) == list(expected)  # no tv, nothing new
    for name, value in expected.items():
        assert torch.equal(terms[name], value), name
    # the same settings spelled out explicitly are the same objective
    explicit = objective_terms(extractor, images, image, style_layer_weights=None, gram_norm="abcd",
                               style_loss="gram", tv_weight=0.0)
    assert all(torch.equal(explicit[n], v) for n, v in expected.items())


def test_a_run_at_the_defaults_starts_from_todays_objective(extractor, images, content_path, style_path):
    """init=content: the first evaluation is of the content image itself (channels_last off:
    NHWC convolutions round differently from the test's NCHW extractor)."""
    params = tiny_params(iterations=2, channels_last=False)
    first = loss_rows(stylize(params, content_path, style_path).history)[0]
    expected = old_terms(extractor, images, images[0], params)
    assert {k: v for k, v in first.items() if k != "iteration"} == {n: float(v) for n, v in expected.items()}


def test_gatys_layer_weights_are_1e3_over_channels_squared():
    params = tiny_params(style_layers=["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
                         style_layer_weights="gatys")
    weights = style_layer_weights(params)
    assert list(weights.values()) == [1e3 / n ** 2 for n in (64, 128, 256, 512, 512)]
    assert style_layer_weights(tiny_params()) is None


@pytest.mark.parametrize("layer_weights", [(0.5, 2.0, 0.0, 1.0, 3.0), "gatys"])
def test_layer_weights_weight_the_style_sum_and_not_the_history(layer_weights, extractor, images, image):
    plain = objective_terms(extractor, images, image)
    weighted = objective_terms(extractor, images, image, style_layer_weights=layer_weights)
    params = tiny_params(style_layer_weights=layer_weights)
    w = style_layer_weights(params)
    expected = params.style_weight * sum(w[n] * float(weighted[f"style_{n}"]) for n in params.style_layers)
    assert float(weighted["style"]) == pytest.approx(expected, rel=1e-5)
    assert float(weighted["style"]) != pytest.approx(float(plain["style"]), rel=1e-3)
    for n in params.style_layers:  # per-layer values stay unweighted
        assert torch.equal(weighted[f"style_{n}"], plain[f"style_{n}"])


def test_gram_norm_rescales_each_style_layer(extractor, images, image):
    abcd = objective_terms(extractor, images, image)
    spatial = objective_terms(extractor, images, image, gram_norm="spatial")
    elements = objective_terms(extractor, images, image, gram_norm="elements")
    for n in tiny_params().style_layers:
        # spatial's Gram is C times abcd's, so its squared error C^2 times
        assert float(spatial[f"style_{n}"]) == pytest.approx(channels(n) ** 2 * float(abcd[f"style_{n}"]), rel=1e-4)
        assert torch.equal(elements[f"style_{n}"], abcd[f"style_{n}"])  # batch 1: a*b*c*d == c*h*w


@pytest.mark.parametrize("style_loss", ["mean_std", "wasserstein"])
@pytest.mark.parametrize("kind", ["l2", "l1"])
def test_style_loss_is_the_named_distance_to_the_style_features(style_loss, kind, extractor, images, image):
    _, style = images
    terms = objective_terms(extractor, images, image, style_loss=style_loss, loss=kind)
    gram_terms = objective_terms(extractor, images, image, loss=kind)
    with torch.no_grad():
        s_feats, feats = extractor(style), extractor(image)
    for n in tiny_params().style_layers:
        x, t = numpy_channels(feats[n]), numpy_channels(s_feats[n])
        if style_loss == "mean_std":
            dist = (lambda a, b: np.mean((a - b) ** 2)) if kind == "l2" else (lambda a, b: np.mean(np.abs(a - b)))
            expected = dist(x.mean(1), t.mean(1)) + dist(x.std(1), t.std(1))
        else:
            expected = numpy_w2(feats[n], s_feats[n], losses.style_target("wasserstein", s_feats[n]).ridge)
        assert float(terms[f"style_{n}"]) == pytest.approx(expected, rel=1e-4), n
        assert float(terms[f"style_{n}"]) != pytest.approx(float(gram_terms[f"style_{n}"]), rel=1e-2)


def test_style_losses_are_zero_at_the_style_image(extractor, images):
    for style_loss in ("gram", "mean_std", "wasserstein"):
        terms = objective_terms(extractor, images, images[1], style_loss=style_loss)
        assert all(abs(float(terms[f"style_{n}"])) < 1e-6 for n in tiny_params().style_layers), style_loss


def test_tv_term_is_weighted_added_and_present_only_when_on(extractor, images, image):
    off = objective_terms(extractor, images, image)
    on = objective_terms(extractor, images, image, tv_weight=2.5)
    assert "tv" not in off
    assert float(on["tv"]) == pytest.approx(2.5 * float(losses.total_variation(image)), rel=1e-6)
    assert torch.equal(on["total"], on["content"] + on["style"] + on["tv"])
    assert torch.equal(on["style"], off["style"]) and torch.equal(on["content"], off["content"])


def test_tv_weight_smooths_the_result(content_path, style_path):
    """With random weights the style term is large (~1e2-1e3), so the prior needs a large weight."""
    def tv_of_result(tv_weight: float) -> float:
        params = tiny_params(iterations=6, tv_weight=tv_weight)
        result = stylize(params, content_path, style_path)
        assert result.status == "ok"
        assert ("tv" in result.history[0]) == (tv_weight > 0)
        return float(losses.total_variation(result.image))

    assert tv_of_result(1e4) < 0.5 * tv_of_result(0.0)
