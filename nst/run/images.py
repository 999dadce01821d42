"""Reading, sizing and writing images.

Any file Pillow can read; EXIF orientation applied; every mode converted to RGB (transparent
pixels composited on white, which is recorded; 16-bit and float images scaled by their range);
sized per the resize mode.
"""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..contracts.image_files import float_white, image_header, target_size
from ..errors import ImageError
from ..files import atomic_path

@dataclass(frozen=True)
class ImageInfo:
    path: str
    mode: str
    original_size: tuple[int, int]  # (width, height) after EXIF orientation
    size: tuple[int, int]
    alpha_composited_on_white: bool
    sha256: str | None = None  # of the file's bytes, as decoded: the run's record of what it was made from

    def to_dict(self) -> dict:
        return {
            "path": self.path, "mode": self.mode, "original_size": list(self.original_size),
            "size": list(self.size), "alpha_composited_on_white": self.alpha_composited_on_white,
            "sha256": self.sha256,
        }


def open_rgb(path: str | os.PathLike, digest: list | None = None) -> tuple[Image.Image, str, bool]:
    """Open `path` as an RGB Pillow image; returns (image, original mode, alpha composited).
    The file is read once: `digest`, if given, gets the sha256 of the very bytes decoded."""
    path = Path(path)
    image_header(path)  # exists, not a folder, not empty, within the pixel limit
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"cannot read image {str(path)!r}: {err}") from None
    if img.width == 0 or img.height == 0:
        raise ImageError(f"image {str(path)!r} has zero size")
    if digest is not None:
        digest.append(hashlib.sha256(data).hexdigest())
    mode = img.mode
    if mode == "F":  # 32-bit float: 0..1 (or 0..255) to 8 bits, as the 16-bit modes below
        grey = np.asarray(img, dtype=np.float64) / float_white(np.asarray(img), path) * 255.0
        img = Image.fromarray(np.clip(grey + 0.5, 0, 255).astype(np.uint8), "L")
    rgb, composited = to_rgb(img)
    return rgb, mode, composited


def to_rgb(img: Image.Image) -> tuple[Image.Image, bool]:
    """Convert any Pillow mode to RGB; transparency is composited on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit greyscale: scale the full range down to 8 bits before conversion
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB"), True
    return img.convert("RGB"), False


def load_image(path, size: int, resize: str, exact: tuple[int, int] | None = None):
    """Load `path` as a 1x3xHxW float tensor in [0, 1]; `exact` forces (width, height)."""
    digest: list[str] = []
    img, mode, composited = open_rgb(path, digest)
    dims = exact or target_size(img.width, img.height, size, resize)
    resized = img.resize(dims, Image.Resampling.LANCZOS) if dims != img.size else img
    info = ImageInfo(str(path), mode, img.size, dims, composited, digest[0])
    return pil_to_tensor(resized), info


# The two conversions below are what torchvision's to_tensor / to_pil_image do; written out
# because importing torchvision costs a job about a second of start-up (it pulls torch._dynamo),
# and a sweep pays start-up once per run (see BENCHMARKS.md).
def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB Pillow image -> 1x3xHxW float tensor in [0, 1]."""
    arr = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous().unsqueeze(0).float().div_(255.0)


def tensor_to_pil(image: torch.Tensor) -> Image.Image:
    """1x3xHxW (or 3xHxW) in [0, 1] -> 8-bit RGB Pillow image (truncating, as to_pil_image)."""
    arr = image.detach().float().cpu().clamp(0, 1).squeeze(0).mul(255).byte().permute(1, 2, 0).numpy()
    return Image.fromarray(arr, "RGB")


def save_png(image: torch.Tensor | Image.Image, path: str | os.PathLike) -> None:
    """Write a PNG atomically: a temporary name in the same folder, then rename."""
    pil = image if isinstance(image, Image.Image) else tensor_to_pil(image)
    with atomic_path(path) as tmp:
        pil.save(tmp, format="PNG")
