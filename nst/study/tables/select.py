"""Selection: the run a tuned experiment keeps per pair, on its experiment table.

The rule is the experiment's `select` in the manifest, checked and its defaults filled in at
planning (nst/contracts/selection.py, the rule's home). The candidates of a pair are its ok runs
(not those successive halving stopped at a rung: nst/study/tables/halving.py). A two-sided rule (pareto, the
default; tradeoff) weighs the select evaluator's style and content scores, each relative to the
pair's best; a one-sided rule minimises (or maximises) one column; a per-pair override names the
run by its tuned values. `human` picks the candidate people preferred (the Bradley-Terry
strengths nst/study/tables/human.py fits per pair) and a pair nobody judged by its `fallback` rule.
Only pandas and the standard library: no torch.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ...contracts.cells import finite_float
from ...contracts.selection import HUMAN, RUN_METRICS, SCORE_METRICS, TWO_SIDED, describe_select
from ...contracts.manifest import Manifest, Trial, pair_key
from ...contracts.params import FIELD_NAMES, RunParams
from ...errors import AggregateError



# --- the pairs of a table ----------------------------------------------------------------------
def pairs_in_order(table: pd.DataFrame) -> list[tuple[str, str]]:
    """The (content, style) pairs of an experiment table, in the order of their first row."""
    return list(dict.fromkeys(zip(table["content"].astype(str), table["style"].astype(str))))


def pair_rows(table: pd.DataFrame, content: str, style: str) -> pd.DataFrame:
    """The rows of one pair, in table order, with the table's index."""
    return table[(table["content"] == content) & (table["style"] == style)]


# --- what the rule compares ----------------------------------------------------------------------
def automatic_rule(select: dict) -> dict:
    """The rule that needs no people: `select` itself, or for metric human its fallback (what
    pairs nobody judged, and successive halving's rungs, are decided by)."""
    return {**select, "metric": select["fallback"]} if select["metric"] == HUMAN else select


def selection_axes(manifest: Manifest, select: dict) -> tuple[str, str]:
    """(style column, content column) a tuned experiment's candidates are compared on: the
    select evaluator's scores, or run.json's eval_* for a manifest without evaluators."""
    ev = manifest.evaluator(select.get("evaluator"))
    return (ev.column("style"), ev.column("content")) if ev else ("eval_style", "eval_content")


def metric_column(select: dict) -> str | None:
    """The column a one-sided select.metric names (score_* resolved against select.evaluator);
    None for a two-sided rule."""
    metric = select["metric"]
    if metric in TWO_SIDED:
        return None
    if metric in SCORE_METRICS:
        return f"score_{select['evaluator']}_{metric[len('score_'):]}"
    return metric


def pareto_ranks(points: dict[int, tuple[float, float]]) -> dict[int, int]:
    """Non-dominated sorting of points to minimise in both coordinates: rank 1 = the Pareto
    front, rank 2 = the front once rank 1 is removed, ..."""
    ranks: dict[int, int] = {}
    left = dict(points)
    rank = 1
    while left:
        front = [i for i, (a, b) in left.items()
                 if not any(x <= a and y <= b and (x < a or y < b) for j, (x, y) in left.items() if j != i)]
        for i in front:
            ranks[i] = rank
            del left[i]
        rank += 1
    return ranks


def relative_excess(values: dict[int, float]) -> dict[int, float]:
    """Each value's excess over the smallest, as a fraction of the smallest: (v - best) / best,
    so the scale of a score does not matter and candidates that are worse on it (dominated ones
    included) never move the others' numbers. A best of exactly 0 falls back on the range."""
    best, worst = min(values.values()), max(values.values())
    scale = best if best > 0 else (worst - best)
    return {i: (v - best) / scale if scale > 0 else 0.0 for i, v in values.items()}


