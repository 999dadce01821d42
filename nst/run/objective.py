"""A run's objective: weighted content + style loss of an image against fixed targets, made
from one content image and one or more style images (a blend), plus a total-variation prior
when tv_weight > 0."""
from __future__ import annotations

import torch

from ..contracts.layers import channels
from ..contracts.params import RunParams
from .losses import image_statistic, layer_losses, statistic_loss, style_target, total_variation
from .shift import RandomShift


def blend_weights(params: RunParams, count: int) -> tuple[float, ...]:
    """The weight of each of `count` style images: the run's blend weights, or 1 for one image."""
    return params.style_blend_weights or (1.0,) * count


def style_layer_weights(params: RunParams) -> dict[str, float] | None:
    """{style layer: weight of its loss in the style sum}; None: every layer 1 (today's sum).
    gatys: 1e3 / n^2, n the layer's channel count, as in Gatys's own PyTorch notebook."""
    weights = params.style_layer_weights
    if weights is None:
        return None
    if weights == "gatys":
        return {n: 1e3 / channels(n) ** 2 for n in params.style_layers}
    return dict(zip(params.style_layers, weights))  # both in network order (RunParams)


class Objective:
    """Weighted content + style loss of an image against fixed targets. With several style
    images each layer's style loss is the blend-weighted sum of the loss against each."""

    def __init__(self, params: RunParams, extractor, content, styles: list[torch.Tensor],
                 shift: RandomShift | None, amp):
        self.params, self.extractor, self.content, self.shift, self.amp = params, extractor, content, shift, amp
        self.content_layers, self.style_layers = params.content_layers, params.style_layers
        self.style_weights = blend_weights(params, len(styles))
        self.layer_weights = style_layer_weights(params)
        with torch.no_grad():
            self.style_targets = [self._style_targets(style) for style in styles]
            self.fixed_content_targets = self._content_targets(content)

    def _style_targets(self, style) -> dict:
        """{style layer: the style image's target statistic}."""
        with self.amp:
            features = self.extractor(style, set(self.style_layers))
        # Style statistics outside autocast, as for the image in __call__: under bf16
        # autocast the Gram matmul would run in bf16 and the targets carry bf16 rounding.
        return {n: style_target(self.params.style_loss, f, self.params.gram_norm) for n, f in features.items()}

    def _content_targets(self, content):
        with self.amp:
            return {n: f.detach() for n, f in self.extractor(content, set(self.content_layers)).items()}

    def inputs(self, image: torch.Tensor, shifted: bool = True):
        """(what the network sees, content targets): both shifted alike when shifting is on."""
        if not (shifted and self.shift is not None):
            return image, self.fixed_content_targets
        image, content = self.shift(image, self.content)
        with torch.no_grad():
            return image, self._content_targets(content)

    def style_losses(self, feats: dict) -> dict[str, torch.Tensor]:
        """Each style layer's unweighted loss, blended over the style images (the image's
        statistic, e.g. its Gram matrix, computed once per layer)."""
        p = self.params
        return self.blended({n: image_statistic(p.style_loss, feats[n], p.gram_norm) for n in self.style_layers})

    def blended(self, statistics: dict) -> dict[str, torch.Tensor]:
        """Each style layer's unweighted loss from the image's statistic at that layer,
        blended over the style images."""
        p = self.params
        blended = {}
        for n in self.style_layers:
            for weight, targets in zip(self.style_weights, self.style_targets):
                value = weight * statistic_loss(p.style_loss, p.loss, statistics[n], targets[n])
                blended[n] = value if n not in blended else blended[n] + value
        return blended

    def weighted_style_sum(self, s_layers: dict) -> torch.Tensor:
        """Sum of the per-layer style losses, each times its style_layer_weights weight."""
        if self.layer_weights is None:  # today's sum, operation for operation
            return torch.stack(list(s_layers.values())).sum()
        return torch.stack([self.layer_weights[n] * v for n, v in s_layers.items()]).sum()

    def terms(self, feats: dict, content_targets: dict, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Weighted sums, their total, and the unweighted per-layer losses of `image` (what the
        network saw: `feats`)."""
        c_layers, _ = layer_losses(self.params.loss, feats, content_targets, {})
        return self.combined(c_layers, self.style_losses(feats), image)

    def combined(self, c_layers: dict, s_layers: dict, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The terms from each layer's unweighted loss (and the TV of `image`)."""
        content_sum = self.params.content_weight * torch.stack(list(c_layers.values())).sum()
        style_sum = self.params.style_weight * self.weighted_style_sum(s_layers)
        terms = {"content": content_sum, "style": style_sum}
        if self.params.tv_weight > 0:  # absent at 0: such runs keep exactly today's terms
            terms["tv"] = self.params.tv_weight * total_variation(image)
            terms["total"] = content_sum + style_sum + terms["tv"]
        else:
            terms["total"] = content_sum + style_sum
        terms.update({f"content_{n}": v for n, v in c_layers.items()})
        terms.update({f"style_{n}": v for n, v in s_layers.items()})
        return terms

    def __call__(self, image: torch.Tensor, shifted: bool = True) -> dict[str, torch.Tensor]:
        net_input, content_targets = self.inputs(image, shifted)
        with self.amp:
            feats = self.extractor(net_input)
        return self.terms(feats, content_targets, image)
