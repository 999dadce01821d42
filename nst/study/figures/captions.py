"""The words of the Snakemake report's captions (workflow/report/*.rst fill them in through
each rule's params): what an experiment is, which evaluators scored it, the selection rule.
The figures' own titles are drawn by their modules; these are the words around them."""
from __future__ import annotations

from ...contracts.selection import describe_select
from ...contracts.plan import Plan


def experiment_caption(plan: Plan, name: str) -> str:
    """'<title> (<kind>: <varied keys>). Mirrors the paper's <figure>.'"""
    experiment = plan.experiments[name]
    paper = f" Mirrors the paper's {experiment.paper}." if experiment.paper else ""
    return f"{experiment.title} ({experiment.kind}: {', '.join(experiment.keys) or 'content x style pairs'}).{paper}"


def evaluation_caption(plan: Plan) -> str:
    """The evaluators in words (the first is the main one)."""
    return " ".join(f"{'Main evaluator' if i == 0 else 'Also'}: {ev.describe()}." for i, ev in enumerate(plan.evaluation))


def selection_caption(plan: Plan, name: str) -> str:
    """A tuned experiment's caption and its selection rule."""
    return f"{experiment_caption(plan, name)} Selection rule: {describe_select(plan.experiments[name].select)}."
