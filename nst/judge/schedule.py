"""Which comparisons a rater sees in a round, in which order and on which side.

Rule, per group of the catalog (one experiment's runs of one pair, or every run of a pair):
- k <= ALL_PAIRS_UP_TO (6) runs: every two of them (at most 15 comparisons), each once.
- k > 6: EXPOSURES x k / 2 comparisons (each run shown about EXPOSURES times), chosen one at a
  time: the run shown least so far (every rater's judgements of this question and the picks of
  this round count), then, among its partners, the one shown least, then the comparison whose
  outcome is the least certain (the Bradley-Terry probability of the judgements so far closest to
  1/2), then the one judged least often; ties at random. Exposure stays balanced and judgements
  go where they change the ranking most.
- A comparison the rater has judged before is not shown again (a returning rater continues), and
  a comparison shared by two groups (the same two runs in two experiments) is shown once.
The round is shuffled, each comparison's left and right drawn at random, and about REPEAT_SHARE
(10 %) of its comparisons (at least one in a round of 5 or more) shown a second time, with at
least MIN_REPEAT_GAP (3) others in between and sides drawn again: the rater's consistency.
"""
from __future__ import annotations

import random
import secrets
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..study.tables import bradley_terry
from ..study.tables.judgements import SIDES
from .catalog import Catalog, Comparison, Group

ALL_PAIRS_UP_TO = 6
EXPOSURES = 4
REPEAT_SHARE = 0.10
MIN_REPEAT_GAP = 3


@dataclass(frozen=True)
class Past:
    """One stored judgement, as scheduling needs it."""
    rater: str
    comparison: str  # comparison id
    run_a: str
    run_b: str
    chosen: str  # "a", "b" or "same"


@dataclass(frozen=True)
class Item:
    comparison: Comparison
    left: str  # "a" or "b": which run is shown on the left
    repeat: bool = False

    @property
    def id(self) -> str:
        """What the page posts back: the comparison and the side it was shown on."""
        return f"{self.comparison.id}.{self.left}"


def plan_round(catalog: Catalog, history: list[Past], rater: str, rng: random.Random | None = None) -> list[Item]:
    """The next round for `rater` (the module docstring's rule); empty when nothing is left."""
    rng = rng or random.Random(secrets.randbits(64))
    excluded = {p.comparison for p in history if p.rater == rater}
    picked: list[Comparison] = []
    for group in catalog.groups:
        if len(group.runs) <= ALL_PAIRS_UP_TO:
            new = [c for c in group.comparisons() if c.id not in excluded]
        else:
            new = adaptive_picks(group, history, excluded, rng)
        picked += new
        excluded |= {c.id for c in new}
    rng.shuffle(picked)
    return with_repeats([Item(c, rng.choice(SIDES)) for c in picked], rng)


def adaptive_picks(group: Group, history: list[Past], excluded: set[str], rng: random.Random) -> list[Comparison]:
    """A group of more than ALL_PAIRS_UP_TO runs: its share of the round (module docstring)."""
    runs = list(group.runs)
    where = {run: n for n, run in enumerate(runs)}
    mine = [p for p in history if p.run_a in where and p.run_b in where]
    exposure = Counter()
    for p in mine:
        exposure[p.run_a] += 1
        exposure[p.run_b] += 1
    judged = Counter(p.comparison for p in mine)
    theta = _strengths(mine, where)
    available: dict[str, dict[str, Comparison]] = {run: {} for run in runs}
    for c in group.comparisons():
        if c.id not in excluded:
            available[c.run_a][c.id] = c
            available[c.run_b][c.id] = c
    picks: list[Comparison] = []
    budget = EXPOSURES * len(runs) // 2
    while len(picks) < budget:
        open_runs = [run for run in runs if available[run]]
        if not open_runs:
            break
        first = min(open_runs, key=lambda run: (exposure[run], rng.random()))

        def order(c: Comparison) -> tuple:
            other = c.run_b if c.run_a == first else c.run_a
            p = bradley_terry.probability(theta[where[c.run_a]], theta[where[c.run_b]])
            return exposure[other], abs(p - 0.5), judged[c.id], rng.random()

        best = min(available[first].values(), key=order)
        picks.append(best)
        for run in (best.run_a, best.run_b):
            exposure[run] += 1
            available[run].pop(best.id)
    return picks


def _strengths(history: list[Past], where: dict[str, int]) -> np.ndarray:
    """Bradley-Terry strengths of a group's runs from the judgements so far (0: not judged)."""
    if not history:
        return np.zeros(len(where))
    i = np.array([where[p.run_a] for p in history])
    j = np.array([where[p.run_b] for p in history])
    score = np.array([{"a": 1.0, "b": 0.0}.get(p.chosen, 0.5) for p in history])
    theta = bradley_terry.fit(bradley_terry.win_matrix(len(where), i, j, score))
    return np.nan_to_num(theta)


def repeat_count(n: int) -> int:
    return max(1, int(n * REPEAT_SHARE + 0.5)) if n >= 5 else 0


def with_repeats(items: list[Item], rng: random.Random) -> list[Item]:
    """`items` with repeat_count of them shown again, each with at least MIN_REPEAT_GAP others
    in between (the originals are drawn from those with room after them), sides drawn again."""
    n = len(items)
    placed = [(float(k), item) for k, item in enumerate(items)]
    for k in rng.sample(range(n - MIN_REPEAT_GAP - 1), repeat_count(n)):
        spot = rng.uniform(k + MIN_REPEAT_GAP + 0.01, n)  # after item k + MIN_REPEAT_GAP
        placed.append((spot, Item(items[k].comparison, rng.choice(SIDES), repeat=True)))
    return [item for _, item in sorted(placed, key=lambda pair: pair[0])]
