"""Named starting points: the paper's baseline (Table 1), its revised algorithm (Table 4), and
the PyTorch neural-style tutorial's defaults."""
from __future__ import annotations

from ..errors import ParamsError
from .params import RunParams

CONV_1_5 = ("conv_1", "conv_2", "conv_3", "conv_4", "conv_5")
RELU_1_5 = ("relu_1", "relu_2", "relu_3", "relu_4", "relu_5")

PRESETS: dict[str, dict] = {
    # Table 1 of the paper. Average pooling as in its section 2; 512x512 as in its section 5.
    "baseline": dict(
        iterations=300, content_layers=("conv_4",), style_layers=CONV_1_5,
        content_weight=1.0, style_weight=1e6, loss="l2", optimizer="lbfgs", lr=1.0,
        init="content", shift=None, pooling="avg", size=512, resize="square",
    ),
    # Table 4. Content weight, style weight and init are tuned per pair by the workflow;
    # the values here are the baseline's, the starting point of that tuning.
    "revised": dict(
        iterations=600, content_layers=("relu_5",), style_layers=RELU_1_5,
        content_weight=1.0, style_weight=1e6, loss="l1", optimizer="adam", lr=0.05,
        init="content", shift=0.97, shift_rotation=2.0, pooling="avg", size=512,
        resize="square",
    ),
    # https://pytorch.org/tutorials/advanced/neural_style_tutorial.html: torchvision's VGG-19
    # unchanged (max pooling), conv_4 / conv_1..5, weights 1 / 1e6, L-BFGS, 300 steps.
    "tutorial": dict(
        iterations=300, content_layers=("conv_4",), style_layers=CONV_1_5,
        content_weight=1.0, style_weight=1e6, loss="l2", optimizer="lbfgs", lr=1.0,
        init="content", shift=None, pooling="max", size=512, resize="square",
    ),
}

NOTES = {
    "baseline": "Paper Table 1 (Gatys et al. as studied in the paper).",
    "revised": (
        "Paper Table 4. The paper does not state the shift factor of its final algorithm: "
        "0.97 is used because it had the lowest loss in its Table 2. It gives no rotation "
        "range either ('slight'): 2 degrees is used so borders stay mostly inside the image. "
        "Content weight, style weight and init are tuned per pair (see config.yaml)."
    ),
    "tutorial": "PyTorch neural style tutorial defaults (max pooling, unlike the paper).",
}


def preset(name: str, **overrides) -> RunParams:
    """The preset `name` with `overrides` applied; ParamsError (a ValueError) for an unknown name.

    Overrides follow `RunParams.replace` rules, as the CLI's flags do: a new optimizer without
    an lr brings its own default learning rate, not the preset's."""
    if name not in PRESETS:
        raise ParamsError(f"unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
    base = RunParams.from_dict(PRESETS[name])
    return RunParams.from_dict(overrides, base=base) if overrides else base
