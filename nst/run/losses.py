"""Content and style losses as in Gatys et al. and the PyTorch tutorial, and the style losses
and image prior other NST tools offer (RunParams `gram_norm`, `style_loss`, `tv_weight`).

A style loss has two halves: its target statistics, computed once per style image and layer
(`style_target`), and the distance of an image's features to them, every iteration
(`style_layer_loss`). At the defaults (gram, abcd) both are the tutorial's operations exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """Half and bf16 tensors cast up to fp32; fp32 and fp64 kept as they are."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


# --- Gram matrices -------------------------------------------------------------------------
def gram_divisor(norm: str, a: int, b: int, c: int, d: int) -> int:
    """What F F^T is divided by, for features of shape (a, b, c, d) = (batch, channels, h, w):
    abcd   a*b*c*d, the PyTorch tutorial's gram_matrix (every element of the batch);
    spatial  h*w, Gatys et al.'s G / M_l (their M_l = h*w positions); pystiche's normalize=True;
    elements c*h*w, jcjohnson's neural-style (G:div(input:nElement()) of one C x H x W map).
    A run's features have batch 1 (batched runs are sliced per run), so abcd == elements there."""
    if norm == "abcd":
        return a * b * c * d
    if norm == "spatial":
        return c * d
    if norm == "elements":
        return b * c * d
    raise ValueError(f"unknown gram_norm {norm!r}")


def gram(features: torch.Tensor, norm: str = "abcd") -> torch.Tensor:
    """Gram matrix F F^T normalised as `norm` says (default abcd: the tutorial's a*b*c*d, what
    the evaluators use), in fp32 or wider."""
    a, b, c, d = features.shape
    flat = at_least_fp32(features.reshape(a * b, c * d))
    return (flat @ flat.t()) / gram_divisor(norm, a, b, c, d)


def distance(kind: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared (l2) or mean absolute (l1) error, in fp32 or wider."""
    x, y = at_least_fp32(x), at_least_fp32(y)
    return F.mse_loss(x, y) if kind == "l2" else F.l1_loss(x, y)


# --- per-channel mean and standard deviation ----------------------------------------------
# Inside the square root: a constant channel (a dead ReLU, common on small images) has zero
# variance, where sqrt's gradient is infinite; 1e-8 keeps it finite and moves a std of 0.1 by
# 5e-7 relative.
STD_EPS = 1e-8


def channel_mean_std(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) of each channel over the positions, each of shape (channels,), in fp32 or
    wider; std is the population one (ddof 0, as numpy's default), sqrt(var + STD_EPS)."""
    a, b, c, d = features.shape
    flat = at_least_fp32(features.reshape(a * b, c * d))
    var, mean = torch.var_mean(flat, dim=1, correction=0)
    return mean, torch.sqrt(var + STD_EPS)


def mean_std_distance(kind: str, statistic, target) -> torch.Tensor:
    """`kind` distance (l2: MSE, l1: mean absolute) of the channel means plus that of the
    channel standard deviations, (mean, std), to the target's (channel_mean_std of the style)."""
    return distance(kind, statistic[0], target[0]) + distance(kind, statistic[1], target[1])


def mean_std_loss(kind: str, features: torch.Tensor, target) -> torch.Tensor:
    """mean_std_distance of the features' channel means and standard deviations."""
    return mean_std_distance(kind, channel_mean_std(features), target)


# --- Wasserstein-2 between Gaussians -------------------------------------------------------
# Added to both covariances (times the target's mean channel variance): a layer with fewer
# positions than channels has a singular covariance, and the gradient of tr(sqrt(M)) is
# infinite at a zero eigenvalue. The ridge bounds the eigenvalues of M below by about
# ridge^2; it changes the distance by a relative ~1e-5 and keeps it 0 for identical features.
W2_RIDGE = 1e-5
W2_RIDGE_FLOOR = 1e-12  # a style layer whose channels are all constant


@dataclass(frozen=True)
class GaussianTarget:
    """A style layer's Gaussian: mean, C_t^{1/2}, tr(C_t) (ridge included) and the ridge."""
    mean: torch.Tensor
    sqrt_cov: torch.Tensor
    cov_trace: torch.Tensor
    ridge: float


@dataclass(frozen=True)
class Moments:
    """An image's Gaussian at one layer: channel means and covariance over the N positions
    (divided by N, no ridge), widened; `dtype`: the features' (fp32 or wider), the loss's."""
    mean: torch.Tensor
    cov: torch.Tensor
    dtype: torch.dtype


def widened(x: torch.Tensor) -> torch.Tensor:
    """float64 for the eigenvalues (fp32 loses the small ones of a 512 x 512 covariance);
    MPS has no float64, so fp32 there."""
    return x.float() if x.device.type == "mps" else x.double()


def channel_moments(features: torch.Tensor) -> Moments:
    """The Moments of features of shape (1, C, h, w)."""
    a, b, c, d = features.shape
    flat = widened(features.reshape(a * b, c * d))
    mean = flat.mean(dim=1)
    centred = flat - mean[:, None]
    return Moments(mean, (centred @ centred.t()) / (c * d), at_least_fp32(features).dtype)


def _with_ridge(cov: torch.Tensor, ridge: float | None = None) -> tuple[torch.Tensor, float]:
    """(cov + ridge I, ridge); ridge None: W2_RIDGE x the mean channel variance."""
    if ridge is None:
        ridge = max(W2_RIDGE * float(cov.diagonal().mean()), W2_RIDGE_FLOOR)
    return cov + ridge * torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device), ridge


