"""Colour preservation (Gatys et al. 2016, "Preserving colour in neural artistic style
transfer"), the `color` parameter:

- `style`: no preservation, the style's colours are transferred (the default);
- `luminance`: the run optimises luminance only: content, style and start become grey images of
  their luminance (Y of YCbCr; the style's linearly matched to the content's mean and spread),
  and the result takes its chroma (Cb, Cr) from the content image;
- `histogram`: the style images' colours are first matched to the content's: an affine map of
  the RGB pixels that gives them the content's mean and covariance.
"""
from __future__ import annotations

import torch
from kornia.color import rgb_to_ycbcr, ycbcr_to_rgb


def luminance(image: torch.Tensor) -> torch.Tensor:
    """The Y channel (Nx1xHxW) of an RGB image in [0, 1]."""
    return rgb_to_ycbcr(image)[:, :1]


def grey(y: torch.Tensor) -> torch.Tensor:
    """A luminance channel as the RGB image the network sees (R = G = B = Y)."""
    return y.expand(-1, 3, -1, -1).contiguous()


def match_luminance(style_y: torch.Tensor, content_y: torch.Tensor) -> torch.Tensor:
    """The style's luminance shifted and scaled to the content's mean and standard deviation."""
    spread = style_y.std().clamp_min(1e-6)
    return ((style_y - style_y.mean()) / spread * content_y.std() + content_y.mean()).clamp(0, 1)


def _pixels(image: torch.Tensor) -> torch.Tensor:
    return image.reshape(3, -1).double()


def _matrix_power(cov: torch.Tensor, power: float) -> torch.Tensor:
    """cov^power of a symmetric positive semi-definite matrix (eigenvalues floored)."""
    values, vectors = torch.linalg.eigh(cov)
    return vectors @ torch.diag(values.clamp_min(1e-8) ** power) @ vectors.T


def match_colors(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """`style` with the mean and covariance of `content`'s RGB pixels: x -> A (x - mu_s) + mu_c,
    A = C_c^(1/2) C_s^(-1/2)."""
    s, c = _pixels(style), _pixels(content)
    mu_s, mu_c = s.mean(1, keepdim=True), c.mean(1, keepdim=True)
    transform = _matrix_power(torch.cov(c), 0.5) @ _matrix_power(torch.cov(s), -0.5)
    matched = transform @ (s - mu_s) + mu_c
    return matched.reshape(style.shape).to(style.dtype).clamp(0, 1)


def prepare(mode: str, content: torch.Tensor, styles: list[torch.Tensor]):
    """(content, styles) as the run's objective sees them."""
    if mode == "luminance":
        content_y = luminance(content)
        return grey(content_y), [grey(match_luminance(luminance(s), content_y)) for s in styles]
    if mode == "histogram":
        return content, [match_colors(s, content) for s in styles]
    return content, styles


def start_image(mode: str, start: torch.Tensor) -> torch.Tensor:
    """The starting image in the run's colour space (luminance mode: grey)."""
    return grey(luminance(start.clamp(0, 1))) if mode == "luminance" else start


def present(mode: str, image: torch.Tensor, original_content: torch.Tensor) -> torch.Tensor:
    """The image a user gets: in luminance mode the optimised luminance with the content's chroma."""
    if mode != "luminance":
        return image
    chroma = rgb_to_ycbcr(original_content.to(image.device))[:, 1:]
    return ycbcr_to_rgb(torch.cat([luminance(image), chroma], dim=1)).clamp(0, 1)
