"""Figures of a study: labelled image grids (Pillow) and charts (matplotlib, Agg canvas).

Nothing here imports torch or snakemake. Every file is written under a temporary name and
renamed into place.

- `labelled_grid`: rows x columns of equal cells (image + caption), row labels on the left,
  column labels on top, a title, an optional warning banner (`note`), a flag drawn over a cell.
  Its layout is `grid_geometry(...)`, which it returns.
- `experiment_grid`: the output images of one experiment (rows = pairs, columns = trials; the
  content x style matrix for kind "pairs"; wrapped rows for many trials).
- `experiment_chart`: loss vs iterations (Fig. 6), sorted bars for layer subsets (Fig. 7), a
  content x style heat map (Figs. 13-14), grouped bars otherwise (Figs. 8-12, Tables 2-3).
- `results_array`: Fig. 19, Style | Content | Gatys et al. | Ours, one row per pair of Table 5.
- `selection_figure`: per tuned experiment, each pair's candidates by their style and content
  scores (the select evaluator's), the Pareto front joined, the selected run marked.

Scores shown are the main evaluator's (the first of the manifest's `evaluation`), named with its
settings in every title; a manifest without evaluators falls back on run.json's eval_total.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont

from .aggregate import (
    RANDOM_NOTE, AggregateError, evaluators, experiment_table, pairs_in_order, read_run, run_dir,
    selection_axes,
)
from ..run.evaluate import Evaluator, describe_select
from ..files import atomic_path

MAX_CELL = 256          # default cells are the first image scaled to at most this ...
MIN_CELL = 128          # ... and at least this (tiny test/demo images stay readable)
MAX_COLS = 8            # experiments with more trials per pair are wrapped onto several rows
BACKGROUND = (255, 255, 255)
LETTERBOX = (232, 232, 232)
TEXT = (20, 20, 20)
NOTE_FILL = (190, 20, 20)
FLAG_COLORS = {"DIVERGED": (200, 0, 0), "SELECTED": (0, 140, 0)}
OTHER_FLAG = (220, 110, 0)

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
    gap: int = 6

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
                  note_h: int = 0, gap: int = 6) -> GridGeometry:
    if n_rows < 1 or n_cols < 1:
        raise ValueError(f"a grid needs at least one row and one column, not {n_rows} x {n_cols}")
    if cell_w < 1 or cell_h < 1:
        raise ValueError(f"cell size must be positive, not {cell_w} x {cell_h}")
    return GridGeometry(n_rows, n_cols, int(cell_w), int(cell_h), int(caption_h),
                        int(row_label_w), int(col_label_h), int(title_h), int(note_h), int(gap))


# --- text ----------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _font(px: int):
    try:
        return ImageFont.load_default(size=px)  # Pillow >= 10.1 with FreeType
    except (TypeError, AttributeError, OSError, ImportError):
        return ImageFont.load_default()


def _text_w(font, text: str) -> float:
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


def _wrap(text: str, font, width: float, max_lines: int) -> list[str]:
    """Greedy wrap after spaces, commas, slashes, "=" and "+" (characters as a last resort); at most
    max_lines lines, the last one ending in '...' when text was cut."""
    if not text:
        return []
    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        tokens = [t for t in re.split(r"(?<=[ ,/=+])", paragraph) if t]
        line = ""
        for token in tokens:
            if _text_w(font, (line + token).rstrip()) <= width or not line.strip():
                line += token
            else:
                lines.append(line.rstrip())
                line = token.lstrip()
            while _text_w(font, line.rstrip()) > width and len(line) > 1:  # one long token
                cut = len(line) - 1
                while cut > 1 and _text_w(font, line[:cut]) > width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and _text_w(font, last + "...") > width:
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
        w = _text_w(font, line)
        x = x0 if align == "left" else (x1 - w if align == "right" else x0 + (x1 - x0 - w) / 2)
        draw.text((x, y), line, font=font, fill=fill)
        y += lh


def _flag_color(flag: str) -> tuple[int, int, int]:
    for word, color in FLAG_COLORS.items():
        if word in flag.upper():
            return color
    return OTHER_FLAG


# --- image grids ---------------------------------------------------------------------------
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
        raise FileNotFoundError(f"grid image {str(path)!r} does not exist")
    with Image.open(path) as img:
        img = img.convert("RGB")
    scale = min(cell_w / img.width, cell_h / img.height)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    resample = Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.LANCZOS
    return img.resize(size, resample) if size != img.size else img


def _normalise_cells(cells) -> list[list]:
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


def save_image_atomic(image: Image.Image, out_path) -> Path:
    with atomic_path(out_path) as tmp:
        image.save(tmp, format="PNG")
    return Path(out_path)


def labelled_grid(cells: Sequence[Sequence[Cell | None]], row_labels: Sequence[str] | None,
                  col_labels: Sequence[str] | None, title: str, out_path,
                  note: str | None = None, cell_px: int | tuple[int, int] | None = None,
                  caption_lines: int = 3) -> GridGeometry:
    """Draw a labelled grid of images to `out_path` (PNG) and return its geometry.

    cells: rows of (image path or None, caption, flag or None); a None path is a blank cell.
    cell_px: cell size (int = square, or (w, h)); default the first image's size scaled so its
    long side is between MIN_CELL and MAX_CELL. Images are fitted into cells keeping aspect.
    """
    rows = _normalise_cells(cells)
    n_rows, n_cols = len(rows), len(rows[0])
    if row_labels is not None and len(row_labels) != n_rows:
        raise ValueError(f"labelled_grid: {len(row_labels)} row labels for {n_rows} rows")
    if col_labels is not None and len(col_labels) != n_cols:
        raise ValueError(f"labelled_grid: {len(col_labels)} column labels for {n_cols} columns")
    if cell_px is None:
        cell_w, cell_h = _default_cell_size(rows)
    elif isinstance(cell_px, (int, np.integer)):
        cell_w = cell_h = int(cell_px)
    else:
        cell_w, cell_h = (int(v) for v in cell_px)

    fs = max(10, min(16, round(min(cell_w, cell_h) / 12)))
    font, big = _font(fs), _font(fs + 5)
    lh, big_lh = _line_h(font), _line_h(big)
    pad, gap = 4, 6

    captions = [[_wrap(c[1] or "", font, cell_w - 2 * pad, caption_lines) for c in r] for r in rows]
    n_cap = max((len(c) for r in captions for c in r), default=0)
    caption_h = n_cap * lh + 2 * pad if n_cap else 0

    cols = [_wrap(str(c or ""), font, cell_w - 2 * pad, 3) for c in (col_labels or [])]
    n_col_lines = max((len(c) for c in cols), default=0)
    col_label_h = n_col_lines * lh + 2 * pad if n_col_lines else 0

    labels = [str(r or "") for r in (row_labels or [])]
    widest = max((_text_w(font, part) for r in labels for part in r.split("\n")), default=0)
    row_label_w = 0
    if widest:
        row_label_w = int(min(widest, max(cell_w, 160))) + 2 * pad
    row_lines = [_wrap(r, font, row_label_w - 2 * pad, max(1, (cell_h + caption_h) // lh))
                 for r in labels]

    width = grid_geometry(n_rows, n_cols, cell_w, cell_h, row_label_w=row_label_w, gap=gap).width
    title_lines = _wrap(title or "", big, width - 2 * pad, 6)
    title_h = len(title_lines) * big_lh + 2 * pad if title_lines else 0
    note_lines = _wrap(note or "", big, width - 2 * pad, 3)
    note_h = len(note_lines) * big_lh + 2 * pad if note_lines else 0
    geo = grid_geometry(n_rows, n_cols, cell_w, cell_h, caption_h=caption_h,
                        row_label_w=row_label_w, col_label_h=col_label_h, title_h=title_h,
                        note_h=note_h, gap=gap)

    canvas = Image.new("RGB", geo.size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    if title_lines:
        _draw_lines(draw, title_lines, big, (pad, pad, geo.width - pad, title_h), align="left")
    if note_lines:
        draw.rectangle((0, title_h, geo.width - 1, title_h + note_h - 1), fill=NOTE_FILL)
        _draw_lines(draw, note_lines, big, (pad, title_h, geo.width - pad, title_h + note_h),
                    fill=(255, 255, 255), valign="middle")
    for j, lines in enumerate(cols):
        x0, y0, x1, _ = geo.cell_box(0, j)
        _draw_lines(draw, lines, font, (x0, y0 - gap - col_label_h, x1, y0 - gap - pad),
                    valign="bottom")
    for i, lines in enumerate(row_lines):
        _, y0, _, y1 = geo.cell_box(i, 0)
        _draw_lines(draw, lines, font, (pad, y0, row_label_w - pad, y1), align="left",
                    valign="middle")
    for i, row in enumerate(rows):
        for j, (path, _caption, flag) in enumerate(row):
            x0, y0, x1, y1 = geo.cell_box(i, j)
            if path is not None:
                draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=LETTERBOX)
                img = _fit(path, cell_w, cell_h)
                canvas.paste(img, (x0 + (cell_w - img.width) // 2, y0 + (cell_h - img.height) // 2))
            if captions[i][j]:
                cx0, cy0, cx1, cy1 = geo.caption_box(i, j)
                _draw_lines(draw, captions[i][j], font, (cx0 + pad, cy0 + pad, cx1 - pad, cy1))
            if flag:
                color = _flag_color(flag)
                border = max(2, min(cell_w, cell_h) // 48)
                draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=color, width=border)
                flag_lines = _wrap(str(flag), font, cell_w - 2 * pad, 2)
                band = len(flag_lines) * lh + 2 * pad
                by0 = y0 + (cell_h - band) // 2
                draw.rectangle((x0, by0, x1 - 1, by0 + band - 1), fill=color)
                _draw_lines(draw, flag_lines, font, (x0 + pad, by0 + pad, x1 - pad, by0 + band),
                            fill=(255, 255, 255))
    save_image_atomic(canvas, out_path)
    return geo


# --- helpers on tables ---------------------------------------------------------------------
def fmt(value: Any) -> str:
    """A loss for a caption: 3 significant digits, '-' when absent."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    if math.isnan(number):
        return "-"
    return f"{number:.3g}"


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return str(value) != ""


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return _present(value) and bool(value)


