"""The paper's claims, checked against a study: results/tables/findings.csv.

The claims file (config key `claims`, default claims.yaml) is a mapping with one key, `claims`,
a list of:

    claim: text                   what the paper says, shown as is
    experiment: NAME              the config's experiment that tests it
    better: A, than: B            A is better than B (by more than `margin`)
    no_worse: A, than: B          A is at most `margin` worse than B (non-inferiority)
    matches: A, than: B           A and B differ by less than `margin` either way (needs margin)
    best: A                       A is better than every other value (by more than `margin`)
    metric: M                     optional; default the main evaluator's total (lower is better)
    margin: 0.05 | "5%"           optional, default 0; a number is in the metric's units, "N%" is
                                  N % of B's mean (for best: of each other value's mean)
    higher_is_better: true        optional; default false, true for SSIM
    agrees_with_people: {metric: M, at_most: 60%}   instead of a comparison of values: whether
                                  a score agrees with people's judgements (nst/study/tables/people_claims.py;
                                  experiment optional there, and `question`)

A value (A, B) is matched against the experiment's values: the value itself (600, 1.0e+5,
zeros, "relu_1+relu_2" for a layer list), its label ("iterations=600"), a shell pattern of
either ("style_layers=relu_*"), or a mapping {key: value} (every value of a crossed experiment
with that key, averaged over the other keys). A YAML list is a group of values: per pair, the
mean of the group's ok runs. M is a numeric result column of the experiment table (any
evaluator's scores, run.json's metrics, seconds, iterations_done: aggregate.metric_columns), or
one of the main evaluator's scores by its short name (total, style, content, an image metric;
score_total ...); the workflow checks it at planning (check_claim_metrics).

Statistics (nst/study/tables/stats.py): per pair, A - B; the effect is its mean over pairs, with a
95 % interval over pairs (`ci_method`: Student-t below 4 pairs, then the wider of t and the
bootstrap-t). Diverged runs are left out (summary.py's rule).

Verdict rule. Let the gain be the effect with its sign turned so that positive means A is
better. The claim holds if the whole interval of the gain lies on the claimed side of the
margin (better, best: above +margin; no_worse: above -margin; matches: inside
(-margin, +margin)); it does not hold if the whole interval lies on the other side (matches:
entirely above +margin or below -margin); otherwise it is inconclusive. With fewer than
MIN_PAIRS (stats.VALID_FROM, 4) pairs the verdict is inconclusive whatever the interval: one
pair gives none, and from 2 or 3 the t interval covers the mean of skewed differences less
often than it says (about 92 % at 3 log-normal values of skewness 1.75, where no standard
interval reaches 93 %). An inconclusive row's evidence says how many pairs could decide it:
at least MIN_PAIRS, and the fewest with which a t interval of the same mean and standard
deviation would lie on one side (`pairs_to_decide`, a projection, not a promise). `best` holds
if A beats each other value by that rule, does not hold if any comparison does not hold, else is
inconclusive; its row reports the comparison with the closest rival (the smallest lower bound of
the gain). A claim whose experiment or values are not in this study's plan is `not run`.

findings.csv: claim, experiment, metric, effect, ci_low, ci_high, ci_method (the interval's
method), n_pairs, verdict (holds, does not hold, inconclusive, not run), evidence (one sentence).
Only pandas, numpy, scipy and PyYAML: no torch, no snakemake.
"""
from __future__ import annotations

import fnmatch
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ...contracts.cells import short_number
from ...contracts.image_metrics import IMAGE_METRICS
from ...contracts.selection import SCORE_METRICS
from ...contracts.layers import standard_name
from ...contracts.manifest import Manifest, format_value, label_of
from ...errors import ClaimsError
from . import people_claims, stats
from .aggregate import metric_columns
from ..plan.config_input import repeated_key
from .stats import MAX_PROJECTED, pairs_to_decide
from .summary import by_pair, value_rows
from .verdicts import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN

COMPARISONS = ("better", "no_worse", "matches", "best", people_claims.KIND)
KEYS = ("claim", "experiment", *COMPARISONS, "than", "metric", "margin", "higher_is_better", "question")
COLUMNS = ["claim", "experiment", "metric", "effect", "ci_low", "ci_high", "ci_method", "n_pairs", "verdict",
           "evidence"]
