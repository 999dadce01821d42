"""The objective tile by tile, with the loss and gradient of the whole image (DESIGN: tiling).

Every term of the objective is a function of sums over feature positions: a Gram matrix is
sum phi phi^T divided by the map's size, the channel means and standard deviations come from
sum (phi - c) and sum (phi - c)^2, the Wasserstein Gaussians from sum (phi - c) and
sum (phi - c)(phi - c)^T (c: the style's channel means, for the conditioning), and a content
term is sum (phi - t)^2 (or |phi - t|) over the map's size. So, with tiles whose inner
features are exact (nst/run/tiling.py):

- pass 1 (no gradients): each tile forwarded, its inner features' sums added into the whole
  image's (float64); the loss computed from those sums with autograd gives dL/dS per sum;
- pass 2: each tile forwarded with gradients, the surrogate sum <dL/dS, S(tile)> back-propagated
  into the tile's crop, and the crop's gradient (margins included) added into the image's.

By the chain rule that is the whole image's gradient: L depends on the image only through
S = sum over tiles of S(tile), and each S(tile) only through its crop. The last tile of pass 1
is forwarded with gradients and kept, so pass 2 starts with it and forwards one tile fewer.
Shifting acts in pixel space before the network and total variation is a pixel-space term: the
tiles cut the shifted image and the gradient goes back through the shift; TV is computed on the
whole image. Only the network's part is tiled.
"""
from __future__ import annotations

import torch

from ..contracts.layers import channels
from .losses import STD_EPS, Moments, widened, at_least_fp32, gram_divisor, moments_target, total_variation
from .objective import Objective
from .tiling import AxisTile, TilePlan, kind, plan_tiles


class FixedGradient(torch.autograd.Function):
    """A loss value whose gradient with respect to `image` is `gradient` (computed beforehand,
    tile by tile), so that the engine's `total.backward()` puts it into image.grad."""

    @staticmethod
    def forward(ctx, image, value, gradient):
        ctx.save_for_backward(gradient)
        return value.clone()

    @staticmethod
    def backward(ctx, grad_output):
        (gradient,) = ctx.saved_tensors
        return grad_output * gradient, None, None


