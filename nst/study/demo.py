"""Content images for the demo: two photographs that scikit-image ships (public domain / CC0,
see skimage.data), so the demo needs no download. Its styles are the public-domain paintings
committed in images/styles (provenance in images/styles/SOURCES.md)."""
from __future__ import annotations

from pathlib import Path

from PIL import Image

SIDE = 256


def content_photos() -> dict[str, Image.Image]:
    from skimage import data

    return {
        "astronaut": Image.fromarray(data.astronaut()).resize((SIDE, SIDE), Image.Resampling.LANCZOS),
        "chelsea": Image.fromarray(data.chelsea()).resize((SIDE * 451 // 300, SIDE), Image.Resampling.LANCZOS),
    }


def write_demo_images(folder: Path) -> list[Path]:
    """Write the content photographs into `folder` (existing files are kept: they may be the user's)."""
    written = []
    for name, img in content_photos().items():
        path = folder / f"{name}.png"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            img.save(path)
        written.append(path)
    return written