__all__ = ["HOLDS", "FAILS", "INCONCLUSIVE", "NOT_RUN"]  # the verdicts (nst/study/tables/verdicts.py), re-exported
MIN_PAIRS = stats.VALID_FROM  # fewer: inconclusive whatever the interval (see the verdict rule)
SHORT_METRICS = ("total", "style", "content", *IMAGE_METRICS)


@dataclass(frozen=True)
class Claim:
    text: str
    experiment: str
    comparison: str  # one of COMPARISONS
    value: Any  # A: a value, a pattern, a {key: value} mapping, or a list of them
    than: Any  # B (None for best)
    metric: str | None  # None: the main evaluator's total
    margin: float
    relative: bool  # margin is a fraction of B's mean
    higher_is_better: bool | None  # None: decided by the metric
    where: str  # "claims[i]", for messages


# --- the claims file -----------------------------------------------------------------------
def load_claims(path: str | os.PathLike) -> list[Claim]:
    """The claims of `path`; ClaimsError naming the file and the key for anything wrong."""
    path = Path(path)
    if not path.is_file():
        raise ClaimsError(f"claims file {str(path)!r} (config key claims) does not exist")
    try:
        text = path.read_text()
        repeated = repeated_key(text)  # YAML would keep the last one silently
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ClaimsError(f"claims file {str(path)!r} is not valid YAML: {str(err).splitlines()[0]}") from None
    if repeated:
        raise ClaimsError(f"claims file {str(path)!r}: {repeated}; keep one")
    if not isinstance(data, dict) or set(data) != {"claims"} or not isinstance(data["claims"], list):
        raise ClaimsError(f"claims file {str(path)!r}: must be a mapping with one key, 'claims', a list of claims")
    return [parse_claim(item, f"claims[{i}]", path) for i, item in enumerate(data["claims"])]


def _bad(path, where: str, message: str) -> ClaimsError:
    return ClaimsError(f"claims file {str(path)!r}: key {where!r}: {message}")


