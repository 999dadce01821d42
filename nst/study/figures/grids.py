"""Labelled image grids (Pillow): rows x columns of equal cells, each an image with a caption,
row labels on the left, column labels on top, a title, an optional warning banner (`note`) and
a flag drawn over a cell.

`labelled_grid` measures first (`measure_grid`: the text wrapped to the cells and the pixel
layout, a `GridGeometry`) and then draws (`draw_grid`). Nothing here knows about studies; the
study's grids are in nst/study/figures/run_grids.py. The PNG is written under a temporary name and renamed
into place.
"""
from __future__ import annotations

import numbers
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from PIL import Image, ImageDraw, ImageFont

from ...errors import InputError
from ...files import atomic_path

MAX_CELL = 256          # default cells are the first image scaled to at most this ...
MIN_CELL = 128          # ... and at least this (tiny test/demo images stay readable)
BACKGROUND = (255, 255, 255)
LETTERBOX = (232, 232, 232)
TEXT = (20, 20, 20)
NOTE_FILL = (190, 20, 20)
FLAG_COLORS = {"DIVERGED": (200, 0, 0), "SELECTED": (0, 140, 0)}
OTHER_FLAG = (220, 110, 0)
PAD = 4                 # between text and the edge of its box
GAP = 6                 # between cells

Cell = tuple  # (image path or None, caption, flag or None)


# --- geometry ------------------------------------------------------------------------------
@dataclass(frozen=True)
class GridGeometry:
    """Pixel layout of a labelled grid. The image area is n_rows x n_cols equal cells, each a
    cell_w x cell_h image box with a caption strip of caption_h under it, `gap` apart."""
    n_rows: int
    n_cols: int
    cell_w: int
    cell_h: int
    caption_h: int = 0
    row_label_w: int = 0
    col_label_h: int = 0
    title_h: int = 0
    note_h: int = 0
    gap: int = GAP

    @property
    def left(self) -> int:
        return self.row_label_w + self.gap

    @property
    def top(self) -> int:
        return self.title_h + self.note_h + self.col_label_h + self.gap

    @property
    def pitch_x(self) -> int:
        return self.cell_w + self.gap

    @property
    def pitch_y(self) -> int:
        return self.cell_h + self.caption_h + self.gap

    @property
    def width(self) -> int:
        return self.left + self.n_cols * self.pitch_x

    @property
    def height(self) -> int:
        return self.top + self.n_rows * self.pitch_y

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def cell_box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the image box of cell (row, col), x1/y1 exclusive."""
        if not (0 <= row < self.n_rows and 0 <= col < self.n_cols):
            raise IndexError(f"cell ({row}, {col}) outside a {self.n_rows} x {self.n_cols} grid")
        x0 = self.left + col * self.pitch_x
        y0 = self.top + row * self.pitch_y
        return x0, y0, x0 + self.cell_w, y0 + self.cell_h

    def caption_box(self, row: int, col: int) -> tuple[int, int, int, int]:
        x0, _, x1, y1 = self.cell_box(row, col)
        return x0, y1, x1, y1 + self.caption_h


def grid_geometry(n_rows: int, n_cols: int, cell_w: int, cell_h: int, *, caption_h: int = 0,
                  row_label_w: int = 0, col_label_h: int = 0, title_h: int = 0,
                  note_h: int = 0, gap: int = GAP) -> GridGeometry:
    """A checked GridGeometry; ValueError for no rows or columns or a cell without area."""
    if n_rows < 1 or n_cols < 1:
        raise ValueError(f"a grid needs at least one row and one column, not {n_rows} x {n_cols}")
    if cell_w < 1 or cell_h < 1:
        raise ValueError(f"cell size must be positive, not {cell_w} x {cell_h}")
    return GridGeometry(n_rows, n_cols, int(cell_w), int(cell_h), int(caption_h),
                        int(row_label_w), int(col_label_h), int(title_h), int(note_h), int(gap))


# --- text ----------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def sized_font(px: int):
    """Pillow's default font at `px` pixels (its fixed bitmap font where it cannot scale)."""
    try:
        return ImageFont.load_default(size=px)  # Pillow >= 10.1 with FreeType
    except (TypeError, AttributeError, OSError, ImportError):
        return ImageFont.load_default()


