"""What every run is scored by: the evaluators' definitions, and that of the reference evaluation
the engine still stores in run.json (computed by nst/run/reference.py).

A run's own losses depend on its settings (L1 vs L2, layers, weights, network), so they cannot be
compared across the rows of a table. An *evaluator* is a fixed definition that scores every
run's saved image the same way, with one network whatever the run was optimised with:

- `weights`, `pooling`: the scoring network (VGG-19 weights family; its pooling);
- `content_layers`, `style_layers`, `loss` (l2 | l1);
- `normalise`: `none` = the paper's raw terms, summed over layers; `relative` = each layer's
  distance divided by the same norm of its target, averaged over layers (see below);
- `content_weight`, `style_weight`: weights of the two scores in `total`;
- `metrics`: image-space metrics that need no network;
- `size`: the side images are scored at (None: the run's own size).

Built in: `gatys` (the default) and `paper` (today's run.json evaluation, written out).
The settings of an evaluator, never its name, make its hash: the file name of the run's score
(results/runs/<content>/<style>/<run_id>/scores/<hash>.json), so changing `evaluation:` in the
config makes new score files and re-scores every run without re-optimising any.

Nothing here imports torch: the functions that compute are nst/run/score.py's, and the planner,
the tables and the figures import this module.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import EvaluationError
from .image_metrics import IMAGE_METRICS, METRICS_NEEDING
from .layers import LAYER_INDEX, normalize_layer, standard_name

# The reference evaluation the engine stores in every run.json (`evaluation`): the paper's
# baseline definition, written out here rather than borrowed from the presets, so that editing a
# preset never changes it. The engine scores with the run's own weights; the `paper` evaluator
# below is the same definition on one network for every run.
REFERENCE = {
    "content_layers": ("conv_4",),
    "style_layers": ("conv_1", "conv_2", "conv_3", "conv_4", "conv_5"),
    "content_weight": 1.0,
    "style_weight": 1e6,
    "loss": "l2",
    "pooling": "avg",
}

WEIGHTS = ("caffe", "imagenet", "random")
POOLINGS = ("avg", "max")
LOSSES = ("l2", "l1")
NORMALISATIONS = ("relative", "none")
KEYS = ("weights", "pooling", "content_layers", "style_layers", "loss", "normalise",
        "content_weight", "style_weight", "metrics", "size")

BUILT_IN: dict[str, dict[str, Any]] = {
    # Gatys et al. (2016) layers on the original VGG-19 they used (Caffe): style relu1_1,
    # relu2_1, relu3_1, relu4_1, relu5_1, content relu4_2; neither preset's own objective.
    # Max pooling, as the network was trained (average pooling is Gatys et al.'s choice for
    # *synthesis*, for its gradients; scoring needs no gradients).
    # normalise: relative -> every layer's term is scale-free:
    #   style_l   = ||G(x) - G(s)||^2 / ||G(s)||^2,  G = F F^T / (C H W)
    #   content_l = ||F(x) - F(c)||^2 / ||F(c)||^2
    # (squared Frobenius norms; absolute values summed for loss l1), and the style score is the
    # mean over its layers. Raw Gram distances differ between layers by orders of magnitude
    # (Gram entries scale with the square of activation size, which grows with depth and
    # differs between networks), so raw sums are decided by one or two layers; divided by the
    # target's own norm, each layer counts as "how far from the style's statistics, as a
    # fraction of them", so layers of different size and networks of different scale weigh
    # alike, and 1.0 means as far as an image with no response at that layer. Dividing the
    # Gram by C*H*W makes images of different sizes (keep_aspect styles) comparable.
    "gatys": {
        "weights": "caffe", "pooling": "max",
        "content_layers": ("relu_10",),
        "style_layers": ("relu_1", "relu_3", "relu_5", "relu_9", "relu_13"),
        "loss": "l2", "normalise": "relative", "content_weight": 1.0, "style_weight": 1.0,
        "metrics": tuple(IMAGE_METRICS), "size": None,
    },
    # The evaluation run.json holds today (REFERENCE, the one definition of it): content conv_4,
    # style conv_1..conv_5, L2 (mean squared error of features and of Grams F F^T / (C H W)),
    # summed over layers, weights 1 and 1e6, average pooling. On the run's own weights it gives
    # run.json's numbers; here on one network for every run (caffe unless overridden).
    "paper": {
        **REFERENCE, "weights": "caffe", "normalise": "none",
        "metrics": ("ssim_content", "color_distance_style"), "size": None,
    },
}
DEFAULT = "gatys"
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$")
HASH_LENGTH = 12


def _error(where: str, message: str) -> EvaluationError:
    return EvaluationError(f"config key {where!r}: {message}")


@dataclass(frozen=True)
class Evaluator:
    """A named evaluator: `settings` (every key of KEYS, canonical) decide its scores and hash."""

    name: str
    settings: dict

    @property
    def hash(self) -> str:
        return settings_hash(self.settings)

    def column(self, what: str) -> str:
        """Table column of one of its scores: style, content, total, a metric, style_<layer>,
        content_<layer>, evaluator."""
        return f"score_{self.name}_{what}"

    def summary_columns(self) -> list[str]:
        return [self.column(w) for w in ("style", "content", "total", *self.settings["metrics"])]

    def layer_column(self, term: str, layer: str) -> str:
        """The runs table's column of one layer's score (term: style or content), by the layer's
        standard name (score_gatys_style_relu3_1); score files key layers by the sequential
        name (relu_5), as the settings do."""
        return self.column(f"{term}_{standard_name(layer)}")

    def columns(self) -> list[str]:
        """Every column it adds to the runs table, in order."""
        s = self.settings
        return (self.summary_columns()
                + [self.layer_column("style", n) for n in s["style_layers"]]
                + [self.layer_column("content", n) for n in s["content_layers"]]
                + [self.column("evaluator")])

    def describe(self, metrics: bool = True) -> str:
        """One line for tables, captions and figure titles (metrics=False: without the list of
        image-space metrics, for titles of figures that show none)."""
        return f"{self.name} [{self.hash}]: {describe_settings(self.settings, metrics)}"

    def to_dict(self) -> dict:
        return {"name": self.name, "hash": self.hash, "settings": _plain(self.settings)}

    @classmethod
    def from_dict(cls, data: dict, where: str = "evaluation") -> "Evaluator":
        """From a manifest entry {name, settings[, hash]}; the hash, if given, must fit."""
        if not isinstance(data, dict) or "settings" not in data or "name" not in data:
            raise _error(where, "must be {name, settings}")
        evaluator = cls(_check_name(data["name"], f"{where}.name"),
                        canonical(data["settings"], where, complete=True))
        if data.get("hash") not in (None, evaluator.hash):
            raise _error(f"{where}.hash", f"{data['hash']!r} is not the hash of its settings "
                                          f"({evaluator.hash})")
        return evaluator


def describe_settings(s: dict, metrics: bool = True) -> str:
    norm = ("each layer relative to its target's norm, mean over layers" if s["normalise"] == "relative"
            else "raw terms summed over layers")
    size = f", at {s['size']} px" if s["size"] else ""
    metrics = f"; + {', '.join(s['metrics'])}" if s["metrics"] and metrics else ""
    style, content = (",".join(map(standard_name, s[k])) for k in ("style_layers", "content_layers"))
    return (f"{s['weights']} VGG-19 ({s['pooling']} pool{size}); style {style}, "
            f"content {content}; {s['loss'].upper()}, {norm}; "
            f"weights {s['content_weight']:g}/{s['style_weight']:g}{metrics}")


def settings_hash(settings: dict) -> str:
    """sha256 prefix of the canonical settings (sorted keys, lists, floats for the weights)."""
    text = json.dumps(_plain(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def _plain(settings: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}


def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise _error(where, f"{name!r} is not a usable name (letters and digits, words joined by "
                            "single '_', starting with a letter: it becomes part of table columns)")
    return name


def _layers(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not value:
        raise _error(where, "must be a non-empty list of VGG-19 layers, e.g. [relu1_1, relu2_1]")
    layers = []
    for item in value:
        try:
            layer = normalize_layer(item)
        except ValueError as err:
            raise _error(where, str(err)) from None
        if layer not in layers:
            layers.append(layer)
    return tuple(sorted(layers, key=LAYER_INDEX.__getitem__))


def _weight(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise _error(where, f"must be a finite number >= 0, not {value!r}")
    return float(value)


def _choice(value: Any, allowed: tuple, where: str) -> str:
    key = str(value).lower() if isinstance(value, str) else value
    if key not in allowed:
        raise _error(where, f"{value!r} is not allowed; allowed: {' | '.join(allowed)}")
    return key


def canonical(settings: dict, where: str = "evaluation", complete: bool = False) -> dict:
    """Checked settings in canonical form (layers in network order, sequential names; floats).
    With complete=True every key of KEYS must be there (a manifest's or a score file's)."""
    if not isinstance(settings, dict):
        raise _error(where, "must be a mapping")
    unknown = sorted(set(settings) - set(KEYS))
    if unknown:
        raise _error(f"{where}.{unknown[0]}", f"unknown evaluation key; allowed: name, base, {', '.join(KEYS)}")
    if complete:
        missing = [k for k in KEYS if k not in settings]
        if missing:
            raise _error(f"{where}.{missing[0]}", "missing")
    out: dict[str, Any] = {}
    for key, value in settings.items():
        here = f"{where}.{key}"
        if key == "weights":
            out[key] = _choice(value, WEIGHTS, here)
        elif key == "pooling":
            out[key] = _choice(value, POOLINGS, here)
        elif key == "loss":
            out[key] = _choice(value, LOSSES, here)
        elif key == "normalise":
            out[key] = _choice(value, NORMALISATIONS, here)
        elif key in ("content_layers", "style_layers"):
            out[key] = _layers(value, here)
        elif key in ("content_weight", "style_weight"):
            out[key] = _weight(value, here)
        elif key == "metrics":
            if isinstance(value, str) or not isinstance(value, (list, tuple)):
                raise _error(here, f"must be a list of metrics (may be empty): {', '.join(IMAGE_METRICS)}")
            for metric in value:
                if metric not in IMAGE_METRICS:
                    raise _error(here, f"unknown metric {metric!r}; allowed: {', '.join(IMAGE_METRICS)}")
            out[key] = tuple(m for m in IMAGE_METRICS if m in value)  # fixed order
        elif key == "size":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 16):
                raise _error(here, f"must be null (each run's own size) or an integer >= 16, not {value!r}")
            out[key] = value
    return out


def make_evaluator(spec: Any, where: str = "evaluation") -> Evaluator:
    """One evaluator from a config entry: a built-in name, or {name, base, ...overrides}
    (base defaults to the name when it is a built-in, else to gatys)."""
    if spec is None:
        spec = DEFAULT
    if isinstance(spec, str):  # a bare name carries no settings: it must be a built-in one
        if spec not in BUILT_IN:
            raise _error(where, f"unknown evaluator {spec!r}; built in: {', '.join(BUILT_IN)} "
                                "(or a mapping {name, base, ...settings})")
        spec = {"name": spec}
    if not isinstance(spec, dict):
        raise _error(where, f"must be an evaluator name ({' | '.join(BUILT_IN)}) or a mapping "
                            "{name, base, ...settings}")
    spec = dict(spec)
    name = _check_name(spec.pop("name", DEFAULT), f"{where}.name")
    base = spec.pop("base", name if name in BUILT_IN else DEFAULT)
    if base not in BUILT_IN:
        raise _error(f"{where}.base", f"unknown evaluator {base!r}; built in: {', '.join(BUILT_IN)}")
    settings = {**BUILT_IN[base], **canonical(spec, where)}
    for metric in settings["metrics"]:
        module = METRICS_NEEDING.get(metric)
        if module and importlib.util.find_spec(module) is None:
            raise _error(f"{where}.metrics", f"{metric} needs scikit-image (pip install scikit-image); "
                                             "install it or leave the metric out")
    return Evaluator(name, settings)


def resolve_evaluation(spec: Any) -> list[Evaluator]:
    """The evaluators of a config's `evaluation:` (None: [gatys]): one entry or a list; the first
    is the study's main one (charts, captions, default of select.evaluator)."""
    if spec is None:
        return [make_evaluator(None)]
    entries = spec if isinstance(spec, list) else [spec]
    if not entries:
        raise _error("evaluation", "an empty list scores nothing; leave it out for the default (gatys)")
    where = (lambda i: f"evaluation[{i}]") if isinstance(spec, list) else (lambda i: "evaluation")
    evaluators = [make_evaluator(entry, where(i)) for i, entry in enumerate(entries)]
    seen: dict[str, str] = {}
    for i, ev in enumerate(evaluators):
        if ev.name in seen:
            raise _error(f"{where(i)}.name", f"{ev.name!r} is used twice; give each evaluator its own name")
        seen[ev.name] = where(i)
    columns: dict[str, str] = {}
    for i, ev in enumerate(evaluators):
        for column in ev.columns():
            if column in columns and columns[column] != ev.name:
                raise _error(f"{where(i)}.name", f"{ev.name!r} and {columns[column]!r} would both make "
                                                 f"the column {column!r}; rename one")
            columns[column] = ev.name
    return evaluators


def evaluation_layers(evaluators: list[Evaluator]) -> tuple[str, ...]:
    """Every layer some evaluator reads (an image must be large enough to reach them)."""
    layers = {n for ev in evaluators for n in ev.settings["content_layers"] + ev.settings["style_layers"]}
    return tuple(sorted(layers, key=LAYER_INDEX.__getitem__))


# --- the engine's reference evaluation (run.json `evaluation`; computed in nst/run/reference.py)
PAPER = Evaluator("paper", BUILT_IN["paper"])
