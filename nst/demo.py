"""Images for the demo: two photographs that scikit-image ships (public domain / CC0, see
skimage.data) as content, and two style images generated here, so the demo needs no download."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIDE = 256


def mosaic_style(side: int = SIDE, seed: int = 7) -> Image.Image:
    """Flat polygons in bold colours with dark edges: a cubist-like texture."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, side, size=(40, 2))
    palette = np.array([[214, 69, 65], [241, 196, 15], [41, 128, 185], [39, 174, 96],
                        [236, 240, 241], [142, 68, 173], [230, 126, 34]])
    yy, xx = np.mgrid[0:side, 0:side]
    dist = (xx[..., None] - points[:, 0]) ** 2 + (yy[..., None] - points[:, 1]) ** 2
    cell = dist.argmin(axis=2)
    colors = palette[rng.integers(0, len(palette), size=len(points))]
    img = Image.fromarray(colors[cell].astype(np.uint8), "RGB")
    edges = Image.fromarray(((np.diff(cell, axis=0, prepend=cell[:1]) != 0)
                             | (np.diff(cell, axis=1, prepend=cell[:, :1]) != 0)).astype(np.uint8) * 255)
    edges = edges.filter(ImageFilter.MaxFilter(3))
    img.paste((25, 25, 35), mask=edges)
    return img


def waves_style(side: int = SIDE, seed: int = 3) -> Image.Image:
    """Swirling brush-like strokes of colour: an impressionist-like texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / side * 2 * np.pi
    field = np.sin(3 * xx + 2 * np.sin(2 * yy)) + np.cos(4 * yy + 1.5 * np.sin(3 * xx))
    rgb = np.stack([
        0.5 + 0.5 * np.sin(field * 1.7 + 0.0),
        0.5 + 0.5 * np.sin(field * 1.7 + 2.1),
        0.5 + 0.5 * np.sin(field * 1.7 + 4.2),
    ], axis=-1)
    img = Image.fromarray((rgb * 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(300):  # short strokes on top, as dabs of paint
        x, y = rng.uniform(0, side, 2)
        angle = rng.uniform(0, np.pi)
        length = rng.uniform(6, 18)
        color = tuple(int(c) for c in rng.integers(40, 255, 3))
        draw.line([(x, y), (x + length * np.cos(angle), y + length * np.sin(angle))], fill=color, width=3)
    return img.filter(ImageFilter.SMOOTH)


def content_photos() -> dict[str, Image.Image]:
    from skimage import data

    return {
        "astronaut": Image.fromarray(data.astronaut()).resize((SIDE, SIDE), Image.Resampling.LANCZOS),
        "chelsea": Image.fromarray(data.chelsea()).resize((SIDE * 451 // 300, SIDE), Image.Resampling.LANCZOS),
    }


def write_demo_images(folder: Path) -> list[Path]:
    """Write content/ and style/ under `folder` (existing files are kept: they may be the user's)."""
    images = {
        **{f"content/{name}.png": img for name, img in content_photos().items()},
        "style/mosaic.png": mosaic_style(),
        "style/waves.png": waves_style(),
    }
    written = []
    for rel, img in images.items():
        path = folder / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            img.save(path)
        written.append(path)
    return written
