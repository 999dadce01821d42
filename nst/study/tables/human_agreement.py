"""Which score agrees with people (results/human/agreement.csv), and how much people agree
with each other (results/human/reliability.csv).

The unit is a judged comparison: two runs of one content/style pair, for one question. People's
choice is the run most of its raters picked ("same" abstains; a tie of votes is no choice, and
the comparison is left out). Repeats (a comparison shown twice in a round) measure consistency
only. A metric agrees when it ranks that run better (lower is better, SSIM higher); equal
values count half.

agreement.csv, per scope ("all" judged comparisons, then each experiment's) and question:
    metric       a runs.csv column: the run's own losses (final_*, not comparable across runs of
                 different definitions: the paper's point), run.json's eval_*, the image metrics,
                 each evaluator's scores; or "people" for the human ceiling
    accuracy     the share of comparisons where the metric agrees with people, ci_low / ci_high its
                 95 % Wilson score interval (valid at small n; comparisons are taken as independent)
    people       accuracy's counterpart for people: on each comparison with at least two deciding
                 raters, the share of raters who agree with the others' majority (a tie of the
                 others counts half), averaged over comparisons; its interval is Wilson's too
                 (conservative for an average of shares)
    n_pairs      comparisons counted; n_judgements the deciding judgements behind them
reliability.csv, per question and rater ("all": everyone): repeat consistency (the same answer
both times, in the runs' terms, with its Wilson interval), the share of decisive answers that
picked the left image (position bias: 0.5 is none), agreement with the other raters' majority,
the median response time, and on the "all" rows Krippendorff's alpha over raters: interval
level with b = -1, same = 0, a = +1 (so left-vs-right disagrees more than left-vs-same), and
nominal (three unordered answers), each rater's first judgement of a comparison, each comparison
counted in both orders of its two runs (which is "a" is arbitrary).
Only pandas, numpy and scipy: no torch.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import norm

from ...contracts.manifest import Manifest
from .human import SKIPPED_KINDS, current, experiment_runs
from .judgements import QUESTIONS

PEOPLE = "people"
LEVEL = 0.95
# the runs.csv columns agreement.csv compares with people (before each evaluator's scores): every
# automatic number of a run, its own losses included; not the selection rule's RUN_METRICS
# (nst/contracts/selection.py: the runs.csv columns select.metric may name), a different list
AGREEMENT_RUN_COLUMNS = ["final_total", "final_style", "final_content", "eval_total", "eval_style", "eval_content",
                         "ssim_content", "color_distance_style"]
AGREEMENT_COLUMNS = ["scope", "question", "metric", "higher_is_better", "accuracy", "ci_low", "ci_high",
                     "agree", "n_pairs", "n_judgements", "method"]
RELIABILITY_COLUMNS = ["question", "rater", "n_judgements", "n_repeats", "repeat_consistency", "ci_low",
                       "ci_high", "left_share", "agrees_with_others", "median_response_ms", "alpha_interval",
                       "alpha_nominal", "alpha_units"]
CODE = {"a": 1.0, "same": 0.0, "b": -1.0}


def wilson(successes: float, n: float, level: float = LEVEL) -> tuple[float, float]:
    """Wilson's score interval of a proportion (successes may be fractional: ties count half)."""
    if n <= 0:
        return math.nan, math.nan
    z = norm.ppf(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def higher_is_better(column: str) -> bool:
    return "ssim" in column


def metric_columns(manifest: Manifest, runs: pd.DataFrame) -> list[str]:
    """The automatic numbers of the runs table, in the order above, those with any value."""
    columns = AGREEMENT_RUN_COLUMNS + [c for ev in manifest.evaluation for c in ev.summary_columns()]
    numeric = runs.apply(pd.to_numeric, errors="coerce")
    return [c for c in dict.fromkeys(columns) if c in runs and numeric[c].notna().any()]


# --- comparisons ---------------------------------------------------------------------------------
def decided(judged: pd.DataFrame) -> pd.DataFrame:
    """One row per comparison and question: votes_a, votes_b, votes_same, choice ("a", "b" or
    "" for none), n_raters; from the current, non-repeat judgements."""
    first = current(judged)
    first = first[first["repeat"] == 0]
    keys = ["question", "content", "style", "run_a", "run_b"]
    votes = first.groupby(keys)["chosen"].value_counts().unstack(fill_value=0)
    votes = votes.reindex(columns=["a", "b", "same"], fill_value=0).add_prefix("votes_").reset_index()
    votes["choice"] = np.where(votes["votes_a"] > votes["votes_b"], "a",
                               np.where(votes["votes_b"] > votes["votes_a"], "b", ""))
    return votes


def _metric_agreement(comparisons: pd.DataFrame, values: dict, column: str) -> tuple[float, int, int]:
    """(agreements, comparisons counted, judgements behind them) of one metric."""
    agree, n, judgements = 0.0, 0, 0
    sign = -1.0 if higher_is_better(column) else 1.0
    for r in comparisons.itertuples(index=False):
        va, vb = values.get((r.content, r.style, r.run_a)), values.get((r.content, r.style, r.run_b))
        if va is None or vb is None or not (math.isfinite(va) and math.isfinite(vb)):
            continue
        pick = "same" if va == vb else ("a" if sign * va < sign * vb else "b")
        agree += 0.5 if pick == "same" else float(pick == r.choice)
        n += 1
        judgements += int(r.votes_a + r.votes_b)
    return agree, n, judgements


def leave_one_out(judged: pd.DataFrame) -> pd.DataFrame:
    """Each deciding judgement (current, non-repeat) of a comparison with at least two deciding
    raters, with `agrees`: 1 if it matches the other raters' majority, 0.5 if they tie, else 0."""
    first = current(judged)
    first = first[(first["repeat"] == 0) & (first["chosen"] != "same")].copy()
    keys = ["question", "content", "style", "run_a", "run_b"]
    first["n_a"] = first.groupby(keys)["chosen"].transform(lambda s: int((s == "a").sum()))
    first["n_dec"] = first.groupby(keys)["chosen"].transform("size")
    first = first[first["n_dec"] >= 2]
    others_a = first["n_a"] - (first["chosen"] == "a")
    others_b = first["n_dec"] - 1 - others_a
    mine_a = first["chosen"] == "a"
    first["agrees"] = np.where(others_a == others_b, 0.5,
                               np.where((others_a > others_b) == mine_a, 1.0, 0.0))
    return first


def _people_agreement(cases: pd.DataFrame) -> tuple[float, int, int]:
    """(sum over comparisons of their raters' mean agreement, comparisons, judgements)."""
    if cases.empty:
        return 0.0, 0, 0
    per = cases.groupby(["content", "style", "run_a", "run_b"])["agrees"].mean()
    return float(per.sum()), len(per), len(cases)


def _row(scope, question, metric, agree, n, judgements, method) -> dict:
    low, high = wilson(agree, n)
    return {"scope": scope, "question": question, "metric": metric,
            "higher_is_better": higher_is_better(metric) if metric != PEOPLE else True,
            "accuracy": agree / n if n else math.nan, "ci_low": low, "ci_high": high,
            "agree": agree, "n_pairs": n, "n_judgements": judgements, "method": method}


def agreement_table(manifest: Manifest, judged: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """agreement.csv (module docstring): the people row first, then every metric."""
    columns = metric_columns(manifest, runs)
    keys = list(zip(runs["content"].astype(str), runs["style"].astype(str), runs["run_id"].astype(str)))
    numeric = runs[columns].apply(pd.to_numeric, errors="coerce")
    values = {c: dict(zip(keys, numeric[c].astype(float))) for c in columns}
    comparisons, cases = decided(judged), leave_one_out(judged)
    scopes = [("all", None)] + [(name, experiment_runs(manifest, name)) for name, exp in manifest.experiments.items()
                                if exp.kind not in SKIPPED_KINDS]
    rows = []
    method = "Wilson 95 % interval over the compared pairs of images"
    for scope, members in scopes:
        for question in [q for q in QUESTIONS if q in set(comparisons["question"])]:
            here = comparisons[(comparisons["question"] == question) & (comparisons["choice"] != "")]
            mine = cases[cases["question"] == question]
            if members is not None:
                here = here[[_within(members, r) for r in here.itertuples(index=False)]]
                mine = mine[[_within(members, r) for r in mine.itertuples(index=False)]]
            if here.empty:
                continue
            rows.append(_row(scope, question, PEOPLE, *_people_agreement(mine),
                             "each rater against the others' majority, " + method))
            for column in columns:
                rows.append(_row(scope, question, column, *_metric_agreement(here, values[column], column), method))
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def _within(members: dict, r) -> bool:
    return (r.content, r.style, r.run_a) in members and (r.content, r.style, r.run_b) in members


# --- reliability ---------------------------------------------------------------------------------
def krippendorff_alpha(units: list[list[float]], nominal: bool = False) -> float:
    """Krippendorff's alpha from each unit's values (one per rater; units with fewer than two
    are not pairable), interval (squared differences) or nominal (0/1) distances: 1 - D_o / D_e
    from the coincidence matrix (Krippendorff 2011, "Computing Krippendorff's alpha-reliability").
    NaN when there is no pairable unit or no variation at all."""
    units = [u for u in units if len(u) >= 2]
    if not units:
        return math.nan
    categories = sorted({v for u in units for v in u})
    where = {c: k for k, c in enumerate(categories)}
    coincidence = np.zeros((len(categories), len(categories)))
    for u in units:
        counts = np.bincount([where[v] for v in u], minlength=len(categories)).astype(float)
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (len(u) - 1)
    values = np.array(categories, dtype=float)
    delta = (values[:, None] != values[None, :]).astype(float) if nominal else (values[:, None] - values[None, :]) ** 2
    totals = coincidence.sum(axis=1)
    n = totals.sum()
    expected = (np.outer(totals, totals) * delta).sum() / (n - 1)
    if expected == 0:
        return math.nan
    return float(1 - (coincidence * delta).sum() / expected)


def _alpha_units(rows: pd.DataFrame) -> list[list[float]]:
    """Per comparison, each rater's first judgement, coded b -1, same 0, a +1, and the same
    comparison once more in the other order (negated): which run is "a" is only the order of
    their ids, so the answers' distribution, and with it alpha's expected disagreement, must not
    depend on it (counted once, one way round, a study where people mostly preferred "b" would
    get an alpha near 0 for perfect agreement)."""
    first = rows[rows["repeat"] == 0].drop_duplicates(["content", "style", "run_a", "run_b", "rater"])
    units = [list(g.map(CODE)) for _, g in first.groupby(["content", "style", "run_a", "run_b"])["chosen"]]
    return units + [[-v for v in u] for u in units]


def _repeats(rows: pd.DataFrame) -> tuple[int, int]:
    """(consistent, repeats): each repeat against the same rater's first answer in its round."""
    keys = ["rater", "round", "content", "style", "run_a", "run_b"]
    first = rows[rows["repeat"] == 0].drop_duplicates(keys).set_index(keys)["chosen"]
    again = rows[rows["repeat"] == 1].set_index(keys)["chosen"]
    matched = again[again.index.isin(first.index)]
    return int((matched == first.reindex(matched.index)).sum()), len(matched)


def reliability_table(judged: pd.DataFrame) -> pd.DataFrame:
    """reliability.csv (module docstring)."""
    valid = current(judged)
    cases = leave_one_out(judged)
    rows = []
    for question in [q for q in QUESTIONS if q in set(valid["question"])]:
        asked = valid[valid["question"] == question]
        for rater in ["all", *sorted(asked["rater"].unique())]:
            mine = asked if rater == "all" else asked[asked["rater"] == rater]
            consistent, repeats = _repeats(mine)
            low, high = wilson(consistent, repeats)
            decisive = mine[mine["answer"] != "same"]
            agreeing = cases[(cases["question"] == question) & ((cases["rater"] == rater) | (rater == "all"))]
            units = _alpha_units(mine) if rater == "all" else []
            rows.append({
                "question": question, "rater": rater, "n_judgements": len(mine), "n_repeats": repeats,
                "repeat_consistency": consistent / repeats if repeats else math.nan, "ci_low": low, "ci_high": high,
                "left_share": float((decisive["answer"] == "left").mean()) if len(decisive) else math.nan,
                "agrees_with_others": float(agreeing["agrees"].mean()) if len(agreeing) else math.nan,
                "median_response_ms": float(mine["response_ms"].median()) if mine["response_ms"].notna().any() else math.nan,
                "alpha_interval": krippendorff_alpha(units) if rater == "all" else math.nan,
                "alpha_nominal": krippendorff_alpha(units, nominal=True) if rater == "all" else math.nan,
                "alpha_units": sum(len(u) >= 2 for u in units) // 2 if rater == "all" else 0,
            })
    return pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)
