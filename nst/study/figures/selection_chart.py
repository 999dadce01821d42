"""The selection scatter of a tuned experiment: per pair, each candidate's two scores (the
select evaluator's style and content), the Pareto front and the chosen run (matplotlib)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...contracts.cells import finite_array
from ...contracts.selection import describe_select
from ...contracts.manifest import Manifest
from ...errors import AggregateError
from ..tables.aggregate import RANDOM_NOTE
from .charts import spans_decades, panel_axes, save_figure_atomic, wrap_title
from .run_grids import any_random, evaluator_line, experiment_rows, experiment_title, truthy
from ..tables.select import pair_rows, pairs_in_order, pareto_ranks, selection_axes


def selection_figure(manifest: Manifest, exp_table: pd.DataFrame, name: str, out_path) -> Path:
    """One panel per pair of tuned experiment `name`: every candidate at (style score, content
    score) of the select evaluator (run.json's eval_style / eval_content without one), the
    Pareto front joined by a line, dominated candidates open, diverged runs as crosses, the
    ideal point (the pair's best style, best content) as a plus and the selected run as a star.
    Written to `out_path`; AggregateError for an experiment that is not tuned or has no trials,
    or a table without the selection's columns."""
    exp = manifest.experiment(name)
    if exp.kind != "tune":
        raise AggregateError(f"experiment {name!r} is not a tuned experiment: it selects nothing")
    table = experiment_rows(manifest, exp_table, name)
    if table.empty:
        raise AggregateError(f"experiment {name!r} has no trials to draw")
    select = exp.select
    x_col, y_col = selection_axes(manifest, select)
    for column in (x_col, y_col, "selected"):
        if column not in table.columns:
            raise AggregateError(f"experiment {name!r}: the table has no column {column!r}; is it out of date?")
    pairs = pairs_in_order(table)
    fig, axes = panel_axes(len(pairs), (4.8, 4.2), min_width=7.0, title_height=1.2)
    for ax, (content, style) in zip(axes, pairs):
        rows = pair_rows(table, content, style).reset_index(drop=True)
        selection_panel(ax, rows, x_col, y_col)
        ax.set_title(f"{content} / {style}", fontsize=9)
    chosen = manifest.evaluator(select.get("evaluator"))
    scored_by = f"Scored by {chosen.describe(metrics=False)}" if chosen else evaluator_line(manifest)
    rule = describe_select(select) + (" (or the per-pair override)" if select.get("override") else "")
    title = f"{experiment_title(exp, name)}: selection\nRule: {rule}\n{scored_by}"
    random = any_random(table)
    if random:
        title += f"\n{RANDOM_NOTE}"
    fig.suptitle(wrap_title(title, fig), fontsize=9, color="firebrick" if random else "black")
    return save_figure_atomic(fig, out_path)


def selection_panel(ax, rows: pd.DataFrame, x_col: str, y_col: str) -> None:
    """One pair's candidates on `ax` (rows: the pair's rows with a fresh index; x_col, y_col:
    its style and content score columns), as selection_figure describes."""
    x, y = finite_array(rows[x_col]), finite_array(rows[y_col])
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
    picked = [i for i in range(len(rows)) if truthy(rows.at[i, "selected"])]
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
    if spans_decades(shown[0]):
        ax.set_xscale("log")
    if spans_decades(shown[1]):
        ax.set_yscale("log")
    ax.set_xlabel(f"style distance ({x_col}, lower = more stylised)", fontsize=8)
    ax.set_ylabel(f"content distance ({y_col})", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="best")
