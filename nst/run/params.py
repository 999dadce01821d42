"""Run parameters: every setting of one style-transfer run, validated, hashed into a run id.

Identity fields change the output image and so make up `run_id`; execution fields (device,
threads, snapshots, where the ImageNet file lies) only say how or where a run is computed.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import ParamsError
from ..files import content_sha256
from .layers import LAYER_INDEX, normalize_layer

LOSSES = ("l2", "l1")
OPTIMIZERS = ("lbfgs", "adam", "adagrad", "sgd")
INITS = ("content", "noise", "zeros", "style")
POOLINGS = ("avg", "max")
RESIZES = ("square", "keep_aspect")
PRECISIONS = ("fp32", "tf32", "bf16")
WEIGHT_SOURCES = ("imagenet", "caffe", "random")

# torch's optimizers turn the learning rate into a float32 scalar: a larger value is an
# overflow error inside the first step, so it is refused here with the others.
FLOAT32_MAX = 3.4028234663852886e38

# Learning rate used when none is given: torch's own default for L-BFGS, the paper's
# Table 4 value (Adam, 0.05) for the first-order optimizers.
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.05, "adagrad": 0.05, "sgd": 0.05}

_EXECUTION = {"identity": False}


@dataclass(frozen=True)
class RunParams:
    iterations: int = 300
    content_layers: tuple[str, ...] = ("conv_4",)
    style_layers: tuple[str, ...] = ("conv_1", "conv_2", "conv_3", "conv_4", "conv_5")
    content_weight: float = 1.0
    style_weight: float = 1e6
    loss: str = "l2"
    optimizer: str = "lbfgs"
    lr: float | None = None
    lbfgs_history: int = 100
    init: str = "content"
    shift: float | None = None
    shift_rotation: float = 0.0
    pooling: str = "avg"
    size: int = 512
    resize: str = "square"
    seed: int = 0
    weights: str = "imagenet"
    precision: str = "fp32"
    # execution only: not part of run_id
    device: str = field(default="auto", metadata=_EXECUTION)
    threads: int = field(default=0, metadata=_EXECUTION)
    snapshots: tuple[int, ...] = field(default=(), metadata=_EXECUTION)
    weights_file: str | None = field(default=None, metadata=_EXECUTION)  # imagenet's local copy
    caffe_weights_file: str | None = field(default=None, metadata=_EXECUTION)  # a full-precision Caffe file
    channels_last: bool | str = field(default="auto", metadata=_EXECUTION)  # NHWC; auto: on CPU
    cudnn_benchmark: bool = field(default=False, metadata=_EXECUTION)   # let cuDNN pick kernels
    checkpoint_seconds: float = field(default=60.0, metadata=_EXECUTION)  # resume state every N s; 0: off

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = _coerce(f.name, getattr(self, f.name))
            object.__setattr__(self, f.name, value)
        if self.lr is None:
            object.__setattr__(self, "lr", DEFAULT_LR[self.optimizer])
        _check_ranges(self)

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: dict[str, Any], base: "RunParams | None" = None) -> "RunParams":
        """Build from a mapping (config, run.json, --set) over `base`'s values (else the defaults).
        Raises ParamsError for something not a mapping, an unknown key or a value not allowed."""
        if not isinstance(values, dict):
            raise ParamsError(f"parameters must be a mapping of names to values, not {type(values).__name__}")
        unknown = sorted(set(values) - set(FIELD_NAMES))
        if unknown:
            raise ParamsError(
                f"unknown parameter {unknown[0]!r}; allowed: {', '.join(FIELD_NAMES)}"
            )
        merged = dict(dataclasses.asdict(base)) if base is not None else {}
        if base is not None and "optimizer" in values and "lr" not in values:
            merged["lr"] = None  # a new optimizer brings its own default learning rate
        merged.update(values)
        return cls(**merged)

    def replace(self, **changes: Any) -> "RunParams":
        return RunParams.from_dict(changes, base=self)

    # --- identity -----------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """The settings that determine the output image, as plain JSON types. A weights file
        counts by its content (sha256), not its path: a file replaced in place is another
        network, and a moved file the same one; so does a Caffe file named by caffe_weights_file
        (imagenet's weights_file is checked against torchvision's pinned hash instead).
        Raises ParamsError if the file is missing."""
        values = self.settings()
        if self.uses_weights_file:
            values["weights"] = f"sha256:{weights_file_sha256(self.weights)}"
        elif self.weights == "caffe" and self.caffe_weights_file:
            # a full-precision Caffe file is not the packaged 8-bit copy: another network
            values["weights"] = f"caffe:sha256:{weights_file_sha256(self.caffe_weights_file, 'caffe_weights_file')}"
        return values

    def settings(self) -> dict[str, Any]:
        """The identity fields as given (a weights file by its path): what a job is handed to
        compute this run elsewhere."""
        return {
            f.name: _jsonable(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.metadata.get("identity", True)
        }

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @functools.cached_property  # frozen, so it never changes; planning asks for it often
    def run_id(self) -> str:
        canonical = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def uses_random_weights(self) -> bool:
        return self.weights == "random"

    @property
    def family_weights_file(self) -> str | None:
        """The local file of the weights family in use (imagenet: weights_file, caffe:
        caffe_weights_file); None: the family's default place."""
        return {"imagenet": self.weights_file, "caffe": self.caffe_weights_file}.get(self.weights)

    @property
    def uses_weights_file(self) -> bool:
        """`weights` names a state-dict file rather than a family (imagenet, random, ...)."""
        return self.weights not in WEIGHT_SOURCES


