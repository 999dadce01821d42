"""Charts of a study (matplotlib, Agg canvas), each written to a PNG under a temporary name
renamed into place. Nothing here imports torch or snakemake.

- `experiment_chart`: loss vs iterations (Fig. 6), sorted bars for layer subsets (Fig. 7), a
  content x style heat map (Figs. 13-14), grouped bars otherwise (Figs. 8-12, Tables 2-3). An
  experiment on more than one pair shows, per value, the mean score over its pairs with its 95 %
  interval (nst/study/tables/stats.py; its method in the legend) and each pair's own score as a faint point
  (`interval_chart`; over iterations, as a mean line with error bars on top of the pairs').
- `selection_figure`: per tuned experiment, each pair's candidates by their style and content
  scores (the select evaluator's), the Pareto front joined, the selected run marked.

Titles, captions and an experiment's rows come from nst/study/figures/run_grids.py, as for the grids.
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FixedFormatter, FuncFormatter

from ...contracts.cells import finite_array, short_number
from ...contracts.layers import standard_text
from ...contracts.manifest import Experiment, Manifest
from ...contracts.run_folder import HISTORY
from ...errors import AggregateError
from ...files import atomic_path
from ..tables.aggregate import RANDOM_NOTE, read_history, run_dir
from .run_grids import any_random, evaluator_line, experiment_rows, experiment_title, run_flag, score_column
from ..tables.select import pair_rows, pairs_in_order
from ..tables.stats import mean_ci


# --- drawing helpers ---------------------------------------------------------------------
def spans_decades(*arrays) -> bool:
    """Whether the finite positive values of `arrays` span two decades or more: a log axis."""
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays])
    values = values[np.isfinite(values) & (values > 0)]
    return len(values) > 1 and values.max() / values.min() >= 100


def panel_axes(count: int, panel: tuple[float, float], min_width: float, title_height: float):
    """(figure, axes) of `count` panels of `panel` inches, three to a row, the spare ones hidden."""
    n_cols = min(count, 3)
    n_rows = math.ceil(count / n_cols)
    fig = Figure(figsize=(max(min_width, panel[0] * n_cols), panel[1] * n_rows + title_height), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def wrap_title(text: str, fig: Figure, fontsize: float = 9) -> str:
    """`text` with layers by their standard names and each line wrapped to the figure's width
    (a long evaluator line would otherwise widen the saved image: bbox_inches="tight" keeps
    all text)."""
    chars = max(40, int(fig.get_figwidth() * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(line, chars) for line in standard_text(text).split("\n"))


def save_figure_atomic(fig: Figure, out_path) -> Path:
    """Write `fig` as a PNG, atomically. Every text in it (titles, tick labels, legends) first
    names layers by their standard names: labels and levels carry the config's values, which
    may use the tutorial's sequential ones (relu_9 for relu4_1)."""
    for text in fig.findobj(Text):
        shown = standard_text(text.get_text())
        if shown != text.get_text():
            text.set_text(shown)
    for axis in (axis for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)):
        _standard_tick_labels(axis)
    with atomic_path(out_path) as tmp:
        FigureCanvasAgg(fig)
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    return Path(out_path)


def _chart_title(exp: Experiment, name: str, random: bool, manifest: Manifest) -> str:
    title = f"{experiment_title(exp, name)}\n{evaluator_line(manifest)}"
    if random:
        title += f"\n{RANDOM_NOTE}"
    return title


def _standard_tick_labels(axis) -> None:
    """Tick labels given as text (set_xticks(ticks, labels): a FixedFormatter, or the
    FuncFormatter newer matplotlib makes of them) are redrawn from the formatter at every
    draw, so the formatter is what must name layers by their standard names."""
    formatter = axis.get_major_formatter()
    if isinstance(formatter, FixedFormatter):
        formatter.seq = [standard_text(label) for label in formatter.seq]
    elif isinstance(formatter, FuncFormatter) and not getattr(formatter, "standard_names", False):
        labels = formatter.func
        formatter.func = lambda x, pos=None: standard_text(labels(x, pos))
        formatter.standard_names = True


