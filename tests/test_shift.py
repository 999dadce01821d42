"""Random style shifting (nst/run/shift.py): every pixel carries the same expected weight in the loss,
border pixels included, and the rotation shows no black corners."""
from __future__ import annotations

import pytest
import torch

from nst.run.shift import RandomShift, mirrored_indices


def test_mirrored_indices_repeat_the_edge_pixel():
    assert mirrored_indices(4, 2).tolist() == [1, 0, 0, 1, 2, 3, 3, 2]
    assert mirrored_indices(3, 0).tolist() == [0, 1, 2]
    # margins wider than the side keep mirroring back and forth
    assert mirrored_indices(2, 5).tolist() == [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]


def weight_maps(size: int, factor: float, degrees: float, draws: int, seed: int = 0):
    """Per pixel of a size x size image: its mean weight in the shifted view (the gradient of the
    view's sum) and the fraction of draws in which it is in view at all."""
    shift = RandomShift(factor, degrees, torch.Generator().manual_seed(seed))
    weight, seen = torch.zeros(size, size), torch.zeros(size, size)
    for _ in range(draws):
        image = torch.ones(1, 1, size, size, requires_grad=True)
        (view,) = shift(image)
        view.sum().backward()
        weight += image.grad[0, 0]
        seen += (image.grad[0, 0] > 1e-3).float()
    return weight / draws, seen / draws


def ring(values: torch.Tensor, depth: int) -> torch.Tensor:
    """The pixels `depth` pixels in from the border."""
    n = values.shape[-1]
    mask = torch.zeros(n, n, dtype=torch.bool)
    mask[depth:n - depth, depth:n - depth] = True
    mask[depth + 1:n - depth - 1, depth + 1:n - depth - 1] = False
    return values[mask]


@pytest.mark.parametrize("factor,degrees", [(0.9, 3.0), (0.9, 0.0), (0.8, 2.0)])
def test_border_pixels_weigh_as_much_as_the_interior(factor, degrees):
    """The paper's crop (resized back) kept the outer (1 - f) x side mostly out of view: at 48 px,
    f = 0.9 and 3 degrees the outermost ring had a mean weight of 0.17 and was in view in 16 % of
    the draws, a corner in 2 % (the least weighted pixel: 0.01); with Adam that gave a frame of
    saturated noise. Now every ring has the interior's mean weight (1), and every pixel, corners
    included, is in view in over a fifth of the draws with a mean weight of at least 0.6."""
    weight, seen = weight_maps(48, factor, degrees, draws=300)
    interior = weight[12:-12, 12:-12]
    assert torch.allclose(interior, torch.ones_like(interior), atol=1e-4)
    for depth in range(8):
        assert abs(float(ring(weight, depth).mean()) - 1) < 0.02, depth
    assert float(seen.min()) >= 0.2
    assert float(weight.min()) >= 0.6


def test_rotated_views_have_no_black_corners():
    shift = RandomShift(0.95, 5.0, torch.Generator().manual_seed(1))
    flat = torch.full((1, 3, 40, 40), 0.7)
    for _ in range(10):
        (view,) = shift(flat)
        torch.testing.assert_close(view, flat, atol=1e-5, rtol=0)


def test_image_and_content_move_alike_and_keep_their_size():
    shift = RandomShift(0.9, 3.0, torch.Generator().manual_seed(2))
    a = torch.rand(1, 3, 30, 44, generator=torch.Generator().manual_seed(3))
    view_a, view_b = shift(a, a.clone())
    assert view_a.shape == a.shape and torch.equal(view_a, view_b)
    assert not torch.allclose(view_a, a)


def test_factor_one_without_rotation_is_the_image_itself():
    shift = RandomShift(1.0, 0.0, torch.Generator().manual_seed(4))
    a = torch.rand(1, 3, 16, 16)
    assert shift(a)[0] is a
