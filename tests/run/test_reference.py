"""nst against an independent, plain implementation written the way the PyTorch neural style
tutorial does it (https://pytorch.org/tutorials/advanced/neural_style_tutorial.html):
Normalization, ContentLoss and StyleLoss modules inserted into an nn.Sequential after the
chosen layers of torchvision's VGG-19 features, gram = F F^T / (a*b*c*d), mse_loss, the input
image clamped inside the closure, and ONE torch.optim.LBFGS step with its default max_iter=20.

nst does the same optimisation as 20 L-BFGS steps of max_iter=1 (one evaluation each), so the
per-evaluation losses of both must agree.

Why a float64 network for the 20-evaluation comparison: the two implementations build
different autograd graphs (the tutorial computes each loss inside the forward pass, nst after
it), so the three gradients arriving at conv_4 (content loss, style loss, deeper layers) are
summed in a different order. In float32 that is a 1e-7 difference in the first gradient, and
fixed-step L-BFGS with clamping amplifies it to 1e-5 .. 1e-2 by evaluation 20, depending on
the images. With float64 as torch's default dtype, both networks (and so features, losses and
gradients) are float64, where that rounding is ~1e-16; the image being optimised and L-BFGS's
state stay float32 in both, as nst keeps images float32. The comparison then tests the
mathematics, not the rounding. Pure float32, the precision nst runs in, is compared on the
evaluations before that amplification (the objective and the first step).
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torchvision.models.vgg import cfgs, make_layers
from torchvision.transforms.functional import to_tensor

from nst import preset as nst_preset
from nst.run.engine import stylize

from kit import tiny_params

REL_TOL = 1e-5


# --- the tutorial's building blocks --------------------------------------------------------
class Normalization(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def forward(self, img):
        return (img - self.mean) / self.std


def gram_matrix(input):
    a, b, c, d = input.size()
    features = input.view(a * b, c * d)
    G = torch.mm(features, features.t())
    return G.div(a * b * c * d)


class ContentLoss(nn.Module):
    def __init__(self, target):
        super().__init__()
        self.target = target.detach()

    def forward(self, input):
        self.loss = F.mse_loss(input, self.target)
        return input


class StyleLoss(nn.Module):
    def __init__(self, target_feature):
        super().__init__()
        self.target = gram_matrix(target_feature).detach()

    def forward(self, input):
        G = gram_matrix(input)
        self.loss = F.mse_loss(G, self.target)
        return input


def get_style_model_and_losses(cnn, style_img, content_img, content_layers, style_layers):
    normalization = Normalization([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    content_losses, style_losses = {}, {}
    model = nn.Sequential(normalization)
    i = 0
    for layer in cnn.children():
        if isinstance(layer, nn.Conv2d):
            i += 1
            name = f"conv_{i}"
        elif isinstance(layer, nn.ReLU):
            name = f"relu_{i}"
            layer = nn.ReLU(inplace=False)
        elif isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
            name = f"pool_{i}"
        else:
            raise RuntimeError(f"unrecognized layer: {layer.__class__.__name__}")
        model.add_module(name, layer)
        if name in content_layers:
            target = model(content_img).detach()
            content_loss = ContentLoss(target)
            model.add_module(f"content_loss_{i}", content_loss)
            content_losses[name] = content_loss
        if name in style_layers:
            target_feature = model(style_img).detach()
            style_loss = StyleLoss(target_feature)
            model.add_module(f"style_loss_{i}", style_loss)
            style_losses[name] = style_loss
    for i in range(len(model) - 1, -1, -1):
        if isinstance(model[i], (ContentLoss, StyleLoss)):
            break
    return model[: i + 1], style_losses, content_losses


def run_style_transfer(cnn, content_img, style_img, input_img, content_layers, style_layers,
                       style_weight, content_weight):
    """The tutorial's loop, recording every evaluation of the closure."""
    model, style_losses, content_losses = get_style_model_and_losses(
        cnn, style_img, content_img, content_layers, style_layers)
    input_img.requires_grad_(True)
    model.eval()
    model.requires_grad_(False)
    optimizer = torch.optim.LBFGS([input_img])
    evaluations = []

    def closure():
        with torch.no_grad():
            input_img.clamp_(0, 1)
        optimizer.zero_grad()
        model(input_img)
        style_score = 0
        content_score = 0
        for sl in style_losses.values():
            style_score += sl.loss
        for cl in content_losses.values():
            content_score += cl.loss
        style_score *= style_weight
        content_score *= content_weight
        loss = style_score + content_score
        loss.backward()
        row = {"content": content_score.item(), "style": style_score.item(), "total": loss.item()}
        row.update({f"content_{n}": cl.loss.item() for n, cl in content_losses.items()})
        row.update({f"style_{n}": sl.loss.item() for n, sl in style_losses.items()})
        evaluations.append(row)
        return style_score + content_score

    optimizer.step(closure)
    return evaluations


