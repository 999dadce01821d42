"""The fixed reference evaluation stored with every run.

A run's own losses depend on its settings (L1 vs L2, layers, weights), so they cannot be
compared across rows of a table. This evaluator never changes: the baseline's definition
(content conv_4, style conv_1..conv_5, L2, weights 1 and 1e6, average pooling, same VGG-19
weights), plus two image-space metrics that need no network.
"""
from __future__ import annotations

import torch
from kornia.metrics import ssim

from .losses import gram, layer_losses
from .presets import PRESETS

REFERENCE = PRESETS["baseline"]
QUANTILES = 256


def reference_losses(extractor, output, content, style) -> dict[str, float]:
    """Baseline-definition content/style/total loss of `output` (weighted as in Table 1)."""
    c_layers, s_layers = REFERENCE["content_layers"], REFERENCE["style_layers"]
    with torch.no_grad():
        c_feats = extractor(content, set(c_layers))
        s_feats = extractor(style, set(s_layers))
        o_feats = extractor(output, set(c_layers) | set(s_layers))
        content_l, style_l = layer_losses(
            "l2", o_feats,
            {n: c_feats[n] for n in c_layers},
            {n: gram(s_feats[n]) for n in s_layers},
        )
    c = REFERENCE["content_weight"] * float(sum(content_l.values()))
    s = REFERENCE["style_weight"] * float(sum(style_l.values()))
    return {"eval_content": c, "eval_style": s, "eval_total": c + s}


def color_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over RGB of the 1-D Wasserstein-1 distance between the two images' channel value
    distributions (compared at 256 quantiles, so image sizes may differ); 0 = same palette."""
    q = torch.linspace(0, 1, QUANTILES, dtype=torch.float32)
    qa = torch.quantile(a.detach().float().cpu().flatten(2).squeeze(0), q, dim=1)
    qb = torch.quantile(b.detach().float().cpu().flatten(2).squeeze(0), q, dim=1)
    return float((qa - qb).abs().mean())


def evaluate(extractor, output, content, style) -> dict[str, float]:
    scores = reference_losses(extractor, output, content, style)
    with torch.no_grad():
        scores["ssim_content"] = float(ssim(output.float(), content.float(), window_size=11).mean())
    scores["color_distance_style"] = color_distance(output, style)
    return scores
