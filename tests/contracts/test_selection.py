"""The selection rule (nst/contracts/selection.py): its vocabulary, the check of a `select` spec
(defaults filled in; each refusal names the config key), and the rule in words."""
from __future__ import annotations

import pytest

from nst.contracts.evaluators import make_evaluator
from nst.contracts.image_metrics import IMAGE_METRICS
from nst.contracts.selection import (HUMAN, RUN_METRICS, SCORE_METRICS, SELECT_METRICS, TWO_SIDED, check_select,
                                     describe_select)
from nst.errors import PlanError

EVALUATORS = [make_evaluator("gatys"), make_evaluator("paper")]
PAIRS = ["cat__wave", "dog__wave"]
TUNE = {"init": ["zeros", "noise"], "style_weight": [1e5, 1e6]}


def check(select=None, kind="tune", evaluators=EVALUATORS, **extra):
    spec = {"tune": TUNE, **({} if select is None else {"select": select}), **extra}
    return check_select("e", spec, kind, list(TUNE), PAIRS, evaluators)


def test_the_vocabulary():
    assert SELECT_METRICS == (*TWO_SIDED, *SCORE_METRICS, *RUN_METRICS, HUMAN)
    assert len(set(SELECT_METRICS)) == len(SELECT_METRICS)
    assert {f"score_{m}" for m in IMAGE_METRICS} <= set(SCORE_METRICS)


def test_the_defaults():
    assert check() == {"metric": "pareto", "mode": "min", "override": {}, "evaluator": "gatys"}
    assert check({"metric": "tradeoff"})["style_share"] == 0.5
    assert check({"metric": HUMAN})["fallback"] == "pareto"
    assert "evaluator" not in check(evaluators=())  # a manifest without evaluators: run.json's eval_*


def test_an_experiment_that_does_not_tune_selects_nothing():
    assert check_select("e", {"vary": {"init": ["zeros"]}}, "vary", ["init"], PAIRS, EVALUATORS) is None


@pytest.mark.parametrize("select, kind, key, needle", [
    ({"metric": "eval_total"}, "vary", "experiments.e.select", "only an experiment with 'tune' selects runs"),
    ({"metric": "loudest"}, "tune", "experiments.e.select.metric",
     "'loudest' is not allowed; allowed: " + ", ".join(SELECT_METRICS)),
    ({"metric": HUMAN, "fallback": HUMAN}, "tune", "experiments.e.select.fallback",
     "'human' is not allowed; allowed: " + ", ".join(m for m in SELECT_METRICS if m != HUMAN)),
    ({"metric": "pareto", "fallback": "tradeoff"}, "tune", "experiments.e.select.fallback",
     "only metric human takes a fallback"),
    ({"metric": "eval_total", "mode": "median"}, "tune", "experiments.e.select.mode", "must be min or max"),
    ({"evaluator": "nobody"}, "tune", "experiments.e.select.evaluator",
     "'nobody' is not an evaluator of `evaluation`; defined: gatys, paper"),
    ({"metric": "pareto", "mode": "max"}, "tune", "experiments.e.select.mode", "pareto minimises both distances"),
    ({"metric": HUMAN, "fallback": "tradeoff", "mode": "max"}, "tune", "experiments.e.select.mode",
     "tradeoff minimises both distances"),
    ({"metric": "tradeoff", "style_share": 1.5}, "tune", "experiments.e.select.style_share",
     "must be a number in [0, 1], not 1.5"),
    ({"metric": "tradeoff", "style_share": True}, "tune", "experiments.e.select.style_share", "not True"),
    ({"metric": "pareto", "style_share": 0.2}, "tune", "experiments.e.select.style_share",
     "only metric tradeoff takes a style_share"),
    ({"metric": "score_texture_distance_style", "evaluator": "paper"}, "tune", "experiments.e.select.metric",
     "evaluator 'paper' does not compute texture_distance_style; its metrics: ssim_content, color_distance_style"),
    ({"metric": HUMAN, "fallback": "score_texture_distance_style", "evaluator": "paper"}, "tune",
     "experiments.e.select.fallback", "evaluator 'paper' does not compute texture_distance_style"),
    ({"override": {"cat__nope": {"init": "zeros"}}}, "tune", "experiments.e.select.override.cat__nope",
     "no such pair in this experiment; pairs are CONTENT__STYLE: cat__wave, dog__wave"),
    ({"override": {"cat__wave": {"lr": 1.0}}}, "tune", "experiments.e.select.override.cat__wave",
     "must set only the tuned keys: init, style_weight"),
    ({"override": {"cat__wave": {"init": "image"}}}, "tune", "experiments.e.select.override.cat__wave.init",
     "'image' is not among the tuned values ['zeros', 'noise']"),
])
def test_a_bad_select_is_refused_with_its_key(select, kind, key, needle):
    with pytest.raises(PlanError) as info:
        check(select, kind=kind)
    message = str(info.value)
    assert message.startswith(f"config key {key!r}: ")
    assert needle in message


def test_a_good_override_and_a_one_sided_metric_pass():
    select = check({"metric": "score_ssim_content", "mode": "max", "override": {"dog__wave": {"init": "noise"}}})
    assert select["evaluator"] == "gatys" and select["override"] == {"dog__wave": {"init": "noise"}}


@pytest.mark.parametrize("select, short, words", [
    ({"metric": "pareto", "evaluator": "gatys"}, False,
     "Pareto front of gatys's style and content scores, then the candidate closest to the ideal point "
     "(each score relative to the pair's best)"),
    ({"metric": "pareto", "evaluator": "gatys"}, True, "pareto of gatys's style and content scores"),
    ({"metric": "tradeoff", "evaluator": "gatys", "style_share": 0.25}, False,
     "trade-off of gatys's style and content scores: min 0.25 x style + 0.75 x content, each relative to "
     "the pair's best"),
    ({"metric": "tradeoff", "evaluator": "gatys", "style_share": 0.25}, True,
     "tradeoff 0.25 of gatys's style and content scores"),
    ({"metric": "score_style", "mode": "min", "evaluator": "paper"}, False, "min score_style (paper)"),
    ({"metric": "ssim_content", "mode": "max", "evaluator": "gatys"}, False, "max ssim_content"),
    ({"metric": "pareto"}, False, "Pareto front, then the candidate closest to the ideal point "
                                  "(each score relative to the pair's best)"),
    ({"metric": HUMAN, "fallback": "eval_total", "mode": "min"}, True, "people's choice (else min eval_total)"),
    ({"metric": HUMAN, "fallback": "pareto", "evaluator": "gatys"}, False,
     "people's choice: the highest Bradley-Terry strength of the judgements of the pair's candidates (nst judge); "
     "a pair nobody judged: Pareto front of gatys's style and content scores, then the candidate closest to the "
     "ideal point (each score relative to the pair's best)"),
])
def test_describe_select(select, short, words):
    assert describe_select(select, short=short) == words
