"""An evaluator's network terms (nst/run/score.py) tile by tile, for images whose untiled
forward would not fit the memory budget: every term is a ratio of sums over positions, so the
tiles' exact inner features (nst/run/tiling.py) add up to the whole image's numbers.

- content, normalise none: sum |phi_x - phi_c|^p / (C h w), p = 2 (l2) or 1 (l1);
  relative: sum |phi_x - phi_c|^p / sum |phi_c|^p;
- style: the Gram matrices of the output and of the style image, sum phi phi^T / (C h w),
  then the same distance of the two (small: C x C) matrices as untiled.
No gradients: one forward per tile and image.
"""
from __future__ import annotations

import torch

from ..contracts.layers import channels
from .losses import widened, at_least_fp32, gram_divisor
from .tiled import add_into, cut, tile_features
from .tiling import plan_tiles


def _power(kind: str, x: torch.Tensor) -> torch.Tensor:
    x = at_least_fp32(x).abs()
    return x.square().sum() if kind == "l2" else x.sum()


def image_grams(extractor, image: torch.Tensor, layers, tile: int) -> dict[str, torch.Tensor]:
    """{layer: the image's Gram matrix F F^T / (C h w)} (float64), tile by tile."""
    plan = plan_tiles(image.shape[-2], image.shape[-1], tile, layers)
    totals: dict = {}
    for row, col in plan.tiles():
        for n, f in tile_features(extractor, cut(image, row, col), row, col, layers).items():
            flat = at_least_fp32(f.reshape(f.shape[1], -1))
            add_into(totals, n, (flat @ flat.t(),))
    return {n: totals[n][0] / gram_divisor("abcd", 1, channels(n), *plan.global_sizes(n)) for n in layers}


def layer_terms(settings: dict, extractor, output, content, style, tile: int):
    """({content layer: term}, {style layer: term}) as score.layer_terms gives them, computed
    tile by tile with tiles of `tile` px."""
    kind, relative = settings["loss"], settings["normalise"] == "relative"
    c_layers, s_layers = list(settings["content_layers"]), list(settings["style_layers"])
    layers = sorted(set(c_layers) | set(s_layers), key=extractor.names.index)
    plan = plan_tiles(output.shape[-2], output.shape[-1], tile, layers)
    totals: dict = {}
    with torch.no_grad():
        for row, col in plan.tiles():
            c_feats = tile_features(extractor, cut(content, row, col), row, col, c_layers)
            o_feats = tile_features(extractor, cut(output, row, col), row, col, layers)
            for n in c_layers:
                if n in o_feats:
                    add_into(totals, ("content", n), (_power(kind, o_feats[n] - c_feats[n]), _power(kind, c_feats[n])))
            for n in s_layers:
                if n in o_feats:
                    flat = at_least_fp32(o_feats[n].reshape(o_feats[n].shape[1], -1))
                    add_into(totals, ("style", n), (flat @ flat.t(),))
            del c_feats, o_feats
        style_grams = image_grams(extractor, style, s_layers, tile)
    content_t, style_t = {}, {}
    for n in c_layers:
        diff, ref = totals[("content", n)]
        size = channels(n) * plan.global_sizes(n)[0] * plan.global_sizes(n)[1]
        content_t[n] = _ratio(diff, ref) if relative else diff / size
    for n in s_layers:
        out_gram = totals[("style", n)][0] / gram_divisor("abcd", 1, channels(n), *plan.global_sizes(n))
        diff, ref = _power(kind, out_gram - style_grams[n]), _power(kind, style_grams[n])
        style_t[n] = _ratio(diff, ref) if relative else diff / out_gram.numel()
    return content_t, style_t


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den, as score._relative treats a zero target: 0 when both are 0, else inf."""
    if float(den) == 0.0:
        return torch.tensor(0.0 if float(num) == 0.0 else float("inf"))
    return num / den


def ssim_map_sum(ssim, output: torch.Tensor, content: torch.Tensor, rows: int, window: int = 11) -> float:
    """The sum of kornia's SSIM map over the image, computed in bands of `rows` rows, each
    with window // 2 rows of the neighbouring bands around it (the filter's reach; at the image's
    edges its own reflection, as for the whole image)."""
    halo, height, total = window // 2, output.shape[-2], 0.0
    for start in range(0, height, rows):
        top, bottom = max(start - halo, 0), min(start + rows + halo, height)
        band = ssim(output[..., top:bottom, :].float(), content[..., top:bottom, :].float(), window_size=window)
        total += float(widened(band[..., start - top:min(start + rows, height) - top, :]).sum())
    return total
