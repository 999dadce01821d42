"""An experiment's numbers over its content/style pairs: the summary and interactions tables.

Both are made from the experiment's table (nst/study/tables/aggregate.py) and the manifest; the
statistics are nst/study/tables/stats.py's (95 % intervals over pairs valid at a few pairs: Student-t
below 4 values, then the wider of t and the bootstrap-t; each interval names its method).

Values. A trial's value is its varied values as a label ('style_weight=100000', 'base' for an
experiment that varies nothing), taken from the manifest, so a tuned experiment's candidates
and a subsets experiment's layer lists group across pairs. The reference value is
aggregate.reference_values: the trial whose values are the base preset's, else the first.

Diverged runs. A run whose status is not ok counts in `n_diverged` of its value and nowhere
else: its scores are left out of every mean, and a pair whose run diverged for a value (or for
the reference) is left out of that value's paired difference (`n_paired` says how many were
paired).

Stopped candidates. In a successive-halving experiment a candidate stopped at a rung is its
rung's run (`stopped_at` in the experiment table): scores after fewer iterations, not the
value's. It counts in `n_stopped` and, like a diverged run, in no mean or difference.

Summary table (`summary_table`, results/tables/<experiment>.summary.csv), one row per value
in plan order:
    experiment, label, reference (bool), n_pairs (pairs with an ok run), n_diverged, n_stopped,
    n_paired,
    then per metric M of `summary_metrics` (the main evaluator's score_<name>_style, _content,
    _total, then eval_total):
    M_mean, M_ci_low, M_ci_high, M_ci_method   mean over pairs, its 95 % interval and the
                                               interval's method (stats.T or stats.T_BOOTSTRAP)
    M_diff, M_diff_ci_low, M_diff_ci_high, M_diff_ci_method
                                           mean over pairs of (value - reference), its interval
    M_share_better                         fraction of paired pairs where the value is lower
    and `note`. The reference row has empty differences. With one pair no interval can be
    computed: the interval cells are empty and the note says so; below stats.VALID_FROM pairs
    the note says that the interval holds only for values that are not skewed.

Interactions table (`interactions_table`, results/tables/<experiment>.interactions.csv), for
an experiment with two or more varied keys crossed (grid; tune): experiment, metric, then
stats.GRID_COLUMNS per metric (main effects, then two-way interaction contrasts). Each factor's
reference level is the base preset's value when the grid has it, else its first level.

Only pandas, numpy and scipy: no torch, no snakemake.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...contracts.cells import finite_or_nan
from ...contracts.manifest import Manifest, format_value, label_of
from ...contracts.presets import PRESETS
from ...errors import AggregateError
from . import stats
from .aggregate import reference_values
from .select import matches

ONE_PAIR_NOTE = "one pair: no interval can be computed from one pair"
FEW_PAIRS_NOTE = "fewer than 2 pairs with ok runs: no interval"
SMALL_N_NOTE = (f"fewer than {stats.VALID_FROM} pairs: Student-t intervals, valid for values near normal, "
                "too narrow for skewed ones")
CROSSED_KINDS = ("grid", "tune")  # kinds whose varied keys are crossed (a full factorial)


def summary_metrics(manifest: Manifest) -> list[str]:
    """The columns a summary describes: the main evaluator's style, content and total
    scores, then run.json's eval_total (without an evaluator: eval_style, eval_content)."""
    ev = manifest.main_evaluator
    scores = [ev.column(w) for w in ("style", "content", "total")] if ev else ["eval_style", "eval_content"]
    return scores + ["eval_total"]


# --- the tidy per-run table ------------------------------------------------------------------
def value_rows(manifest: Manifest, exp_table: pd.DataFrame, name: str, metrics: list[str]) -> pd.DataFrame:
    """One row per trial of experiment `name`: pair ('content/style'), label (its values),
    ok (status is ok), one column per varied key (its value as a label shows it) and the
    metrics, empty (NaN) where the run is not ok. AggregateError for a table without a
    metric's column or whose trials are not the manifest's."""
    trials = manifest.trials_of(name)
    table = exp_table[exp_table["experiment"].astype(str) == name] if "experiment" in exp_table else exp_table
    missing = [m for m in metrics if m not in table.columns]
    if missing:
        raise AggregateError(f"experiment {name!r}: its table has no column {missing[0]!r}; is it out of date?")
    if len(table) != len(trials):
        raise AggregateError(f"experiment {name!r}: its table has {len(table)} rows, the plan {len(trials)} "
                             "trials; is it out of date?")
    keys = manifest.experiment(name).keys
    rows = []
    for record in table.to_dict("records"):
        trial = trials[int(record["trial"])]
        stopped = not pd.isna(record.get("stopped_at", np.nan))  # successive halving
        ok = str(record["status"]) == "ok" and not stopped
        row = {"pair": f"{trial.content}/{trial.style}", "label": label_of(trial.values), "ok": ok,
               "stopped": stopped}
        row.update({k: format_value(trial.values[k]) if k in trial.values else "" for k in keys})
        row.update({m: finite_or_nan(record[m]) if ok else np.nan for m in metrics})
        rows.append(row)
    return pd.DataFrame(rows, columns=["pair", "label", "ok", "stopped", *keys, *metrics])


