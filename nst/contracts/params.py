"""Run parameters: every setting of one style-transfer run, validated, hashed into a run id.

Identity fields change the output image and so make up `run_id`; execution fields (device,
threads, snapshots, where the ImageNet file lies) only say how or where a run is computed.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import ParamsError
from ..files import unreadable
from ..hashes import content_sha256

from .param_values import (  # noqa: F401  (the allowed values, imported from here by the rest)
    COLORS, DEFAULT_LR, FLOAT32_MAX, GRAM_NORMS, INITS, LAYER_WEIGHT_KEYWORDS, LBFGS_BOUNDS, LOSSES, OPTIMIZERS,
    POOLINGS, PRECISIONS, RESIZES, SHIFT_MODES, STYLE_LOSSES, WEIGHT_SOURCES, bad_value, check_controls,
    check_ranges, coarser_scales, coerce, jsonable,
)

_EXECUTION = {"identity": False}
# Fields added after runs existed: left out of the identity while at their default, so that
# adding one never changes the run id (and folder) of a run computed before it existed.
_LATER = {"identity": True, "omit_default": True}


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
    # how the shift moves the view: the mirrored sliding view or the paper's crop-and-resize
    # (nst/run/shift.py); added after runs existed, and no part of the identity without a shift
    shift_mode: str = field(default="mirror", metadata=_LATER)
    pooling: str = "avg"
    size: int = 512
    resize: str = "square"
    seed: int = 0
    weights: str = "imagenet"
    precision: str = "fp32"
    # the controls other NST tools offer (README "Controls"); at their defaults, today's runs
    style_layer_weights: tuple[float, ...] | str | None = field(default=None, metadata=_LATER)
    gram_norm: str = field(default="abcd", metadata=_LATER)
    style_loss: str = field(default="gram", metadata=_LATER)
    color: str = field(default="style", metadata=_LATER)
    tv_weight: float = field(default=0.0, metadata=_LATER)
    style_scale: float = field(default=1.0, metadata=_LATER)
    style_blend_weights: tuple[float, ...] | None = field(default=None, metadata=_LATER)
    scales: tuple[int, ...] = field(default=(), metadata=_LATER)
    scale_iterations: tuple[int, ...] = field(default=(), metadata=_LATER)
    init_noise: float = field(default=0.0, metadata=_LATER)
    # issue 18: how L-BFGS keeps pixels in [0, 1]; the default is the tutorial's loop, as before
    lbfgs_bounds: str = field(default="clamp", metadata=_LATER)
    # execution only: not part of run_id
    device: str = field(default="auto", metadata=_EXECUTION)
    threads: int = field(default=0, metadata=_EXECUTION)
    snapshots: tuple[int, ...] = field(default=(), metadata=_EXECUTION)
    weights_file: str | None = field(default=None, metadata=_EXECUTION)  # imagenet's local copy
    caffe_weights_file: str | None = field(default=None, metadata=_EXECUTION)  # a full-precision Caffe file
    channels_last: bool | str = field(default="auto", metadata=_EXECUTION)  # NHWC; auto: on CPU
    cudnn_benchmark: bool = field(default=False, metadata=_EXECUTION)   # let cuDNN pick kernels
    checkpoint_seconds: float = field(default=60.0, metadata=_EXECUTION)  # resume state every N s; 0: off
    # memory (nst/run/memory.py): a tiled run's losses and gradients are the untiled ones
    max_memory_gb: float = field(default=0.0, metadata=_EXECUTION)  # 0: from the machine
    tile_size: int = field(default=0, metadata=_EXECUTION)  # inner tile side in px; 0: from the budget

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = coerce(f.name, getattr(self, f.name))
            object.__setattr__(self, f.name, value)
        if self.lr is None:
            object.__setattr__(self, "lr", DEFAULT_LR[self.optimizer])
        check_ranges(self)
        object.__setattr__(self, "scales", coarser_scales(self.scales, self.size))
        check_controls(self)

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
        compute this run elsewhere. A later field at its default is left out (see _LATER), and
        lbfgs_bounds for another optimizer than L-BFGS (it does not apply: the run is the same)."""
        values = {
            f.name: jsonable(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.metadata.get("identity", True)
            and not (f.metadata.get("omit_default") and getattr(self, f.name) == f.default)
            and not (f.name == "lbfgs_bounds" and self.optimizer != "lbfgs")
        }
        if self.shift is None:  # nothing moves: every shift mode gives the same image, so one run id
            values.pop("shift_mode", None)
        return values

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @functools.cached_property  # frozen, so it never changes; planning asks for it often
    def run_id(self) -> str:
        canonical = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def stages(self) -> tuple[tuple[int, int], ...]:
        """((size, iterations), ...) from the coarsest scale to `size`; one stage without scales.
        Scale iterations: one number for every coarser scale, one each, or none: `iterations`."""
        counts = self.scale_iterations or (self.iterations,)
        counts = counts * len(self.scales) if len(counts) == 1 else counts
        return (*zip(self.scales, counts), (self.size, self.iterations))

    @property
    def total_iterations(self) -> int:
        """Evaluations of the whole run: every coarser scale's, then `iterations` at `size`."""
        return sum(n for _, n in self.stages)

    def style_size(self, size: int | None = None) -> int:
        """The style images' size for output size `size` (default: `size`): `style_scale` of it,
        at least 16 px."""
        return max(16, round((size or self.size) * self.style_scale))

    @property
    def one_evaluation_per_step(self) -> bool:
        """False for L-BFGS with a line search (several evaluations per step). One iteration is
        one evaluation for every optimizer, but only such steps can be snapshotted after any k."""
        return not (self.optimizer == "lbfgs" and self.lbfgs_bounds == "strong_wolfe")

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
    except OSError as err:
        missing = isinstance(err, (FileNotFoundError, IsADirectoryError))  # the user named the wrong thing
        raise ParamsError(unreadable(f"weights file {path!r} (parameter {key!r})", err)
                          + (allowed if missing else "")) from None


FIELD_NAMES = tuple(f.name for f in dataclasses.fields(RunParams))
# The settings a config's `execution:` section may hold, in field order: every execution field
# (the metadata above is the one list) but `snapshots`, which the workflow sets per run (shared
# trajectories) rather than the user per study. The schema's `execution` properties are these
# plus the workflow's own (tests/workflow/test_schema.py checks).
PER_RUN_EXECUTION_FIELDS = ("snapshots",)
CONFIG_EXECUTION_FIELDS = tuple(f.name for f in dataclasses.fields(RunParams)
                                if not f.metadata.get("identity", True) and f.name not in PER_RUN_EXECUTION_FIELDS)