def weights_file_sha256(path: str, key: str = "weights") -> str:
    """sha256 of a weights file named by parameter `key`; ParamsError, naming both, if it
    cannot be read."""
    allowed = f"; allowed: {' | '.join(WEIGHT_SOURCES)} | path to a state-dict file" if key == "weights" else ""
    try:
        return content_sha256(path)
    except FileNotFoundError:
        raise ParamsError(f"weights file {path!r} (parameter {key!r}) does not exist{allowed}") from None
    except IsADirectoryError:
        raise ParamsError(f"weights file {path!r} (parameter {key!r}) is a folder{allowed}") from None
    except OSError as err:
        raise ParamsError(f"cannot read weights file {path!r} (parameter {key!r}): {err.strerror or err}") from None


FIELD_NAMES = tuple(f.name for f in dataclasses.fields(RunParams))


# --- coercion and validation ---------------------------------------------------------------
def _bad(key: str, value: Any, allowed: str) -> ParamsError:
    return ParamsError(f"invalid value for {key!r}: {value!r} (allowed: {allowed})")


def _as_int(key: str, value: Any, allowed: str) -> int:
    if isinstance(value, bool):
        raise _bad(key, value, allowed)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise _bad(key, value, allowed) from None
    if not isinstance(value, int):
        raise _bad(key, value, allowed)
    return value


def _as_float(key: str, value: Any, allowed: str) -> float:
    if isinstance(value, bool):
        raise _bad(key, value, allowed)
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise _bad(key, value, allowed) from None
    if not math.isfinite(out):
        raise _bad(key, value, allowed)
    return out


def _as_bool(key: str, value: Any, allowed: str = "true | false") -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise _bad(key, value, allowed)


def _as_choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise _bad(key, value, " | ".join(choices))
    return text


def _as_layers(key: str, value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise _bad(key, value, "a non-empty list of VGG-19 layer names")
    try:
        names = {normalize_layer(n) for n in items if str(n).strip()}
    except ValueError as err:
        raise ParamsError(f"invalid value for {key!r}: {err}") from None
    if not names:
        raise _bad(key, value, "a non-empty list of VGG-19 layer names")
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
        raise _bad("snapshots", value, allowed)
    return tuple(sorted(steps))


def _coerce(key: str, value: Any) -> Any:
    if key in ("iterations", "lbfgs_history", "size", "seed", "threads"):
        return _as_int(key, value, "an integer")
    if key == "checkpoint_seconds":
        return _as_float(key, value, "seconds >= 0 (0 = off)")
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
    return value


def _check_ranges(p: RunParams) -> None:
    checks = [
        ("iterations", p.iterations >= 1, "an integer >= 1"),
        ("lbfgs_history", p.lbfgs_history >= 1, "an integer >= 1"),
        ("size", 16 <= p.size <= 8192, "an integer in [16, 8192] (pixels)"),
        ("seed", p.seed >= 0, "an integer >= 0"),
        ("threads", p.threads >= 0, "an integer >= 0 (0 = torch's default)"),
        ("checkpoint_seconds", p.checkpoint_seconds >= 0, "seconds >= 0 (0 = off)"),
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
            raise _bad(key, getattr(p, key), allowed)
    if p.content_weight == 0 and p.style_weight == 0:
        raise ParamsError("content_weight and style_weight are both 0: nothing to optimise")


def _valid_device(device: str) -> bool:
    if device in ("auto", "cpu", "cuda", "mps"):
        return True
    return device.startswith("cuda:") and device[5:].isdigit()


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
