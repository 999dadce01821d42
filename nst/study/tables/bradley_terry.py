"""Bradley-Terry strengths from pairwise judgements, with bootstrap intervals (numpy, choix).

The model: P(i preferred to j) = 1 / (1 + exp(theta_j - theta_i)). Strengths are log-odds
("logits"), defined up to a constant, reported centred (their mean over the judged items is 0):
a difference of 1 means odds of e = 2.7 to 1.

Fit: choix's iterative Luce spectral ranking on the matrix of wins (`choix.ilsr_pairwise_dense`,
Maystre and Grossglauser 2015; it converges to the maximum-likelihood estimate). choix has no
model of ties, so a "same" answer counts half a win for each side (as Elo and Chatbot Arena's
Bradley-Terry fit count a tie); a Davidson model would add one parameter for how often people
say "same", which says nothing about which value is better and is poorly determined from the
few judgements a study has. ALPHA is choix's regularisation (loosely a Beta prior on each pair's
outcome, its documentation says): without it a value that won every comparison has an infinite
strength; with it, a large finite one.

Intervals: a bootstrap over raters and content/style pairs, seeded, percentile 95 % intervals
of the centred strengths. Raters and pairs are crossed (every rater judges every pair), so both
are resampled at once, each with replacement and independently (Owen's "pigeonhole" bootstrap,
2007, mildly conservative); a level with fewer than MIN_CLUSTERS (3) members is not resampled
(two members give only three distinct resamples). When neither level can be, the judgements
themselves are resampled as if independent: narrower than it should be when raters differ, and
the rankings table says which was done. In simulations (tests/study/tables/test_human.py) the intervals of 6
raters x 4 pairs covered the true strengths 98 % of the time at the nominal 95 %.
"""
from __future__ import annotations

import warnings

import choix
import numpy as np
import pandas as pd

ALPHA = 0.05
BOOTSTRAP = 500
SEED = 0
LEVEL = 0.95
MIN_CLUSTERS = 3


def method(levels: tuple[str, ...]) -> str:
    """The rankings table's method cell."""
    return (f"Bradley-Terry (choix ILSR, a tie half a win each way, alpha {ALPHA:g}); 95 % percentile "
            f"interval of {BOOTSTRAP} bootstrap resamples of the {' and '.join(levels)} (seed {SEED})")


def win_matrix(n: int, i: np.ndarray, j: np.ndarray, score: np.ndarray,
               weights: np.ndarray | None = None) -> np.ndarray:
    """W[x, y] = how often x was preferred to y: each judgement of items i vs j adds
    weight x score to W[i, j] and weight x (1 - score) to W[j, i] (score: 1 i won, 0.5 same,
    0 j won)."""
    w = np.ones(len(i)) if weights is None else weights
    flat = np.bincount(i * n + j, weights=w * score, minlength=n * n)
    flat += np.bincount(j * n + i, weights=w * (1 - score), minlength=n * n)
    return flat.reshape(n, n)


def fit(wins: np.ndarray) -> np.ndarray:
    """Centred strengths from a win matrix (NaN for an item in no comparison)."""
    n = wins.shape[0]
    seen = (wins.sum(axis=0) + wins.sum(axis=1)) > 0
    out = np.full(n, np.nan)
    if seen.sum() < 2:
        out[seen] = 0.0
        return out
    sub = wins[np.ix_(seen, seen)]
    try:
        theta = choix.ilsr_pairwise_dense(sub, alpha=ALPHA, max_iter=500, tol=1e-8)
    except RuntimeError:  # no convergence within max_iter: the last spectral estimate, one step
        theta = choix.lsr_pairwise_dense(sub, alpha=ALPHA)
    out[seen] = theta - theta.mean()
    return out


def probability(theta_i: float, theta_j: float) -> float:
    """P(i preferred to j) under the model."""
    return float(1.0 / (1.0 + np.exp(theta_j - theta_i)))


def resampled_levels(raters: np.ndarray, pairs: np.ndarray) -> tuple[str, ...]:
    """What the bootstrap resamples (module docstring): raters and/or pairs, else judgements."""
    levels = tuple(name for name, labels in (("raters", raters), ("pairs", pairs))
                   if len(pd.unique(labels)) >= MIN_CLUSTERS)
    return levels or ("judgements",)


def _multiplicities(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per judgement, how often its label is drawn when the distinct labels are resampled with
    replacement."""
    codes, unique = pd.factorize(labels)
    counts = np.bincount(rng.integers(0, len(unique), len(unique)), minlength=len(unique))
    return counts[codes].astype(float)


def bootstrap(n: int, i: np.ndarray, j: np.ndarray, score: np.ndarray, raters: np.ndarray,
              pairs: np.ndarray, resamples: int = BOOTSTRAP, seed: int = SEED) -> np.ndarray:
    """(resamples, n) centred strengths, each fitted to one resample (module docstring)."""
    rng = np.random.default_rng(seed)
    levels = resampled_levels(raters, pairs)
    out = np.full((resamples, n), np.nan)
    for b in range(resamples):
        if levels == ("judgements",):
            weights = np.bincount(rng.integers(0, len(i), len(i)), minlength=len(i)).astype(float)
        else:
            weights = np.ones(len(i))
            for name, labels in (("raters", raters), ("pairs", pairs)):
                if name in levels:
                    weights *= _multiplicities(labels, rng)
        out[b] = fit(win_matrix(n, i, j, score, weights))
    return out


def strengths(n: int, i: np.ndarray, j: np.ndarray, score: np.ndarray, raters: np.ndarray,
              pairs: np.ndarray, resamples: int = BOOTSTRAP, seed: int = SEED) -> pd.DataFrame:
    """One row per item 0..n-1: strength (centred), ci_low, ci_high (NaN for an item nobody
    judged), and rank (1 = strongest)."""
    theta = fit(win_matrix(n, i, j, score))
    draws = bootstrap(n, i, j, score, raters, pairs, resamples, seed) if len(i) else np.full((1, n), np.nan)
    tail = (1 - LEVEL) / 2 * 100
    with warnings.catch_warnings():  # an item nobody judged is NaN in every resample
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(draws, [tail, 100 - tail], axis=0)
    table = pd.DataFrame({"strength": theta, "ci_low": low, "ci_high": high})
    table["rank"] = table["strength"].rank(ascending=False, method="min").astype("Int64")
    return table
