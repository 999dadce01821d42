"""People's rankings: the Bradley-Terry strengths of each experiment's values from the
judgements (results/human/rankings.csv), and each tuned pair's strengths for
`select.metric: human` (nst/study/tables/select.py).

A judgement compares two runs of one content/style pair (nst/study/tables/judgements.py). An
experiment reads it as a comparison of its two values when both runs are trials of the
experiment on that pair (a run shared by several experiments counts in each), so a value's
strength pools every pair the experiment ran on. Judgements whose image changed since (a
recomputed run: its sha256 differs) are left out and counted. Rankings per question; the
fit and its intervals: nst/study/tables/bradley_terry.py. Only pandas, numpy, scipy, choix: no torch.
"""
from __future__ import annotations

import os
from collections import defaultdict

import numpy as np
import pandas as pd

from ...contracts.manifest import Manifest, pair_key
from . import bradley_terry
from .judgements import QUESTIONS, mark_stale, read_judgements

SELECT_QUESTION = "overall"  # the question select.metric: human reads
SKIPPED_KINDS = ("reconstruct",)  # not style transfers: never shown on the page
SCORE = {"a": 1.0, "same": 0.5, "b": 0.0}  # run_a's share of a judgement
MIN_FOR_INTERVAL = 10  # judgements of a value below which the bootstrap has too little to resample
RANKING_COLUMNS = ["experiment", "question", "value", "strength", "ci_low", "ci_high", "rank", "win_share",
                   "n_judgements", "wins", "ties", "losses", "n_raters", "n_pairs", "n_stale", "note", "method"]


def load(path: str | os.PathLike, runs_dir: str | os.PathLike) -> pd.DataFrame:
    """The judgements of `path` with `stale` marked against the runs' current images."""
    return mark_stale(read_judgements(path), runs_dir)


def current(judged: pd.DataFrame) -> pd.DataFrame:
    """The judgements whose images are still the runs' images."""
    return judged[~judged["stale"]] if "stale" in judged else judged


def experiment_runs(manifest: Manifest, name: str) -> dict[tuple[str, str, str], list[str]]:
    """(content, style, run_id) -> the labels of the experiment's trials with that run (those
    successive halving stopped at a rung left out: they are not shown)."""
    out: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for t in manifest.trials_of(name):
        if t.stopped_at is None and t.label not in out[(t.content, t.style, t.run_id)]:
            out[(t.content, t.style, t.run_id)].append(t.label)
    return dict(out)


def value_comparisons(judged: pd.DataFrame, runs: dict, labels: list[str]) -> pd.DataFrame:
    """The judgements as comparisons of two of the experiment's values: columns i, j (indices
    into `labels`), score (i's share), rater, pair, one row per judgement and pair of labels."""
    where = {label: k for k, label in enumerate(labels)}
    rows = []
    for r in judged.itertuples(index=False):
        for la in runs.get((r.content, r.style, r.run_a), []):
            for lb in runs.get((r.content, r.style, r.run_b), []):
                if la != lb:
                    rows.append((where[la], where[lb], SCORE[r.chosen], r.rater, pair_key(r.content, r.style)))
    return pd.DataFrame(rows, columns=["i", "j", "score", "rater", "pair"])


def counts(data: pd.DataFrame, n: int) -> pd.DataFrame:
    """Per value: judgements, wins, ties, losses, raters and pairs it was judged in."""
    both = pd.concat([data.assign(item=data["i"], won=data["score"]),
                      data.assign(item=data["j"], won=1 - data["score"])])
    grouped = both.groupby("item")
    out = pd.DataFrame({
        "n_judgements": grouped.size(),
        "wins": grouped["won"].apply(lambda s: int((s == 1).sum())),
        "ties": grouped["won"].apply(lambda s: int((s == 0.5).sum())),
        "losses": grouped["won"].apply(lambda s: int((s == 0).sum())),
        "n_raters": grouped["rater"].nunique(),
        "n_pairs": grouped["pair"].nunique(),
    }).reindex(range(n))
    out["win_share"] = (out["wins"] + 0.5 * out["ties"]) / out["n_judgements"]
    return out.fillna({c: 0 for c in ("n_judgements", "wins", "ties", "losses", "n_raters", "n_pairs")})