def two_sided_scores(points: dict[int, tuple[float, float]], metric: str,
                     style_share: float = 0.5) -> dict[int, float]:
    """What a two-sided rule minimises, per candidate (points: (style, content), finite, >= 0).
    pareto: the distance to the ideal point (best style, best content) once each score is taken
    relative to its best (relative_excess); the nearest point is on the Pareto front, since a
    dominated point is farther than the point dominating it. tradeoff: style_share x style +
    (1 - style_share) x content, on the same relative scale. AggregateError for another metric."""
    style = relative_excess({i: p[0] for i, p in points.items()})
    content = relative_excess({i: p[1] for i, p in points.items()})
    if metric == "pareto":
        return {i: math.hypot(style[i], content[i]) for i in points}
    if metric == "tradeoff":
        return {i: style_share * style[i] + (1 - style_share) * content[i] for i in points}
    raise AggregateError(f"unknown two-sided rule {metric!r}; allowed: {', '.join(TWO_SIDED)}")


# --- overrides -----------------------------------------------------------------------------------
def matches(wanted: dict, values: dict) -> bool:
    """Whether a trial's `values` hold every key of `wanted` at an equal value, both taken in
    RunParams' canonical form ("5.0" == 5, "Content" == "content")."""
    for key, want in wanted.items():
        if key not in values:
            return False
        a, b = _normalise(key, want), _normalise(key, values[key])
        if isinstance(a, float) and isinstance(b, float):
            if not math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0):
                return False
        elif a != b:
            return False
    return True


def _normalise(key: str, value: Any) -> Any:
    """A parameter value in RunParams' canonical form where possible, for comparisons."""
    if key in FIELD_NAMES:
        if isinstance(value, float) and math.isnan(value):
            value = None
        try:
            value = getattr(RunParams.from_dict({key: value}), key)
        except (ValueError, TypeError):
            pass
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool) or value is None:
        return value
    number = finite_float(value)
    if number is not None:
        return number
    return str(value).strip().lower()


# --- the selection ---------------------------------------------------------------------------------
def select_runs(table: pd.DataFrame, manifest: Manifest, name: str, people: dict | None = None) -> pd.DataFrame:
    """Add a tuned experiment's selection to its table (rows in trial order, a fresh index):
    `selected` (bool, at most one per pair), `note` (why, or why nothing), `selection_score`
    (what the rule minimised) and `pareto_rank` (1 = on the pair's Pareto front of the select
    scores; empty for non-candidates). Metric human adds `selected_by` (people, fallback or
    override) and `people_strength`; `people` is human.people_choice's {pair key: strengths}.
    Raises AggregateError for a column the rule needs that the table lacks, and for an
    override that names no pair or not exactly one run."""
    select = manifest.experiment(name).select
    rule = automatic_rule(select)
    column, axes = metric_column(rule), selection_axes(manifest, rule)
    _check_columns(table, name, rule["metric"], [column] if column else list(axes))
    pairs = pairs_in_order(table)
    overrides = _checked_overrides(dict(select["override"]), pairs, name)
    trials = manifest.trials_of(name)
    selected, notes = [False] * len(table), [""] * len(table)
    scores: list[float | None] = [None] * len(table)
    ranks: list[int | None] = [None] * len(table)
    by, strengths = [""] * len(table), [None] * len(table)
    for content, style in pairs:
        rows = list(pair_rows(table, content, style).index)
        ok = [i for i in rows if table.at[i, "status"] == "ok" and not _stopped(table, i)]
        points = _candidate_points(table, ok, axes)
        for i, rank in pareto_ranks(points).items():
            ranks[i] = rank
        values = _rule_values(table, ok, points, rule, column)
        key = pair_key(content, style)
        judged = _people_values(table, ok, (people or {}).get(key)) if select["metric"] == HUMAN else {}
        for i, v in (judged or values).items():
            scores[i] = -v if judged else v
        for i in rows:
            strengths[i] = judged.get(i)
        if key in overrides:
            chosen = _override_choice(table, rows, trials, name, key, overrides[key])
            selected[chosen], notes[chosen], by[chosen] = True, _override_note(table.at[chosen, "status"]), "override"
        elif judged:
            best = _best(judged, -1.0)
            info = people[key]
            selected[best], by[best] = True, "people"
            notes[best] = (f"selected by people: the highest Bradley-Terry strength of {info['judgements']} "
                           f"judgements by {info['raters']} raters")
        elif values:
            best = _best(values, 1.0 if rule["mode"] == "min" or column is None else -1.0)
            selected[best], notes[best] = True, f"selected: {describe_select(rule)}"
            if select["metric"] == HUMAN:
                by[best] = "fallback"
                notes[best] = f"no judgements of this pair: selected by the fallback rule, {describe_select(rule)}"
        else:
            what = f"finite {axes[0]} and {axes[1]}" if column is None else f"a finite {column}"
            reason = "all runs diverged" if not ok else f"no ok run has {what}"
            for i in rows:
                notes[i] = f"{reason}: nothing selected"
        for i in rows:
            if _stopped(table, i):
                notes[i] = f"stopped at {table.at[i, 'stopped_at']} iterations (successive halving)"
    table["selected"] = selected
    table["note"] = notes
    table["selection_score"] = pd.array(scores, dtype="Float64").astype(float)
    table["pareto_rank"] = pd.array(ranks, dtype="Int64")
    if select["metric"] == HUMAN:
        table["selected_by"] = by
        table["people_strength"] = pd.array(strengths, dtype="Float64").astype(float)
    return table


