"""Image files as a run reads them, answered from the header without decoding and without
torch: whether a file is a usable image (exists, not a folder, not empty, readable, within the
pixel limit), the size a resize mode gives it, and how a float image's values read as a
picture. Planning and the run both ask."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import ImageError

# Largest source image accepted, in pixels: Pillow's own decompression-bomb threshold
# (89,478,485 px, about 9459 x 9459). Runs are at most 8192 x 8192 (67 MP), so no study needs
# a larger source, and a file whose header claims more is refused before it is decoded.
MAX_IMAGE_PIXELS = 89_478_485


def image_header(path: str | Path) -> tuple[int, int]:
    """(width, height) from the header of an image file (nothing decoded). ImageError, naming
    the file, for a missing, empty or unreadable file, a folder, or more than MAX_IMAGE_PIXELS."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{str(path)!r} is a folder, not an image file")
    if not path.is_file():
        raise ImageError(f"image file {str(path)!r} does not exist")
    if path.stat().st_size == 0:
        raise ImageError(f"image file {str(path)!r} is empty")
    try:
        with warnings.catch_warnings():  # our own limit below replaces Pillow's warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                size = img.size
    except Image.DecompressionBombError:  # Pillow refuses on its own far above the limit
        raise ImageError(too_large_message(path, None)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"cannot read image {str(path)!r}: {err}") from None
    if size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise ImageError(too_large_message(path, size))
    return size


def float_white(values, path: str | Path) -> float:
    """The value that is white in a float image (Pillow's mode F, e.g. a 32-bit float TIFF):
    1.0 when every value lies in [0, 1], the convention of float images, and 255.0 when they
    lie in [0, 255] (8-bit steps stored as floats). Any other range (negative values, over 255,
    NaN, infinity: HDR or measurement data) has no one reading as a picture: ImageError naming
    the file."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == values.size and values.size and finite.min() >= 0:
        if finite.max() <= 1:
            return 1.0
        if finite.max() <= 255:
            return 255.0
    found = f"values from {finite.min():g} to {finite.max():g}" if finite.size else "no finite value"
    odd = " and NaN or infinite values" if finite.size != values.size and finite.size else ""
    raise ImageError(f"float image {str(path)!r} holds {found}{odd}; a float image must hold 0..1 (or 0..255), "
                     "with no NaN or infinity. Convert it to an 8- or 16-bit image first")


def too_large_message(path: Path, size: tuple[int, int] | None) -> str:
    claimed = f"{size[0]}x{size[1]} px" if size else f"over {2 * MAX_IMAGE_PIXELS:,} px"
    return (f"image {str(path)!r} is too large: its header says {claimed}; the limit is "
            f"{MAX_IMAGE_PIXELS:,} px (Pillow's decompression-bomb threshold, above any run's "
            f"8192 x 8192). Shrink it first (e.g. with ImageMagick or Pillow)")


def target_size(width: int, height: int, size: int, resize: str) -> tuple[int, int]:
    """(width, height) for a resize mode: a size x size square, or the long side = size."""
    if resize == "square":
        return size, size
    scale = size / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))
