"""Image folders: which files are images, their stems, and names the workflow can use.

Every image file in a folder is used; other files (READMEs, .DS_Store, ...) are ignored, and
entries named like images that are not files (a dangling link, a link loop, a folder) are
skipped with a note. A stem becomes a path component and a Snakemake wildcard value, so it is
kept to a safe alphabet (nst/study/plan/names.py) and refused, with the name to rename it to,
otherwise: every unusable name of a folder in one message.
"""
from __future__ import annotations

import errno
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ...contracts.image_files import float_white, image_header
from ...errors import ImageError
from .names import STEM_RULE, is_stem, suggested_stem

# Pillow reads more, but these are the image files people keep; anything else is ignored.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def rename_error(paths: list[Path], folder: Path) -> ImageError:
    """One error for every unusable file name of `folder`, each with a name to rename it to."""
    renames = ", ".join(f"{p.name!r} to {suggested_stem(p.stem) + p.suffix!r}" for p in paths)
    if len(paths) == 1:
        return ImageError(f"image file name {paths[0].name!r} in {str(folder)!r} cannot be used: {STEM_RULE}. "
                          f"Rename it, e.g. {renames}")
    return ImageError(f"{len(paths)} image file names in {str(folder)!r} cannot be used: {STEM_RULE}. "
                      f"Rename them, e.g. {renames}")


def skipped_because(path: Path) -> str | None:
    """Why an entry named like an image is not read as one (None: it is a file to use)."""
    if path.is_symlink():
        try:
            path.stat()
        except FileNotFoundError:
            return "a symbolic link to a missing file"
        except OSError as err:
            return "a symbolic link loop" if err.errno == errno.ELOOP else f"unreadable: {err.strerror}"
    if path.is_dir():
        return "a folder"
    return None if path.is_file() else "not a regular file"


def check_readable(path: Path) -> None:
    """Header check (cheap): the full decode happens in the run (a float image's values are
    checked here too: images.open_rgb scales them by their range)."""
    image_header(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                floats = img.mode == "F"
                img.verify()
            if floats:  # rare: decoded now, so that a float image no range fits stops planning
                with Image.open(path) as img:
                    values = np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"cannot read image {str(path)!r}: {err}") from None
    if floats:
        float_white(values, path)


def find_images(folder: str | Path, role: str, verify: bool = True, notes: list[str] | None = None) -> dict[str, str]:
    """{stem: path} of the image files in `folder` (not recursive), sorted by stem. Every
    unusable file name is reported at once; entries named like images that are not files
    (dangling links, link loops, folders) are skipped, with a line appended to `notes`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"{role} image folder {str(folder)!r} does not exist (config key images.{role})")
    named = [p for p in sorted(folder.iterdir())
             if not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS]
    skipped = {p.name: why for p in named if (why := skipped_because(p))}
    files = [p for p in named if p.name not in skipped]
    unusable = [p for p in files if not is_stem(p.stem)]
    if unusable:
        raise rename_error(unusable, folder)
    found: dict[str, Path] = {}
    for path in files:
        if path.stem in found:
            raise ImageError(
                f"two {role} images share the name {path.stem!r}: {found[path.stem].name!r} and "
                f"{path.name!r} in {str(folder)!r}; rename one (outputs are named by the stem)"
            )
        if verify:
            check_readable(path)
        found[path.stem] = path
    said = "skipped " + ", ".join(f"{name!r} ({why})" for name, why in skipped.items()) if skipped else ""
    if not found:
        raise ImageError(f"{role} image folder {str(folder)!r} has no image files "
                         f"(looked for {', '.join(IMAGE_EXTENSIONS)}){'; ' + said if said else ''}")
    if said and notes is not None:
        notes.append(f"{role} image folder {str(folder)!r}: {said}")
    return {stem: str(found[stem]) for stem in sorted(found)}
