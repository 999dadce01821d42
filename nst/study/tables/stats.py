"""Statistics across content/style pairs: means and paired differences with intervals valid at
a few pairs, and the main effects and two-way interactions of a factorial (grid) experiment.

The unit of replication is the content/style pair: a study's runs on one pair share their
images, so an interval over runs of one pair would say nothing about another pair. Studies have
few pairs (often 3-10), where the bootstrap's own intervals are far too narrow (a 95 % BCa
interval from 3 normal values covers the mean in 73 % of studies: 3 values have 10 distinct
resamples). Every 95 % interval of a mean here is therefore (`mean_ci`, its `method`):

    n < BOOTSTRAP_FROM (4)   "t": Student-t (scipy.stats.ttest_1samp), exact for normal values
    n >= BOOTSTRAP_FROM      "t+bootstrap-t": on each side the wider bound of the Student-t
                             interval and the bootstrap-t (studentized bootstrap, N_RESAMPLES
                             resamples, seeded). The bootstrap-t corrects for skewed values,
                             where t's interval misses on the long side; the t bound keeps
                             normal values' coverage where the bootstrap-t, from a handful of
                             values, is short.

Simulated coverage (tests/study/tables/test_stats.py checks it; README "From pictures to findings" has the
table): at least 93 % for normal and for log-normal (sigma 0.5, skewness 1.75) values from
VALID_FROM (4) values on; at 3 values with that skew no standard interval reaches 93 % (t, the
best, 92.4 %), so a verdict (findings.py) needs VALID_FROM pairs. Stronger skew undercovers
at every size studies have (sigma 1: 90-92 % at 4-10 values): no interval of a
mean is valid for every distribution (Bahadur and Savage 1956).

Non-finite values (a diverged run, a missing one) are left out before anything is computed;
fewer than 2 finite values give no interval (NaN), and values that are all equal give an
interval of zero width at their mean.

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
    ci_low, ci_high   its interval over pairs; `ci_method` the interval's method
    share_better  main only: fraction of pairs where the level is better than the reference
    n_pairs       pairs whose every cell in the contrast is finite (the others are left out)

Only numpy, pandas and scipy: no torch, no snakemake.
"""
from __future__ import annotations

import itertools
import math
from typing import Iterable, NamedTuple, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from ...contracts.cells import finite_array

CONFIDENCE = 0.95
N_RESAMPLES = 9999
BOOTSTRAP_FROM = 4  # fewer values: Student-t alone (3 values have 10 distinct resamples)
VALID_FROM = 4  # the fewest values whose interval kept 93 % coverage of skewed values (module docstring)
MAX_PROJECTED = 10_000  # pairs_to_decide looks no further
T, T_BOOTSTRAP = "t", "t+bootstrap-t"  # the methods' names, as the tables show them
MAX_CELLS = 4_000_000  # resampled values held at once: the bootstrap goes through many samples in chunks
GRID_COLUMNS = ["effect", "factor", "level", "reference", "factor_b", "level_b", "reference_b",
                "estimate", "ci_low", "ci_high", "ci_method", "share_better", "n_pairs"]


class Interval(NamedTuple):
    """A mean with its interval: `method` is T or T_BOOTSTRAP ("" when there is no interval),
    `n` the finite values it is made of."""
    mean: float
    low: float
    high: float
    method: str
    n: int


# --- one sample ----------------------------------------------------------------------------
def finite(values: Iterable) -> np.ndarray:
    """The finite values of `values` as floats (None, NaN, inf and text that is no number go)."""
    array = finite_array(values)
    return array[~np.isnan(array)]


def interval_method(n: int) -> str:
    """The method of the interval of a mean of `n` values ("" below 2: none)."""
    return "" if n < 2 else T if n < BOOTSTRAP_FROM else T_BOOTSTRAP