def _sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix, from its eigendecomposition."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.t()


def moments_target(moments: Moments) -> GaussianTarget:
    """The style's Gaussian from its Moments, with C_t^{1/2} computed once here rather than per step."""
    cov, ridge = _with_ridge(moments.cov)
    return GaussianTarget(moments.mean, _sqrtm_psd(cov), cov.trace(), ridge)


def wasserstein_target(features: torch.Tensor) -> GaussianTarget:
    """The style features' Gaussian."""
    return moments_target(channel_moments(features))


def trace_sqrtm(matrix: torch.Tensor) -> torch.Tensor:
    """tr(M^{1/2}) of a symmetric PSD matrix as the sum of the square roots of its eigenvalues
    (eigvalsh: its gradient needs no eigenvector gaps; negatives from rounding clamped to 0)."""
    symmetric = (matrix + matrix.t()) / 2  # eigvalsh reads one triangle: keep both in the graph
    return torch.linalg.eigvalsh(symmetric).clamp(min=0).sqrt().sum()


def wasserstein_distance(moments: Moments, target: GaussianTarget) -> torch.Tensor:
    """Squared 2-Wasserstein distance between the image's Gaussian (its Moments, with the
    target's ridge) and the style's, divided by the channel count C so that layers of 64 and
    512 channels give comparable values (a per-channel average, like mean_std's MSE):
        (||mu_x - mu_t||^2 + tr(C_x) + tr(C_t) - 2 tr((C_t^{1/2} C_x C_t^{1/2})^{1/2})) / C.
    Computed in float64 (fp32 on MPS); returned in the features' fp32-or-wider dtype."""
    cov, _ = _with_ridge(moments.cov, target.ridge)
    root = target.sqrt_cov
    cross = trace_sqrtm(root @ cov @ root)
    w2 = (moments.mean - target.mean).square().sum() + cov.trace() + target.cov_trace - 2 * cross
    return (w2 / moments.mean.numel()).to(moments.dtype)


def wasserstein_loss(features: torch.Tensor, target: GaussianTarget) -> torch.Tensor:
    """wasserstein_distance of the features' Moments."""
    return wasserstein_distance(channel_moments(features), target)


# --- one style layer: target statistics and loss -------------------------------------------
def style_target(style_loss: str, features: torch.Tensor, gram_norm: str = "abcd"):
    """What an image's features at one layer are compared with, from the style features:
    gram: the Gram matrix (normalised by gram_norm); mean_std: (channel means, channel stds);
    wasserstein: a GaussianTarget. gram_norm applies to gram only."""
    if style_loss == "gram":
        return gram(features, gram_norm)
    if style_loss == "mean_std":
        return channel_mean_std(features)
    if style_loss == "wasserstein":
        return wasserstein_target(features)
    raise ValueError(f"unknown style_loss {style_loss!r}")


def image_statistic(style_loss: str, features: torch.Tensor, gram_norm: str = "abcd"):
    """What of the image's features at one layer its style loss reads, computed once whatever
    the number of style images: the Gram matrix (gram), (channel means, stds) (mean_std), the
    Moments (wasserstein). The tiled objective (tiled.py) makes the same from sums over tiles."""
    if style_loss == "gram":
        return gram(features, gram_norm)
    if style_loss == "mean_std":
        return channel_mean_std(features)
    if style_loss == "wasserstein":
        return channel_moments(features)
    raise ValueError(f"unknown style_loss {style_loss!r}")


def statistic_loss(style_loss: str, kind: str, statistic, target) -> torch.Tensor:
    """One layer's unweighted style loss from image_statistic's value. `kind` (l2 | l1)
    applies to gram and mean_std; wasserstein is its own distance."""
    if style_loss == "gram":
        return distance(kind, statistic, target)
    if style_loss == "mean_std":
        return mean_std_distance(kind, statistic, target)
    if style_loss == "wasserstein":
        return wasserstein_distance(statistic, target)
    raise ValueError(f"unknown style_loss {style_loss!r}")


def style_layer_loss(style_loss: str, kind: str, features: torch.Tensor, target,
                     gram_norm: str = "abcd") -> torch.Tensor:
    """One layer's unweighted style loss."""
    return statistic_loss(style_loss, kind, image_statistic(style_loss, features, gram_norm), target)


def layer_losses(kind, features, content_targets, style_targets, style_loss: str = "gram",
                 gram_norm: str = "abcd"):
    """Unweighted per-layer losses: ({layer: content loss}, {layer: style loss}); style targets
    from style_target with the same style_loss and gram_norm."""
    content = {n: distance(kind, features[n], t) for n, t in content_targets.items()}
    style = {n: style_layer_loss(style_loss, kind, features[n], t, gram_norm) for n, t in style_targets.items()}
    return content, style


# --- image prior ---------------------------------------------------------------------------
def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels: every vertical and horizontal pair of
    every channel counted once, in fp32 or wider. (kornia's total_variation with
    reduction='mean' adds the two directions' means instead: about twice this.)"""
    x = at_least_fp32(image)
    vertical = (x[..., 1:, :] - x[..., :-1, :]).abs()
    horizontal = (x[..., :, 1:] - x[..., :, :-1]).abs()
    return (vertical.sum() + horizontal.sum()) / (vertical.numel() + horizontal.numel())
