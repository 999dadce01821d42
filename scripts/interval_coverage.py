"""How often the 95 % intervals of nst/study/tables/stats.py cover the true mean: simulated studies of
n values (normal, and log-normal of growing skew), for Student-t, the tables' method (below 4
values t, from 4 the wider of t and the bootstrap-t) and the BCa bootstrap the tables used
before. Prints the markdown table of README "From pictures to findings".

    .venv/bin/python scripts/interval_coverage.py [--studies 20000] [--resamples 999]

tests/study/tables/test_stats.py checks the same at 2,000 studies. The bootstrap-t here uses --resamples
(the tables use stats.N_RESAMPLES, 9,999: the same method, less Monte Carlo noise per bound).
"""
from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
from scipy import stats as sps

from nst.study.tables import stats

SIZES = (3, 4, 5, 10, 30)
SIGMAS = (0.0, 0.25, 0.5, 1.0)  # 0: normal; else log-normal with this sigma


def coverage(low, high, true_mean: float) -> float:
    return float(np.mean((low <= true_mean) & (true_mean <= high)))


def measure(sigma: float, n: int, studies: int, resamples: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    if sigma == 0:
        samples, true_mean = rng.normal(0.0, 1.0, (studies, n)), 0.0
    else:
        samples, true_mean = rng.lognormal(0.0, sigma, (studies, n)), math.exp(sigma ** 2 / 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BCa's degenerate samples
        bca = sps.bootstrap((samples,), np.mean, axis=-1, method="BCa", n_resamples=resamples,
                            rng=np.random.default_rng(seed)).confidence_interval
    return {"t": coverage(*stats.t_bounds(samples), true_mean),
            "tables": coverage(*stats.interval_bounds(samples, n_resamples=resamples, seed=seed), true_mean),
            "BCa": coverage(bca.low, bca.high, true_mean)}


def skewness(sigma: float) -> float:
    return 0.0 if sigma == 0 else (math.exp(sigma ** 2) + 2) * math.sqrt(math.exp(sigma ** 2) - 1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=20000)
    parser.add_argument("--resamples", type=int, default=999)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"Coverage of the nominal 95 % interval of a mean, {args.studies} simulated studies per cell "
          f"(t / the tables' method / BCa):\n")
    print("| values | " + " | ".join(f"n = {n}" for n in SIZES) + " |")
    print("| --- | " + " | ".join("---" for _ in SIZES) + " |")
    for sigma in SIGMAS:
        name = "normal" if sigma == 0 else f"log-normal, sigma {sigma} (skewness {skewness(sigma):.2f})"
        cells = []
        for n in SIZES:
            c = measure(sigma, n, args.studies, args.resamples, args.seed)
            cells.append(f"{c['t'] * 100:.1f} / {c['tables'] * 100:.1f} / {c['BCa'] * 100:.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
