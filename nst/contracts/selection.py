"""The experiment selection rule (config `select:` of a tuned experiment): its vocabulary, the
check of a spec with its defaults filled in, and the rule in words.

The planner checks the spec (nst/study/plan/build.py calls check_select), the tables apply it
(nst/study/tables/select.py), and the tables, figures and gallery describe it (describe_select).
The evaluators the rule reads are passed in, so that this module imports nothing but the
image-space metrics' names. No torch.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..errors import PlanError
from .image_metrics import IMAGE_METRICS

# the two-sided rules over the select evaluator's style and content scores (pareto, the default;
# tradeoff; applied in nst/study/tables/select.py)
TWO_SIDED = ("pareto", "tradeoff")
# select.metric human: people's choice (the Bradley-Terry strength of the judgements,
# nst/study/tables/human.py); a pair nobody judged falls back to select.fallback, one of the others
HUMAN = "human"
# one-sided scores of the select evaluator
SCORE_METRICS = ("score_total", "score_style", "score_content",
                 *(f"score_{m}" for m in IMAGE_METRICS))
# runs.csv columns select.metric may name besides pareto / tradeoff and the score_* metrics
RUN_METRICS = ("eval_total", "eval_style", "eval_content", "final_total", "ssim_content",
               "color_distance_style")
# select.metric: a two-sided rule, one of the evaluator's one-sided scores (score_*), a runs.csv
# column, or people's choice; select.fallback: any of them but human (the schema's enums,
# workflow/schemas/config.schema.yaml, list the same, in this order)
SELECT_METRICS = (*TWO_SIDED, *SCORE_METRICS, *RUN_METRICS, HUMAN)


def _key(path: str, message: str) -> PlanError:
    return PlanError(f"config key {path!r}: {message}")


def check_select(name: str, spec: dict, kind: str, keys: list[str], pair_names: Iterable[str],
                 evaluators: Iterable[Any] = ()) -> dict | None:
    """select with its defaults: metric pareto (two-sided, see nst/study/tables/select.py), mode min,
    evaluator the first of `evaluation:`, style_share 0.5 (tradeoff only), override {}.
    `spec` is experiment `name`'s config entry, `kind` its design (only tune selects), `keys` its
    tuned keys, `pair_names` its pairs as CONTENT__STYLE, `evaluators` those of `evaluation:`
    (anything with .name and .settings["metrics"]). None for an experiment that selects nothing."""
    where = f"experiments.{name}.select"
    if kind != "tune":
        if "select" in spec:
            raise _key(where, "only an experiment with 'tune' selects runs")
        return None
    evaluators = list(evaluators)
    names = [ev.name for ev in evaluators]
    select = {"metric": "pareto", "mode": "min", "override": {}, **(spec.get("select") or {})}
    if names:
        select.setdefault("evaluator", names[0])
    if select["metric"] not in SELECT_METRICS:
        raise _key(f"{where}.metric", f"{select['metric']!r} is not allowed; allowed: {', '.join(SELECT_METRICS)}")
    # human: people's choice, and for pairs nobody judged (and halving's rungs) the fallback rule,
    # which the checks below are about
    if select["metric"] == HUMAN:
        select.setdefault("fallback", "pareto")
        if select["fallback"] not in SELECT_METRICS or select["fallback"] == HUMAN:
            raise _key(f"{where}.fallback", f"{select['fallback']!r} is not allowed; allowed: "
                                            f"{', '.join(m for m in SELECT_METRICS if m != HUMAN)}")
    elif "fallback" in select:
        raise _key(f"{where}.fallback", "only metric human takes a fallback (the rule for pairs nobody judged)")
    rule = select.get("fallback", select["metric"])
    if select["mode"] not in ("min", "max"):
        raise _key(f"{where}.mode", "must be min or max")
    if "evaluator" in select and select["evaluator"] not in names:
        raise _key(f"{where}.evaluator", f"{select['evaluator']!r} is not an evaluator of `evaluation`; "
                                         f"defined: {', '.join(names) or 'none'}")
    if rule in TWO_SIDED and select["mode"] != "min":
        raise _key(f"{where}.mode", f"{rule} minimises both distances; mode max applies to "
                                    "one-sided metrics only")
    if rule == "tradeoff":
        share = select.setdefault("style_share", 0.5)
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise _key(f"{where}.style_share", f"must be a number in [0, 1], not {share!r}")
    elif "style_share" in select:
        raise _key(f"{where}.style_share", "only metric tradeoff takes a style_share")
    if rule.startswith("score_") and names:
        metric = rule[len("score_"):]
        scorer = next(ev for ev in evaluators if ev.name == select["evaluator"])
        if metric not in ("total", "style", "content", *scorer.settings["metrics"]):
            raise _key(f"{where}.{'fallback' if select['metric'] == HUMAN else 'metric'}", f"evaluator {scorer.name!r} does not compute {metric}; its metrics: "
                                          f"{', '.join(scorer.settings['metrics']) or 'none'}")
    pair_names = set(pair_names)
    for pair, chosen in (select["override"] or {}).items():
        if pair not in pair_names:
            raise _key(f"{where}.override.{pair}", f"no such pair in this experiment; pairs are CONTENT__STYLE: {', '.join(sorted(pair_names))}")
        if not isinstance(chosen, dict) or set(chosen) - set(keys):
            raise _key(f"{where}.override.{pair}", f"must set only the tuned keys: {', '.join(keys)}")
        for k, v in chosen.items():
            if v not in spec["tune"][k]:
                raise _key(f"{where}.override.{pair}.{k}", f"{v!r} is not among the tuned values {spec['tune'][k]}")
    return select


def describe_select(select: dict, short: bool = False) -> str:
    """The selection rule in words (table notes, figure titles, captions); `short`: a few words."""
    metric = select["metric"]
    if metric == HUMAN:
        fallback = describe_select({**select, "metric": select.get("fallback", "pareto")}, short)
        if short:
            return f"people's choice (else {fallback})"
        return ("people's choice: the highest Bradley-Terry strength of the judgements of the pair's candidates "
                f"(nst judge); a pair nobody judged: {fallback}")
    if short and metric in TWO_SIDED:
        share = f" {float(select.get('style_share', 0.5)):g}" if metric == "tradeoff" else ""
        return f"{metric}{share} of {select.get('evaluator')}'s style and content scores"
    on = f" of {select['evaluator']}'s style and content scores" if select.get("evaluator") else ""
    if metric == "pareto":
        return (f"Pareto front{on}, then the candidate closest to the ideal point (each score "
                "relative to the pair's best)")
    if metric == "tradeoff":
        share = float(select.get("style_share", 0.5))
        return (f"trade-off{on}: min {share:g} x style + {1 - share:g} x content, each relative to "
                "the pair's best")
    evaluator = f" ({select['evaluator']})" if metric in SCORE_METRICS else ""
    return f"{select['mode']} {metric}{evaluator}"
