"""The claims file's `agrees_with_people` kind (nst/study/tables/findings.py reads the file): does an
automatic number agree with people's choices, on at most (or at least) a share of pairs?

    - claim: "The run's own total loss agrees with people on at most 60 % of pairs"
      agrees_with_people: {metric: final_total, at_most: 60%}   # or at_least; 0.6 is 60 % too
      question: overall      # optional: overall (default), content or style (nst judge --questions)
      experiment: revised    # optional: only that experiment's comparisons (default: every judged pair)

metric is a runs.csv column (final_total, eval_total, ssim_content, score_<evaluator>_style, ...)
or one of the main evaluator's scores by its short name (total, style, content, an image
metric). Its accuracy is results/human/agreement.csv's (nst/study/tables/human_agreement.py): the share
of compared pairs of images on which it ranks people's choice better, with a 95 % Wilson
interval (valid at small n). Verdict: at_most p holds when the whole interval lies at or below p
and does not hold when it lies wholly above; at_least p the other way round; inconclusive
otherwise; not run without judgements (or none of that scope and question).
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ...contracts.image_metrics import IMAGE_METRICS
from ...contracts.selection import SCORE_METRICS
from ...contracts.manifest import Manifest
from .human_agreement import PEOPLE
from .judgements import QUESTIONS
from .verdicts import FAILS, HOLDS, INCONCLUSIVE, NOT_RUN

KIND = "agrees_with_people"
BOUNDS = ("at_most", "at_least")
SHORT = ("total", "style", "content", *IMAGE_METRICS)


def parse(value: Any, item: dict, where: str, bad) -> dict:
    """The claim's {metric, bound, share, question}; `bad(where, message)` makes the ClaimsError."""
    here = f"{where}.{KIND}"
    if not isinstance(value, dict):
        raise bad(here, "must be a mapping {metric: M, at_most: 60%} (or at_least)")
    unknown = [k for k in value if k not in ("metric", *BOUNDS)]
    if unknown:
        raise bad(f"{here}.{unknown[0]}", f"unknown key; allowed: metric, {', '.join(BOUNDS)}")
    metric = value.get("metric")
    if not isinstance(metric, str) or not metric.strip():
        raise bad(f"{here}.metric", "must name a runs.csv column or one of " + ", ".join(SHORT))
    given = [b for b in BOUNDS if b in value]
    if len(given) != 1:
        raise bad(here, f"needs exactly one of {', '.join(BOUNDS)}; found {', '.join(given) or 'none'}")
    share = _share(value[given[0]])
    if share is None:
        raise bad(f"{here}.{given[0]}", f"must be a share of pairs: 0.6 or '60%', not {value[given[0]]!r}")
    question = item.get("question", "overall")
    if question not in QUESTIONS:
        raise bad(f"{where}.question", f"{question!r} is not a question of the rating page; allowed: {', '.join(QUESTIONS)}")
    return {"metric": metric.strip(), "bound": given[0], "share": share, "question": question}


def _share(value: Any) -> float | None:
    text = value.strip() if isinstance(value, str) else value
    try:
        number = float(text[:-1]) / 100 if isinstance(text, str) and text.endswith("%") else float(text)
    except (TypeError, ValueError):
        return None
    return number if not isinstance(value, bool) and 0 <= number <= 1 else None


def metric_name(manifest: Manifest, metric: str) -> str:
    """The agreement table's metric a claim names (short names: the main evaluator's column)."""
    ev = manifest.main_evaluator
    name = metric[len("score_"):] if metric in SCORE_METRICS else metric
    return ev.column(name) if ev and name in SHORT else metric


def verdict(bound: str, share: float, low: float, high: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return INCONCLUSIVE
    if bound == "at_most":
        return HOLDS if high <= share else FAILS if low > share else INCONCLUSIVE
    return HOLDS if low >= share else FAILS if high < share else INCONCLUSIVE


def check(manifest: Manifest, claim, agreement: pd.DataFrame | None, row: dict, bad) -> dict:
    """findings.csv's row of one agrees_with_people claim (`row`: its cells so far)."""
    spec = claim.value
    scope = claim.experiment or "all"
    metric = metric_name(manifest, spec["metric"])
    row = {**row, "experiment": scope, "metric": metric, "n_pairs": 0}
    if agreement is None:
        return {**row, "verdict": NOT_RUN, "evidence": "No judgements yet: rate the outputs with `nst judge` in "
                                                       "the study folder, then run snakemake again."}
    if claim.experiment and claim.experiment not in manifest.experiments:
        return {**row, "verdict": NOT_RUN, "evidence": f"experiment {claim.experiment!r} is not in this study's plan."}
    here = agreement[(agreement["scope"] == scope) & (agreement["question"] == spec["question"])]
    if here.empty:
        return {**row, "verdict": NOT_RUN, "evidence": f"No compared pair with a people's choice in {scope} for "
                                                       f"question {spec['question']!r} yet."}
    known = [m for m in here["metric"] if m != PEOPLE]
    if metric not in known:
        raise bad(f"{claim.where}.{KIND}.metric", f"{spec['metric']!r} is not a metric of the agreement table; "
                                                  f"known: {', '.join(known)}")
    found = here[here["metric"] == metric].iloc[0]
    people = here[here["metric"] == PEOPLE].iloc[0] if (here["metric"] == PEOPLE).any() else None
    low, high, n = float(found["ci_low"]), float(found["ci_high"]), int(found["n_pairs"])
    result = verdict(spec["bound"], spec["share"], low, high)
    need = f"{'at most' if spec['bound'] == 'at_most' else 'at least'} {spec['share']:.0%}"
    if n == 0:
        text = f"No compared pair has both runs' {metric}."
    else:
        ceiling = (f"; people agree with each other on {float(people['accuracy']):.0%} of "
                   f"{int(people['n_pairs'])} pairs" if people is not None and people["n_pairs"] > 0 else "")
        text = (f"{metric} agrees with people's choice on {float(found['agree']):g} of {n} compared pairs "
                f"({float(found['accuracy']):.0%}, 95 % Wilson interval {low:.0%} to {high:.0%}){ceiling}; "
                f"the claim needs {need}.")
    return {**row, "effect": float(found["accuracy"]), "ci_low": low, "ci_high": high, "ci_method": "Wilson score",
            "n_pairs": n, "verdict": result, "evidence": text}


def reads_agreement(claims) -> bool:
    """Whether any of the claims is of this kind (the findings job then reads the agreement table)."""
    return any(claim.comparison == KIND for claim in claims)