def _contiguous(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """A copy of a cut-out (so the uncut map can be freed), in the network's layout."""
    return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def cut(image: torch.Tensor, row: AxisTile, col: AxisTile) -> torch.Tensor:
    """The tile's crop of the image (a view)."""
    return image[..., row.crop[0]:row.crop[1], col.crop[0]:col.crop[1]]


def tile_features(extractor, crop: torch.Tensor, row: AxisTile, col: AxisTile, layers) -> dict:
    """{layer: the features of the tile's inner positions} for those of `layers` it has,
    computed from the tile's `crop` of the image alone (under the caller's grad mode and
    autocast): FeatureExtractor.forward's steps, with the crop cut down again after each pool."""
    wanted_r, wanted_c = dict(row.wanted), dict(col.wanted)
    depth = min(row.depth, col.depth, max(extractor.names.index(n) for n in layers))
    cut_r, cut_c = dict(row.recrops), dict(col.recrops)
    top, left = row.crop[0], col.crop[0]  # the positions (at x's level) of x's first row, column
    x = (crop - extractor.mean) / extractor.std
    if extractor.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    out = {}
    for i, (name, module) in enumerate(zip(extractor.names, extractor.body)):
        if i > depth:
            break
        x = module(x)
        if kind(name) == "pool":
            top, left = top // 2, left // 2  # crops start on the grid: exact halves
            if i in cut_r or i in cut_c:
                (r0, r1) = cut_r.get(i, (top, top + x.shape[-2]))
                (c0, c1) = cut_c.get(i, (left, left + x.shape[-1]))
                x = _contiguous(x[..., r0 - top:r1 - top, c0 - left:c1 - left], extractor.channels_last)
                top, left = r0, c0
        if name in layers:
            (r0, r1), (c0, c1) = wanted_r[name], wanted_c[name]
            if r1 > r0 and c1 > c0:
                out[name] = x[..., r0 - top:r1 - top, c0 - left:c1 - left]
    return out


def _flat(features: torch.Tensor) -> torch.Tensor:
    return features.reshape(features.shape[1], -1)


def style_sums(style_loss: str, features: torch.Tensor, centre) -> tuple[torch.Tensor, ...]:
    """The sums one tile adds to a style layer's statistic: gram (sum phi phi^T,), mean_std
    (sum (phi - c), sum (phi - c)^2), wasserstein (sum (phi - c), sum (phi - c)(phi - c)^T);
    gram in the features' fp32-or-wider dtype, the others in float64 (wasserstein as
    losses.channel_moments; mean_std because c is the style's mean, which an image's channel
    can be far from: float32 sums of (phi - c)^2 then lose a small variance to cancellation)."""
    if style_loss == "gram":
        flat = at_least_fp32(_flat(features))
        return (flat @ flat.t(),)
    flat = widened(_flat(features))
    centred = flat - centre.to(flat.dtype)[:, None]
    if style_loss == "mean_std":
        return centred.sum(dim=1), centred.square().sum(dim=1)
    return centred.sum(dim=1), centred @ centred.t()


def statistic_from_sums(style_loss: str, gram_norm: str, sums, shape, centre, dtype):
    """The statistic losses.image_statistic gives, from the whole map's sums; shape: (C, h, w)
    of the whole map; dtype: the features' fp32-or-wider."""
    c, h, w = shape
    if style_loss == "gram":
        return (sums[0] / gram_divisor(gram_norm, 1, c, h, w)).to(dtype)
    n = h * w
    shift = sums[0] / n
    mean = shift + centre.to(shift.dtype)
    if style_loss == "mean_std":
        # clamped: rounding in the sums can make a constant (dead) channel's variance -1e-12,
        # whose sqrt is NaN; torch.var_mean gives it 0 (its gradient there is 0 either way)
        var = (sums[1] / n - shift.square()).clamp(min=0)
        return mean.to(dtype), torch.sqrt(var.to(dtype) + STD_EPS)
    return Moments(mean, sums[1] / n - shift[:, None] * shift[None, :], dtype)


def content_sum(loss: str, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """What one tile adds to a content layer's distance: sum (phi - t)^2 (l2), |phi - t| (l1)."""
    diff = at_least_fp32(features) - at_least_fp32(target)
    return diff.square().sum() if loss == "l2" else diff.abs().sum()


def add_into(totals: dict, key, values) -> None:
    """totals[key] += values (float64; float32 on MPS), element by element of a tuple."""
    wide = tuple(widened(v.detach()) for v in values)
    totals[key] = wide if key not in totals else tuple(a + b for a, b in zip(totals[key], wide))


def _centre(style_loss: str, target):
    """The channel means that centre an image's sums: the style's (mean_std, wasserstein)."""
    if style_loss == "mean_std":
        return target[0].detach()
    return target.mean.detach() if style_loss == "wasserstein" else None


class TiledObjective(Objective):
    """Objective with the whole image's loss and gradient, computed tile by tile (inner
    regions of at most `tile` px, for the run's layers): the same terms as Objective, the
    gradient from two passes. Its style and content targets are computed tile by tile too."""

    def __init__(self, params, extractor, content, styles, shift, amp, tile: int):
        self.tile = tile
        self.layers = params.content_layers + params.style_layers
        self.plan: TilePlan = plan_tiles(content.shape[-2], content.shape[-1], tile, self.layers)
        super().__init__(params, extractor, content, styles, shift, amp)
        self.centres = {n: _centre(params.style_loss, self.style_targets[0][n]) for n in self.style_layers}

    # --- targets, tile by tile ---------------------------------------------------------------
    def _style_targets(self, style) -> dict:
        p = self.params
        plan = plan_tiles(style.shape[-2], style.shape[-1], self.tile, p.style_layers)
        totals, centres = {}, {}
        for row, col in plan.tiles():
            with self.amp:
                feats = tile_features(self.extractor, cut(style, row, col), row, col, p.style_layers)
            for n, f in feats.items():
                if n not in centres:  # the first tile's means: any centre is exact, a near one accurate
                    centres[n] = at_least_fp32(_flat(f)).mean(dim=1)
                add_into(totals, n, style_sums(p.style_loss, f, centres[n]))
        dtype = at_least_fp32(style).dtype
        targets = {}
        for n in p.style_layers:
            shape = (channels(n), *plan.global_sizes(n))
            statistic = statistic_from_sums(p.style_loss, p.gram_norm, totals[n], shape, centres.get(n), dtype)
            targets[n] = moments_target(statistic) if p.style_loss == "wasserstein" else statistic
        return targets

    def _content_targets(self, content) -> list[dict]:
        """Per tile (in plan order): {content layer: the content image's inner features}."""
        targets = []
        for row, col in self.plan.tiles():
            with self.amp:
                feats = tile_features(self.extractor, cut(content, row, col), row, col, self.content_layers)
            targets.append({n: f.detach().clone() for n, f in feats.items()})
        return targets

    # --- the two passes ----------------------------------------------------------------------
    def _sums(self, feats: dict, content_targets: dict) -> dict:
        """{(kind, layer): sums} of one tile's inner features (layers it has positions of)."""
        p, sums = self.params, {}
        for n in self.content_layers:
            if n in feats:
                sums[("content", n)] = (content_sum(p.loss, feats[n], content_targets[n]),)
        for n in self.style_layers:
            if n in feats:
                sums[("style", n)] = style_sums(p.style_loss, feats[n], self.centres[n])
        return sums

    def _forward(self, x: torch.Tensor, k: int, content_targets: list) -> tuple[torch.Tensor, dict]:
        """(the crop of tile k, as a leaf under grad mode, and its sums)."""
        row, col = self.plan.tiles()[k]
        crop = cut(x, row, col).detach().requires_grad_(torch.is_grad_enabled())
        with self.amp:
            feats = tile_features(self.extractor, crop, row, col, self.layers)
        return crop, self._sums(feats, content_targets[k])

    def _terms(self, totals: dict, dtype) -> dict:
        """The network's terms (content, style, per layer) from the whole image's sums."""
        p, plan = self.params, self.plan
        c_layers = {}
        for n in self.content_layers:
            (total,) = totals[("content", n)]
            c_layers[n] = (total / (channels(n) * plan.global_sizes(n)[0] * plan.global_sizes(n)[1])).to(dtype)
        statistics = {n: statistic_from_sums(p.style_loss, p.gram_norm, totals[("style", n)],
                                             (channels(n), *plan.global_sizes(n)), self.centres[n], dtype)
                      for n in self.style_layers}
        s_layers = self.blended(statistics)
        return {"content": p.content_weight * torch.stack(list(c_layers.values())).sum(),
                "style": p.style_weight * self.weighted_style_sum(s_layers),
                **{f"content_{n}": v for n, v in c_layers.items()}, **{f"style_{n}": v for n, v in s_layers.items()}}

    def __call__(self, image: torch.Tensor, shifted: bool = True) -> dict[str, torch.Tensor]:
        gradients = torch.is_grad_enabled() and image.requires_grad
        net_input, content_targets = self.inputs(image, shifted)  # per tile
        x, count = net_input.detach(), self.plan.count
        totals: dict = {}
        kept = None  # pass 1's last tile with its graph: pass 2 starts there
        for k in range(count):
            with torch.set_grad_enabled(gradients and k == count - 1):
                crop, sums = self._forward(x, k, content_targets)
            for key, values in sums.items():
                add_into(totals, key, values)
            kept = (crop, sums) if crop.requires_grad else None
        leaves = {key: tuple(v.clone().requires_grad_(gradients) for v in values) for key, values in totals.items()}
        with torch.set_grad_enabled(gradients):
            network = self._terms(leaves, at_least_fp32(image).dtype)
        terms = {key: value.detach() for key, value in network.items()}
        if self.params.tv_weight > 0:  # pixel space: the whole image, with autograd
            with torch.set_grad_enabled(gradients):
                tv = self.params.tv_weight * total_variation(image)
            terms["tv"] = tv.detach()
            terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        else:
            terms["total"] = terms["content"] + terms["style"]
        if not gradients:
            return terms
        keys = list(leaves)
        flat = torch.autograd.grad(network["content"] + network["style"], [v for key in keys for v in leaves[key]],
                                   allow_unused=True)
        weights, at = {}, 0
        for key in keys:
            weights[key], at = flat[at:at + len(leaves[key])], at + len(leaves[key])
        grad = self._pass2(x, content_targets, weights, kept)
        if net_input is not image:  # back through the shift (pixel space)
            grad = torch.autograd.grad(net_input, image, grad)[0]
        if self.params.tv_weight > 0:
            grad = grad + torch.autograd.grad(tv, image)[0]
        terms["total"] = FixedGradient.apply(image, terms["total"], grad)
        return terms

    def _pass2(self, x: torch.Tensor, content_targets: list, weights: dict, kept) -> torch.Tensor:
        """The gradient of the network's terms with respect to `x`: per tile, the surrogate
        sum <dL/dS, S(tile)> back-propagated into its crop, the crop's gradient added in."""
        grad = torch.zeros_like(x)
        for k in range(self.plan.count - 1, -1, -1):
            crop, sums = kept if (k == self.plan.count - 1 and kept) else self._forward(x, k, content_targets)
            surrogate = sum((w.to(s.dtype) * s).sum() for key, values in sums.items()
                            for w, s in zip(weights[key], values) if w is not None)
            row, col = self.plan.tiles()[k]
            cut(grad, row, col).add_(torch.autograd.grad(surrogate, crop)[0])
        return grad