# --- experiment charts ---------------------------------------------------------------------
def experiment_chart(manifest: Manifest, exp_table: pd.DataFrame, name: str, runs_dir,
                     out_path) -> Path:
    """A chart of experiment `name` (its rows of `exp_table`) to `out_path`; the kind decides
    which (see the module docstring). Raises AggregateError for an experiment without trials,
    FileNotFoundError for the missing history.csv of a chart over iterations."""
    exp = manifest.experiment(name)
    table = experiment_rows(manifest, exp_table, name)
    if table.empty:
        raise AggregateError(f"experiment {name!r} has no trials to chart")
    random = any_random(table)
    score = score_column(manifest)
    if exp.kind == "vary" and list(exp.keys) == ["iterations"]:
        fig = iterations_chart(table, runs_dir, score)
    elif exp.kind != "pairs" and len(pairs_in_order(table)) > 1:
        fig = interval_chart(table, score)
    elif exp.kind == "subsets":
        fig = subsets_chart(table, score)
    elif exp.kind == "pairs":
        fig = pairs_chart(table, score)
    else:
        fig = grouped_chart(table, score=score)
    fig.suptitle(wrap_title(_chart_title(exp, name, random, manifest), fig),
                 color="firebrick" if random else "black", fontsize=9)
    return save_figure_atomic(fig, out_path)


def iterations_chart(table: pd.DataFrame, runs_dir, score=("eval_total", "eval_total")) -> Figure:
    """Per pair: the final own total and the comparable total (`score`: column, label) over
    the runs' iterations, and the longest run's total per iteration (its history.csv)."""
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    plotted = []
    for k, (content, style) in enumerate(pairs_in_order(table)):
        rows = pair_rows(table, content, style).copy()
        rows["_it"] = finite_array(rows["iterations"])
        rows = rows.sort_values("_it")
        color = f"C{k % 10}"
        pair = f"{content} / {style}"
        x = rows["_it"].to_numpy()
        final, evaluation = finite_array(rows["final_total"]), finite_array(rows[score[0]])
        ax.plot(x, final, "o-", color=color, label=f"{pair}: final own total")
        ax.plot(x, evaluation, "s--", color=color, mfc="none", label=f"{pair}: {score[1]}")
        longest = rows.iloc[-1]
        history = read_history(run_dir(runs_dir, content, style, longest["run_id"]) / HISTORY)
        curve = finite_array(history["total"])
        ax.plot(history["iteration"], curve, "-", color=color, alpha=0.45, lw=1,
                label=f"{pair}: total per iteration ({int(longest['_it'])}-iteration run)")
        for xi, yi, status in zip(x, final, rows["status"]):
            if status != "ok":
                ax.annotate("diverged", (xi, yi if np.isfinite(yi) else 0), color="red",
                            fontsize=8)
        plotted += [final, evaluation, curve]
    if spans_decades(*plotted):
        ax.set_yscale("log")
    if len(pairs_in_order(table)) > 1:
        plotted.append(_interval_bars(ax, table, table["iterations"], score, numeric=True))
    ax.set_xlabel("iterations")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def _ok_scores(table: pd.DataFrame, column: str) -> np.ndarray:
    """`column` as numbers, empty (NaN) for runs that are not ok: they count in no mean."""
    values = finite_array(table[column])
    values[(table["status"].astype(str) != "ok").to_numpy()] = np.nan
    return values


