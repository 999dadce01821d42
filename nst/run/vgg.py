"""The VGG-19 feature extractor.

torchvision's `vgg19` feature stack (classifier never built; see vgg19_feature_layers), max-pool swapped for
average-pool unless asked otherwise, the input normalisation of its weights family inside,
truncated after the deepest layer a run needs, parameters frozen. Where the weights come from
(the families imagenet, caffe, random, a file) is nst/run/weights.py.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from ..contracts.layers import LAYER_INDEX, LAYER_ORDER, deepest_index, normalize_layer
from ..errors import WeightsError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RANDOM_WEIGHTS_SEED = 0  # weights=random: the seed of init_random


@dataclass(frozen=True)
class Weights:
    """What an extractor is built from: torchvision-keyed conv tensors (`features.N.weight`;
    None: seeded random) and the input normalisation that goes with them. The normalisation
    belongs to the weights (ImageNet statistics for torchvision's, Caffe's mean pixel for
    Caffe's), so every extractor built from the same Weights sees its input the same way."""

    state: Mapping[str, torch.Tensor] | None
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD


class FeatureExtractor(nn.Module):
    """Returns {layer name: activation} for the requested layers of VGG-19's features."""

    def __init__(self, layers: list[nn.Module], wanted: set[str], mean, std):
        super().__init__()
        # the default dtype, as the conv weights: the float64 reference test builds everything in float64
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.get_default_dtype()).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.get_default_dtype()).view(1, 3, 1, 1))
        self.body = nn.Sequential(*layers)
        self.names = LAYER_ORDER[: len(layers)]
        self.wanted = set(wanted)
        self.channels_last = False  # NHWC activations: faster convolutions on recent GPUs

    def forward(self, image: torch.Tensor, layers: set[str] | None = None) -> dict[str, torch.Tensor]:
        wanted = self.wanted if layers is None else layers
        deepest = max(LAYER_INDEX[n] for n in wanted)
        x = (image - self.mean) / self.std
        if self.channels_last:  # only the network's copy: the optimised image keeps its layout
            x = x.contiguous(memory_format=torch.channels_last)
        out = {}
        for i, (name, module) in enumerate(zip(self.names, self.body)):
            if i > deepest:
                break
            x = module(x)
            if name in wanted:
                out[name] = x
        return out


# torchvision's VGG-19 configuration "E": output channels of each 3x3 conv, "M" a 2x2 pool.
VGG19_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                512, 512, 512, 512, "M")
VGG19_CONFIG_CONVS = tuple(item for item in VGG19_CONFIG if item != "M")


def vgg19_feature_layers(pooling: str = "avg", depth: int | None = None) -> list[nn.Module]:
    """The layers of torchvision's `vgg19().features`, same order and shapes (so its state-dict
    keys `features.N.*` load as they are), ReLUs not in-place (conv outputs are read), convs
not initialised (their values are undefined until make_extractor loads or seeds them). Built
    here rather than with torchvision.models.vgg.make_layers: importing torchvision adds about
    a second to every job's start-up (tests check the stack matches torchvision's)."""
    modules: list[nn.Module] = []
    channels = 3
    for item in VGG19_CONFIG:
        if item == "M":
            modules.append(nn.AvgPool2d(2, 2) if pooling == "avg" else nn.MaxPool2d(2, 2))
        else:
            # no default init: make_extractor loads or seeds every conv (about 0.3 s a run saved)
            conv = torch.nn.utils.skip_init(nn.Conv2d, channels, item, kernel_size=3, padding=1)
            modules += [conv, nn.ReLU(inplace=False)]
            channels = item
        if depth is not None and len(modules) >= depth:
            break
    return modules[: depth if depth is not None else len(modules)]


def conv_feature_indices() -> tuple[int, ...]:
    """Index in `features` of each of the 16 convolutions (0, 2, 5, 7, 10, ...)."""
    indices, index = [], 0
    for item in VGG19_CONFIG:
        if item != "M":
            indices.append(index)
        index += 1 if item == "M" else 2  # a pool; a conv and its ReLU
    return tuple(indices)


def make_extractor(layers, pooling: str, weights: Weights | dict | None) -> FeatureExtractor:
    """Frozen extractor for `layers` (names as normalize_layer takes them), cut after the
    deepest, with `pooling` avg | max. `weights`: from nst.run.weights.load_weights; a plain
    torchvision-keyed state dict (ImageNet normalisation); None = seeded random. Raises
    WeightsError if the tensors do not fit (load_into)."""
    if not isinstance(weights, Weights):
        weights = Weights(weights)
    wanted = {normalize_layer(n) for n in layers}
    modules = vgg19_feature_layers(pooling, depth=deepest_index(wanted) + 1)
    extractor = FeatureExtractor(modules, wanted, weights.mean, weights.std)
    if weights.state is None:
        init_random(extractor.body, RANDOM_WEIGHTS_SEED)
    else:
        load_into(extractor.body, weights.state)
    extractor.requires_grad_(False)
    return extractor.eval()


def init_random(body: nn.Sequential, seed: int) -> None:
    """Seeded He init (fan_in, so activations keep their scale through the stack): for tests
    and offline smoke runs only."""
    gen = torch.Generator().manual_seed(seed)
    for module in body:
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu", generator=gen)
            nn.init.zeros_(module.bias)


def load_into(body: nn.Sequential, state: Mapping[str, torch.Tensor]) -> None:
    """Copy torchvision-keyed (`features.N.weight`) tensors into the truncated stack. Raises
    WeightsError for a missing key or a tensor of the wrong shape."""
    for index, module in enumerate(body):
        if not isinstance(module, nn.Conv2d):
            continue
        for attr in ("weight", "bias"):
            key = f"features.{index}.{attr}"
            if key not in state:
                raise WeightsError(f"weights file has no {key!r} (expected torchvision's vgg19 key names)")
            target = getattr(module, attr)
            if state[key].shape != target.shape:
                raise WeightsError(
                    f"weights file: {key!r} has shape {tuple(state[key].shape)}, "
                    f"VGG-19 needs {tuple(target.shape)}"
                )
            with torch.no_grad():
                target.copy_(state[key])
