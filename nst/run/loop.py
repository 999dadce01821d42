"""The loop of one or several runs (nst/run/engine.py's `stylize`, nst/execution/batch.py's
stacks): evaluate, record, step, snapshot."""
from __future__ import annotations

from typing import Callable, Protocol

import torch

from ..contracts.params import RunParams
from .optimizers import clamps_in_closure


class RunState(Protocol):
    """What the loop needs of a run (nst/run/engine.py's RunState is the one there is; named
    here so that the loop does not import the engine, which imports it)."""

    params: RunParams
    image: torch.Tensor
    diverged_at: int | None

    def objective(self, image: torch.Tensor) -> dict[str, torch.Tensor]: ...
    def record(self, iteration: int, terms: dict, loop_start: float) -> bool: ...
    def reuse(self) -> torch.Tensor | None: ...
    def remember(self, loss: torch.Tensor) -> None: ...
    def after_step(self, iteration: int) -> None: ...


Forward = Callable[[list[RunState]], list[dict]]  # runs -> the objective's terms of each


class BudgetSpent(Exception):
    """Raised by the closure of a line search that asks for an evaluation past the run's last."""


def each_objective(runs: list[RunState]) -> list[dict]:
    """The objective's terms of each run's image, one network pass per run."""
    return [run.objective(run.image) for run in runs]


def optimize(runs: list[RunState], optimizer: torch.optim.Optimizer, forward: Forward, first: int,
             loop_start: float, after_step: Callable[[int], None] | None = None, last: int | None = None) -> None:
    """Iterations `first`..`last` (default: the first run's iterations) of `optimizer`, which
    holds every run's image: per iteration one evaluation of all (`forward`), recorded, and one
    step. A run whose loss is not finite stops there, without a gradient: the optimizer skips
    it (in a stack it would get a zero one, which still moves Adam's state). After each step the
    runs still going take their snapshots, then `after_step(iteration)` is called if any is.

    L-BFGS with a line search (one run; `one_evaluation_per_step` false) evaluates several
    times per step, and each evaluation is an iteration, so that a run of N iterations costs N
    evaluations whatever its optimizer. A step's first evaluation at the point the previous
    line search ended on is that evaluation again (RunState.reuse), not a new iteration; when
    the budget runs out inside a line search, the image goes back to where the step began (the
    last point L-BFGS accepted) and the run ends."""
    last = last or runs[0].params.iterations
    clamp = clamps_in_closure(runs[0].params)
    several = not runs[0].params.one_evaluation_per_step
    done = first - 1
    while done < last:
        active = [run for run in runs if run.diverged_at is None]
        if not active:
            break
        began = [run.image.detach().clone() for run in active] if several else []

        def closure() -> torch.Tensor:
            nonlocal done
            if clamp:
                with torch.no_grad():
                    for run in active:
                        run.image.clamp_(0, 1)
            if several and (reused := active[0].reuse()) is not None:
                return reused
            if done == last or (several and active[0].diverged_at is not None):
                raise BudgetSpent  # (a line search goes on after a non-finite loss: not the run)
            done += 1
            optimizer.zero_grad()
            loss = finite = None  # L-BFGS reads the loss; the finite totals are backpropagated
            for run, terms in zip(active, forward(active)):
                loss = terms["total"] if loss is None else loss + terms["total"]
                if run.record(done, terms, loop_start):
                    finite = terms["total"] if finite is None else finite + terms["total"]
            if finite is not None:
                finite.backward()
                if several:
                    active[0].remember(loss)
            for run in active:
                if run.diverged_at is not None:
                    run.image.grad = None
            return loss

        try:
            optimizer.step(closure)
        except BudgetSpent:
            with torch.no_grad():
                for run, image in zip(active, began):
                    run.image.copy_(image)
            break
        going = [run for run in active if run.diverged_at is None]
        for run in going:
            run.after_step(done)
        if going and after_step is not None:
            after_step(done)
