"""Style blends: `blends: {name: {style_stem: weight, ...}}` in the config names a mix of style
images that is used like one style image (in pairs, grids, tables). A run on a blend gets the
blend's weights as `style_blend_weights` (in the order of the blend's members) and every member
image as its style input; grids show a blend by its heaviest member. Pure Python, no torch."""
from __future__ import annotations

from typing import Any

from ...errors import PlanError
from .names import check_blend_name


def resolve_blends(spec: Any, style_images: dict[str, str]) -> dict[str, dict[str, float]]:
    """{name: {member stem: weight}} from the config's `blends`; PlanError naming the key for a
    name that is also a style image, an unknown member or a weight that is not > 0."""
    if spec in (None, {}):
        return {}
    if not isinstance(spec, dict):
        raise PlanError("config key 'blends': must map blend names to {style_stem: weight, ...}")
    blends = {}
    for name, members in spec.items():
        where = f"blends.{name}"
        check_blend_name(name, where)
        if name in style_images:
            raise PlanError(f"config key {where!r}: {name!r} is already a style image's name; name the blend otherwise")
        if not isinstance(members, dict) or not members:
            raise PlanError(f"config key {where!r}: must map style image stems to weights, e.g. {{a: 0.7, b: 0.3}}")
        for stem, weight in members.items():
            if stem not in style_images:
                raise PlanError(f"config key '{where}.{stem}': no style image named {stem!r}; "
                                f"found: {', '.join(style_images)}")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
                raise PlanError(f"config key '{where}.{stem}': weight {weight!r} must be a number > 0")
        blends[str(name)] = {str(stem): float(weight) for stem, weight in members.items()}
    return blends


def blend_settings(members: dict[str, float]) -> dict[str, list[float]]:
    """The run parameters that make a run use the blend (RunParams normalises the weights)."""
    return {"style_blend_weights": list(members.values())}


def heaviest_member(members: dict[str, float]) -> str:
    """The member that stands for the blend in pictures (the first of equal weights)."""
    return max(members, key=members.__getitem__)
