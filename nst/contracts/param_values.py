"""The allowed values of RunParams' fields, how a given value is read (coerce) and how the
settings are checked together (check_ranges, check_controls): one ParamsError naming the key
and what is allowed."""
from __future__ import annotations

import math
from typing import Any

from ..errors import ParamsError
from .layers import LAYER_INDEX, normalize_layer, standard_name

LOSSES = ("l2", "l1")
OPTIMIZERS = ("lbfgs", "adam", "adagrad", "sgd")
INITS = ("content", "noise", "zeros", "style")
POOLINGS = ("avg", "max")
RESIZES = ("square", "keep_aspect")
PRECISIONS = ("fp32", "tf32", "bf16")
WEIGHT_SOURCES = ("imagenet", "caffe", "random")
STYLE_LOSSES = ("gram", "mean_std", "wasserstein")
GRAM_NORMS = ("abcd", "spatial", "elements")  # the tutorial's a*b*c*d, Gatys's h*w, neural-style's c*h*w
COLORS = ("style", "luminance", "histogram")
SHIFT_MODES = ("mirror", "crop")  # the mirrored sliding view (default), the paper's crop-and-resize
LAYER_WEIGHT_KEYWORDS = ("gatys",)  # 1e3 / n^2 per style layer, n its channel count
# How L-BFGS keeps the pixels in [0, 1] (README "L-BFGS and pixel bounds"): clamp = the PyTorch
# tutorial's clamp inside the closure; projected = nst/run/bounded_lbfgs.py; strong_wolfe =
# torch's L-BFGS with its line search (and the tutorial's clamp); free = no bounds while
# optimising, only the saved image clamped (neural-style, Gatys et al.'s reference code).
LBFGS_BOUNDS = ("clamp", "projected", "strong_wolfe", "free")

# torch's optimizers turn the learning rate into a float32 scalar: a larger value is an
# overflow error inside the first step, so it is refused here with the others.
FLOAT32_MAX = 3.4028234663852886e38

MAX_MEMORY_ALLOWED = "gigabytes > 0, or 0 (the default: 80 % of the memory available)"
TILE_SIZE_ALLOWED = "pixels >= 1, or 0 (the default: untiled when the run fits max_memory_gb, else from it)"

# Learning rate used when none is given: torch's own default for L-BFGS, the paper's
# Table 4 value (Adam, 0.05) for the first-order optimizers.
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.05, "adagrad": 0.05, "sgd": 0.05}


# --- coercion and validation ---------------------------------------------------------------
def bad_value(key: str, value: Any, allowed: str) -> ParamsError:
    return ParamsError(f"invalid value for {key!r}: {value!r} (allowed: {allowed})")


def _as_int(key: str, value: Any, allowed: str) -> int:
    if isinstance(value, bool):
        raise bad_value(key, value, allowed)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise bad_value(key, value, allowed) from None
    if not isinstance(value, int):
        raise bad_value(key, value, allowed)
    return value


def _as_float(key: str, value: Any, allowed: str) -> float:
    if isinstance(value, bool):
        raise bad_value(key, value, allowed)
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise bad_value(key, value, allowed) from None
    if not math.isfinite(out):
        raise bad_value(key, value, allowed)
    return out


def _as_bool(key: str, value: Any, allowed: str = "true | false") -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise bad_value(key, value, allowed)


def _as_choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise bad_value(key, value, " | ".join(choices))
    return text


