"""Figures of a study drawn from images (labelled grids, nst/study/figures/grids.py), and what every
figure of the study shares: an experiment's rows, titles, captions, the evaluator line.

- `experiment_grid`: the output images of one experiment (rows = pairs, columns = trials; the
  content x style matrix for kind "pairs"; wrapped rows for many trials).
- `results_array`: Fig. 19, Style | Content | Gatys et al. | Ours, one row per pair of Table 5.

The charts (matplotlib) are in nst/study/figures/charts.py. Scores shown are the main evaluator's (the
first of the manifest's `evaluation`), named with its settings in every title; a manifest
without evaluators falls back on run.json's eval_total. Every text of a grid (`study_grid`)
names layers by their standard names (relu4_1, not the tutorial's relu_9 that a config or a
label may use). Nothing here imports torch or snakemake.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from ...contracts.cells import short_number
from ...contracts.evaluators import Evaluator
from ...contracts.selection import describe_select
from ...contracts.layers import standard_text
from ...contracts.manifest import Experiment, Manifest
from ...contracts.run_folder import IMAGE
from ...errors import AggregateError
from ..tables.aggregate import RANDOM_NOTE, run_dir
from .grids import GridGeometry, labelled_grid
from ..tables.select import pairs_in_order

MAX_COLS = 8  # experiments with more trials per pair are wrapped onto several rows


# --- cell values ---------------------------------------------------------------------------
def present(value: Any) -> bool:
    """Whether a table cell holds something (not None, NaN or empty text)."""
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return str(value) != ""


def truthy(value: Any) -> bool:
    """A table cell as a bool, as written by pandas or read back as text."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return present(value) and bool(value)


def any_random(table: pd.DataFrame) -> bool:
    """Whether some row ran on random weights (figures then carry RANDOM_NOTE)."""
    return "random_weights" in table.columns and any(truthy(v) for v in table["random_weights"])


def run_flag(row: dict) -> str | None:
    """SELECTED and/or the status of a run that is not ok, e.g. "DIVERGED", or "STALLED AT k"
    for an ok run whose loss stopped changing at iteration k; None for none of them."""
    parts = []
    if "selected" in row and truthy(row["selected"]):
        parts.append("SELECTED")
    if str(row.get("status")) != "ok":
        parts.append(str(row.get("status") or "unknown").upper())
    elif present(row.get("stalled_at")):
        parts.append(f"STALLED AT {int(float(row['stalled_at']))}")
    return " / ".join(parts) or None


