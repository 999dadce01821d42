"""Content and style losses as in Gatys et al. and the PyTorch tutorial."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """Half and bf16 tensors cast up to fp32; fp32 and fp64 kept as they are."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix F F^T normalised by a*b*c*d (the tutorial's definition), in fp32 or wider."""
    a, b, c, d = features.shape
    flat = at_least_fp32(features.reshape(a * b, c * d))
    return (flat @ flat.t()) / (a * b * c * d)


def distance(kind: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared (l2) or mean absolute (l1) error, in fp32 or wider."""
    x, y = at_least_fp32(x), at_least_fp32(y)
    return F.mse_loss(x, y) if kind == "l2" else F.l1_loss(x, y)


def layer_losses(kind, features, content_targets, style_targets):
    """Unweighted per-layer losses: ({layer: content loss}, {layer: style loss})."""
    content = {n: distance(kind, features[n], t) for n, t in content_targets.items()}
    style = {n: distance(kind, gram(features[n]), t) for n, t in style_targets.items()}
    return content, style
