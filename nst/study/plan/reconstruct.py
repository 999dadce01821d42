"""Planning an experiment of kind `reconstruct`: layer reconstructions, Gatys et al. 2016, Fig. 1
(pure Python, no torch; nst/study/plan/build.py calls it while expanding experiments).

    reconstruct:
      content_layers: [relu1_1, relu2_1, relu3_1, relu4_1, relu5_1]   # each layer alone
      style_layers: [relu1_1, relu2_1, relu3_1, relu4_1, relu5_1]     # {1}, {1, 2}, ..., all

Every trial starts from noise and weighs the other term 0, so its image shows what the named
layers keep of the content (one content layer) or of the style (a growing set of style
layers). The figure is nst/study/figures/reconstruction.py.
"""
from __future__ import annotations

from typing import Any

from ...contracts.layers import normalize_layer, standard_name
from ...contracts.manifest import label_of
from ...contracts.params import RunParams
from ...errors import PlanError

RECONSTRUCT = "reconstruct"
RECONSTRUCT_KEYS = ("content_layers", "style_layers")
# A content reconstruction's only term. Its weight does not change what is optimised, only the
# objective's scale; but L-BFGS stops where the gradient is below 1e-7, which a deep layer's
# small loss is from the start at weight 1 (relu5_2 stayed noise). The style term's preset
# weights (1e6, 255^2) are large already.
CONTENT_WEIGHT = 1e4


def _key(path: str, message: str) -> PlanError:
    return PlanError(f"config key {path!r}: {message}")  # worded as plan.py's own key errors


def reconstruction_trials(spec: Any, where: str) -> list[dict]:
    """The trials' own values: one run per content layer alone (style_weight 0, content_weight
    CONTENT_WEIGHT), one per growing prefix of the style layers in the order given
    (content_weight 0); all from noise."""
    if not isinstance(spec, dict) or not spec:
        raise _key(where, "must map content_layers and/or style_layers to a list of layers")
    trials = []
    for key, layers in spec.items():
        if key not in RECONSTRUCT_KEYS:
            raise _key(f"{where}.{key}", "unknown key; reconstruct takes content_layers (each layer "
                                         "alone) and style_layers (growing sets)")
        names = distinct_layers(layers, f"{where}.{key}")
        if key == "content_layers":
            trials += [{key: [n], "content_weight": CONTENT_WEIGHT, "style_weight": 0.0, "init": "noise"}
                       for n in names]
        else:
            trials += [{key: names[:k], "content_weight": 0.0, "init": "noise"}
                       for k in range(1, len(names) + 1)]
    return trials


def distinct_layers(layers: Any, where: str) -> list[str]:
    """`layers` as sequential names (relu4_1 -> relu_9), in the order given; PlanError naming
    `where` for an empty list, an unknown layer or one listed twice."""
    if not isinstance(layers, list) or not layers:
        raise _key(where, "must be a non-empty list of VGG-19 layers, e.g. [relu1_1, relu2_1]")
    names: list[str] = []
    for i, layer in enumerate(layers):
        try:
            name = normalize_layer(layer)
        except ValueError as err:
            raise _key(f"{where}[{i}]", str(err)) from None
        if name in names:
            raise _key(f"{where}[{i}]", f"{layer!r} is listed twice (as {standard_name(name)})")
        names.append(name)
    return names


def reconstruction_label(values: dict) -> str:
    """A reconstruction's label names only its layers, e.g. 'style_layers=relu_1+relu_3'."""
    return label_of({k: v for k, v in values.items() if k in RECONSTRUCT_KEYS})


def fit_layer_weights(value_sets: list[dict], base: RunParams) -> list[dict]:
    """A list of per-layer style weights fits one set of style layers, not growing sets: the
    style reconstructions then use equal weights (the default). A keyword (gatys) fits any set
    and is kept."""
    if not isinstance(getattr(base, "style_layer_weights", None), tuple):
        return value_sets
    return [{**v, "style_layer_weights": None} if "style_layers" in v else v for v in value_sets]
