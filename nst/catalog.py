"""Image folders: which files are images, their stems, and names the workflow can use.

Every image file in a folder is used; other files (READMEs, .DS_Store, ...) are ignored. A stem
becomes a path component and a Snakemake wildcard value, so it is kept to a safe alphabet and
refused, with the name to rename it to, otherwise.
"""
from __future__ import annotations

import re
import unicodedata
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .errors import ImageError

# Pillow reads more, but these are the image files people keep; anything else is ignored.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

# Largest source image accepted, in pixels: Pillow's own decompression-bomb threshold
# (89,478,485 px, about 9459 x 9459). Runs are at most 8192 x 8192 (67 MP), so no study needs
# a larger source, and a file whose header claims more is refused before it is decoded.
MAX_IMAGE_PIXELS = 89_478_485

STEM_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def suggested_stem(stem: str) -> str:
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_stem)
    safe = re.sub(r"_{2,}", "_", safe).strip("._-")
    return safe or "image"


def check_stem(path: Path) -> None:
    stem = path.stem
    if STEM_PATTERN.match(stem) and "__" not in stem:
        return
    new = suggested_stem(stem) + path.suffix
    raise ImageError(
        f"image file name {path.name!r} in {str(path.parent)!r} cannot be used: names may contain "
        f"only ASCII letters, digits, '.', '_' and '-' (no spaces, no '__', not starting with "
        f"a dot or dash). Rename it, e.g. to {new!r}"
    )


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


def too_large_message(path: Path, size: tuple[int, int] | None) -> str:
    claimed = f"{size[0]}x{size[1]} px" if size else f"over {2 * MAX_IMAGE_PIXELS:,} px"
    return (f"image {str(path)!r} is too large: its header says {claimed}; the limit is "
            f"{MAX_IMAGE_PIXELS:,} px (Pillow's decompression-bomb threshold, above any run's "
            f"8192 x 8192). Shrink it first (e.g. with ImageMagick or Pillow)")


def check_readable(path: Path) -> None:
    """Header check (cheap): the full decode happens in the run."""
    image_header(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"cannot read image {str(path)!r}: {err}") from None


def target_size(width: int, height: int, size: int, resize: str) -> tuple[int, int]:
    """(width, height) for a resize mode: a size x size square, or the long side = size."""
    if resize == "square":
        return size, size
    scale = size / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def find_images(folder: str | Path, role: str, verify: bool = True) -> dict[str, str]:
    """{stem: path} of the image files in `folder` (not recursive), sorted by stem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"{role} image folder {str(folder)!r} does not exist (config key images.{role})")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        check_stem(path)
        if path.stem in found:
            raise ImageError(
                f"two {role} images share the name {path.stem!r}: {found[path.stem].name!r} and "
                f"{path.name!r} in {str(folder)!r}; rename one (outputs are named by the stem)"
            )
        if verify:
            check_readable(path)
        found[path.stem] = path
    if not found:
        raise ImageError(
            f"{role} image folder {str(folder)!r} has no image files "
            f"(looked for {', '.join(IMAGE_EXTENSIONS)})"
        )
    return {stem: str(found[stem]) for stem in sorted(found)}