def _experiment_rows(manifest, runs, exp_table, name) -> pd.DataFrame:
    if name not in manifest["experiments"]:
        raise AggregateError(f"unknown experiment {name!r}")
    if exp_table is None:
        exp_table = experiment_table(manifest, runs, name)
    table = exp_table
    if "experiment" in table.columns:
        table = table[table["experiment"].astype(str) == name]
    table = table.reset_index(drop=True).copy()
    trials = [t for t in manifest["trials"] if t["experiment"] == name]
    for column in ("content", "style", "run_id", "label"):
        values = [str(v) for v in table[column]]
        if len(trials) == len(table):
            # a table read back with plain pd.read_csv turns stems such as "007" into 7: the
            # manifest (same rows, plan order) holds the real text
            planned = [str(t.get(column, "")) for t in trials]
            for i, (have, want) in enumerate(zip(values, planned)):
                if not _same_text(have, want):
                    raise AggregateError(
                        f"experiment {name!r}: table row {i} has {column} {have!r} but the "
                        f"manifest's trial {i} has {want!r}; is the table out of date?")
            values = planned
        table[column] = values
    return table


def _same_text(have: str, want: str) -> bool:
    if have == want:
        return True
    try:
        return float(have) == float(want)
    except ValueError:
        return False


def _any_random(table: pd.DataFrame) -> bool:
    return "random_weights" in table.columns and any(_truthy(v) for v in table["random_weights"])