def text_width(font, text: str) -> float:
    if hasattr(font, "getlength"):
        return font.getlength(text)
    box = font.getbbox(text)
    return box[2] - box[0]


def _line_h(font) -> int:
    if hasattr(font, "getmetrics"):
        ascent, descent = font.getmetrics()
        return ascent + descent + 2
    box = font.getbbox("Ag")
    return box[3] - box[1] + 4


def wrap_text(text: str, font, width: float, max_lines: int) -> list[str]:
    """Greedy wrap after spaces, commas, slashes, "=" and "+" (characters as a last resort); at most
    max_lines lines, the last one ending in '...' when text was cut."""
    if not text:
        return []
    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        tokens = [t for t in re.split(r"(?<=[ ,/=+])", paragraph) if t]
        line = ""
        for token in tokens:
            if text_width(font, (line + token).rstrip()) <= width or not line.strip():
                line += token
            else:
                lines.append(line.rstrip())
                line = token.lstrip()
            while text_width(font, line.rstrip()) > width and len(line) > 1:  # one long token
                cut = len(line) - 1
                while cut > 1 and text_width(font, line[:cut]) > width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and text_width(font, last + "...") > width:
            last = last[:-1]
        lines = lines[:max_lines - 1] + [last + "..."]
    return lines


def _draw_lines(draw: ImageDraw.ImageDraw, lines: list[str], font, box, fill=TEXT,
                align: str = "center", valign: str = "top") -> None:
    x0, y0, x1, y1 = box
    lh = _line_h(font)
    total = lh * len(lines)
    y = y0 if valign == "top" else (y0 + (y1 - y0 - total) // 2 if valign == "middle"
                                    else y1 - total)
    for line in lines:
        w = text_width(font, line)
        x = x0 if align == "left" else (x1 - w if align == "right" else x0 + (x1 - x0 - w) / 2)
        draw.text((x, y), line, font=font, fill=fill)
        y += lh


def _flag_color(flag: str) -> tuple[int, int, int]:
    for word, color in FLAG_COLORS.items():
        if word in flag.upper():
            return color
    return OTHER_FLAG


# --- cells ---------------------------------------------------------------------------------
def _normalise_cells(cells) -> list[list]:
    """Rows of (path, caption, flag) triples, a None cell as a blank one; ValueError for no
    cells, ragged rows or a cell of another shape."""
    rows = [list(r) for r in cells]
    if not rows or not rows[0]:
        raise ValueError("labelled_grid needs at least one row and one column of cells")
    n_cols = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != n_cols:
            raise ValueError(f"labelled_grid: row {i} has {len(row)} cells, row 0 has {n_cols}")
        for j, cell in enumerate(row):
            if cell is None:
                row[j] = (None, "", None)
            else:
                cell = tuple(cell)
                if not 1 <= len(cell) <= 3:
                    raise ValueError(f"labelled_grid: cell ({i}, {j}) must be "
                                     "(path, caption, flag)")
                row[j] = (cell + (None, None))[:3] if len(cell) < 3 else cell
    return rows


def _check_labels(rows: list[list], row_labels, col_labels) -> None:
    if row_labels is not None and len(row_labels) != len(rows):
        raise ValueError(f"labelled_grid: {len(row_labels)} row labels for {len(rows)} rows")
    if col_labels is not None and len(col_labels) != len(rows[0]):
        raise ValueError(f"labelled_grid: {len(col_labels)} column labels for {len(rows[0])} columns")


def _cell_size(rows: list[list], cell_px: int | tuple[int, int] | None) -> tuple[int, int]:
    """(width, height) of a cell: cell_px (an int: square), or by default the first image
    scaled so that its long side is between MIN_CELL and MAX_CELL."""
    if cell_px is None:
        return _default_cell_size(rows)
    if isinstance(cell_px, numbers.Integral):
        return int(cell_px), int(cell_px)
    cell_w, cell_h = (int(v) for v in cell_px)
    return cell_w, cell_h


