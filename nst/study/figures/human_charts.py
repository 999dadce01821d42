"""Charts of people's judgements (matplotlib, Agg): the rankings (one panel per experiment and
question: each value's Bradley-Terry strength with its interval) and the agreement of every
automatic number with people, beside people's own agreement with each other."""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ...contracts.manifest import Manifest
from .charts import panel_axes, save_figure_atomic
from .run_grids import experiment_title
from ..tables.human_agreement import PEOPLE
from ..tables.judgements import QUESTIONS


def _empty(out_path, text: str) -> Path:
    fig = Figure(figsize=(6, 1.6))
    FigureCanvasAgg(fig)
    fig.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    return save_figure_atomic(fig, out_path)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def rankings_chart(manifest: Manifest, rankings: pd.DataFrame, out_path) -> Path:
    """One row per experiment, one panel per question: its values (plan order, top to bottom)
    by strength with the 95 % interval (a value with too few judgements has a point only, one
    nobody judged none); the strongest is starred."""
    if rankings.empty:
        return _empty(out_path, "No judgements of this study's comparisons yet (nst judge in the study folder).")
    experiments = list(dict.fromkeys(rankings["experiment"]))
    questions = [q for q in QUESTIONS if q in set(rankings["question"])]
    sizes = [int(rankings[rankings["experiment"] == name].groupby("question").size().max()) for name in experiments]
    heights = [0.28 * n + 1.3 for n in sizes]
    fig = Figure(figsize=(max(6.0, 5.4 * len(questions)), sum(heights) + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(experiments), len(questions), squeeze=False, gridspec_kw={"height_ratios": heights})
    for r, name in enumerate(experiments):
        for c, question in enumerate(questions):
            rows = rankings[(rankings["experiment"] == name) & (rankings["question"] == question)].reset_index(drop=True)
            _ranking_panel(axes[r][c], manifest, name, question, rows)
    fig.suptitle("People's ranking: Bradley-Terry strength with its 95 % bootstrap interval (star: strongest)",
                 fontsize=10)
    return save_figure_atomic(fig, out_path)


def _ranking_panel(ax, manifest: Manifest, name: str, question: str, rows: pd.DataFrame) -> None:
    if rows.empty:
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"{name}: nobody answered\n{QUESTIONS.get(question, question)}", ha="center",
                va="center", transform=ax.transAxes, fontsize=8, color="0.4")
        return
    y = np.arange(len(rows))[::-1]
    strength = rows["strength"].astype(float).to_numpy()
    low, high = rows["ci_low"].astype(float).to_numpy(), rows["ci_high"].astype(float).to_numpy()
    ok, bars = np.isfinite(strength), np.isfinite(strength) & np.isfinite(low) & np.isfinite(high)
    ax.errorbar(strength[bars], y[bars], xerr=[strength[bars] - low[bars], high[bars] - strength[bars]], fmt="o",
                color="tab:blue", capsize=3)
    ax.plot(strength[ok & ~bars], y[ok & ~bars], "o", color="tab:blue", mfc="white")
    if ok.any() and (strength[ok] == np.nanmax(strength)).sum() == 1:
        best = int(np.nanargmax(strength))
        ax.plot(strength[best], y[best], "*", color="tab:orange", markersize=13, zorder=3)
    ax.axvline(0, color="0.6", lw=0.8, ls=":")
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_yticks(y, [textwrap.shorten(str(v), 42, placeholder="...") for v in rows["value"]], fontsize=8)
    ax.set_xlabel("strength (log-odds; 0 = the experiment's average value)", fontsize=8)
    exp = manifest.experiments.get(name)
    title = experiment_title(exp, name) if exp else name
    n, raters = int(rows["n_judgements"].sum() // 2), int(rows["n_raters"].max())
    ax.set_title(f"{title}\n{QUESTIONS.get(question, question)} ({_plural(n, 'judgement')}, "
                 f"{_plural(raters, 'rater')})", fontsize=9)


def agreement_chart(agreement: pd.DataFrame, out_path) -> Path:
    """Per question, over every judged comparison (scope all): each metric's share of pairs on
    which it agrees with people, with its Wilson interval, people's own agreement as a band, and
    chance (50 %) as a dashed line."""
    rows = agreement[agreement["scope"] == "all"]
    if rows.empty:
        return _empty(out_path, "No comparison with a people's choice yet: nothing to agree with.")
    questions = list(dict.fromkeys(rows["question"]))
    metrics = rows[rows["metric"] != PEOPLE]
    height = max(2.5, 0.3 * metrics.groupby("question").size().max() + 1.4)
    fig, axes = panel_axes(len(questions), (6.0, height), 6, 0.6)
    FigureCanvasAgg(fig)
    for ax, question in zip(axes, questions):
        here = metrics[metrics["question"] == question].sort_values("accuracy", na_position="first")
        people = rows[(rows["question"] == question) & (rows["metric"] == PEOPLE)]
        y = np.arange(len(here))
        acc = 100 * here["accuracy"].astype(float).to_numpy()
        low, high = 100 * here["ci_low"].astype(float).to_numpy(), 100 * here["ci_high"].astype(float).to_numpy()
        ok = np.isfinite(acc)
        if len(people) and people["n_pairs"].iloc[0] > 0:
            p = people.iloc[0]
            ax.axvspan(100 * p["ci_low"], 100 * p["ci_high"], color="tab:green", alpha=0.15,
                       label=f"people vs each other: {100 * p['accuracy']:.0f} % ({int(p['n_pairs'])} pairs)")
            ax.axvline(100 * p["accuracy"], color="tab:green", lw=1.2)
        else:
            ax.text(0.99, 0.12, "people vs each other: needs two raters of a pair", transform=ax.transAxes,
                    ha="right", fontsize=7, color="tab:green")
        ax.errorbar(acc[ok], y[ok], xerr=[acc[ok] - low[ok], high[ok] - acc[ok]], fmt="o", color="tab:blue", capsize=3)
        ax.axvline(50, color="0.5", ls="--", lw=0.8, label="chance")
        labels = [f"{m} (n={int(n)})" for m, n in zip(here["metric"], here["n_pairs"])]
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xlim(0, 100)
        ax.set_xlabel("agrees with people's choice (% of compared pairs, 95 % Wilson interval)", fontsize=8)
        ax.set_title(QUESTIONS.get(question, question), fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Which score agrees with people", fontsize=10)
    return save_figure_atomic(fig, out_path)