def _as_layers(key: str, value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise bad_value(key, value, "a non-empty list of VGG-19 layer names")
    try:
        names = {normalize_layer(n) for n in items if str(n).strip()}
    except ValueError as err:
        raise ParamsError(f"invalid value for {key!r}: {err}") from None
    if not names:
        raise bad_value(key, value, "a non-empty list of VGG-19 layer names")
    return tuple(sorted(names, key=LAYER_INDEX.__getitem__))


def _as_snapshots(value: Any) -> tuple[int, ...]:
    if value is None:  # `snapshots:` left empty in YAML, null in JSON
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if isinstance(items, int):
        items = [items]
    allowed = "a list of positive iteration numbers"
    steps = {_as_int("snapshots", v, allowed) for v in items if str(v).strip()}
    if any(s < 1 for s in steps):
        raise bad_value("snapshots", value, allowed)
    return tuple(sorted(steps))


def coerce(key: str, value: Any) -> Any:
    if key in ("iterations", "lbfgs_history", "size", "seed", "threads"):
        return _as_int(key, value, "an integer")
    if key == "checkpoint_seconds":
        return _as_float(key, value, "seconds >= 0 (0 = off)")
    if key == "max_memory_gb":
        return _as_float(key, value, MAX_MEMORY_ALLOWED)
    if key == "tile_size":
        return _as_int(key, value, TILE_SIZE_ALLOWED)
    if key in ("content_weight", "style_weight", "shift_rotation"):
        return _as_float(key, value, "a finite number")
    if key == "lr":
        return None if value is None else _as_float(key, value, "a number in (0, 3.4e38]")
    if key == "shift":
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            return None
        return _as_float(key, value, "none or a factor in (0, 1]")
    if key in ("content_layers", "style_layers"):
        return _as_layers(key, value)
    if key == "snapshots":
        return _as_snapshots(value)
    if key == "loss":
        return _as_choice(key, value, LOSSES)
    if key == "optimizer":
        return _as_choice(key, str(value).replace("-", ""), OPTIMIZERS)
    if key == "pooling":
        return _as_choice(key, value, POOLINGS)
    if key == "resize":
        return _as_choice(key, str(value).replace("-", "_"), RESIZES)
    if key == "precision":
        return _as_choice(key, value, PRECISIONS)
    if key == "shift_mode":
        return _as_choice(key, value, SHIFT_MODES)
    if key == "init":
        text = "" if value is None else str(value).strip()  # None is no path named "None"
        return text.lower() if text.lower() in INITS else text
    if key == "weights":
        text = "" if value is None else str(value).strip()
        return text.lower() if text.lower() in WEIGHT_SOURCES else text
    if key == "device":
        return str(value).strip().lower()
    if key == "channels_last" and str(value).strip().lower() == "auto":
        return "auto"
    if key in ("channels_last", "cudnn_benchmark"):
        return _as_bool(key, value, "auto | true | false" if key == "channels_last" else "true | false")
    if key in ("weights_file", "caffe_weights_file"):
        return None if value in (None, "") else str(value)
    return _coerce_control(key, value)


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null"))


def _as_numbers(key: str, value: Any, convert, allowed: str) -> tuple:
    """A list (or comma-separated text, bracketed or not: `[256,512]`, or one number) of numbers."""
    items = value.strip().strip("[]()").split(",") if isinstance(value, str) else value
    if isinstance(items, (int, float)) and not isinstance(items, bool):
        items = [items]
    if not isinstance(items, (list, tuple)):
        raise bad_value(key, value, allowed)
    return tuple(convert(key, v, allowed) for v in items if str(v).strip())


def _coerce_control(key: str, value: Any) -> Any:
    """The fields of the controls (style losses, colour, blends, scales, ...)."""
    if key in ("gram_norm", "style_loss", "color"):
        return _as_choice(key, value, {"gram_norm": GRAM_NORMS, "style_loss": STYLE_LOSSES, "color": COLORS}[key])
    if key == "lbfgs_bounds":
        return _as_choice(key, str(value).replace("-", "_"), LBFGS_BOUNDS)
    if key in ("tv_weight", "style_scale", "init_noise"):
        return _as_float(key, value, "a finite number")
    if key == "style_layer_weights":
        if _is_empty(value):
            return None
        if isinstance(value, str) and value.strip().lower() in LAYER_WEIGHT_KEYWORDS:
            return value.strip().lower()
        return _as_numbers(key, value, _as_float, "gatys | a list of numbers >= 0, one per style layer")
    if key == "style_blend_weights":
        if _is_empty(value):
            return None
        weights = _as_numbers(key, value, _as_float, "a list of numbers > 0, one per style image")
        if not weights or any(w <= 0 for w in weights):
            raise bad_value(key, value, "a list of numbers > 0, one per style image")
        total = sum(weights)  # as neural-style: only the proportions count
        return tuple(w / total for w in weights)
    if key in ("scales", "scale_iterations"):
        return () if _is_empty(value) else _as_numbers(key, value, _as_int, "a list of integers")
    return value


def check_ranges(p) -> None:
    checks = [
        ("iterations", p.iterations >= 1, "an integer >= 1"),
        ("lbfgs_history", p.lbfgs_history >= 1, "an integer >= 1"),
        ("size", 16 <= p.size <= 8192, "an integer in [16, 8192] (pixels)"),
        ("seed", p.seed >= 0, "an integer >= 0"),
        ("threads", p.threads >= 0, "an integer >= 0 (0 = torch's default)"),
        ("checkpoint_seconds", p.checkpoint_seconds >= 0, "seconds >= 0 (0 = off)"),
        ("max_memory_gb", p.max_memory_gb >= 0, MAX_MEMORY_ALLOWED),
        ("tile_size", p.tile_size >= 0, TILE_SIZE_ALLOWED),
        ("content_weight", p.content_weight >= 0, "a number >= 0"),
        ("style_weight", p.style_weight >= 0, "a number >= 0"),
        ("lr", p.lr is not None and 0 < p.lr <= FLOAT32_MAX, "a number in (0, 3.4e38], float32's range"),
        ("shift", p.shift is None or 0 < p.shift <= 1, "none or a factor in (0, 1]"),
        ("shift_rotation", 0 <= p.shift_rotation <= 180, "degrees in [0, 180]"),
        ("init", bool(p.init), "content | noise | zeros | style | path to an image"),
        ("weights", bool(p.weights), "imagenet | caffe | random | path to a state-dict file"),
        ("device", _valid_device(p.device), "auto | cpu | cuda | cuda:N | mps"),
    ]
    for key, ok, allowed in checks:
        if not ok:
            raise bad_value(key, getattr(p, key), allowed)
    if p.content_weight == 0 and p.style_weight == 0:
        raise ParamsError("content_weight and style_weight are both 0: nothing to optimise")


def check_controls(p) -> None:
    """Ranges of the controls and how they fit the other settings (scales already made the
    coarser ones by coarser_scales); one number of scale iterations is used for every coarser
    scale, none means `iterations` each."""
    checks = [
        ("tv_weight", p.tv_weight >= 0, "a number >= 0"),
        ("style_scale", 0.05 <= p.style_scale <= 8, "a factor in [0.05, 8] of the output size"),
        ("init_noise", 0 <= p.init_noise <= 1, "a share in [0, 1] of seeded noise mixed into the start"),
    ]
    for key, ok, allowed in checks:
        if not ok:
            raise bad_value(key, getattr(p, key), allowed)
    if not p.one_evaluation_per_step and p.snapshots:
        # a line search evaluates several times per step; a snapshot (and so a shared trajectory
        # or a halving rung) needs the optimizer's state after exactly k evaluations
        raise ParamsError(f"snapshots {list(p.snapshots)} cannot be taken with lbfgs_bounds: strong_wolfe "
                          "(its line search evaluates several times per step); use another lbfgs_bounds or no snapshots")
    weights = p.style_layer_weights
    if isinstance(weights, tuple):
        if len(weights) != len(p.style_layers) or any(w < 0 for w in weights):
            raise bad_value("style_layer_weights", list(weights),
                       f"gatys | {len(p.style_layers)} numbers >= 0, one per style layer "
                       f"({', '.join(map(standard_name, p.style_layers))})")
    scales = p.scales
    if any(b <= a for a, b in zip(scales, scales[1:])) or any(not 16 <= s < p.size for s in scales):
        raise bad_value("scales", list(p.scales), f"increasing sizes in [16, size={p.size}), coarsest first")
    counts = p.scale_iterations
    if counts and not scales:
        raise bad_value("scale_iterations", list(counts), "empty unless scales are given")
    if counts and (len(counts) not in (1, len(scales)) or any(n < 1 for n in counts)):
        per_scale = f", or {len(scales)} integers (one per scale of {list(scales)})" if len(scales) > 1 else ""
        raise bad_value("scale_iterations", list(counts), f"one integer >= 1{per_scale}")


def coarser_scales(scales: tuple[int, ...], size: int) -> tuple[int, ...]:
    """The scales run before `size`: a list that ends at `size` (as in scales: [128, 256, 512]
    with size 512) means the same run as one without that last entry."""
    return scales[:-1] if scales and scales[-1] == size else scales


def _valid_device(device: str) -> bool:
    if device in ("auto", "cpu", "cuda", "mps"):
        return True
    return device.startswith("cuda:") and device[5:].isdigit()


def jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
