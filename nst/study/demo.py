"""Content images for the demo: two photographs that scikit-image ships (public domain / CC0,
see skimage.data), so the demo needs no download. Its styles are the public-domain paintings
committed in images/styles (provenance in images/styles/SOURCES.md)."""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from ..files import atomic_path

SIDE = 256


def content_photos() -> dict[str, Image.Image]:
    from skimage import data

    return {
        "astronaut": Image.fromarray(data.astronaut()).resize((SIDE, SIDE), Image.Resampling.LANCZOS),
        "chelsea": Image.fromarray(data.chelsea()).resize((SIDE * 451 // 300, SIDE), Image.Resampling.LANCZOS),
    }


def write_demo_images(folder: Path) -> list[Path]:
    """Write the content photographs into `folder` (existing files are kept: they may be the
    user's); returns their paths. Raises OutputError if the folder cannot be written."""
    written = []
    for name, img in content_photos().items():
        path = folder / f"{name}.png"
        if not path.exists():
            with atomic_path(path) as tmp:  # creates the folder; a write failure names the path
                img.save(tmp, format="PNG")
        written.append(path)
    return written