def _title(exp: dict, name: str) -> str:
    paper = f" ({exp['paper']})" if exp.get("paper") else ""
    return f"{exp.get('title') or name}{paper} [{name}: {exp['kind']}]"


def _run_flag(row: dict) -> str | None:
    parts = []
    if "selected" in row and _truthy(row["selected"]):
        parts.append("SELECTED")
    if str(row.get("status")) != "ok":
        parts.append(str(row.get("status") or "unknown").upper())
    return " / ".join(parts) or None


def main_evaluator(manifest: dict) -> Evaluator | None:
    found = evaluators(manifest)
    return found[0] if found else None


def score_column(manifest: dict) -> tuple[str, str]:
    """(column, legend label) of the comparable total the charts show."""
    ev = main_evaluator(manifest)
    if ev is None:
        return "eval_total", "eval_total (run.json, run's own network)"
    return ev.column("total"), f"{ev.name} total score"


def evaluator_line(manifest: dict) -> str:
    """'Scored by ...' for titles: the main evaluator's name, hash and settings."""
    ev = main_evaluator(manifest)
    if ev is None:
        return "eval: run.json's evaluation (baseline definition, each run's own network)"
    return f"Scored by {ev.describe(metrics=False)}"


def _run_caption(row: dict, ev: Evaluator | None = None) -> str:
    if ev is None:
        return f"L={fmt(row.get('final_total'))} eval={fmt(row.get('eval_total'))}"
    return (f"L={fmt(row.get('final_total'))}\n{ev.name} S={fmt(row.get(ev.column('style')))} "
            f"C={fmt(row.get(ev.column('content')))}")