def _interval_bars(ax, table: pd.DataFrame, by: pd.Series, score, numeric=False, horizontal=False):
    """Per value of `by` (plan order; positions 0.. unless `numeric`): the mean of `score`'s
    ok values over the pairs, with its 95 % interval as error bars (none from one pair).
    Returns the means."""
    values = _ok_scores(table, score[0])
    keys = list(dict.fromkeys(by))
    at = np.array([float(k) for k in keys]) if numeric else np.arange(len(keys), dtype=float)
    intervals = [mean_ci(values[(by == k).to_numpy()]) for k in keys]
    means, low, high = (np.array([getattr(i, part) for i in intervals]) for part in ("mean", "low", "high"))
    error = np.nan_to_num(np.abs(np.array([low, high]) - means), nan=0.0)  # none from one pair
    x, y = (means, at) if horizontal else (at, means)
    methods = "/".join(dict.fromkeys(i.method for i in intervals if i.method)) or "none"
    ax.errorbar(x, y, **{"xerr" if horizontal else "yerr": error}, fmt="o-" if numeric else "o", color="black", capsize=4, lw=1.5, zorder=4,
                label=f"mean {score[1]} over {len(pairs_in_order(table))} pairs, 95 % interval ({methods})")
    return means


def interval_chart(table: pd.DataFrame, score=("eval_total", "eval_total"), horizontal_over: int = 16) -> Figure:
    """An experiment on several pairs: per label (plan order) the mean of `score` with its 95 %
    interval, each pair's own score a faint point; a label's diverged runs are counted in its
    tick label. Horizontal when there are more than `horizontal_over` labels."""
    labels = list(dict.fromkeys(table["label"]))
    horizontal = len(labels) > horizontal_over
    size = (7.5, max(3.0, 0.26 * len(labels) + 1.5)) if horizontal else (max(6.0, 1.1 * len(labels) + 2), 4.5)
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.add_subplot()
    pairs = pairs_in_order(table)
    offset = dict(zip(pairs, np.linspace(-0.15, 0.15, len(pairs))))  # each pair a little aside
    at = np.array([labels.index(lab) + offset[(c, s)]
                   for lab, c, s in zip(table["label"], table["content"], table["style"])])
    values = _ok_scores(table, score[0])
    points = (values, at) if horizontal else (at, values)
    ax.scatter(*points, s=14, color="grey", alpha=0.35, label="each pair", zorder=2)
    means = _interval_bars(ax, table, table["label"], score, horizontal=horizontal)
    diverged = table.loc[table["status"].astype(str) != "ok", "label"].value_counts()
    sep = " " if horizontal else "\n"  # a label's diverged count after it, or under it
    ticks = [(lab if horizontal else lab.replace(", ", sep)) + (f"{sep}[{diverged[lab]} diverged]" if lab in diverged
                                                                else "") for lab in labels]
    scale = "log" if spans_decades(values, means) else "linear"
    if horizontal:
        ax.set_yticks(range(len(labels)), ticks, fontsize=7)
        ax.invert_yaxis()
        ax.set_xscale(scale)
        ax.set_xlabel(score[1])
    else:
        tilt = len(labels) > 4
        ax.set_xticks(range(len(labels)), ticks, rotation=30 if tilt else 0, ha="right" if tilt else "center",
                      fontsize=8)
        ax.set_yscale(scale)
        ax.set_ylabel(score[1])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def subsets_chart(table: pd.DataFrame, score=("eval_total", "eval_total")) -> Figure:
    """One panel per pair: horizontal bars of final own total and `score` per layer subset,
    sorted by the final own total."""
    pairs = pairs_in_order(table)
    n = max(len(pair_rows(table, c, s)) for c, s in pairs)
    fig = Figure(figsize=(6.5 * len(pairs), max(3.0, 0.24 * n + 1.5)), layout="constrained")
    axes = fig.subplots(1, len(pairs), squeeze=False)[0]
    for ax, (content, style) in zip(axes, pairs):
        rows = pair_rows(table, content, style).copy()
        rows["_final"] = finite_array(rows["final_total"])
        rows["_eval"] = finite_array(rows[score[0]])
        rows = rows.sort_values(["_final", "_eval"], na_position="last").reset_index(drop=True)
        y = np.arange(len(rows))
        ax.barh(y - 0.2, rows["_final"], height=0.4, color="C0", label="final own total")
        ax.barh(y + 0.2, rows["_eval"], height=0.4, color="C1", label=score[1])
        ax.set_yticks(y, rows["label"], fontsize=7)
        ax.invert_yaxis()
        for yi, status in zip(y, rows["status"]):
            if status != "ok":
                ax.text(0, yi, f" {str(status).upper()}", color="red", va="center", fontsize=7)
        if spans_decades(rows["_final"], rows["_eval"]):
            ax.set_xscale("log")
        ax.set_xlabel("loss (sorted by final own total)")
        ax.set_title(f"{content} / {style}", fontsize=9)
        ax.legend(fontsize=7, loc="best")
        ax.grid(axis="x", alpha=0.3)
    return fig


