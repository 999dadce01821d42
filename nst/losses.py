"""Content and style losses as in Gatys et al. and the PyTorch tutorial."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix F F^T normalised by a*b*c*d (the tutorial's definition), in fp32."""
    a, b, c, d = features.shape
    flat = features.reshape(a * b, c * d).float()
    return (flat @ flat.t()) / (a * b * c * d)


def distance(kind: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared (l2) or mean absolute (l1) error, in fp32."""
    x, y = x.float(), y.float()
    return F.mse_loss(x, y) if kind == "l2" else F.l1_loss(x, y)


def layer_losses(kind, features, content_targets, style_targets):
    """Unweighted per-layer losses: ({layer: content loss}, {layer: style loss})."""
    content = {n: distance(kind, features[n], t) for n, t in content_targets.items()}
    style = {n: distance(kind, gram(features[n]), t) for n, t in style_targets.items()}
    return content, style
