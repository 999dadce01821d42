"""Statistics across content/style pairs: means and paired differences with bootstrap
intervals, and the main effects and two-way interactions of a factorial (grid) experiment.

The unit of replication is the content/style pair: a study's runs on one pair share their
images, so an interval over runs of one pair would say nothing about another pair. Every
interval here is a bootstrap over pairs (scipy.stats.bootstrap, seeded, so the same numbers give
the same interval): BCa, or the percentile method where BCa cannot be computed (degenerate
samples). Non-finite values (a diverged run, a missing one) are left out before anything is
computed; fewer than 2 finite values give no interval (NaN), and values that are all equal give
an interval of zero width at their mean.

Grid effects (`grid_effects`) take a tidy table: one row per (pair, level of each factor), a
`pair` column, one column per factor (levels as text) and the metric's column. They return one
tidy table, one row per effect:

    effect        "main" or "interaction"
    factor        the (first) factor
    level         its level; `reference`: its reference level
    factor_b      interactions only: the second factor, its `level_b` and `reference_b`
    estimate      main: mean over pairs of y[level] - y[reference], averaged over the other
                  factors' levels; interaction: mean over pairs of the contrast
                  (y[a1,b1] - y[a1,b0]) - (y[a0,b1] - y[a0,b0]), averaged over the other factors
    ci_low, ci_high   its bootstrap interval over pairs
    share_better  main only: fraction of pairs where the level is better than the reference
    n_pairs       pairs whose every cell in the contrast is finite (the others are left out)

Only numpy, pandas and scipy: no torch, no snakemake.
"""
from __future__ import annotations

import inspect
import itertools
import warnings
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

N_RESAMPLES = 9999
# scipy >= 1.15 takes the generator as `rng`; older releases (scikit-image's lower bound) as random_state
SEED_KEYWORD = "rng" if "rng" in inspect.signature(sps.bootstrap).parameters else "random_state"
GRID_COLUMNS = ["effect", "factor", "level", "reference", "factor_b", "level_b", "reference_b",
                "estimate", "ci_low", "ci_high", "share_better", "n_pairs"]


# --- one sample ----------------------------------------------------------------------------
def finite(values: Iterable) -> np.ndarray:
    """The finite values of `values` as floats (None, NaN, inf and text that is no number go)."""
    array = np.asarray(pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce"),
                       dtype=float)
    return array[np.isfinite(array)]


