"""Random style shifting (paper 2.4.1): each iteration the image being optimised and the content
image are moved alike by a random offset and a small random rotation before the loss, so the
network never sees the image on the same grid twice. Drawn from the run's seeded generator.
`shift_mode` chooses how (both draw the same three numbers per iteration: top, left, angle).

`crop`, the paper's: a random crop of a factor f of each side (kornia), resized back to the
image's size (bilinear) and rotated (kornia's rotate, its corners filled with black, the
library's default), as section 2.4.1 describes ("randomly cropping and rotating the I_i with
Kornia"; f from {0.95, ..., 0.99}, Table 2). Deviations, each where the paper says nothing: the
content image is cropped and rotated alike (the paper names only I_i; comparing a moved I_i
with an unmoved content image would penalise the shift itself), the crop's corner is uniform
over every place it fits, the rotation is uniform in +-shift_rotation degrees (the paper:
"slight"; the revised preset uses 2), "transformation dimensions of at least 95% of the size"
is read as f of each side (not of the area), the crop is resized back to full size (the paper
says only "cropping"; a full-size view keeps every loss on the same grid as the unshifted run),
and the resize is bilinear without antialiasing.

`mirror` (the default): the crop leaves a pixel within (1 - f) x side of a border out of most
crops: at 128 px and f = 0.97 the outermost row is in 1 iteration of 5 and the corners in 1 of
25-30 (the rotation cuts them too). Such a pixel gets a gradient only now and then, and Adam,
which scales every pixel's step by that pixel's own gradient history, turns each rare gradient
into a full-size step in a noisy direction: a 2-3 px frame of saturated noise. Here the view
keeps the whole side and slides, by the same offsets the crop would take (0 .. (1 - f) x side),
over the image mirrored at its borders (half-sample symmetric, the edge pixel repeated); the
rotation fills its corners by reflection instead of black. Every pixel then has the same
expected weight in the loss (a border pixel is out of view in some iterations and in view twice,
itself and its mirror copy, in as many others) and is in view in over half of the iterations
(over a quarter at the corners). The crop's zoom of 1/f (at most 5 % for the factors studied)
is not applied: a zoom-in always leaves some border pixels out.
"""
from __future__ import annotations

import math

import torch
from kornia.geometry.transform import resize, rotate

from ..contracts.param_values import SHIFT_MODES


class RandomShift:
    def __init__(self, factor: float, max_degrees: float, generator: torch.Generator, mode: str = "mirror"):
        if mode not in SHIFT_MODES:
            raise ValueError(f"shift mode {mode!r}; allowed: {', '.join(SHIFT_MODES)}")
        self.factor = factor
        self.max_degrees = max_degrees
        self.generator = generator
        self.mode = mode

    def margins(self, height: int, width: int) -> tuple[int, int]:
        """Mirrored margin on each side: half of what the paper's crop would leave out."""
        ch, cw = max(1, round(self.factor * height)), max(1, round(self.factor * width))
        return math.ceil((height - ch) / 2), math.ceil((width - cw) / 2)

    def draw(self, height: int, width: int) -> tuple[int, int, float]:
        """(top, left, angle in degrees): the view's corner in the mirrored image, whose
        margins are `margins`, so 0 .. 2 x margin (0 .. (1 - f) x side when that is even)."""
        my, mx = self.margins(height, width)
        top = int(torch.randint(0, 2 * my + 1, (1,), generator=self.generator))
        left = int(torch.randint(0, 2 * mx + 1, (1,), generator=self.generator))
        u = float(torch.rand((), generator=self.generator))
        angle = (2 * u - 1) * self.max_degrees
        return top, left, angle

    def __call__(self, *images: torch.Tensor) -> list[torch.Tensor]:
        """Apply one drawn transform to every image (all of the same size)."""
        if self.mode == "crop":
            return self.crop(*images)
        height, width = images[0].shape[-2:]
        my, mx = self.margins(height, width)
        top, left, angle = self.draw(height, width)
        # the rotation reads up to `extra` pixels beyond the view: mirror those in too, so the
        # view's corners show mirror copies of the border pixels (that then get their gradient)
        extra = 0
        if self.max_degrees > 0:
            reach = max(height / 2 + my, width / 2 + mx) * math.sin(math.radians(min(self.max_degrees, 90)))
            extra = math.ceil(reach) + 1
        rows = mirrored_indices(height, my + extra, images[0].device)[top:top + height + 2 * extra]
        cols = mirrored_indices(width, mx + extra, images[0].device)[left:left + width + 2 * extra]
        out = []
        for image in images:
            x = image
            if (my, mx, extra) != (0, 0, 0):
                x = x.index_select(-2, rows).index_select(-1, cols)
            if self.max_degrees > 0:
                x = rotate(x, torch.tensor([angle], device=x.device, dtype=x.dtype), padding_mode="reflection")
                x = x[..., extra:extra + height, extra:extra + width]
            out.append(x)
        return out

    def crop(self, *images: torch.Tensor) -> list[torch.Tensor]:
        """The paper's transform (module docstring): one drawn crop of f x each side, resized back
        and rotated, the same for every image."""
        height, width = images[0].shape[-2:]
        ch, cw = max(1, round(self.factor * height)), max(1, round(self.factor * width))
        top = int(torch.randint(0, height - ch + 1, (1,), generator=self.generator))
        left = int(torch.randint(0, width - cw + 1, (1,), generator=self.generator))
        angle = (2 * float(torch.rand((), generator=self.generator)) - 1) * self.max_degrees
        out = []
        for image in images:
            x = image[..., top:top + ch, left:left + cw]
            if (ch, cw) != (height, width):
                x = resize(x, (height, width), interpolation="bilinear", align_corners=False)
            if self.max_degrees > 0:
                x = rotate(x, torch.tensor([angle], device=x.device, dtype=x.dtype))  # black corners
            out.append(x)
        return out


def mirrored_indices(size: int, margin: int, device=None) -> torch.Tensor:
    """Source index of each position of a side of `size` extended by `margin` on both ends by
    half-sample symmetric mirroring (..., 1, 0 | 0, 1, ..., n-1 | n-1, n-2, ...); any margin."""
    positions = torch.arange(-margin, size + margin, device=device) % (2 * size)
    return torch.where(positions < size, positions, 2 * size - 1 - positions)