def pairs_chart(table: pd.DataFrame, score=("eval_total", "eval_total")) -> Figure:
    """A content x style heat map of `score` (each pair's first run), a status not ok written in."""
    contents = list(dict.fromkeys(table["content"]))
    styles = list(dict.fromkeys(table["style"]))
    values = np.full((len(contents), len(styles)), np.nan)
    status = np.full((len(contents), len(styles)), "", dtype=object)
    for row in table.to_dict("records"):
        i, j = contents.index(row["content"]), styles.index(row["style"])
        if np.isnan(values[i, j]):
            values[i, j] = finite_array(pd.Series([row[score[0]]]))[0]
            status[i, j] = row["status"]
    fig = Figure(figsize=(1.6 * len(styles) + 3, 1.2 * len(contents) + 2),
                 layout="constrained")
    ax = fig.add_subplot()
    finite = values[np.isfinite(values)]
    norm = LogNorm() if spans_decades(values) and (finite > 0).all() else None
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", norm=norm, aspect="auto")
    fig.colorbar(image, ax=ax, label=score[1])
    ax.set_xticks(range(len(styles)), styles, rotation=30, ha="right")
    ax.set_yticks(range(len(contents)), contents)
    ax.set_xlabel("style image")
    ax.set_ylabel("content image")
    for i in range(len(contents)):
        for j in range(len(styles)):
            text = short_number(values[i, j])
            if status[i, j] and status[i, j] != "ok":
                text += f"\n{str(status[i, j]).upper()}"
            ax.text(j, i, text, ha="center", va="center", color="white", fontsize=8,
                    bbox=dict(facecolor="black", alpha=0.35, lw=0))
    return fig


def grouped_chart(table: pd.DataFrame, horizontal_over: int = 16,
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
        rows = pair_rows(table, content, style)
        by_label = {r["label"]: r for r in rows.to_dict("records")}
        present = [lab for lab in labels if lab in by_label]
        x = np.arange(len(present))
        final = finite_array(pd.Series([by_label[lab]["final_total"] for lab in present]))
        evaluation = finite_array(pd.Series([by_label[lab][score[0]] for lab in present]))
        bar, span = (ax.barh, ax.axhspan) if horizontal else (ax.bar, ax.axvspan)
        bar(x - 0.2, final, 0.4, color="C0", label="final own total")
        bar(x + 0.2, evaluation, 0.4, color="C1", label=score[1])
        tick_labels = []
        for xi, lab in zip(x, present):
            flag = run_flag(by_label[lab])
            text = lab if horizontal else lab.replace(", ", "\n")
            tick_labels.append(text + (f" [{flag}]" if horizontal else f"\n[{flag}]") if flag
                               else text)
            if flag:
                green = "SELECTED" in flag and "DIVERGED" not in flag
                span(xi - 0.5, xi + 0.5, color="green" if green else "red",
                     alpha=0.12 if green else 0.08)
        log = spans_decades(final, evaluation)
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


# --- selection of a tuned experiment ------------------------------------------------------
