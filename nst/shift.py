"""Random style shifting (paper 2.4.1): each iteration a random crop of a factor f of the side,
resized back, and a small random rotation, applied identically to the image being optimised
and to the content image before the loss. Drawn from the run's seeded generator."""
from __future__ import annotations

import torch
from kornia.geometry.transform import resize, rotate


class RandomShift:
    def __init__(self, factor: float, max_degrees: float, generator: torch.Generator):
        self.factor = factor
        self.max_degrees = max_degrees
        self.generator = generator

    def draw(self, height: int, width: int) -> tuple[int, int, int, int, float]:
        """(top, left, crop height, crop width, angle in degrees) for one iteration."""
        ch, cw = max(1, round(self.factor * height)), max(1, round(self.factor * width))
        top = int(torch.randint(0, height - ch + 1, (1,), generator=self.generator))
        left = int(torch.randint(0, width - cw + 1, (1,), generator=self.generator))
        u = float(torch.rand((), generator=self.generator))
        angle = (2 * u - 1) * self.max_degrees
        return top, left, ch, cw, angle

    def __call__(self, *images: torch.Tensor) -> list[torch.Tensor]:
        """Apply one drawn transform to every image (all of the same size)."""
        height, width = images[0].shape[-2:]
        top, left, ch, cw, angle = self.draw(height, width)
        out = []
        for image in images:
            x = image[..., top:top + ch, left:left + cw]
            if (ch, cw) != (height, width):
                x = resize(x, (height, width), interpolation="bilinear", align_corners=False)
            if self.max_degrees > 0:
                x = rotate(x, torch.tensor([angle], device=x.device, dtype=x.dtype))
            out.append(x)
        return out
