"""What a run starts from at one size: its content image, its style images (one, or a blend),
the starting image, all in the colour space the run optimises in (nst/run/color.py)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..contracts.layers import LAYER_INDEX, min_side, standard_name
from ..contracts.params import RunParams
from ..errors import ImageError
from . import color
from .images import ImageInfo, load_image


@dataclass
class RunInputs:
    content: torch.Tensor          # what the objective compares with (luminance mode: grey)
    styles: list[torch.Tensor]     # one per style image, each at the style size
    start: torch.Tensor            # the starting image, at the content's size
    original_content: torch.Tensor  # as loaded: the chroma of luminance mode, the evaluation's
    original_styles: list[torch.Tensor]
    content_info: ImageInfo
    style_infos: list[ImageInfo]
    init_info: ImageInfo | None = None  # an init image file (init: PATH)


def check_fits(info: ImageInfo, layers) -> None:
    """ImageError unless the image reaches the deepest of `layers`: each 2x2 pool halves it, and
    a side shorter than 2**pools leaves nothing (torch would stop with an obscure RuntimeError)."""
    need = min_side(layers)
    if min(info.size) < need:
        deepest, pools = max(layers, key=LAYER_INDEX.__getitem__), need.bit_length() - 1
        raise ImageError(
            f"image {info.path!r} is {info.size[0]}x{info.size[1]} px after resizing, too small for "
            f"layer {standard_name(deepest)} ({pools} poolings need at least {need} px on each side): use a larger "
            f"size, resize=square, or shallower layers"
        )


def initial_image(params: RunParams, content, style_path, generator) -> tuple[torch.Tensor, ImageInfo | None]:
    """The starting image, at the content image's size (whatever the scale), before
    `init_noise` is mixed in, and the init image file's info (init: PATH; else None)."""
    if params.init == "content":
        return content.clone(), None
    if params.init == "noise":  # Gaussian, as the tutorial's torch.randn; clamped at step 1
        return torch.randn(content.shape, generator=generator), None
    if params.init == "zeros":
        return torch.zeros_like(content), None
    width, height = content.shape[-1], content.shape[-2]
    source = style_path if params.init == "style" else params.init
    image, info = load_image(source, params.size, params.resize, exact=(width, height))
    return image, (None if params.init == "style" else info)


def with_noise(params: RunParams, start: torch.Tensor, generator) -> torch.Tensor:
    """`init_noise` of seeded uniform noise in [0, 1] mixed into the start (none drawn at 0, so
    the generator's later draws, the shifts, are as without it)."""
    if params.init_noise == 0:
        return start
    noise = torch.rand(start.shape, generator=generator)
    return (1 - params.init_noise) * start + params.init_noise * noise


def upsampled(image: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A coarser scale's result at the next scale's size (bicubic, as a start image)."""
    return F.interpolate(image, size=like.shape[-2:], mode="bicubic", align_corners=False).clamp(0, 1)


def load_inputs(params: RunParams, content_path, style_paths: list, size: int, generator,
                needed_layers, previous: torch.Tensor | None = None) -> RunInputs:
    """The run's images at `size`. `previous`: a coarser scale's result, the start instead of
    `init`. ImageError for an image that cannot be used or is too small for `needed_layers`."""
    content, content_info = load_image(content_path, size, params.resize)
    loaded = [load_image(path, params.style_size(size), params.resize) for path in style_paths]
    styles, style_infos = [image for image, _ in loaded], [info for _, info in loaded]
    for info in (content_info, *style_infos):
        check_fits(info, needed_layers)
    run_content, run_styles = color.prepare(params.color, content, styles)
    init_info = None
    if previous is not None:
        start = upsampled(previous, content)
    else:
        start, init_info = initial_image(params, content, style_paths[0], generator)
        start = color.start_image(params.color, with_noise(params, start, generator))
    return RunInputs(run_content, run_styles, start, content, styles, content_info, style_infos, init_info)