def _image(runs_dir, row: dict) -> Path:
    return run_dir(runs_dir, row["content"], row["style"], row["run_id"]) / "image.png"


# --- experiment grid -----------------------------------------------------------------------
def experiment_grid(manifest: dict, runs: pd.DataFrame | None, exp_table: pd.DataFrame | None,
                    name: str, runs_dir, out_path, max_cols: int = MAX_COLS) -> GridGeometry:
    """The output images of experiment `name` as a labelled grid (see module docstring).

    Captions: the run's own final total loss (L) and the main evaluator's style (S) and content
    (C) scores (run.json's eval without evaluators). Flags: DIVERGED, SELECTED (kind tune).
    exp_table None = computed from `runs`.
    """
    exp = manifest["experiments"][name] if name in manifest["experiments"] else None
    table = _experiment_rows(manifest, runs, exp_table, name)
    if table.empty:
        raise AggregateError(f"experiment {name!r} has no trials to draw")
    records = table.to_dict("records")
    note = RANDOM_NOTE if _any_random(table) else None
    title = _title(exp, name)
    if exp["kind"] == "tune" and exp.get("select"):
        sel = exp["select"]
        title += f" - SELECTED: {describe_select(sel, short=True)}"
        if sel.get("override"):
            title += " or per-pair override"
    title += f"\n{evaluator_line(manifest)}"
    ev = main_evaluator(manifest)

    def cell(row, with_label=False):
        caption = _run_caption(row, ev)
        if with_label:
            caption = f"{row['label']}\n{caption}"
        return (_image(runs_dir, row), caption, _run_flag(row))

    if exp["kind"] == "pairs":
        contents = list(dict.fromkeys(r["content"] for r in records))
        styles = list(dict.fromkeys(r["style"] for r in records))
        first: dict[tuple[str, str], dict] = {}
        for r in records:
            first.setdefault((r["content"], r["style"]), r)
        cells = [[cell(first[(c, s)]) if (c, s) in first else None for s in styles]
                 for c in contents]
        row_labels = [f"content: {c}" for c in contents]
        col_labels = [f"style: {s}" for s in styles]
        return labelled_grid(cells, row_labels, col_labels, title, out_path, note=note)

    pairs = pairs_in_order(table)
    labels = list(dict.fromkeys(r["label"] for r in records))
    by_pair: dict[tuple[str, str], dict[str, dict]] = {p: {} for p in pairs}
    for r in records:
        slot = by_pair[(r["content"], r["style"])]
        if r["label"] in slot:
            raise AggregateError(f"experiment {name!r}: pair {r['content']} x {r['style']} has "
                                 f"two trials labelled {r['label']!r}")
        slot[r["label"]] = r
    if len(labels) <= max_cols:
        cells = [[cell(by_pair[p][lab]) if lab in by_pair[p] else None for lab in labels]
                 for p in pairs]
        row_labels = [f"{c} / {s}" for c, s in pairs]
        return labelled_grid(cells, row_labels, labels, title, out_path, note=note)

    n_sub = math.ceil(len(labels) / max_cols)
    cells, row_labels = [], []
    for c, s in pairs:
        for k in range(n_sub):
            chunk = labels[k * max_cols:(k + 1) * max_cols]
            row = [cell(by_pair[(c, s)][lab], with_label=True) if lab in by_pair[(c, s)] else None
                   for lab in chunk]
            cells.append(row + [None] * (max_cols - len(row)))
            row_labels.append(f"{c} / {s}\n({k + 1}/{n_sub})")
    return labelled_grid(cells, row_labels, None, title, out_path, note=note, caption_lines=5)


# --- charts --------------------------------------------------------------------------------
def _numbers(series: pd.Series) -> np.ndarray:
    values = np.array(pd.to_numeric(series, errors="coerce"), dtype=float)  # a copy
    values[~np.isfinite(values)] = np.nan
    return values


def _spans_decades(*arrays) -> bool:
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays])
    values = values[np.isfinite(values) & (values > 0)]
    return len(values) > 1 and values.max() / values.min() >= 100


