"""Per-layer loss trajectories of an experiment's runs (matplotlib; no torch, no snakemake):
which layers converge when.

One panel per run (pair x trial, plan order): each optimised layer's unweighted loss from the
run's history.csv (`content_<layer>`, `style_<layer>`; other columns such as scale or tv are
left out), divided by its largest value in the run so that layers of very different magnitude
share one axis, on a log axis when they span decades. A dot marks the iteration from which a
curve stays within SETTLED of its final value. Terms weighted 0 (e.g. the style of a content
reconstruction) are recorded but not optimised, and not drawn.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ...contracts.cells import finite_array
from ...contracts.layers import LAYER_INDEX, standard_name
from ...contracts.manifest import Manifest
from ...contracts.run_folder import HISTORY
from ...errors import AggregateError
from ..tables.aggregate import RANDOM_NOTE, read_history, read_run, run_dir, run_row
from .charts import save_figure_atomic, spans_decades, wrap_title
from .run_grids import experiment_title, run_flag

TERMS = ("content", "style")
LINESTYLES = {"content": "--", "style": "-"}
SETTLED = 0.10  # "settled": within 10% of the final value from there on
MAX_PANELS = 48  # a larger experiment shows its first runs in plan order, and says so
PANEL_COLS = 4


# --- one history -----------------------------------------------------------------------------
def layer_columns(history: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(column, term, layer) of the per-layer losses, content then style, shallow to deep.
    Only `<term>_<VGG-19 layer>` counts: other columns (scale, tv, seconds, ...) are ignored."""
    found = []
    for column in history.columns:
        term, _, layer = str(column).partition("_")
        if term in TERMS and layer in LAYER_INDEX:
            found.append((column, term, layer))
    return sorted(found, key=lambda c: (TERMS.index(c[1]), LAYER_INDEX[c[2]]))


def relative_to_max(values) -> np.ndarray:
    """`values` divided by their largest finite value; non-positive and non-finite values (a
    loss of exactly 0 on a log axis, a diverged step) become NaN."""
    out = finite_array(values)
    out[out <= 0] = np.nan
    top = np.nanmax(out) if np.isfinite(out).any() else np.nan
    return out / top if np.isfinite(top) else out


def settled_at(values, tolerance: float = SETTLED) -> int | None:
    """Index from which every later value is within `tolerance` (relative) of the last finite
    one; None when there is none."""
    values = np.asarray(values, dtype=float)
    finite = np.flatnonzero(np.isfinite(values))
    if not len(finite):
        return None
    final = values[finite[-1]]
    near = np.abs(values - final) <= tolerance * abs(final)
    outside = np.flatnonzero(~near[: finite[-1] + 1])
    return int(outside[-1] + 1) if len(outside) else 0


# --- the runs of an experiment ---------------------------------------------------------------
def experiment_runs(manifest: Manifest, name: str) -> list[tuple[str, str, str, str]]:
    """(content, style, run_id, label) of each distinct run of experiment `name`, plan order."""
    seen = {}
    for t in manifest.trials_of(name):
        seen.setdefault((t.content, t.style, t.run_id), t.label)
    return [(*key, label) for key, label in seen.items()]


def optimised_terms(record: dict) -> set[str]:
    """The terms a run optimised: those whose weight is not 0."""
    params = record.get("params") or {}
    return {term for term in TERMS if float(params.get(f"{term}_weight", 1.0) or 0.0) != 0.0}


def layer_colors(histories: list[pd.DataFrame]) -> dict[str, tuple]:
    """One colour per layer seen in any history, shallow (dark) to deep (light)."""
    layers = sorted({layer for h in histories for _, _, layer in layer_columns(h)}, key=LAYER_INDEX.get)
    cmap = colormaps["viridis"]
    return {layer: cmap(k / max(1, len(layers) - 1) * 0.9) for k, layer in enumerate(layers)}