def parse_claim(item: Any, where: str, path) -> Claim:
    """One claim of the file (see the module docstring); ClaimsError naming `where`."""
    if not isinstance(item, dict):
        raise _bad(path, where, "must be a mapping with claim, experiment and a comparison")
    unknown = [k for k in item if k not in KEYS]
    if unknown:
        raise _bad(path, f"{where}.{unknown[0]}", f"unknown key; allowed: {', '.join(KEYS)}")
    given = [c for c in COMPARISONS if c in item]
    people = given == [people_claims.KIND]
    for key in ("claim",) if people and "experiment" not in item else ("claim", "experiment"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise _bad(path, f"{where}.{key}", "must be a non-empty text")
    if len(given) != 1:
        raise _bad(path, where, f"needs exactly one comparison of {', '.join(COMPARISONS)}; found "
                                f"{', '.join(given) or 'none'}")
    comparison = given[0]
    if people:
        extra = [k for k in ("than", "metric", "margin", "higher_is_better") if k in item]
        if extra:
            raise _bad(path, f"{where}.{extra[0]}", f"{people_claims.KIND} takes metric and its bound inside it")
        value = people_claims.parse(item[comparison], item, where, lambda key, message: _bad(path, key, message))
        return Claim(item["claim"].strip(), item.get("experiment", ""), comparison, value, None, value["metric"],
                     0.0, False, None, where)
    if "question" in item:
        raise _bad(path, f"{where}.question", f"only {people_claims.KIND} claims take a question")
    if item[comparison] in (None, [], {}, ""):  # YAML's empty value: compares with nothing
        raise _bad(path, f"{where}.{comparison}", "needs a value of the experiment (a value, a label, a pattern, "
                                                  "{key: value} or a list)")
    if comparison == "best" and "than" in item:
        raise _bad(path, f"{where}.than", "best compares with every other value: it takes no 'than'")
    if comparison != "best" and item.get("than") in (None, [], {}, ""):
        raise _bad(path, f"{where}.than", f"{comparison} needs the value it is compared with")
    margin, relative = _margin(item.get("margin", 0), f"{where}.margin", path)
    if comparison == "matches" and margin == 0:
        raise _bad(path, f"{where}.margin", "matches needs a margin above 0 (how close counts as a match)")
    metric = item.get("metric")
    if metric is not None and (not isinstance(metric, str) or not metric.strip()):
        raise _bad(path, f"{where}.metric", "must be a column name or one of " + ", ".join(SHORT_METRICS))
    higher = item.get("higher_is_better")
    if higher is not None and not isinstance(higher, bool):
        raise _bad(path, f"{where}.higher_is_better", "must be true or false")
    return Claim(item["claim"].strip(), item["experiment"], comparison, item[comparison], item.get("than"),
                 metric, margin, relative, higher, where)


def _margin(value: Any, where: str, path) -> tuple[float, bool]:
    """(size, relative) of a margin: a number >= 0, or 'N%'."""
    relative = isinstance(value, str) and value.strip().endswith("%")
    try:
        number = float(value.strip()[:-1]) / 100 if relative else float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not math.isfinite(number) or number < 0:
        raise _bad(path, where, f"must be a number >= 0 or a percentage such as '5%', not {value!r}")
    return number, relative


# --- one claim -------------------------------------------------------------------------------
def metric_column(manifest: Manifest, claim: Claim, path) -> str:
    """The table column a claim's metric names: a numeric result column of its experiment's
    table (aggregate.metric_columns), or a main evaluator's score by its short name; ClaimsError
    naming the key and the allowed metrics otherwise (known before any run: the workflow checks
    every claim at planning, check_claim_metrics)."""
    ev = manifest.main_evaluator
    metric = claim.metric
    if metric is None:
        return ev.column("total") if ev else "eval_total"
    columns = metric_columns(manifest, claim.experiment)
    short = metric[len("score_"):] if metric in SCORE_METRICS else metric
    if ev and short in SHORT_METRICS and ev.column(short) in columns:
        return ev.column(short)
    if metric in columns:
        return metric
    standard = _standard_layer_metric(metric)  # score_gatys_style_relu_1: the paper's names stay accepted
    if standard in columns:
        return standard
    named = [m for m in SHORT_METRICS if ev and ev.column(m) in columns]
    summaries = [c for e in manifest.evaluation for c in e.summary_columns()]
    rest = [c for c in columns if c.startswith("score_") and c not in summaries]
    allowed = list(dict.fromkeys(named + summaries + [c for c in columns if not c.startswith("score_")]))
    layers = f", or a per-layer score ({rest[0]}, ...)" if rest else ""
    raise _bad(path, f"{claim.where}.metric", f"experiment {claim.experiment!r} has no metric {claim.metric!r}; "
                                              f"allowed: {', '.join(allowed)}{layers}")


def _standard_layer_metric(metric: str) -> str | None:
    """A per-layer score column named with the tutorial's sequential layer name (..._relu_1) in
    the standard name the tables use (..._relu1_1); None when `metric` names no such layer."""
    match = re.fullmatch(r"(.+_(?:style|content)_)((?:conv|relu|pool)_\d+)", metric)
    if not match:
        return None
    try:
        return match.group(1) + standard_name(match.group(2))
    except ValueError:
        return None


def check_claim_metrics(manifest: Manifest, claims: list[Claim], path) -> None:
    """ClaimsError for the first claim on a planned experiment whose metric its table will not
    have (a claim on an experiment not planned is 'not run', whatever its metric). An
    agrees_with_people claim's metric is the agreement table's, checked when that table is read
    (people_claims.check)."""
    for claim in claims:
        if claim.experiment in manifest.experiments and claim.comparison != people_claims.KIND:
            metric_column(manifest, claim, path)


def _scalar_matches(pattern: Any, value: Any) -> bool:
    text = format_value(value)
    if isinstance(pattern, (int, float)) and not isinstance(pattern, bool):
        try:
            return math.isclose(float(pattern), float(value), rel_tol=1e-9)
        except (TypeError, ValueError):
            return False
    return fnmatch.fnmatchcase(text, str(pattern))


def value_matches(pattern: Any, values: dict) -> bool:
    """Whether a trial with varied `values` is what `pattern` names (see the module docstring)."""
    if isinstance(pattern, list):
        return any(value_matches(p, values) for p in pattern)
    if isinstance(pattern, dict):
        return all(k in values and _scalar_matches(p, values[k]) for k, p in pattern.items())
    if isinstance(pattern, str) and fnmatch.fnmatchcase(label_of(values), pattern):
        return True
    return len(values) == 1 and _scalar_matches(pattern, next(iter(values.values())))


def describe_value(pattern: Any) -> str:
    if isinstance(pattern, list):
        return "/".join(describe_value(p) for p in pattern)
    if isinstance(pattern, dict):
        return ", ".join(f"{k}={format_value(v)}" for k, v in pattern.items())
    return format_value(pattern)


def group_means(wide: pd.DataFrame, labels: list[str]) -> pd.Series:
    """Per pair, the mean of `labels`' values that are there (a diverged run is left out)."""
    return wide[labels].mean(axis=1, skipna=True)


def lower_is_better(claim: Claim, column: str) -> bool:
    return not (claim.higher_is_better if claim.higher_is_better is not None else "ssim" in column)


def comparison(wide: pd.DataFrame, treatment: list[str], reference: list[str], claim: Claim,
               lower: bool) -> dict:
    """The paired difference of two groups of labels, the margin in the metric's units and
    the verdict by the module's rule."""
    t, r = group_means(wide, treatment), group_means(wide, reference)
    diff = stats.paired_difference(t, r, lower_is_better=lower)
    margin = claim.margin * abs(float(np.nanmean(r))) if claim.relative and r.notna().any() else claim.margin
    sign = -1.0 if lower else 1.0  # gain = sign * effect: positive means the treatment is better
    gains = sorted([sign * diff["ci_low"], sign * diff["ci_high"]])
    return {**diff, "margin": margin, "gain_low": gains[0],
            "verdict": verdict(claim.comparison, gains[0], gains[1], margin, diff["n"]),
            "to_decide": pairs_to_decide(claim.comparison, sign * diff["effect"], diff["sd"], margin)}


def verdict(kind: str, gain_low: float, gain_high: float, margin: float, n: int) -> str:
    """The module docstring's rule, on the interval [gain_low, gain_high] of the gain."""
    if n < MIN_PAIRS or not (math.isfinite(gain_low) and math.isfinite(gain_high)):
        return INCONCLUSIVE
    if kind == "matches":
        if -margin < gain_low and gain_high < margin:
            return HOLDS
        return FAILS if gain_low > margin or gain_high < -margin else INCONCLUSIVE
    line = -margin if kind == "no_worse" else margin
    if gain_low > line:
        return HOLDS
    return FAILS if gain_high < line else INCONCLUSIVE


def check_claim(manifest: Manifest, claim: Claim, table: pd.DataFrame | None, path,
                agreement: pd.DataFrame | None = None) -> dict:
    """One row of findings.csv for `claim` (`table`: its experiment's table, None if not run;
    `agreement`: results/human/agreement.csv, None without judgements)."""
    row = dict.fromkeys(COLUMNS)
    row.update(claim=claim.text, experiment=claim.experiment)
    if claim.comparison == people_claims.KIND:
        return people_claims.check(manifest, claim, agreement, row, lambda key, message: _bad(path, key, message))
    if claim.experiment not in manifest.experiments or table is None:
        return {**row, "verdict": NOT_RUN, "n_pairs": 0,
                "evidence": f"experiment {claim.experiment!r} is not in this study's plan."}
    column = metric_column(manifest, claim, path)
    rows = value_rows(manifest, table, claim.experiment, [column])
    wide = by_pair(rows, column)
    values = {label_of(t.values): t.values for t in manifest.trials_of(claim.experiment)}
    treatment = [lab for lab in wide.columns if value_matches(claim.value, values[lab])]
    if claim.comparison == "best":
        rivals = [[lab] for lab in wide.columns if lab not in treatment]
    else:
        rivals = [[lab for lab in wide.columns if value_matches(claim.than, values[lab]) and lab not in treatment]]
    row["metric"] = column
    absent = (describe_value(claim.value) if not treatment else "to compare with" if not rivals
              else describe_value(claim.than) if not all(rivals) else None)
    if absent:
        return {**row, "verdict": NOT_RUN, "n_pairs": 0, "evidence": f"experiment {claim.experiment!r} has no "
                f"value {absent} (its values: {', '.join(wide.columns)})."}
    lower = lower_is_better(claim, column)
    results = [(rival, comparison(wide, treatment, rival, claim, lower)) for rival in rivals]
    rival, result = min(results, key=lambda item: _sort_key(item[1]))
    verdicts = {r["verdict"] for _, r in results}
    final = FAILS if FAILS in verdicts else HOLDS if verdicts == {HOLDS} else INCONCLUSIVE
    text = evidence(claim, column, rival, result, len(rivals), lower)
    if final == INCONCLUSIVE:
        text += " " + _deciding(result)
    return {**row, "effect": result["effect"], "ci_low": result["ci_low"], "ci_high": result["ci_high"],
            "ci_method": result["ci_method"], "n_pairs": result["n"], "verdict": final, "evidence": text}


def _deciding(result: dict) -> str:
    """The sentence of an inconclusive row that says how many pairs could decide it."""
    n, projected = result["n"], result["to_decide"]
    if projected is None:
        if n >= MIN_PAIRS:
            return "No number of pairs is likely to decide it: the mean gain is at the claim's margin."
        return f"A verdict needs at least {MIN_PAIRS} pairs."
    # the projection is t's; the interval used from MIN_PAIRS on can be wider: at least one pair more
    needed = max(projected, n + 1, MIN_PAIRS)
    return (f"With this mean and spread, at least {needed} pairs could decide it (a Student-t projection; "
            f"a verdict needs at least {MIN_PAIRS}).")


def _sort_key(result: dict) -> float:
    """The closest rival first: the smallest lower bound of the gain (else the smallest gain)."""
    low = result["gain_low"]
    return low if math.isfinite(low) else -abs(result["effect"]) if math.isfinite(result["effect"]) else math.inf


def evidence(claim: Claim, column: str, rival: list[str], result: dict, n_rivals: int, lower: bool) -> str:
    """The one sentence of findings.csv's evidence column."""
    a = describe_value(claim.value)
    b = describe_value(claim.than) if claim.comparison != "best" else "/".join(rival)
    lead = f"Against its closest rival {b} (of {n_rivals} other values), " if claim.comparison == "best" else ""
    n = result["n"]
    if n == 0:
        return f"{lead}no pair has ok runs of both {a} and {b}."
    what = f"{a} - {b} in {column} is {short_number(result['effect'])}"
    if n == 1:
        return f"{lead}one pair only: {what}; no interval can be computed from one pair."
    interval = f"95 % CI {short_number(result['ci_low'])} to {short_number(result['ci_high'])}, {result['ci_method']}"
    if n < MIN_PAIRS:
        return (f"{lead}{what} ({interval}) over {n} pairs; from fewer than {MIN_PAIRS} pairs an interval "
                "is too narrow for skewed differences.")
    better = round(result["share_better"] * n)
    side = "lower" if lower else "higher"
    need = {"better": f"{side} by more than {short_number(result['margin'])}",
            "best": f"{side} by more than {short_number(result['margin'])}",
            "no_worse": f"at most {short_number(result['margin'])} worse",
            "matches": f"within {short_number(result['margin'])} either way"}[claim.comparison]
    return f"{lead}{what} ({interval}) over {n} pairs, {a} better on {better} of {n}; the claim needs {a} {need}."


# --- the table -------------------------------------------------------------------------------
def findings_table(manifest: Manifest, claims: list[Claim], tables: dict[str, pd.DataFrame], path,
                   agreement: pd.DataFrame | None = None) -> pd.DataFrame:
    """findings.csv: one row per claim, in file order (`tables`: experiment name -> its table,
    for the planned experiments the claims name; `path`: the claims file, for messages;
    `agreement`: the agreement table for agrees_with_people claims, None without judgements)."""
    rows = [check_claim(manifest, c, tables.get(c.experiment), path, agreement) for c in claims]
    return pd.DataFrame(rows, columns=COLUMNS)


def claimed_experiments(manifest: Manifest, claims: list[Claim]) -> list[str]:
    """The planned experiments whose tables the claims need, in plan order (an agrees_with_people
    claim reads the agreement table instead); `manifest`: a Manifest or a Plan (both have
    experiments by name)."""
    named = {c.experiment for c in claims if c.comparison != people_claims.KIND}
    return [name for name in manifest.experiments if name in named]