def wrap_title(text: str, fig: Figure, fontsize: float = 9) -> str:
    """`text` with each line wrapped to the figure's width (a long evaluator line would
    otherwise widen the saved image: bbox_inches="tight" keeps all text)."""
    import textwrap

    chars = max(40, int(fig.get_figwidth() * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def save_figure_atomic(fig: Figure, out_path) -> Path:
    with atomic_path(out_path) as tmp:
        FigureCanvasAgg(fig)
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    return Path(out_path)


def _chart_title(exp: dict, name: str, random: bool, manifest: dict | None = None) -> str:
    title = _title(exp, name)
    if manifest is not None:
        title += f"\n{evaluator_line(manifest)}"
    if random:
        title += f"\n{RANDOM_NOTE}"
    return title


def experiment_chart(manifest: dict, exp_table: pd.DataFrame, name: str, runs_dir,
                     out_path) -> Path:
    """A matplotlib chart of experiment `name` (kind decides which; see module docstring)."""
    exp = manifest["experiments"].get(name)
    table = _experiment_rows(manifest, None, exp_table, name)
    if table.empty:
        raise AggregateError(f"experiment {name!r} has no trials to chart")
    random = _any_random(table)
    keys = list(exp.get("keys") or [])
    score = score_column(manifest)
    if exp["kind"] == "vary" and keys == ["iterations"]:
        fig = _iterations_chart(table, runs_dir, score)
    elif exp["kind"] == "subsets":
        fig = _subsets_chart(table, score)
    elif exp["kind"] == "pairs":
        fig = _pairs_chart(table, score)
    else:
        fig = _grouped_chart(table, score=score)
    fig.suptitle(wrap_title(_chart_title(exp, name, random, manifest), fig),
                 color="firebrick" if random else "black", fontsize=9)
    return save_figure_atomic(fig, out_path)


def _iterations_chart(table: pd.DataFrame, runs_dir, score=("eval_total", "eval_total")) -> Figure:
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    plotted = []
    for k, (content, style) in enumerate(pairs_in_order(table)):
        rows = table[(table["content"] == content) & (table["style"] == style)].copy()
        rows["_it"] = _numbers(rows["iterations"])
        rows = rows.sort_values("_it")
        color = f"C{k % 10}"
        pair = f"{content} / {style}"
        x = rows["_it"].to_numpy()
        final, evaluation = _numbers(rows["final_total"]), _numbers(rows[score[0]])
        ax.plot(x, final, "o-", color=color, label=f"{pair}: final own total")
        ax.plot(x, evaluation, "s--", color=color, mfc="none", label=f"{pair}: {score[1]}")
        longest = rows.iloc[-1]
        path = run_dir(runs_dir, content, style, longest["run_id"]) / "history.csv"
        if not path.is_file():
            raise FileNotFoundError(f"history {str(path)!r} is missing")
        history = pd.read_csv(path)
        curve = _numbers(history["total"])
        ax.plot(history["iteration"], curve, "-", color=color, alpha=0.45, lw=1,
                label=f"{pair}: total per iteration ({int(longest['_it'])}-iteration run)")
        for xi, yi, status in zip(x, final, rows["status"]):
            if status != "ok":
                ax.annotate("diverged", (xi, yi if np.isfinite(yi) else 0), color="red",
                            fontsize=8)
        plotted += [final, evaluation, curve]
    if _spans_decades(*plotted):
        ax.set_yscale("log")
    ax.set_xlabel("iterations")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def _subsets_chart(table: pd.DataFrame, score=("eval_total", "eval_total")) -> Figure:
    pairs = pairs_in_order(table)
    n = max(len(table[(table["content"] == c) & (table["style"] == s)]) for c, s in pairs)
    fig = Figure(figsize=(6.5 * len(pairs), max(3.0, 0.24 * n + 1.5)), layout="constrained")
    axes = fig.subplots(1, len(pairs), squeeze=False)[0]
    for ax, (content, style) in zip(axes, pairs):
        rows = table[(table["content"] == content) & (table["style"] == style)].copy()
        rows["_final"] = _numbers(rows["final_total"])
        rows["_eval"] = _numbers(rows[score[0]])
        rows = rows.sort_values(["_final", "_eval"], na_position="last").reset_index(drop=True)
        y = np.arange(len(rows))
        ax.barh(y - 0.2, rows["_final"], height=0.4, color="C0", label="final own total")
        ax.barh(y + 0.2, rows["_eval"], height=0.4, color="C1", label=score[1])
        ax.set_yticks(y, rows["label"], fontsize=7)
        ax.invert_yaxis()
        for yi, status in zip(y, rows["status"]):
            if status != "ok":
                ax.text(0, yi, f" {str(status).upper()}", color="red", va="center", fontsize=7)
        if _spans_decades(rows["_final"], rows["_eval"]):
            ax.set_xscale("log")
        ax.set_xlabel("loss (sorted by final own total)")
        ax.set_title(f"{content} / {style}", fontsize=9)
        ax.legend(fontsize=7, loc="best")
        ax.grid(axis="x", alpha=0.3)
    return fig


def _pairs_chart(table: pd.DataFrame, score=("eval_total", "eval_total")) -> Figure:
    contents = list(dict.fromkeys(table["content"]))
    styles = list(dict.fromkeys(table["style"]))
    values = np.full((len(contents), len(styles)), np.nan)
    status = np.full((len(contents), len(styles)), "", dtype=object)
    for row in table.to_dict("records"):
        i, j = contents.index(row["content"]), styles.index(row["style"])
        if np.isnan(values[i, j]):
            values[i, j] = _numbers(pd.Series([row[score[0]]]))[0]
            status[i, j] = row["status"]
    fig = Figure(figsize=(1.6 * len(styles) + 3, 1.2 * len(contents) + 2),
                 layout="constrained")
    ax = fig.add_subplot()
    finite = values[np.isfinite(values)]
    norm = LogNorm() if _spans_decades(values) and (finite > 0).all() else None
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", norm=norm, aspect="auto")
    fig.colorbar(image, ax=ax, label=score[1])
    ax.set_xticks(range(len(styles)), styles, rotation=30, ha="right")
    ax.set_yticks(range(len(contents)), contents)
    ax.set_xlabel("style image")
    ax.set_ylabel("content image")
    for i in range(len(contents)):
        for j in range(len(styles)):
            text = fmt(values[i, j])
            if status[i, j] and status[i, j] != "ok":
                text += f"\n{str(status[i, j]).upper()}"
            ax.text(j, i, text, ha="center", va="center", color="white", fontsize=8,
                    bbox=dict(facecolor="black", alpha=0.35, lw=0))
    return fig


def _grouped_chart(table: pd.DataFrame, horizontal_over: int = 16,
                   score=("eval_total", "eval_total")) -> Figure:
    """Bars of final own total and the comparable total (`score`: column, label) per label
    (plan order), one panel per pair; horizontal bars when there are more than
    `horizontal_over` labels (tune grids)."""
    pairs = pairs_in_order(table)
    labels = list(dict.fromkeys(table["label"]))
    horizontal = len(labels) > horizontal_over
    if horizontal:
        fig = Figure(figsize=(7.0 * len(pairs), max(3.0, 0.24 * len(labels) + 1.5)),
                     layout="constrained")
        axes = fig.subplots(1, len(pairs), squeeze=False)[0]
    else:
        fig = Figure(figsize=(max(6.0, 1.2 * len(labels) + 2), 3.2 * len(pairs) + 0.8),
                     layout="constrained")
        axes = fig.subplots(len(pairs), 1, squeeze=False)[:, 0]
    for ax, (content, style) in zip(axes, pairs):
        rows = table[(table["content"] == content) & (table["style"] == style)]
        by_label = {r["label"]: r for r in rows.to_dict("records")}
        present = [lab for lab in labels if lab in by_label]
        x = np.arange(len(present))
        final = _numbers(pd.Series([by_label[lab]["final_total"] for lab in present]))
        evaluation = _numbers(pd.Series([by_label[lab][score[0]] for lab in present]))
        bar, span = (ax.barh, ax.axhspan) if horizontal else (ax.bar, ax.axvspan)
        bar(x - 0.2, final, 0.4, color="C0", label="final own total")
        bar(x + 0.2, evaluation, 0.4, color="C1", label=score[1])
        tick_labels = []
        for xi, lab in zip(x, present):
            flag = _run_flag(by_label[lab])
            text = lab if horizontal else lab.replace(", ", "\n")
            tick_labels.append(text + (f" [{flag}]" if horizontal else f"\n[{flag}]") if flag
                               else text)
            if flag:
                green = "SELECTED" in flag and "DIVERGED" not in flag
                span(xi - 0.5, xi + 0.5, color="green" if green else "red",
                     alpha=0.12 if green else 0.08)
        log = _spans_decades(final, evaluation)
        if horizontal:
            ax.set_yticks(x, tick_labels, fontsize=7)
            ax.invert_yaxis()
            ax.set_xscale("log" if log else "linear")
            ax.set_xlabel("loss")
            ax.grid(axis="x", alpha=0.3)
        else:
            tilt = len(present) > 4
            ax.set_xticks(x, tick_labels, rotation=30 if tilt else 0,
                          ha="right" if tilt else "center", fontsize=8)
            ax.set_yscale("log" if log else "linear")
            ax.set_ylabel("loss")
            ax.grid(axis="y", alpha=0.3)
        ax.set_title(f"{content} / {style}", fontsize=9)
        ax.legend(fontsize=7)
    return fig


# --- results array (Fig. 19) ---------------------------------------------------------------
def _input_image(manifest: dict, role: str, stem: str, runs_dir, row: dict) -> str | None:
    path = (manifest.get("images") or {}).get(role, {}).get(stem)
    if path:
        return path
    for prefix in ("baseline", "revised"):  # fall back on what the run recorded
        run_id = row.get(f"{prefix}_run_id")
        if _present(run_id):
            try:
                recorded = read_run(runs_dir, row["content"], row["style"], str(run_id))
            except (FileNotFoundError, ValueError):
                continue
            path = (recorded.get(role) or {}).get("path")
            if path and Path(path).is_file():
                return path
    return None


def results_array(manifest: dict, runs: pd.DataFrame | None, t5: pd.DataFrame, runs_dir,
                  out_path) -> GridGeometry:
    """Fig. 19: one row per row of Table 5; Style | Content | Gatys et al. | Ours."""
    if t5 is None or len(t5) == 0:
        raise AggregateError("results_array: Table 5 has no rows")
    cells, row_labels = [], []
    random = False
    ev = main_evaluator(manifest)

    def scores(row, role):
        if ev is None:
            return f"eval={fmt(row.get(f'{role}_eval_total'))}"
        return (f"{ev.name}: S={fmt(row.get(f'{role}_' + ev.column('style')))} "
                f"C={fmt(row.get(f'{role}_' + ev.column('content')))}")

    for row in t5.to_dict("records"):
        content, style = str(row["content"]), str(row["style"])
        row.update(content=content, style=style)
        random = random or _truthy(row.get("random_weights"))
        base_dir = run_dir(runs_dir, content, style, str(row["baseline_run_id"]))
        base_flag = None if str(row.get("baseline_status")) == "ok" else "DIVERGED"
        base = (base_dir / "image.png",
                f"L_S={fmt(row['baseline_L_S'])} L_C={fmt(row['baseline_L_C'])}\n"
                f"{scores(row, 'baseline')}", base_flag)
        if _present(row.get("revised_run_id")):
            rev_flag = None if str(row.get("revised_status")) == "ok" else "DIVERGED"
            rev = (run_dir(runs_dir, content, style, str(row["revised_run_id"])) / "image.png",
                   f"L_S={fmt(row['revised_L_S'])} L_C={fmt(row['revised_L_C'])}\n"
                   f"{scores(row, 'revised')}", rev_flag)
        else:
            note = row.get("note") if _present(row.get("note")) else "no revised run"
            rev = (None, str(note), "NO SELECTION")
        cells.append([
            (_input_image(manifest, "style", style, runs_dir, row), style, None),
            (_input_image(manifest, "content", content, runs_dir, row), content, None),
            base, rev,
        ])
        row_labels.append(f"Row {row['row']}")
    if runs is not None and "random_weights" in getattr(runs, "columns", []):
        random = random or _any_random(runs)
    revised = (manifest.get("results_array") or {}).get("revised")
    select = ((manifest["experiments"].get(revised) or {}).get("select") or {}) if revised else {}
    rule = f" by {describe_select(select, short=True)}" if select.get("metric") else ""
    title = (f"Results array (Fig. 19): Gatys et al. = baseline, Ours = revised (selected per "
             f"pair{rule}). L_S/L_C: each run's own losses (not comparable); "
             + ("S/C: the style and content scores of:\n" if ev else "eval: run.json's evaluation.\n")
             + evaluator_line(manifest))
    return labelled_grid(cells, row_labels, ["Style", "Content", "Gatys et al.", "Ours"], title,
                         out_path, note=RANDOM_NOTE if random else None)


# --- selection of a tuned experiment --------------------------------------------------------
def selection_figure(manifest: dict, exp_table: pd.DataFrame | None, name: str, out_path,
                     runs: pd.DataFrame | None = None) -> Path:
    """One panel per pair of tuned experiment `name`: every candidate at (style score, content
    score) of the select evaluator (run.json's eval_style / eval_content without one), the
    Pareto front joined by a line, dominated candidates open, diverged runs as crosses, the
    ideal point (the pair's best style, best content) as a plus and the selected run as a star."""
    exp = manifest["experiments"].get(name)
    if exp is None or exp.get("kind") != "tune":
        raise AggregateError(f"experiment {name!r} is not a tuned experiment: it selects nothing")
    table = _experiment_rows(manifest, runs, exp_table, name)
    if table.empty:
        raise AggregateError(f"experiment {name!r} has no trials to draw")
    select = exp["select"]
    x_col, y_col = selection_axes(manifest, select)
    for column in (x_col, y_col, "selected"):
        if column not in table.columns:
            raise AggregateError(f"experiment {name!r}: the table has no column {column!r}; is it out of date?")
    pairs = pairs_in_order(table)
    n_cols = min(len(pairs), 3)
    n_rows = math.ceil(len(pairs) / n_cols)
    fig = Figure(figsize=(max(7.0, 4.8 * n_cols), 4.2 * n_rows + 1.2), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax in axes[len(pairs):]:
        ax.set_visible(False)
    for ax, (content, style) in zip(axes, pairs):
        rows = table[(table["content"] == content) & (table["style"] == style)].reset_index(drop=True)
        _selection_panel(ax, rows, x_col, y_col)
        ax.set_title(f"{content} / {style}", fontsize=9)
    chosen = [ev for ev in evaluators(manifest) if ev.name == select.get("evaluator")]
    scored_by = f"Scored by {chosen[0].describe(metrics=False)}" if chosen else evaluator_line(manifest)
    rule = describe_select(select) + (" (or the per-pair override)" if select.get("override") else "")
    title = f"{_title(exp, name)}: selection\nRule: {rule}\n{scored_by}"
    random = _any_random(table)
    if random:
        title += f"\n{RANDOM_NOTE}"
    fig.suptitle(wrap_title(title, fig), fontsize=9, color="firebrick" if random else "black")
    return save_figure_atomic(fig, out_path)


def _selection_panel(ax, rows: pd.DataFrame, x_col: str, y_col: str) -> None:
    from .aggregate import pareto_ranks

    x, y = _numbers(rows[x_col]), _numbers(rows[y_col])
    finite = np.isfinite(x) & np.isfinite(y)
    ok = np.array([str(s) == "ok" for s in rows["status"]]) & finite
    candidates = {i: (x[i], y[i]) for i in np.flatnonzero(ok)}
    ranks = pareto_ranks(candidates)
    front = np.array([ranks.get(i) == 1 for i in range(len(rows))])
    dominated = ok & ~front
    if dominated.any():
        ax.scatter(x[dominated], y[dominated], s=28, facecolors="none", edgecolors="grey",
                   label="candidate (dominated)")
    order = np.flatnonzero(front)[np.argsort(x[front])]
    if len(order):
        ax.plot(x[order], y[order], "o-", color="C0", ms=5, lw=1, label="Pareto front")
    bad = ~ok & finite
    if bad.any():
        ax.scatter(x[bad], y[bad], marker="x", color="red", s=30, label="diverged (not a candidate)")
    if candidates:
        ax.scatter([x[ok].min()], [y[ok].min()], marker="+", color="black", s=80, label="ideal point")
    picked = [i for i in range(len(rows)) if _truthy(rows.at[i, "selected"])]
    for i in picked:
        override = "override" in str(rows.at[i, "note"])
        if finite[i]:
            ax.scatter([x[i]], [y[i]], marker="*", s=260, color="gold", edgecolors="black", zorder=5,
                       label="selected" + (" (override)" if override else ""))
            ax.annotate(str(rows.at[i, "label"]), (x[i], y[i]), xytext=(6, 6), textcoords="offset points",
                        fontsize=7, fontweight="bold")
    if not picked:
        ax.text(0.5, 0.5, "nothing selected", transform=ax.transAxes, ha="center", color="red")
    labelled = set(picked)
    for i in order:
        if i not in labelled and len(order) <= 8:
            ax.annotate(str(rows.at[i, "label"]), (x[i], y[i]), xytext=(4, -9), textcoords="offset points",
                        fontsize=6, color="C0")
    shown = x[finite], y[finite]
    if _spans_decades(shown[0]):
        ax.set_xscale("log")
    if _spans_decades(shown[1]):
        ax.set_yscale("log")
    ax.set_xlabel(f"style distance ({x_col}, lower = more stylised)", fontsize=8)
    ax.set_ylabel(f"content distance ({y_col})", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="best")
