"""Which comparisons a round holds (nst/judge/schedule.py): every pair of values of a small
group, balanced exposure and the least certain comparisons of a large one, no comparison twice
(bar the ~10 % repeats), sides at random, and a returning rater continues where they stopped."""
from __future__ import annotations

import itertools
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from judge_kit import fabricated_results
from nst.judge.catalog import Catalog, Group, build_catalog
from nst.judge.schedule import (ALL_PAIRS_UP_TO, EXPOSURES, MIN_REPEAT_GAP, Past, adaptive_picks, plan_round,
                                repeat_count)
from nst.study.tables import bradley_terry
from nst.study.tables.judgements import comparison_id


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    results, _ = fabricated_results(tmp_path_factory.mktemp("schedule"))
    return build_catalog(results)


def firsts(items):
    return [i for i in items if not i.repeat]


def test_the_catalog_groups_each_experiment_s_finished_runs_per_pair(catalog):
    sizes = {g.name: len(g.runs) for g in catalog.groups}
    # iterations: 3 values on 3 pairs; layers: all 15 subsets of 4 layers on one pair; the optimizer
    # experiment's sgd run diverged, so it has one run and nothing to compare; revised on c1 x s1
    # lost its diverged candidate, c2 x s1 lost all four; matrix has one run per pair
    assert sizes == {"iterations/c1__s1": 3, "iterations/c2__s2": 3, "iterations/c2__s1": 3,
                     "style_weight/c1__s1": 2, "layers/c1__s1": 15, "weights_grid/c1__s1": 4,
                     "revised/c1__s1": 3, "revised/c2__s2": 4}
    assert any("not finished ok" in note for note in catalog.notes)


def test_small_groups_get_every_pair_once_and_large_ones_balanced_exposure(catalog):
    items = plan_round(catalog, [], "r", random.Random(1))
    counted = Counter(i.comparison.id for i in firsts(items))
    assert set(counted.values()) == {1}
    for group in catalog.groups:
        ids = {c.id for c in group.comparisons()}
        mine = [c for c in counted if c in ids]
        if len(group.runs) <= ALL_PAIRS_UP_TO:
            assert len(mine) == len(group.runs) * (len(group.runs) - 1) // 2, group.name
        else:
            assert len(mine) == EXPOSURES * len(group.runs) // 2, group.name
            exposure = Counter(run for c in group.comparisons() if c.id in counted for run in (c.run_a, c.run_b))
            assert set(exposure) == set(group.runs) and max(exposure.values()) - min(exposure.values()) <= 1


def test_sides_are_random_and_about_one_in_ten_is_repeated_later(catalog):
    for seed in range(5):
        items = plan_round(catalog, [], "r", random.Random(seed))
        first = firsts(items)
        repeats = [k for k, i in enumerate(items) if i.repeat]
        assert len(repeats) == repeat_count(len(first)) and abs(len(repeats) - len(first) / 10) <= 0.5
        for k in repeats:
            original = next(j for j, i in enumerate(items) if i.comparison == items[k].comparison and not i.repeat)
            assert k - original > MIN_REPEAT_GAP
        lefts = Counter(i.left for i in first)
        assert 0.3 < lefts["a"] / len(first) < 0.7
    orders = {tuple(i.comparison.id for i in plan_round(catalog, [], "r", random.Random(s))) for s in range(3)}
    assert len(orders) == 3  # shuffled


def test_a_returning_rater_continues_and_another_starts_afresh(catalog):
    first = firsts(plan_round(catalog, [], "r", random.Random(0)))
    history = [Past("r", i.comparison.id, i.comparison.run_a, i.comparison.run_b, "a") for i in first]
    again = firsts(plan_round(catalog, history, "r", random.Random(0)))
    seen = {i.comparison.id for i in first}
    assert again and not seen & {i.comparison.id for i in again}
    small = {c.id for g in catalog.groups if len(g.runs) <= ALL_PAIRS_UP_TO for c in g.comparisons()}
    assert not small & {i.comparison.id for i in again}  # only the large group has comparisons left
    other = firsts(plan_round(catalog, history, "s", random.Random(0)))
    assert small <= {i.comparison.id for i in other}


def test_a_comparison_in_two_groups_is_shown_once():
    runs = ("r1", "r2", "r3")
    catalog = Catalog(Path("."), Path("results"), [Group("e1/c__s", "c", "s", runs), Group("e2/c__s", "c", "s", runs)])
    items = firsts(plan_round(catalog, [], "r", random.Random(0)))
    assert len(items) == 3 and len({i.comparison.id for i in items}) == 3


def test_a_large_group_asks_the_least_certain_comparison_first():
    """Run 0 has been shown least, so it comes first; its partners were shown equally often, so
    the partner is the one whose Bradley-Terry probability against it is closest to 1/2."""
    runs = tuple(f"run{k}" for k in range(8))
    group = Group("e/c__s", "c", "s", runs)
    rng = np.random.default_rng(0)
    latent = dict(zip(runs[1:], [3.0, 1.5, 0.4, -0.1, -1.0, -2.0, -3.5]))
    history = []
    for x, y in itertools.combinations(runs[1:], 2):  # every other run shown equally often
        for _ in range(4):
            a, b = sorted((x, y))
            p = 1 / (1 + np.exp(latent[b] - latent[a]))
            history.append(Past("someone", comparison_id("c", "s", a, b), a, b, "a" if rng.random() < p else "b"))
    where = {run: k for k, run in enumerate(runs)}
    i = np.array([where[p.run_a] for p in history])
    j = np.array([where[p.run_b] for p in history])
    theta = np.nan_to_num(bradley_terry.fit(bradley_terry.win_matrix(8, i, j, np.array([p.chosen == "a" for p in history], float))))
    closest = min(runs[1:], key=lambda r: abs(bradley_terry.probability(theta[0], theta[where[r]]) - 0.5))
    for seed in range(5):
        first = adaptive_picks(group, history, set(), random.Random(seed))[0]
        assert {first.run_a, first.run_b} == {"run0", closest}
