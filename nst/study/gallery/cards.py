"""One run's gallery card, made by its own job from the finished run folder (so a page build
never touches an image or a history): the thumbnail and the loss curve the detail view draws.

    thumb.webp   the run's image.png, its longest side at most THUMB_SIDE px (never enlarged)
    curve.js     the weighted total, content and style losses (and tv when the run has it) of
                 history.csv, at most CURVE_POINTS iterations (evenly spaced, the first and
                 the last kept), non-finite values as null; a multi-scale run's stage sizes.

curve.js is a script, not JSON: a page opened from file:// may not fetch() files, but it may
load a script, which files the curve under the run's key in the global NST_CURVES.
Pillow and the csv module only (this runs once per run: no pandas, no torch).
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ...contracts import layout
from ...contracts.cells import finite_float
from ...errors import InputError
from ...files import atomic_path, write_text

THUMB_SIDE = 256  # px: a card is about 200 px wide; 256 stays sharp at 1.25x zoom
THUMB_QUALITY = 82  # WebP quality: about 10 KB for a 256 px painting-like image
CURVE_POINTS = 300  # the detail view's chart is about 600 px wide: 2 px per point
CURVE_COLUMNS = ("total", "content", "style", "tv")  # the weighted losses, as history.csv names them


def write_thumbnail(image_path: str | os.PathLike, out_path: str | os.PathLike, side: int = THUMB_SIDE) -> Path:
    """A WebP thumbnail of `image_path`; InputError naming the file if it cannot be read."""
    try:
        with Image.open(image_path) as img:
            thumb = img.convert("RGB")
    except (OSError, UnidentifiedImageError) as err:
        raise InputError(f"run image {str(image_path)!r} cannot be read: {err}") from None
    thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
    with atomic_path(out_path) as tmp:
        thumb.save(tmp, format="WEBP", quality=THUMB_QUALITY, method=4)
    return Path(out_path)


def _number(text: str | None) -> float | None:
    """A history cell as a finite float rounded to 5 significant digits, else None."""
    value = finite_float(text)
    return None if value is None else float(f"{value:.5g}")


def sampled(count: int, limit: int = CURVE_POINTS) -> list[int]:
    """Row indices to keep of `count`: all of them up to `limit`, else `limit` evenly spaced
    ones with the first and the last."""
    if count <= limit:
        return list(range(count))
    step = (count - 1) / (limit - 1)
    return sorted({round(k * step) for k in range(limit)})


def read_curve(history_path: str | os.PathLike, limit: int = CURVE_POINTS) -> dict:
    """{"iteration": [...], "total": [...], "content": [...], "style": [...], ["tv"],
    ["scale"], "rows": count}: the run's loss curve from its history.csv. InputError naming
    the file if it is missing or has no iteration column."""
    path = Path(history_path)
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as err:
        raise InputError(f"history {str(path)!r} cannot be read: {err.strerror or err}") from None
    if rows and "iteration" not in rows[0]:
        raise InputError(f"history {str(path)!r} has no iteration column")
    keep = [rows[i] for i in sampled(len(rows), limit)]
    curve: dict = {"rows": len(rows), "iteration": [int(float(r["iteration"])) for r in keep]}
    for column in CURVE_COLUMNS:
        if keep and column in keep[0]:
            curve[column] = [_number(r[column]) for r in keep]
    if keep and "scale" in keep[0]:
        curve["scale"] = [int(float(r["scale"])) if _number(r["scale"]) is not None else None for r in keep]
    return curve


def curve_script(key: str, curve: dict) -> str:
    """curve.js's text: files `curve` under `key` (CONTENT/STYLE/RUN_ID) in window.NST_CURVES."""
    return (f"(window.NST_CURVES = window.NST_CURVES || {{}})[{json.dumps(key)}] = "
            f"{json.dumps(curve, separators=(',', ':'))};\n")


def write_card(run_folder: str | os.PathLike, key: str, thumb_path: str | os.PathLike,
               curve_path: str | os.PathLike) -> None:
    """The card of the run in `run_folder` (named `key`): its thumbnail and its curve.js."""
    folder = Path(run_folder)
    write_thumbnail(folder / layout.IMAGE, thumb_path)
    write_text(curve_path, curve_script(key, read_curve(folder / layout.HISTORY)))