def t_bounds(samples: np.ndarray, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Student-t interval of the mean of each row of `samples` (rows of n >= 2 finite values)."""
    ci = sps.ttest_1samp(samples, 0.0, axis=-1).confidence_interval(confidence)
    return np.asarray(ci.low, dtype=float), np.asarray(ci.high, dtype=float)


def bootstrap_t_bounds(samples: np.ndarray, confidence: float = CONFIDENCE, seed: int = 0,
                       n_resamples: int = N_RESAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap-t interval of the mean of each row of `samples` (rows of n >= 2 finite values):
    the quantiles of t* = (mean* - mean) / se* over resamples, mapped back with the row's own
    standard error. scipy.stats.bootstrap has percentile, basic and BCa but no studentized
    method, hence numpy. Every row is resampled with the same seeded indices; a resample of
    one repeated value has se* = 0 and t* = +-inf (0 when it hits the mean), and the quantiles
    are order statistics (no interpolation), so such a bound is infinite only when more than
    (1 - confidence) / 2 of the resamples are such."""
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    n = samples.shape[-1]
    index = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    mean = samples.mean(axis=-1)
    se = samples.std(axis=-1, ddof=1) / np.sqrt(n)
    alpha = (1 - confidence) / 2
    quantiles = np.empty((2, len(samples)))
    rows = max(1, MAX_CELLS // (n_resamples * n))
    for start in range(0, len(samples), rows):
        chunk = samples[start:start + rows][:, index]  # (rows, resamples, n)
        se_star = chunk.std(axis=-1, ddof=1) / np.sqrt(n)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_star = (chunk.mean(axis=-1) - mean[start:start + rows, None]) / se_star
        t_star[np.isnan(t_star)] = 0.0
        quantiles[:, start:start + rows] = np.quantile(t_star, [alpha, 1 - alpha], axis=-1, method="inverted_cdf")
    with np.errstate(invalid="ignore"):  # se = 0 (all values equal) times an infinite quantile
        return mean - quantiles[1] * se, mean - quantiles[0] * se


def interval_bounds(samples: np.ndarray, confidence: float = CONFIDENCE, seed: int = 0,
                    n_resamples: int = N_RESAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """The module docstring's interval of the mean of each row of `samples` (rows of n >= 2
    finite values, not all equal): t below BOOTSTRAP_FROM values, else on each side the wider of
    t's and the bootstrap-t's bound (an infinite bootstrap-t bound, from many tied values, leaves
    t's)."""
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    low, high = t_bounds(samples, confidence)
    if samples.shape[-1] >= BOOTSTRAP_FROM:
        boot_low, boot_high = bootstrap_t_bounds(samples, confidence, seed, n_resamples)
        low = np.where(np.isfinite(boot_low), np.minimum(low, boot_low), low)
        high = np.where(np.isfinite(boot_high), np.maximum(high, boot_high), high)
    return low, high


def mean_ci(values: Iterable, confidence: float = CONFIDENCE, seed: int = 0) -> Interval:
    """The mean of the finite values with its interval (the module docstring's method).
    No finite value: all NaN; one: low and high NaN (no interval from one value); all equal:
    low == high == mean."""
    x = finite(values)
    if len(x) == 0:
        return Interval(float("nan"), float("nan"), float("nan"), "", 0)
    mean = float(np.mean(x))
    if len(x) < 2:
        return Interval(mean, float("nan"), float("nan"), "", 1)
    method = interval_method(len(x))
    if np.all(x == x[0]):
        return Interval(mean, mean, mean, method, len(x))
    low, high = interval_bounds(x[None, :], confidence, seed)
    return Interval(mean, float(low[0]), float(high[0]), method, len(x))


def paired_difference(treatment: Sequence, reference: Sequence, lower_is_better: bool = True,
                      confidence: float = CONFIDENCE, seed: int = 0) -> dict:
    """Treatment against reference, matched by position (one value per pair in each).

    effect: mean over pairs of treatment - reference; ci_low, ci_high: its interval (of the
    differences, so the pairing is kept) and ci_method its method; share_better: fraction of
    pairs where the treatment is better (lower, or higher when not lower_is_better; ties are not
    better); sd: the differences' standard deviation (NaN below 2); n: pairs where both values
    are finite (the others are left out)."""
    t, r = finite_array(treatment), finite_array(reference)
    if t.shape != r.shape:
        raise ValueError(f"paired_difference: {len(t)} treatment values against {len(r)} reference values")
    both = np.isfinite(t) & np.isfinite(r)
    d = t[both] - r[both]
    interval = mean_ci(d, confidence, seed)
    better = d < 0 if lower_is_better else d > 0
    return {"effect": interval.mean, "ci_low": interval.low, "ci_high": interval.high,
            "ci_method": interval.method, "sd": float(np.std(d, ddof=1)) if len(d) > 1 else float("nan"),
            "share_better": float(np.mean(better)) if len(d) else float("nan"), "n": int(len(d))}


# --- a factorial experiment ----------------------------------------------------------------
def grid_array(data: pd.DataFrame, factors: Sequence[str], levels: dict[str, list[str]],
               metric: str) -> tuple[list, np.ndarray]:
    """(pairs in first-seen order, array of shape (pairs, levels of factor 1, ...)): each
    pair's mean of `metric` per cell (NaN where the cell has no finite value)."""
    pairs = list(dict.fromkeys(data["pair"]))
    cells = np.full((len(pairs), *(len(levels[f]) for f in factors)), np.nan)
    values = pd.Series(finite_array(data[metric]), index=data.index)
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
    estimate, low, high, method, n = mean_ci(x, seed=seed)
    return {**names, "estimate": estimate, "ci_low": low, "ci_high": high, "ci_method": method, "n_pairs": n,
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
    columns a, b (levels), mean, ci_low, ci_high, ci_method, n_pairs. What an interaction plot
    draws."""
    _, cells = grid_array(data, factors, levels, metric)
    ia, ib = factors.index(pair_of[0]) + 1, factors.index(pair_of[1]) + 1
    rows = []
    for ka, la in enumerate(levels[pair_of[0]]):
        for kb, lb in enumerate(levels[pair_of[1]]):
            per_pair = _per_pair(_take_two(cells, (ia, ka), (ib, kb)))
            mean, low, high, method, n = mean_ci(per_pair, seed=seed)
            rows.append({pair_of[0]: la, pair_of[1]: lb, "mean": mean, "ci_low": low, "ci_high": high,
                         "ci_method": method, "n_pairs": n})
    return pd.DataFrame(rows)


def pairs_to_decide(kind: str, gain: float, sd: float, margin: float,
                    confidence: float = CONFIDENCE) -> int | None:
    """The fewest pairs (at least VALID_FROM, the fewest a verdict takes) with which a Student-t
    interval of a mean gain `gain` with standard deviation `sd` would lie wholly on one side of
    the verdict rule's line (nst/study/tables/findings.py), the nearer one for `matches`; None when no number of pairs would (the gain is on the
    line, or it would take more than MAX_PROJECTED)."""
    if not (math.isfinite(gain) and math.isfinite(sd)):
        return None
    if kind == "matches":
        distance = abs(margin - abs(gain))
    else:
        distance = abs(gain - (-margin if kind == "no_worse" else margin))
    if distance == 0:
        return None
    n = np.arange(max(VALID_FROM, 2), MAX_PROJECTED + 1)
    enough = sps.t.ppf((1 + confidence) / 2, n - 1) * sd / np.sqrt(n) < distance
    return int(n[np.argmax(enough)]) if enough.any() else None