def _mean_along(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(sample, axis=axis)


def bootstrap_interval(x: np.ndarray, confidence: float = 0.95, seed: int = 0,
                       method: str = "BCa", n_resamples: int = N_RESAMPLES) -> tuple[float, float]:
    """The bootstrap interval of the mean of `x` (finite, at least 2 values, not all equal).
    BCa falls back on the percentile method when it fails or gives no number (scipy warns
    and returns NaN for degenerate samples, e.g. few distinct values)."""
    for how in dict.fromkeys([method, "percentile"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a degenerate BCa is handled by the fallback
            try:
                result = sps.bootstrap((x,), _mean_along, confidence_level=confidence,
                                       n_resamples=n_resamples, method=how, vectorized=True,
                                       **{SEED_KEYWORD: np.random.default_rng(seed)})
            except (ValueError, FloatingPointError):
                continue
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if np.isfinite(low) and np.isfinite(high):
            return low, high
    return float("nan"), float("nan")


def mean_ci(values: Iterable, confidence: float = 0.95, seed: int = 0,
            method: str = "BCa") -> tuple[float, float, float]:
    """(mean, low, high) of the finite values: the mean with its bootstrap interval over them.
    No finite value: all NaN; one: low and high NaN (no interval from one value); all equal:
    low == high == mean."""
    x = finite(values)
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(np.mean(x))
    if len(x) < 2:
        return mean, float("nan"), float("nan")
    if np.all(x == x[0]):
        return mean, mean, mean
    low, high = bootstrap_interval(x, confidence, seed, method)
    return mean, low, high


def paired_difference(treatment: Sequence, reference: Sequence, lower_is_better: bool = True,
                      confidence: float = 0.95, seed: int = 0) -> dict:
    """Treatment against reference, matched by position (one value per pair in each).

    effect: mean over pairs of treatment - reference; ci_low, ci_high: its bootstrap interval
    (the differences resampled, so the pairing is kept); share_better: fraction of pairs where
    the treatment is better (lower, or higher when not lower_is_better; ties are not better);
    n: pairs where both values are finite (the others are left out)."""
    t = np.asarray(pd.to_numeric(pd.Series(list(treatment), dtype=object), errors="coerce"), dtype=float)
    r = np.asarray(pd.to_numeric(pd.Series(list(reference), dtype=object), errors="coerce"), dtype=float)
    if t.shape != r.shape:
        raise ValueError(f"paired_difference: {len(t)} treatment values against {len(r)} reference values")
    both = np.isfinite(t) & np.isfinite(r)
    d = t[both] - r[both]
    effect, low, high = mean_ci(d, confidence, seed)
    better = d < 0 if lower_is_better else d > 0
    return {"effect": effect, "ci_low": low, "ci_high": high,
            "share_better": float(np.mean(better)) if len(d) else float("nan"), "n": int(len(d))}


# --- a factorial experiment ----------------------------------------------------------------
def grid_array(data: pd.DataFrame, factors: Sequence[str], levels: dict[str, list[str]],
               metric: str) -> tuple[list, np.ndarray]:
    """(pairs in first-seen order, array of shape (pairs, levels of factor 1, ...)): each
    pair's mean of `metric` per cell (NaN where the cell has no finite value)."""
    pairs = list(dict.fromkeys(data["pair"]))
    cells = np.full((len(pairs), *(len(levels[f]) for f in factors)), np.nan)
    values = pd.to_numeric(data[metric], errors="coerce").astype(float)
    values = values.where(np.isfinite(values))
    means = values.groupby([data["pair"], *(data[f] for f in factors)], sort=False).mean()
    for key, value in means.items():
        position = [pairs.index(key[0])] + [levels[f].index(level) for f, level in zip(factors, key[1:])]
        cells[tuple(position)] = value
    return pairs, cells


def _per_pair(contrast: np.ndarray) -> np.ndarray:
    """Each pair's contrast averaged over the remaining axes; NaN if any cell is missing."""
    return contrast.reshape(len(contrast), -1).mean(axis=1)


def main_effect(cells: np.ndarray, axis: int, level: int, reference: int) -> np.ndarray:
    """Per pair: y[level] - y[reference] along factor `axis` (1-based: axis 0 is the pair),
    averaged over the other factors' levels."""
    return _per_pair(np.take(cells, level, axis=axis) - np.take(cells, reference, axis=axis))


def interaction_contrast(cells: np.ndarray, axes: tuple[int, int], levels: tuple[int, int],
                         references: tuple[int, int]) -> np.ndarray:
    """Per pair: (y[a1,b1] - y[a1,b0]) - (y[a0,b1] - y[a0,b0]) for factors on `axes` (a1, b1 =
    `levels`, a0, b0 = `references`), averaged over the other factors' levels. Zero for every
    pair of an additive table."""
    (i, j), (a1, b1), (a0, b0) = axes, levels, references

    def y(a, b):
        return _take_two(cells, (i, a), (j, b))

    return _per_pair((y(a1, b1) - y(a1, b0)) - (y(a0, b1) - y(a0, b0)))


def _take_two(cells: np.ndarray, first: tuple[int, int], second: tuple[int, int]) -> np.ndarray:
    """cells at index first[1] on axis first[0] and second[1] on axis second[0]."""
    for axis, index in sorted([first, second], reverse=True):  # the later axis first: the earlier keeps its number
        cells = np.take(cells, index, axis=axis)
    return cells


def _effect_row(per_pair: np.ndarray, lower_is_better: bool, seed: int, **names) -> dict:
    x = per_pair[np.isfinite(per_pair)]
    estimate, low, high = mean_ci(x, seed=seed)
    return {**names, "estimate": estimate, "ci_low": low, "ci_high": high, "n_pairs": int(len(x)),
            "share_better": float(np.mean(x < 0 if lower_is_better else x > 0)) if len(x) else float("nan")}


def grid_effects(data: pd.DataFrame, factors: Sequence[str], levels: dict[str, list[str]],
                 references: dict[str, str], metric: str, lower_is_better: bool = True,
                 seed: int = 0) -> pd.DataFrame:
    """Main effects of every factor and two-way interactions of every pair of factors, as the
    module docstring's table (levels: each factor's levels in order; references: each
    factor's reference level, one of its levels)."""
    _, cells = grid_array(data, factors, levels, metric)
    ref = {f: levels[f].index(references[f]) for f in factors}
    rows = []
    for axis, f in enumerate(factors, start=1):
        for k, level in enumerate(levels[f]):
            if k != ref[f]:
                rows.append(_effect_row(main_effect(cells, axis, k, ref[f]), lower_is_better, seed,
                                        effect="main", factor=f, level=level, reference=references[f]))
    for (ia, fa), (ib, fb) in itertools.combinations(enumerate(factors, start=1), 2):
        for ka, kb in itertools.product(range(len(levels[fa])), range(len(levels[fb]))):
            if ka != ref[fa] and kb != ref[fb]:
                row = _effect_row(interaction_contrast(cells, (ia, ib), (ka, kb), (ref[fa], ref[fb])),
                                  lower_is_better, seed, effect="interaction", factor=fa,
                                  level=levels[fa][ka], reference=references[fa], factor_b=fb,
                                  level_b=levels[fb][kb], reference_b=references[fb])
                row["share_better"] = float("nan")  # "better" has no meaning for a contrast of contrasts
                rows.append(row)
    return pd.DataFrame(rows, columns=GRID_COLUMNS)


def cell_means(data: pd.DataFrame, factors: Sequence[str], levels: dict[str, list[str]],
               metric: str, pair_of: tuple[str, str], seed: int = 0) -> pd.DataFrame:
    """For the factor pair `pair_of` = (a, b): one row per (level of a, level of b), with the
    mean over pairs of each pair's cell (averaged over the other factors) and its interval:
    columns a, b (levels), mean, ci_low, ci_high, n_pairs. What an interaction plot draws."""
    _, cells = grid_array(data, factors, levels, metric)
    ia, ib = factors.index(pair_of[0]) + 1, factors.index(pair_of[1]) + 1
    rows = []
    for ka, la in enumerate(levels[pair_of[0]]):
        for kb, lb in enumerate(levels[pair_of[1]]):
            per_pair = _per_pair(_take_two(cells, (ia, ka), (ib, kb)))
            mean, low, high = mean_ci(per_pair, seed=seed)
            rows.append({pair_of[0]: la, pair_of[1]: lb, "mean": mean, "ci_low": low, "ci_high": high,
                         "n_pairs": int(np.isfinite(per_pair).sum())})
    return pd.DataFrame(rows)
