"""Image folders: which files are images, their stems, and names the workflow can use.

Every image file in a folder is used; other files (READMEs, .DS_Store, ...) are ignored. A stem
becomes a path component and a Snakemake wildcard value, so it is kept to a safe alphabet and
refused, with the name to rename it to, otherwise.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..errors import ImageError
from ..run.image_files import image_header
from .names import STEM_RULE, is_stem, suggested_stem

# Pillow reads more, but these are the image files people keep; anything else is ignored.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def check_stem(path: Path) -> None:
    if is_stem(path.stem):
        return
    new = suggested_stem(path.stem) + path.suffix
    raise ImageError(f"image file name {path.name!r} in {str(path.parent)!r} cannot be used: {STEM_RULE}. "
                     f"Rename it, e.g. to {new!r}")


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
