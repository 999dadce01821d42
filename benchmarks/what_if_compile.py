"""What-if (not nst's behaviour): torch.compile (inductor) on the engine's feature extractor,
on CPU, against the same run uncompiled, alternated in one process.

    .venv/bin/python -m benchmarks.what_if_compile [SIZE] [--iterations N] [--repeats R]

Prints, per arm and repeat, the run's wall time (compilation included: the first compiled run
pays it, later ones reuse it in this process), the time to its first iteration and the median
time per iteration. Needs a C++ compiler (inductor's CPU backend). Uses the stand-in weights
and images of `python -m benchmarks` (--cache)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from nst.execution.process import keep_freed_memory

keep_freed_memory()  # as in nst's jobs, before torch allocates

import torch  # noqa: E402

import nst.run.engine as engine  # noqa: E402
from nst.contracts.presets import preset  # noqa: E402

from .common import median, stand_in_weights, test_images  # noqa: E402


def timed_run(compiled: bool, weights, content: Path, style: Path, size: int, iterations: int):
    place = engine.place_network
    if compiled:
        engine.place_network = lambda extractor, params, device: torch.compile(place(extractor, params, device))
    try:
        params = preset("tutorial", iterations=iterations, size=size, weights=str(weights.features),
                        threads=2, device="cpu", seed=0)
        started = time.perf_counter()
        result = engine.stylize(params, content, style)
        wall = time.perf_counter() - started
    finally:
        engine.place_network = place
    stamps = [row["seconds"] for row in result.history]
    per_iteration = [b - a for a, b in zip(stamps, stamps[1:])][1:]
    return wall, stamps[0], 1000 * median(per_iteration)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.what_if_compile", description=__doc__)
    parser.add_argument("size", nargs="?", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cache", default="/tmp/nst-bench-cache")
    args = parser.parse_args()
    torch.set_num_threads(2)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    weights = stand_in_weights(cache)
    content, style = test_images(cache, args.size)
    for rep in range(args.repeats):
        for compiled in (False, True) if rep % 2 == 0 else (True, False):
            wall, first, ms = timed_run(compiled, weights, content, style, args.size, args.iterations)
            print(f"{args.size} px, {'compiled  ' if compiled else 'eager     '} repeat {rep + 1}: wall {wall:.1f} s, "
                  f"first iteration after {first:.2f} s of the loop, {ms:.0f} ms/iteration", flush=True)


if __name__ == "__main__":
    main()