def _default_cell_size(cells: list[list]) -> tuple[int, int]:
    for row in cells:
        for cell in row:
            if cell and cell[0] is not None:
                with Image.open(cell[0]) as img:
                    w, h = img.size
                scale = min(1.0, MAX_CELL / max(w, h))
                if max(w, h) * scale < MIN_CELL:
                    scale = MIN_CELL / max(w, h)
                return max(1, round(w * scale)), max(1, round(h * scale))
    return MIN_CELL, MIN_CELL


def _fit(path, cell_w: int, cell_h: int) -> Image.Image:
    if not Path(path).is_file():
        raise InputError(f"grid image {str(path)!r} does not exist (was its run deleted? rerun snakemake)")
    with Image.open(path) as img:
        img = img.convert("RGB")
    scale = min(cell_w / img.width, cell_h / img.height)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    resample = Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.LANCZOS
    return img.resize(size, resample) if size != img.size else img


# --- measuring -----------------------------------------------------------------------------
@dataclass(frozen=True)
class GridText:
    """The text of a grid wrapped to its boxes, and the fonts it is drawn in."""
    font: Any  # captions, labels, flags
    big: Any  # title and note
    title: list[str]
    note: list[str]
    col_labels: list[list[str]]
    row_labels: list[list[str]]
    captions: list[list[list[str]]]  # per row, per cell


def _block_h(lines: list[list[str]], line_h: int) -> int:
    """Height of a strip holding the longest of several wrapped texts (0 when all are empty)."""
    n = max((len(t) for t in lines), default=0)
    return n * line_h + 2 * PAD if n else 0


def _row_label_w(labels: list[str], font, cell_w: int) -> int:
    """The widest line of the row labels, at most max(cell_w, 160), with padding (0: none)."""
    widest = max((text_width(font, part) for r in labels for part in r.split("\n")), default=0)
    return int(min(widest, max(cell_w, 160))) + 2 * PAD if widest else 0