def _people_values(table: pd.DataFrame, ok: list[int], choice: dict | None) -> dict[int, float]:
    """{row: strength} of the pair's ok candidates people judged (empty: nobody did)."""
    strength = (choice or {}).get("strength", {})
    return {i: strength[table.at[i, "run_id"]] for i in ok if table.at[i, "run_id"] in strength}


def _stopped(table: pd.DataFrame, row: int) -> bool:
    """Whether successive halving stopped this candidate at a rung (no candidate at the end)."""
    return "stopped_at" in table.columns and not pd.isna(table.at[row, "stopped_at"])


def _check_columns(table: pd.DataFrame, name: str, metric: str, needed: list[str]) -> None:
    for column in needed:
        if column not in table.columns:
            raise AggregateError(
                f"experiment {name!r}: select.metric {metric!r} needs the column {column!r}, which "
                f"the table does not have (e.g. {', '.join(RUN_METRICS + TWO_SIDED + SCORE_METRICS)})")


def _checked_overrides(overrides: dict, pairs: list[tuple[str, str]], name: str) -> dict:
    keys = [pair_key(c, s) for c, s in pairs]
    unknown = sorted(set(overrides) - set(keys))
    if unknown:
        raise AggregateError(
            f"experiment {name!r}: select.override names pair {unknown[0]!r}, which the "
            f"experiment does not have (pairs: {', '.join(keys)})")
    return overrides


def _candidate_points(table: pd.DataFrame, ok: list[int], axes: tuple[str, str]) -> dict[int, tuple]:
    """(style score, content score) of the ok rows that have both, finite."""
    points = {i: (finite_float(table.at[i, axes[0]]), finite_float(table.at[i, axes[1]])) for i in ok}
    return {i: p for i, p in points.items() if None not in p}


def _rule_values(table: pd.DataFrame, ok: list[int], points: dict[int, tuple], select: dict,
                 column: str | None) -> dict[int, float]:
    """What the rule ranks the candidates by: the two-sided score, or the metric's column."""
    if column is None:
        return two_sided_scores(points, select["metric"], float(select.get("style_share", 0.5))) if points else {}
    values = {i: finite_float(table.at[i, column]) for i in ok}
    return {i: v for i, v in values.items() if v is not None}


def _best(values: dict[int, float], sign: float) -> int:
    """The row with the smallest sign x value; ties go to the first in plan order."""
    return min(values, key=lambda i: (sign * values[i], i))


def _override_choice(table: pd.DataFrame, rows: list[int], trials: list[Trial], name: str,
                     key: str, wanted: dict) -> int:
    """The one row of the pair whose trial has the override's values (diverged or not)."""
    found = [i for i in rows if matches(wanted, trials[i].values)]
    if not found:
        raise AggregateError(
            f"experiment {name!r}: select.override for pair {key!r} ({wanted}) matches "
            f"none of its trials ({'; '.join(str(table.at[i, 'label']) for i in rows)})")
    if len({table.at[i, "run_id"] for i in found}) > 1:
        raise AggregateError(
            f"experiment {name!r}: select.override for pair {key!r} ({wanted}) matches "
            f"{len(found)} trials ({'; '.join(str(table.at[i, 'label']) for i in found)}); "
            "name more parameters")
    return found[0]


def _override_note(status: str) -> str:
    return "selected by override" + (f" (run {status})" if status != "ok" else "")