def by_pair(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """`metric` as a pairs x labels table (labels in plan order; NaN where no ok run)."""
    wide = rows.pivot_table(index="pair", columns="label", values=metric, aggfunc="mean", dropna=False, sort=False)
    pairs = list(dict.fromkeys(rows["pair"]))
    return wide.reindex(index=pairs, columns=list(dict.fromkeys(rows["label"])))


# --- the summary -----------------------------------------------------------------------------
def summary_table(manifest: Manifest, exp_table: pd.DataFrame, name: str, seed: int = 0) -> pd.DataFrame:
    """The summary table of experiment `name` (see the module docstring)."""
    metrics = summary_metrics(manifest)
    rows = value_rows(manifest, exp_table, name, metrics)
    labels = list(dict.fromkeys(rows["label"]))
    reference = label_of(reference_values(manifest, name))
    reference = reference if reference in labels else labels[0]
    n_total = rows["pair"].nunique()
    wide = {m: by_pair(rows, m) for m in metrics}
    out = []
    for label in labels:
        mine = rows[rows["label"] == label]
        ok_pairs = mine.loc[mine["ok"], "pair"].nunique()
        row = {"experiment": name, "label": label, "reference": label == reference, "n_pairs": ok_pairs,
               "n_diverged": mine.loc[~mine["ok"] & ~mine["stopped"], "pair"].nunique(),
               "n_stopped": mine.loc[mine["stopped"], "pair"].nunique(), "n_paired": 0}
        for m in metrics:
            row.update(_metric_cells(wide[m], label, reference, m, seed))
        row["n_paired"] = row.pop("_n_paired")
        row["note"] = _note(n_total, ok_pairs)
        out.append(row)
    return pd.DataFrame(out, columns=summary_columns(metrics))


def summary_columns(metrics: list[str]) -> list[str]:
    cells = ["mean", "ci_low", "ci_high", "ci_method", "diff", "diff_ci_low", "diff_ci_high", "diff_ci_method",
             "share_better"]
    return (["experiment", "label", "reference", "n_pairs", "n_diverged", "n_stopped", "n_paired"]
            + [f"{m}_{c}" for m in metrics for c in cells] + ["note"])


def _metric_cells(wide: pd.DataFrame, label: str, reference: str, metric: str, seed: int) -> dict:
    mean = stats.mean_ci(wide[label], seed=seed)
    cells = {f"{metric}_mean": mean.mean, f"{metric}_ci_low": mean.low, f"{metric}_ci_high": mean.high,
             f"{metric}_ci_method": mean.method}
    if label == reference:
        diff = {"effect": np.nan, "ci_low": np.nan, "ci_high": np.nan, "ci_method": "", "share_better": np.nan,
                "n": 0}
    else:
        diff = stats.paired_difference(wide[label], wide[reference], seed=seed)
    cells.update({f"{metric}_diff": diff["effect"], f"{metric}_diff_ci_low": diff["ci_low"],
                  f"{metric}_diff_ci_high": diff["ci_high"], f"{metric}_diff_ci_method": diff["ci_method"],
                  f"{metric}_share_better": diff["share_better"], "_n_paired": diff["n"]})
    return cells


def _note(n_total: int, ok_pairs: int) -> str:
    return ONE_PAIR_NOTE if n_total == 1 else pairs_note(ok_pairs)


def pairs_note(n: int) -> str:
    """What a row's intervals from `n` pairs cannot say ("" from stats.VALID_FROM pairs)."""
    return FEW_PAIRS_NOTE if n < 2 else SMALL_N_NOTE if n < stats.VALID_FROM else ""


# --- a grid's effects ------------------------------------------------------------------------
def grid_levels(manifest: Manifest, name: str) -> tuple[list[str], dict[str, list[str]], dict[str, str]]:
    """(factors, levels of each in plan order, reference level of each) of a crossed
    experiment; AggregateError for one that is not a grid of two or more keys."""
    exp = manifest.experiment(name)
    if exp.kind not in CROSSED_KINDS or len(exp.keys) < 2:
        raise AggregateError(f"experiment {name!r} does not cross two or more keys (grid): it has no interactions")
    trials = manifest.trials_of(name)
    factors = list(exp.keys)
    levels = {k: list(dict.fromkeys(format_value(t.values[k]) for t in trials)) for k in factors}
    base = PRESETS.get(exp.base) or {}
    references = {}
    for k in factors:
        raw = [t.values[k] for t in trials]
        match = next((v for v in raw if k in base and matches({k: base[k]}, {k: v})), raw[0])
        references[k] = format_value(match)
    return factors, levels, references


def interactions_table(manifest: Manifest, exp_table: pd.DataFrame, name: str, seed: int = 0) -> pd.DataFrame:
    """The interactions table of experiment `name` (see the module docstring)."""
    factors, levels, references = grid_levels(manifest, name)
    metrics = summary_metrics(manifest)
    rows = value_rows(manifest, exp_table, name, metrics)
    parts = []
    for metric in metrics:
        effects = stats.grid_effects(rows, factors, levels, references, metric, seed=seed)
        effects.insert(0, "metric", metric)
        parts.append(effects)
    table = pd.concat(parts, ignore_index=True)
    table.insert(0, "experiment", name)
    one_pair = rows["pair"].nunique() == 1
    table["note"] = [ONE_PAIR_NOTE if one_pair else pairs_note(n) for n in table["n_pairs"]]
    return table