# --- the same weights and images for both ----------------------------------------------------
def save_random_vgg_state(path, depth: int, seed: int = 1234) -> None:
    """Random tensors (He-scaled weights, small non-zero biases) for the first `depth` modules
    of torchvision's VGG-19 features, saved under torchvision's `features.N.*` keys."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for index, module in enumerate(list(make_layers(cfgs["E"]))[:depth]):
        if isinstance(module, nn.Conv2d):
            shape = module.weight.shape
            fan_in = shape[1] * shape[2] * shape[3]
            state[f"features.{index}.weight"] = torch.randn(shape, generator=gen, dtype=torch.float32) * math.sqrt(2 / fan_in)
            state[f"features.{index}.bias"] = torch.randn(shape[0], generator=gen, dtype=torch.float32) * 0.01
    torch.save(state, path)


def tutorial_vgg(weights_path, pooling: str) -> nn.Sequential:
    cnn = make_layers(cfgs["E"])  # torchvision's vgg19().features, max pooling
    if pooling == "avg":  # the paper's variant (the baseline preset)
        cnn = nn.Sequential(*[nn.AvgPool2d(2, 2) if isinstance(m, nn.MaxPool2d) else m for m in cnn])
    state = torch.load(weights_path, weights_only=True)
    result = cnn.load_state_dict({k.removeprefix("features."): v for k, v in state.items()}, strict=False)
    assert not result.unexpected_keys
    return cnn.eval()


def load_plain(path) -> torch.Tensor:
    """The image as a float32 tensor, like nst's: under a float64 default dtype the network
    (and so features, losses, gradients) is float64 in both, the image itself float32."""
    return to_tensor(Image.open(path).convert("RGB")).unsqueeze(0).to(torch.float32)


def compare(name, nst_history, reference, count, rel_tol=REL_TOL):
    assert len(nst_history) == len(reference) == count
    for k, (ours, theirs) in enumerate(zip(nst_history, reference), start=1):
        assert set(theirs) <= set(ours)
        for column, expected in theirs.items():
            assert math.isclose(ours[column], expected, rel_tol=rel_tol, abs_tol=0.0), (
                f"{name}: evaluation {k}, {column}: nst {ours[column]!r} vs reference {expected!r}")


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    # deep enough for conv_1..conv_5 (the tutorial's layers): features[0..10]
    path = tmp_path_factory.mktemp("weights") / "vgg19-random-features.pth"
    save_random_vgg_state(path, depth=11)
    return path


def run_both(preset_name, vgg_file, content_path, style_path, iterations, **execution):
    params = tiny_params(preset_name, weights=str(vgg_file), size=32, iterations=iterations, **execution)
    result = stylize(params, content_path, style_path)
    content_img, style_img = load_plain(content_path), load_plain(style_path)
    assert tuple(content_img.shape[-2:]) == (params.size, params.size)  # nst did not resample either
    reference = run_style_transfer(
        tutorial_vgg(vgg_file, params.pooling), content_img, style_img, content_img.clone(),
        list(params.content_layers), list(params.style_layers), params.style_weight, params.content_weight,
    )
    return params, result, reference


# the tutorial preset, and its loop on the baseline's objective (average pooling; the baseline
# itself keeps the pixels in bounds inside L-BFGS instead, so it is another optimisation)
POOLINGS = ["max", "avg"]


@pytest.mark.parametrize("pooling", POOLINGS)
def test_twenty_evaluations_match_the_tutorial(pooling, vgg_file, content_path, style_path, float64_default):
    params, result, reference = run_both("tutorial", vgg_file, content_path, style_path, iterations=20,
                                         pooling=pooling)
    assert (params.optimizer, params.lr, params.init, params.shift) == ("lbfgs", 1.0, "content", None)
    assert params.lbfgs_bounds == "clamp" and nst_preset("tutorial").pooling == "max"
    assert result.status == "ok"
    compare(f"tutorial, {pooling} pooling", result.history, reference, 20)
    # the comparison covers a real optimisation, not a constant
    assert reference[0]["content"] == 0.0
    assert reference[-1]["total"] < 0.5 * reference[0]["total"]
    assert len({round(row["total"], 6) for row in reference}) == 20


@pytest.mark.parametrize("pooling", POOLINGS)
def test_objective_and_first_step_match_the_tutorial_in_float32(pooling, vgg_file, content_path, style_path):
    """In the tutorial's NCHW layout to REL_TOL; in NHWC (the CPU default, channels_last: auto),
    whose convolutions sum in another order, to 1e-4: the second evaluation's content loss is a
    small difference of large activations, where float32 rounding shows."""
    params, result, reference = run_both("tutorial", vgg_file, content_path, style_path, iterations=2,
                                         channels_last=False, pooling=pooling)
    compare(pooling, result.history, reference[:2], 2)
    _, nhwc, _ = run_both("tutorial", vgg_file, content_path, style_path, iterations=2, pooling=pooling)
    compare(pooling, nhwc.history, reference[:2], 2, rel_tol=1e-4)
