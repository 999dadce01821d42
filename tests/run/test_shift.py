"""Random style shifting (nst/run/shift.py): in the mirrored view (the default) every pixel carries
the same expected weight in the loss, border pixels included, and the rotation shows no black
corners; the paper's crop-and-resize (shift_mode: crop) zooms in on a crop, leaves the border
mostly out of view and rotates in black corners, as published."""
from __future__ import annotations

import pytest
import torch

from nst.run.shift import RandomShift, mirrored_indices


def test_mirrored_indices_repeat_the_edge_pixel():
    assert mirrored_indices(4, 2).tolist() == [1, 0, 0, 1, 2, 3, 3, 2]
    assert mirrored_indices(3, 0).tolist() == [0, 1, 2]
    # margins wider than the side keep mirroring back and forth
    assert mirrored_indices(2, 5).tolist() == [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]


def weight_maps(size: int, factor: float, degrees: float, draws: int, seed: int = 0, mode: str = "mirror"):
    """Per pixel of a size x size image: its mean weight in the shifted view (the gradient of the
    view's sum) and the fraction of draws in which it is in view at all."""
    shift = RandomShift(factor, degrees, torch.Generator().manual_seed(seed), mode)
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


# --- the paper's crop-and-resize (shift_mode: crop) ------------------------------------------
def test_crop_mode_is_a_crop_resized_back():
    """A horizontal ramp (each pixel its column number) seen through a crop of 3/4 of the side
    resized back is a ramp of slope 3/4 (a zoom of 4/3) starting at the crop's left edge; the
    mirrored view slides the same ramp and keeps its slope of 1."""
    ramp = torch.arange(16.0).repeat(1, 1, 16, 1)
    for seed in range(5):
        (crop,) = RandomShift(0.75, 0.0, torch.Generator().manual_seed(seed), "crop")(ramp)
        generator = torch.Generator().manual_seed(seed)  # the same draws: top, then left
        torch.randint(0, 5, (1,), generator=generator)
        left = int(torch.randint(0, 5, (1,), generator=generator))
        interior = crop[0, 0, 8, 2:-2]
        steps = interior[1:] - interior[:-1]
        assert torch.allclose(steps, torch.full_like(steps, 0.75), atol=1e-5)
        expected = left + (torch.arange(2, 14) + 0.5) * 0.75 - 0.5  # bilinear, half-pixel centres
        torch.testing.assert_close(interior, expected, atol=1e-4, rtol=0)
        assert torch.equal(crop[0, 0, 0], crop[0, 0, 15])  # a ramp across only: rows stay equal
        (view,) = RandomShift(0.75, 0.0, torch.Generator().manual_seed(seed))(ramp)
        steps = view[0, 0, 8, 1:] - view[0, 0, 8, :-1]
        assert set(steps.abs().tolist()) <= {0.0, 1.0}  # a slide (mirrored at the borders): no zoom


def test_crop_mode_leaves_the_border_mostly_out_of_view():
    """The published transform's border behaviour, which the mirrored view fixed: at 48 px,
    f = 0.9 and 3 degrees the outermost ring has about a sixth of the interior's weight and a
    corner is almost never in view."""
    crop_weight, crop_seen = weight_maps(48, 0.9, 3.0, draws=300, mode="crop")
    mirror_weight, _ = weight_maps(48, 0.9, 3.0, draws=300)
    assert float(ring(crop_weight, 0).mean()) < 0.3 < 0.98 < float(ring(mirror_weight, 0).mean())
    assert float(crop_seen[0, 0]) < 0.1 and float(crop_weight.min()) < 0.1
    interior = crop_weight[12:-12, 12:-12]
    assert abs(float(interior.mean()) - 1 / 0.9 ** 2) < 0.05  # zoomed in: a crop pixel fills 1 / f^2 of the view


def test_crop_mode_rotates_in_black_corners():
    shift = RandomShift(0.95, 5.0, torch.Generator().manual_seed(1), "crop")
    flat = torch.full((1, 3, 40, 40), 0.7)
    views = [shift(flat)[0] for _ in range(10)]
    assert any(float(v[..., 0, 0].max()) < 0.35 for v in views)  # kornia's rotate fills with zeros
    assert all(torch.allclose(v[..., 15:25, 15:25], flat[..., 15:25, 15:25], atol=1e-5) for v in views)


def test_crop_mode_moves_image_and_content_alike_and_is_seeded():
    a = torch.rand(1, 3, 30, 44, generator=torch.Generator().manual_seed(3))
    view_a, view_b = RandomShift(0.9, 3.0, torch.Generator().manual_seed(2), "crop")(a, a.clone())
    assert view_a.shape == a.shape and torch.equal(view_a, view_b)
    again, _ = RandomShift(0.9, 3.0, torch.Generator().manual_seed(2), "crop")(a, a.clone())
    assert torch.equal(view_a, again)
    with pytest.raises(ValueError, match="mirror, crop"):
        RandomShift(0.9, 3.0, torch.Generator(), "zoom")