# --- drawing ---------------------------------------------------------------------------------
def layer_panel(ax, history: pd.DataFrame, terms: set[str], colors: dict[str, tuple]) -> int:
    """One run's optimised per-layer curves on `ax`; returns how many were drawn."""
    x = history["iteration"] if "iteration" in history.columns else pd.Series(range(1, len(history) + 1))
    x = np.asarray(x, dtype=float)
    drawn, spans = 0, []
    for column, term, layer in layer_columns(history):
        if term not in terms:
            continue
        y = relative_to_max(history[column])
        ax.plot(x, y, LINESTYLES[term], color=colors[layer], lw=1.6 if term == "content" else 1.2,
                label=f"{term} {layer}")
        settled = settled_at(y)
        if settled is not None and np.isfinite(y[settled]):
            ax.plot([x[settled]], [y[settled]], "o", color=colors[layer], ms=4)
        spans.append(y)
        drawn += 1
    _mark_scale_changes(ax, history, x)
    if spans and spans_decades(*spans):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)
    return drawn


def _mark_scale_changes(ax, history: pd.DataFrame, x: np.ndarray) -> None:
    """A multi-scale run restarts at each new image size: a faint line where it does."""
    if "scale" not in history.columns or len(history) < 2:
        return
    scale = history["scale"].to_numpy()
    for i in np.flatnonzero(scale[1:] != scale[:-1]) + 1:
        ax.axvline(x[i], color="grey", lw=0.8, ls=":")


def layer_chart_figure(manifest: Manifest, name: str, runs_dir) -> Figure:
    """The figure of experiment `name` (see the module docstring). AggregateError for an
    experiment without runs, InputError for a missing history.csv, MissingRunError for a run
    that has not finished."""
    exp = manifest.experiment(name)
    runs = experiment_runs(manifest, name)
    if not runs:
        raise AggregateError(f"experiment {name!r} has no runs to chart")
    shown = runs[:MAX_PANELS]
    records = [read_run(runs_dir, c, s, r) for c, s, r, _ in shown]
    histories = [read_history(run_dir(runs_dir, c, s, r) / HISTORY) for c, s, r, _ in shown]
    colors = layer_colors(histories)
    n_cols = min(PANEL_COLS, len(shown))
    n_rows = math.ceil(len(shown) / n_cols)
    fig = Figure(figsize=(4.0 * n_cols, 2.9 * n_rows + 1.6), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    random = False
    for k, ax in enumerate(axes.ravel()):
        if k >= len(shown):
            ax.set_visible(False)
            continue
        (content, style, _, label), record = shown[k], records[k]
        row = run_row(record, content, style)
        random = random or bool(row["random_weights"])
        drawn = layer_panel(ax, histories[k], optimised_terms(record.data), colors)
        status = run_flag(row)
        flag = f" [{status}]" if status else ""
        ax.set_title(f"{content} / {style}\n{label}{flag}", fontsize=8, color="red" if flag else "black")
        if not drawn:
            ax.text(0.5, 0.5, "no per-layer losses", transform=ax.transAxes, ha="center")
        if k % n_cols == 0:
            ax.set_ylabel("loss / its max in the run", fontsize=8)
        if k >= len(shown) - n_cols:
            ax.set_xlabel("iteration", fontsize=8)
    fig.legend(handles=_legend_handles(histories, colors), loc="outside lower center",
               ncols=min(8, len(colors) + 2), fontsize=7)
    fig.suptitle(wrap_title(_title(exp, name, len(shown), len(runs), random), fig), fontsize=9,
                 color="firebrick" if random else "black")
    return fig


def _legend_handles(histories: list[pd.DataFrame], colors: dict[str, tuple]) -> list[Line2D]:
    handles = [Line2D([], [], color=color, lw=2, label=standard_name(layer))
               for layer, color in colors.items()]
    handles += [Line2D([], [], color="black", ls=LINESTYLES[t], label=f"{t} loss") for t in TERMS]
    handles.append(Line2D([], [], color="black", marker="o", ls="", ms=4,
                          label=f"settled (within {SETTLED:.0%} of final)"))
    return handles


def _title(exp, name: str, shown: int, total: int, random: bool) -> str:
    title = (f"{experiment_title(exp, name)}: per-layer losses\nEach layer's unweighted loss divided "
             f"by its largest value in the run (terms weighted 0 not drawn)")
    if shown < total:
        title += f"\nThe first {shown} of {total} runs, in plan order"
    if random:
        title += f"\n{RANDOM_NOTE}"
    return title


def layer_chart(manifest: Manifest, name: str, runs_dir, out_path) -> Path:
    """Draw experiment `name`'s per-layer loss trajectories to `out_path` (PNG, atomically)."""
    return save_figure_atomic(layer_chart_figure(manifest, name, runs_dir), out_path)
