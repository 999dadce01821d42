"""When a run's loss stopped changing before its budget was spent (`stalled_at` in run.json).

A run keeps its iterations (so that it stays the same optimisation as a longer one, and
costs compare), but the rows after a stall are not progress, and the record says so.

The rule, per stage (a run without scales has one): with m_j the lowest total loss of the
stage's iterations up to j (so that a line search's trial points, or a rejected step of
`lbfgs_bounds: projected`, which evaluate worse points, do not count as change), the run
stalled at the first iteration k of the stage from which m improves by no more than
STALL_RTOL of m_k to the stage's end, if at least max(STALL_MIN, STALL_SHARE of the stage's
iterations) iterations follow k. The first stage that stalls gives `stalled_at`.

Not applied (None) to a run with random style shifting: its objective is of a randomly
shifted view each iteration, so its lowest loss so far is a record of noise, not of progress.
Torch-free: the tables and shared trajectories use it too.
"""
from __future__ import annotations

import math

STALL_RTOL = 1e-5   # relative change of the best loss so far that counts as none
STALL_SHARE = 0.1   # ... for at least this share of the stage's iterations
STALL_MIN = 10      # ... and at least this many iterations


def stalled_at(totals: list[float], stage_iterations: list[int]) -> int | None:
    """The iteration (1-based, numbered across stages) from which the loss stopped changing,
    or None. `totals`: the total loss of each iteration so far; `stage_iterations`: the
    iterations of each stage (RunParams.stages), of which only those reached are judged."""
    if not all(math.isfinite(t) for t in totals):
        return None  # a non-finite loss: the run diverged, and says so
    start = 0
    for planned in stage_iterations:
        stage = totals[start:start + planned]
        if not stage:
            break
        best, running = math.inf, []
        for total in stage:
            best = min(best, total)
            running.append(best)
        end = running[-1]
        k = next(j for j, m in enumerate(running) if m - end <= STALL_RTOL * abs(m))
        if len(stage) - 1 - k >= max(STALL_MIN, math.ceil(STALL_SHARE * planned)):
            return start + k + 1
        start += planned
    return None