def measure_grid(rows: list[list], row_labels: Sequence[str] | None, col_labels: Sequence[str] | None,
                 title: str, note: str | None, cell_w: int, cell_h: int,
                 caption_lines: int = 3) -> tuple[GridGeometry, GridText]:
    """The layout of a grid of normalised `rows` ((path, caption, flag) cells) at a cell size:
    the text wrapped to fit (captions to `caption_lines` lines) and the geometry it needs."""
    fs = max(10, min(16, round(min(cell_w, cell_h) / 12)))
    font, big = sized_font(fs), sized_font(fs + 5)
    lh, big_lh = _line_h(font), _line_h(big)
    captions = [[wrap_text(c[1] or "", font, cell_w - 2 * PAD, caption_lines) for c in r] for r in rows]
    cols = [wrap_text(str(c or ""), font, cell_w - 2 * PAD, 3) for c in (col_labels or [])]
    labels = [str(r or "") for r in (row_labels or [])]
    row_label_w = _row_label_w(labels, font, cell_w)
    caption_h = _block_h([c for r in captions for c in r], lh)
    row_lines = [wrap_text(r, font, row_label_w - 2 * PAD, max(1, (cell_h + caption_h) // lh))
                 for r in labels]
    width = grid_geometry(len(rows), len(rows[0]), cell_w, cell_h, row_label_w=row_label_w).width
    title_lines = wrap_text(title or "", big, width - 2 * PAD, 6)
    note_lines = wrap_text(note or "", big, width - 2 * PAD, 3)
    geo = grid_geometry(len(rows), len(rows[0]), cell_w, cell_h, caption_h=caption_h,
                        row_label_w=row_label_w, col_label_h=_block_h(cols, lh),
                        title_h=_block_h([title_lines], big_lh), note_h=_block_h([note_lines], big_lh))
    return geo, GridText(font, big, title_lines, note_lines, cols, row_lines, captions)


# --- drawing -------------------------------------------------------------------------------
def draw_grid(rows: list[list], geo: GridGeometry, text: GridText) -> Image.Image:
    """The grid measured by measure_grid, drawn."""
    canvas = Image.new("RGB", geo.size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    _draw_title_and_note(draw, geo, text)
    _draw_labels(draw, geo, text)
    for i, row in enumerate(rows):
        for j, (path, _caption, flag) in enumerate(row):
            x0, y0, x1, y1 = geo.cell_box(i, j)
            if path is not None:
                draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=LETTERBOX)
                img = _fit(path, geo.cell_w, geo.cell_h)
                canvas.paste(img, (x0 + (geo.cell_w - img.width) // 2, y0 + (geo.cell_h - img.height) // 2))
            if text.captions[i][j]:
                cx0, cy0, cx1, cy1 = geo.caption_box(i, j)
                _draw_lines(draw, text.captions[i][j], text.font, (cx0 + PAD, cy0 + PAD, cx1 - PAD, cy1))
            if flag:
                _draw_flag(draw, geo, (x0, y0, x1, y1), str(flag), text.font)
    return canvas


def _draw_title_and_note(draw: ImageDraw.ImageDraw, geo: GridGeometry, text: GridText) -> None:
    if text.title:
        _draw_lines(draw, text.title, text.big, (PAD, PAD, geo.width - PAD, geo.title_h), align="left")
    if text.note:
        top, bottom = geo.title_h, geo.title_h + geo.note_h
        draw.rectangle((0, top, geo.width - 1, bottom - 1), fill=NOTE_FILL)
        _draw_lines(draw, text.note, text.big, (PAD, top, geo.width - PAD, bottom),
                    fill=(255, 255, 255), valign="middle")


def _draw_labels(draw: ImageDraw.ImageDraw, geo: GridGeometry, text: GridText) -> None:
    for j, lines in enumerate(text.col_labels):
        x0, y0, x1, _ = geo.cell_box(0, j)
        _draw_lines(draw, lines, text.font, (x0, y0 - geo.gap - geo.col_label_h, x1, y0 - geo.gap - PAD),
                    valign="bottom")
    for i, lines in enumerate(text.row_labels):
        _, y0, _, y1 = geo.cell_box(i, 0)
        _draw_lines(draw, lines, text.font, (PAD, y0, geo.row_label_w - PAD, y1), align="left",
                    valign="middle")


def _draw_flag(draw: ImageDraw.ImageDraw, geo: GridGeometry, box: tuple[int, int, int, int],
               flag: str, font) -> None:
    """A border in the flag's colour and a band across the middle of the image with its word."""
    x0, y0, x1, y1 = box
    color = _flag_color(flag)
    border = max(2, min(geo.cell_w, geo.cell_h) // 48)
    draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=color, width=border)
    lines = wrap_text(flag, font, geo.cell_w - 2 * PAD, 2)
    band = len(lines) * _line_h(font) + 2 * PAD
    by0 = y0 + (geo.cell_h - band) // 2
    draw.rectangle((x0, by0, x1 - 1, by0 + band - 1), fill=color)
    _draw_lines(draw, lines, font, (x0 + PAD, by0 + PAD, x1 - PAD, by0 + band), fill=(255, 255, 255))


# --- the grid ------------------------------------------------------------------------------
def save_image_atomic(image: Image.Image, out_path) -> Path:
    with atomic_path(out_path) as tmp:
        image.save(tmp, format="PNG")
    return Path(out_path)


def labelled_grid(cells: Sequence[Sequence[Cell | None]], row_labels: Sequence[str] | None,
                  col_labels: Sequence[str] | None, title: str, out_path,
                  note: str | None = None, cell_px: int | tuple[int, int] | None = None,
                  caption_lines: int = 3) -> GridGeometry:
    """Draw a labelled grid of images to `out_path` (PNG) and return its geometry.

    cells: rows of (image path or None, caption, flag or None); a None cell or path is blank.
    row_labels / col_labels: one per row / column, or None for none. cell_px: cell size (int =
    square, or (w, h)); default the first image's size scaled so its long side is between
    MIN_CELL and MAX_CELL. Images are fitted into cells keeping aspect. Raises ValueError for
    ragged rows or label counts that do not fit, FileNotFoundError for a missing image.
    """
    rows = _normalise_cells(cells)
    _check_labels(rows, row_labels, col_labels)
    cell_w, cell_h = _cell_size(rows, cell_px)
    geo, text = measure_grid(rows, row_labels, col_labels, title, note, cell_w, cell_h, caption_lines)
    save_image_atomic(draw_grid(rows, geo, text), out_path)
    return geo