def rankings_table(manifest: Manifest, judged: pd.DataFrame) -> pd.DataFrame:
    """rankings.csv: per experiment (plan order) and question, one row per value (plan order)
    with its strength and interval (RANKING_COLUMNS); experiments nobody judged have no rows."""
    valid, stale = current(judged), judged[judged["stale"]] if "stale" in judged else judged.iloc[:0]
    parts = []
    for name, exp in manifest.experiments.items():
        if exp.kind in SKIPPED_KINDS:
            continue
        runs = experiment_runs(manifest, name)
        labels = list(dict.fromkeys(label for ls in runs.values() for label in ls))
        for question in [q for q in QUESTIONS if q in set(judged["question"])]:
            asked = valid[valid["question"] == question]
            data = value_comparisons(asked, runs, labels)
            if data.empty:
                continue
            fit = bradley_terry.strengths(len(labels), data["i"].to_numpy(), data["j"].to_numpy(),
                                          data["score"].to_numpy(), data["rater"].to_numpy(), data["pair"].to_numpy())
            levels = bradley_terry.resampled_levels(data["rater"].to_numpy(), data["pair"].to_numpy())
            stale_here = value_comparisons(stale[stale["question"] == question], runs, labels)
            part = pd.concat([fit, counts(data, len(labels))], axis=1)
            part.insert(0, "value", labels)
            part.insert(0, "question", question)
            part.insert(0, "experiment", name)
            part["n_stale"] = len(stale_here)
            few = part["n_judgements"] < MIN_FOR_INTERVAL  # a bootstrap of 3 unanimous answers is one point
            part.loc[few, ["ci_low", "ci_high"]] = np.nan
            part["note"] = np.where(part["n_judgements"] == 0, "not judged",
                                    np.where(few, f"fewer than {MIN_FOR_INTERVAL} judgements: no interval", ""))
            part["method"] = bradley_terry.method(levels)
            parts.append(part)
    if not parts:
        return pd.DataFrame(columns=RANKING_COLUMNS)
    table = pd.concat(parts, ignore_index=True)[RANKING_COLUMNS]
    for column in ("n_judgements", "wins", "ties", "losses", "n_raters", "n_pairs", "n_stale"):
        table[column] = table[column].astype(int)
    return table


def people_choice(manifest: Manifest, judged: pd.DataFrame, name: str) -> dict[str, dict]:
    """For `select.metric: human`: pair key -> {"strength": {run_id: strength}, "judgements":
    n, "raters": r}, from the current judgements of SELECT_QUESTION between the experiment's
    runs of that pair (a Bradley-Terry fit per pair, no interval); pairs nobody judged are absent."""
    runs = experiment_runs(manifest, name)
    asked = current(judged)
    asked = asked[asked["question"] == SELECT_QUESTION]
    out = {}
    for (content, style), rows in asked.groupby(["content", "style"], sort=False):
        ids = list(dict.fromkeys(run for (c, s, run) in runs if (c, s) == (content, style)))
        where = {run: k for k, run in enumerate(ids)}
        rows = rows[rows["run_a"].isin(where) & rows["run_b"].isin(where)]
        if rows.empty:
            continue
        i = rows["run_a"].map(where).to_numpy()
        j = rows["run_b"].map(where).to_numpy()
        theta = bradley_terry.fit(bradley_terry.win_matrix(len(ids), i, j, rows["chosen"].map(SCORE).to_numpy()))
        out[pair_key(content, style)] = {"strength": {run: float(t) for run, t in zip(ids, theta) if np.isfinite(t)},
                                         "judgements": len(rows), "raters": rows["rater"].nunique()}
    return out
