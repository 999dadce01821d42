"""The interaction plot of a grid experiment (matplotlib, Agg canvas), written to a PNG under a
temporary name renamed into place. Nothing here imports torch or snakemake.

One panel per pair of varied keys (a, b): x = the levels of a (plan order), one line per level
of b, each point the mean over content/style pairs of the main score (each pair's cell averaged
over any other keys' levels), with its 95 % interval as error bars (none from one pair; the
method, nst/study/tables/stats.py's, in the title). Parallel lines mean no interaction; lines that cross or fan out mean
the effect of a depends on b. Diverged runs are left out (nst/study/tables/summary.py's rule).
"""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from ...contracts.manifest import Manifest
from .charts import _chart_title, spans_decades, panel_axes, save_figure_atomic, wrap_title
from .run_grids import any_random, experiment_rows, score_column
from ..tables.stats import cell_means
from ..tables.summary import grid_levels, value_rows


def interaction_figure(manifest: Manifest, exp_table: pd.DataFrame, name: str, out_path) -> Path:
    """The interaction plot of experiment `name` (its rows of `exp_table`) to `out_path`.
    AggregateError for an experiment that does not cross two or more keys."""
    factors, levels, references = grid_levels(manifest, name)
    table = experiment_rows(manifest, exp_table, name)
    column, label = score_column(manifest)
    rows = value_rows(manifest, table, name, [column])
    combos = list(itertools.combinations(factors, 2))
    fig, axes = panel_axes(len(combos), (5.0, 4.0), min_width=6.5, title_height=1.0)
    methods = []
    for ax, (a, b) in zip(axes, combos):
        means = cell_means(rows, factors, levels, column, (a, b))
        methods += [m for m in means["ci_method"] if m]
        interaction_panel(ax, means, a, b, levels, references, label)
        others = [f for f in factors if f not in (a, b)]
        ax.set_title(f"{a} x {b}" + (f" (averaged over {', '.join(others)})" if others else ""), fontsize=9)
    n_pairs = rows["pair"].nunique()
    random = any_random(table)
    method = "/".join(dict.fromkeys(methods))
    title = (f"{_chart_title(manifest.experiment(name), name, random, manifest)}\nInteractions: mean over "
             f"{n_pairs} pair{'s' if n_pairs != 1 else ''}"
             + (f", 95 % intervals ({method})" if method else " (one pair: no interval)"))
    fig.suptitle(wrap_title(title, fig), fontsize=9, color="firebrick" if random else "black")
    return save_figure_atomic(fig, out_path)


def interaction_panel(ax, means: pd.DataFrame, a: str, b: str, levels: dict, references: dict,
                      label: str) -> None:
    """One factor pair on `ax`: `means` (stats.cell_means) as one line per level of b over the
    levels of a; the reference levels are marked in the tick labels and the legend."""
    x = np.arange(len(levels[a]))
    plotted = []
    for k, level_b in enumerate(levels[b]):
        line = means[means[b] == level_b].set_index(a).reindex(levels[a])
        mean = line["mean"].to_numpy(dtype=float)
        error = np.nan_to_num(np.abs(line[["ci_low", "ci_high"]].to_numpy(dtype=float).T - mean), nan=0.0)
        shift = (k - (len(levels[b]) - 1) / 2) * 0.04  # lines a little apart so their bars do not hide each other
        name = f"{b}={level_b}" + (" (reference)" if level_b == references[b] else "")
        ax.errorbar(x + shift, mean, yerr=error, fmt="o-", color=f"C{k % 10}", capsize=4, label=name)
        plotted.append(mean)
    ticks = [f"{v}\n(reference)" if v == references[a] else v for v in levels[a]]
    ax.set_xticks(x, ticks, fontsize=8)
    ax.set_xlabel(a)
    ax.set_ylabel(f"mean {label} (lower = closer)")
    if spans_decades(*plotted):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, title=b, title_fontsize=7)
