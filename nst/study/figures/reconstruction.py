"""The figure of a `reconstruct` experiment (Gatys et al. 2016, Fig. 1), drawn as a labelled
grid (nst/study/figures/grids.py); no torch, no snakemake.

Per pair, two rows as in the paper: content reconstructions (each from one layer, shallow to
deep) and style reconstructions (from the growing sets of style layers), each after the
reference image it reconstructs (the content image, the style image). Layers are named as
Gatys et al. name them (relu4_1 rather than relu_9). Planning: nst/study/plan/reconstruct.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ...contracts.layers import standard_text
from ...contracts.manifest import Manifest, Trial
from ...errors import AggregateError
from ..tables.aggregate import RANDOM_NOTE, read_run, run_row
from .run_grids import experiment_title, run_flag, run_image, study_grid
from .grids import GridGeometry
from ..plan.reconstruct import RECONSTRUCT, RECONSTRUCT_KEYS

ROW_TEXT = {"content_layers": "content from one layer", "style_layers": "style from the layers up to"}


def layers_caption(layers) -> str:
    return " + ".join(standard_text(layer) for layer in layers)


def reconstruction_rows(manifest: Manifest, name: str) -> dict[tuple[str, str], dict[str, list[Trial]]]:
    """{pair: {content_layers: [trials], style_layers: [trials]}} in plan order; AggregateError
    for an experiment that is not a reconstruction or has no trials."""
    exp = manifest.experiment(name)
    if exp.kind != RECONSTRUCT:
        raise AggregateError(f"experiment {name!r} is of kind {exp.kind}, not {RECONSTRUCT}: "
                             "it has no layer reconstructions")
    rows: dict[tuple[str, str], dict[str, list[Trial]]] = {}
    for trial in manifest.trials_of(name):
        key = next(k for k in RECONSTRUCT_KEYS if k in trial.values)
        rows.setdefault(trial.pair, {k: [] for k in RECONSTRUCT_KEYS if k in exp.keys})[key].append(trial)
    if not rows:
        raise AggregateError(f"experiment {name!r} has no trials to draw")
    return rows


def block_of(layer: str) -> str | None:
    """The VGG-19 block (1-5) of a layer: relu_9 (relu4_1) -> '4'."""
    match = re.match(r"[a-z]+(\d)", standard_text(layer))
    return match.group(1) if match else None


def column_labels(steps: dict[str, list[Trial]], n_cols: int) -> list[str]:
    """'reference', then what each column adds: its layer when the rows add the same layers
    (one list for both), 'block k' when they add layers of one block (Gatys's content relu2_2
    beside style relu2_1), else 'step k'."""
    added = [[t.values[key][-1] for t in trials] for key, trials in steps.items()]
    labels = []
    for k in range(n_cols - 1):
        layers = {lst[k] for lst in added if k < len(lst)}
        blocks = {block_of(layer) for layer in layers}
        if len(layers) == 1:
            labels.append(standard_text(layers.pop()))
        elif len(blocks) == 1 and None not in blocks:
            labels.append(f"block {blocks.pop()}")
        else:
            labels.append(f"step {k + 1}")
    return ["reference", *labels]


@dataclass(frozen=True)
class ReconstructionGrid:
    """What the figure shows: labelled_grid's cells and labels, and whether a run used random
    weights."""
    cells: list[list]
    row_labels: list[str]
    col_labels: list[str]
    random: bool


def reconstruction_grid(manifest: Manifest, name: str, runs_dir) -> ReconstructionGrid:
    """The cells of experiment `name`'s figure (see the module docstring). MissingRunError for
    a run that has not finished."""
    rows_by_pair = reconstruction_rows(manifest, name)
    n_cols = 1 + max(len(trials) for steps in rows_by_pair.values() for trials in steps.values())
    cells, row_labels, random = [], [], False
    for (content, style), steps in rows_by_pair.items():
        for key, trials in steps.items():
            row = [_reference(manifest, content, style, key)]
            for trial in trials:
                summary = run_row(read_run(runs_dir, content, style, trial.run_id), content, style)
                random = random or bool(summary["random_weights"])
                image = run_image(runs_dir, {"content": content, "style": style, "run_id": trial.run_id})
                row.append((image, layers_caption(trial.values[key]), run_flag(summary)))
            cells.append(row + [None] * (n_cols - len(row)))
            row_labels.append(f"{content} / {style}\n{ROW_TEXT[key]}")
    col_labels = column_labels(next(iter(rows_by_pair.values())), n_cols)
    return ReconstructionGrid(cells, row_labels, col_labels, random)


def _reference(manifest: Manifest, content: str, style: str, key: str) -> tuple:
    if key == "content_layers":
        return manifest.images["content"].get(content), f"content image: {content}", None
    return manifest.images["style"].get(style), f"style image: {style}", None


def reconstruction_figure(manifest: Manifest, name: str, runs_dir, out_path) -> GridGeometry:
    """Draw experiment `name`'s reconstructions to `out_path` (PNG, atomically) and return the
    grid's geometry. InputError for a missing image."""
    grid = reconstruction_grid(manifest, name, runs_dir)
    title = (f"{experiment_title(manifest.experiment(name), name)}\nEach image is optimised from "
             "noise to match only the content features of one layer (content rows), or only the "
             "style (Gram matrices) of a set of layers (style rows), as in Gatys et al. 2016, Fig. 1")
    return study_grid(grid.cells, grid.row_labels, grid.col_labels, title, out_path,
                      note=RANDOM_NOTE if grid.random else None)