# --- an experiment's rows --------------------------------------------------------------------
def experiment_rows(manifest: Manifest, exp_table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of experiment `name` in its table (written by write_csv, or read back with plain
    pd.read_csv), with content, style, run_id and label as the manifest's text. Raises
    AggregateError for an unknown experiment or a table that no longer fits the manifest."""
    trials = manifest.trials_of(name)
    table = exp_table
    if "experiment" in table.columns:
        table = table[table["experiment"].astype(str) == name]
    table = table.reset_index(drop=True).copy()
    for column in ("content", "style", "run_id", "label"):
        values = [str(v) for v in table[column]]
        if len(trials) == len(table):
            # a table read back with plain pd.read_csv turns stems such as "007" into 7: the
            # manifest (same rows, plan order) holds the real text
            planned = [str(getattr(t, column)) for t in trials]
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


# --- titles and captions ---------------------------------------------------------------------
def experiment_title(exp: Experiment, name: str) -> str:
    paper = f" ({exp.paper})" if exp.paper else ""
    return f"{exp.title or name}{paper} [{name}: {exp.kind}]"


def score_column(manifest: Manifest) -> tuple[str, str]:
    """(column, legend label) of the comparable total the charts show."""
    ev = manifest.main_evaluator
    if ev is None:
        return "eval_total", "eval_total (run.json, run's own network)"
    return ev.column("total"), f"{ev.name} total score"


def evaluator_line(manifest: Manifest) -> str:
    """'Scored by ...' for titles: the main evaluator's name, hash and settings."""
    ev = manifest.main_evaluator
    if ev is None:
        return "eval: run.json's evaluation (baseline definition, each run's own network)"
    return f"Scored by {ev.describe(metrics=False)}"


def run_caption(row: dict, ev: Evaluator | None = None) -> str:
    """A run's caption: its own final total loss (L) and `ev`'s style (S) and content (C)
    scores, or run.json's eval without an evaluator."""
    if ev is None:
        return f"L={short_number(row.get('final_total'))} eval={short_number(row.get('eval_total'))}"
    return (f"L={short_number(row.get('final_total'))}\n{ev.name} S={short_number(row.get(ev.column('style')))} "
            f"C={short_number(row.get(ev.column('content')))}")


def run_image(runs_dir, row: dict) -> Path:
    """The image.png of the run a table row (content, style, run_id) names."""
    return run_dir(runs_dir, row["content"], row["style"], row["run_id"]) / IMAGE


# --- experiment grid -----------------------------------------------------------------------
def study_grid(cells, row_labels, col_labels, title: str, out_path, note: str | None = None,
               **options) -> GridGeometry:
    """grids.labelled_grid with every text (title, note, labels, captions) showing layers by
    their standard names: labels carry the config's values, which may use sequential ones."""
    def shown(texts):
        return None if texts is None else [standard_text(t) for t in texts]

    cells = [[None if c is None else (c[0], standard_text(c[1]), *c[2:]) for c in row] for row in cells]
    return labelled_grid(cells, shown(row_labels), shown(col_labels), standard_text(title), out_path,
                         note=None if note is None else standard_text(note), **options)


def experiment_grid(manifest: Manifest, exp_table: pd.DataFrame, name: str, runs_dir, out_path,
                    max_cols: int = MAX_COLS) -> GridGeometry:
    """The output images of experiment `name` (its rows of `exp_table`) as a labelled grid
    written to `out_path` (see the module docstring); returns its geometry.

    Captions: run_caption. Flags: DIVERGED, SELECTED (kind tune). Raises AggregateError for an
    experiment without trials, or with two trials of one pair under one label.
    """
    exp = manifest.experiment(name)
    table = experiment_rows(manifest, exp_table, name)
    if table.empty:
        raise AggregateError(f"experiment {name!r} has no trials to draw")
    note = RANDOM_NOTE if any_random(table) else None
    title = _grid_title(manifest, exp, name)
    ev = manifest.main_evaluator

    def cell(row, with_label=False):
        caption = run_caption(row, ev)
        if with_label:
            caption = f"{row['label']}\n{caption}"
        return (run_image(runs_dir, row), caption, run_flag(row))

    records = table.to_dict("records")
    if exp.kind == "pairs":
        cells, row_labels, col_labels = _matrix_layout(records, cell)
        return study_grid(cells, row_labels, col_labels, title, out_path, note=note)
    pairs = pairs_in_order(table)
    labels = list(dict.fromkeys(r["label"] for r in records))
    by_pair = _rows_by_pair_and_label(records, pairs, name)
    if len(labels) <= max_cols:
        cells = [[cell(by_pair[p][lab]) if lab in by_pair[p] else None for lab in labels]
                 for p in pairs]
        row_labels = [f"{c} / {s}" for c, s in pairs]
        return study_grid(cells, row_labels, labels, title, out_path, note=note)
    cells, row_labels = _wrapped_layout(by_pair, pairs, labels, max_cols, cell)
    return study_grid(cells, row_labels, None, title, out_path, note=note, caption_lines=5)


def _grid_title(manifest: Manifest, exp: Experiment, name: str) -> str:
    title = experiment_title(exp, name)
    if exp.kind == "tune" and exp.select:
        title += f" - SELECTED: {describe_select(exp.select, short=True)}"
        if exp.select.get("override"):
            title += " or per-pair override"
    return title + f"\n{evaluator_line(manifest)}"


def _matrix_layout(records: list[dict], cell) -> tuple[list, list[str], list[str]]:
    """Kind "pairs": contents down, styles across, each pair's first run."""
    contents = list(dict.fromkeys(r["content"] for r in records))
    styles = list(dict.fromkeys(r["style"] for r in records))
    first: dict[tuple[str, str], dict] = {}
    for r in records:
        first.setdefault((r["content"], r["style"]), r)
    cells = [[cell(first[(c, s)]) if (c, s) in first else None for s in styles] for c in contents]
    return cells, [f"content: {c}" for c in contents], [f"style: {s}" for s in styles]


def _rows_by_pair_and_label(records: list[dict], pairs, name: str) -> dict[tuple, dict[str, dict]]:
    by_pair: dict[tuple[str, str], dict[str, dict]] = {p: {} for p in pairs}
    for r in records:
        slot = by_pair[(r["content"], r["style"])]
        if r["label"] in slot:
            raise AggregateError(f"experiment {name!r}: pair {r['content']} x {r['style']} has "
                                 f"two trials labelled {r['label']!r}")
        slot[r["label"]] = r
    return by_pair


def _wrapped_layout(by_pair, pairs, labels: list[str], max_cols: int, cell) -> tuple[list, list[str]]:
    """More trials than max_cols: each pair on several rows of max_cols, the label in each caption."""
    n_sub = math.ceil(len(labels) / max_cols)
    cells, row_labels = [], []
    for c, s in pairs:
        for k in range(n_sub):
            chunk = labels[k * max_cols:(k + 1) * max_cols]
            row = [cell(by_pair[(c, s)][lab], with_label=True) if lab in by_pair[(c, s)] else None
                   for lab in chunk]
            cells.append(row + [None] * (max_cols - len(row)))
            row_labels.append(f"{c} / {s}\n({k + 1}/{n_sub})")
    return cells, row_labels


# --- results array (Fig. 19) ---------------------------------------------------------------
def results_array(manifest: Manifest, t5: pd.DataFrame, runs_dir, out_path,
                  compared: Sequence[pd.DataFrame] = ()) -> GridGeometry:
    """Fig. 19 to `out_path`: one row per row of Table 5 (`t5`); Style | Content | Gatys et al. |
    Ours. `compared`: tables holding every run of the two experiments (their experiment tables,
    or the runs table); one on random weights adds the RANDOM_NOTE banner, as one of Table 5's
    does.
    Returns the grid's geometry; AggregateError for a Table 5 without rows."""
    if t5 is None or len(t5) == 0:
        raise AggregateError("results_array: Table 5 has no rows")
    ev = manifest.main_evaluator
    cells, row_labels = [], []
    for row in t5.to_dict("records"):
        content, style = str(row["content"]), str(row["style"])
        row.update(content=content, style=style)
        cells.append([(manifest.images["style"].get(style), style, None),
                      (manifest.images["content"].get(content), content, None),
                      _array_cell(row, "baseline", runs_dir, ev), _array_cell(row, "revised", runs_dir, ev)])
        row_labels.append(f"Row {row['row']}")
    random = any(truthy(r) for r in t5.get("random_weights", [])) or any(map(any_random, compared))
    return study_grid(cells, row_labels, ["Style", "Content", "Gatys et al.", "Ours"],
                      _array_title(manifest, ev), out_path, note=RANDOM_NOTE if random else None)


def _array_cell(row: dict, role: str, runs_dir, ev: Evaluator | None) -> tuple:
    """The baseline's or revised run's cell of one row of Table 5 (a note where no revised run
    was selected)."""
    if role == "revised" and not present(row.get("revised_run_id")):
        note = row.get("note") if present(row.get("note")) else "no revised run"
        return None, str(note), "NO SELECTION"
    if ev is None:
        scores = f"eval={short_number(row.get(f'{role}_eval_total'))}"
    else:
        scores = (f"{ev.name}: S={short_number(row.get(f'{role}_' + ev.column('style')))} "
                  f"C={short_number(row.get(f'{role}_' + ev.column('content')))}")
    image = run_dir(runs_dir, row["content"], row["style"], str(row[f"{role}_run_id"])) / IMAGE
    flag = None if str(row.get(f"{role}_status")) == "ok" else "DIVERGED"
    return image, f"L_S={short_number(row[f'{role}_L_S'])} L_C={short_number(row[f'{role}_L_C'])}\n{scores}", flag


def _array_title(manifest: Manifest, ev: Evaluator | None) -> str:
    revised = manifest.results_array.revised if manifest.results_array else None
    select = (manifest.experiments[revised].select or {}) if revised in manifest.experiments else {}
    rule = f" by {describe_select(select, short=True)}" if select.get("metric") else ""
    return (f"Results array (Fig. 19): Gatys et al. = baseline, Ours = revised (selected per "
            f"pair{rule}). L_S/L_C: each run's own losses (not comparable); "
            + ("S/C: the style and content scores of:\n" if ev else "eval: run.json's evaluation.\n")
            + evaluator_line(manifest))
