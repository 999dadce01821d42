"""Named starting points: the paper's baseline (Table 1), its revised algorithm (Table 4), the
PyTorch neural-style tutorial's defaults and loop, and Gatys et al.'s reference recipe."""
from __future__ import annotations

from ..errors import ParamsError
from .params import RunParams

CONV_1_5 = ("conv_1", "conv_2", "conv_3", "conv_4", "conv_5")
RELU_1_5 = ("relu_1", "relu_2", "relu_3", "relu_4", "relu_5")
GATYS_STYLE = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# Gatys's weights (content 1, style 1, per layer 1e3/n^2) are for activations in Caffe's 0-255
# pixel units; the caffe family's are those / 255, which scales the Gram terms by 1/255^4 and
# the content term by 1/255^2: a style weight of 255^2 keeps his balance.
GATYS_STYLE_WEIGHT = 255.0 ** 2

PRESETS: dict[str, dict] = {
    # Table 1 of the paper. Average pooling as in its section 2; 512x512 as in its section 5.
    # Deviation (issue 18): L-BFGS keeps the pixels in [0, 1] inside the method (projected), not by
    # the tutorial's clamp behind its back, which made 1 baseline run in 9 blow up (BENCHMARKS.md).
    "baseline": dict(
        iterations=300, content_layers=("conv_4",), style_layers=CONV_1_5,
        content_weight=1.0, style_weight=1e6, loss="l2", optimizer="lbfgs", lr=1.0,
        init="content", shift=None, pooling="avg", size=512, resize="square", lbfgs_bounds="projected",
    ),
    # Table 4. Content weight, style weight and init are tuned per pair by the workflow;
    # the values here are the baseline's, the starting point of that tuning.
    "revised": dict(
        iterations=600, content_layers=("relu_5",), style_layers=RELU_1_5,
        content_weight=1.0, style_weight=1e6, loss="l1", optimizer="adam", lr=0.05,
        init="content", shift=0.97, shift_rotation=2.0, pooling="avg", size=512,
        resize="square", lbfgs_bounds="projected",  # for a trial that switches to L-BFGS
    ),
}

# https://pytorch.org/tutorials/advanced/neural_style_tutorial.html: the baseline's settings
# (conv_4 / conv_1..5, weights 1 / 1e6, L-BFGS, 300 steps) on torchvision's VGG-19 unchanged,
# so with max pooling, and the tutorial's own loop: torch's L-BFGS with the clamp in its closure
# (tests/run/test_reference.py checks it evaluation by evaluation).
PRESETS["tutorial"] = {**PRESETS["baseline"], "pooling": "max", "lbfgs_bounds": "clamp"}

# Gatys et al.'s reference implementation (github.com/leongatys/PytorchNeuralStyleTransfer):
# relu1_1..relu5_1 with weights 1e3/n^2, content relu4_2, Gram / (h*w), L-BFGS from the
# content image, average pooling, the original Caffe VGG-19, 500 iterations at 512 px. His code
# bounds nothing while L-BFGS runs and clamps only the image it saves: lbfgs_bounds free.
PRESETS["gatys"] = dict(
    iterations=500, content_layers=("relu4_2",), style_layers=GATYS_STYLE,
    style_layer_weights="gatys", gram_norm="spatial",
    content_weight=1.0, style_weight=GATYS_STYLE_WEIGHT, loss="l2", optimizer="lbfgs", lr=1.0,
    init="content", shift=None, pooling="avg", size=512, resize="square", weights="caffe", lbfgs_bounds="free",
)

NOTES = {
    "baseline": (
        "Paper Table 1 (Gatys et al. as studied in the paper), with one deviation: its L-BFGS keeps the "
        "pixels in [0, 1] inside the method (lbfgs_bounds: projected) instead of the PyTorch tutorial's "
        "clamp in the closure, behind L-BFGS's back, which stores steps it never took and, with no line "
        "search, blew up 1 baseline run in 9 in the demo and 17 of 60 on 20 pairs x 3 style weights, "
        "where projected blew up none (README, 'L-BFGS and pixel bounds'; BENCHMARKS.md, benchmark 9)."
    ),
    "revised": (
        "Paper Table 4. The paper does not state the shift factor of its final algorithm: "
        "0.97 is used because it had the lowest loss in its Table 2. It gives no rotation "
        "range either ('slight'): 2 degrees is used so borders stay mostly inside the image. "
        "Content weight, style weight and init are tuned per pair (see config.yaml)."
    ),
    "tutorial": (
        "PyTorch neural style tutorial defaults (max pooling, unlike the paper) and its loop exactly: "
        "torch's L-BFGS, the pixels clamped to [0, 1] in the closure (lbfgs_bounds: clamp)."
    ),
    "gatys": (
        "Gatys et al.'s own recipe, from their reference implementation: ReLU layers "
        "relu1_1..relu5_1 (the baseline's conv_1 (conv1_1) .. conv_5 (conv3_1) are the convolutions "
        "before the ReLU, and only up to block 3), "
        "per-layer weights 1e3/n^2, content relu4_2, Gram matrices / (h*w), the Caffe VGG-19; "
        "style weight 255^2 because this project's Caffe activations are Caffe's / 255; like his code, "
        "no bounds while L-BFGS runs, only the saved image clamped (lbfgs_bounds: free)."
    ),
}


def preset(name: str, **overrides) -> RunParams:
    """The preset `name` with `overrides` applied; ParamsError (a ValueError) for an unknown name.

    Overrides follow `RunParams.replace` rules, as the CLI's flags do: a new optimizer without
    an lr brings its own default learning rate, not the preset's."""
    if name not in PRESETS:
        raise ParamsError(f"unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
    base = RunParams.from_dict(PRESETS[name])
    return RunParams.from_dict(overrides, base=base) if overrides else base


def differences(name: str, reference: str = "baseline") -> dict:
    """{key: (value in `name`, value in `reference`)} for the settings where the two presets differ."""
    mine, theirs = preset(name).to_dict(), preset(reference).to_dict()
    return {k: (v, theirs[k]) for k, v in mine.items() if v != theirs[k]}
