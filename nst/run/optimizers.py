"""A run's optimizer, and where the pixels are kept in [0, 1] (`lbfgs_bounds`).

Every optimizer is stepped with a closure that evaluates the objective and its gradient once.
Adam, Adagrad and SGD step, and the next closure clamps the pixels first: for a first-order
method that is a projection after each step, and nothing else depends on the step. L-BFGS
builds a model of the objective from its past steps, so where the bounds are enforced changes
the method (README, "L-BFGS and pixel bounds"):

- clamp: torch's L-BFGS (max_iter=1: one evaluation per step) and the clamp in the closure,
  the PyTorch tutorial's loop (the `tutorial` preset keeps it exactly);
- projected: nst/run/bounded_lbfgs.py, the bounds inside the method (the baseline's);
- strong_wolfe: torch's L-BFGS with its strong-Wolfe line search and the tutorial's clamp;
  each of the line search's evaluations is an iteration (nst/run/engine.py, `optimize`);
- free: torch's L-BFGS with no bounds while optimising; only the images a run saves (and
  scores) are clamped, as neural-style and Gatys et al.'s reference code do.

For another optimizer lbfgs_bounds does not apply: it is kept (so that a trial that switches a
preset's optimizer to L-BFGS gets the preset's bounds) but is no part of the run id.
"""
from __future__ import annotations

import torch

from ..contracts.params import RunParams
from .bounded_lbfgs import BoundedLBFGS

OPTIMIZER_CLASSES = {"lbfgs": torch.optim.LBFGS, "adam": torch.optim.Adam,
                     "adagrad": torch.optim.Adagrad, "sgd": torch.optim.SGD}
LINE_SEARCH_EVALUATIONS = 25  # torch's _strong_wolfe max_ls, the most one line search may take


def make_optimizer(params: RunParams, image: torch.Tensor, history: int | None = None) -> torch.optim.Optimizer:
    """The run's optimizer over `image`; L-BFGS keeps `history` steps (default lbfgs_history;
    fewer where the memory budget says so, nst/run/memory.py)."""
    if params.optimizer != "lbfgs":
        return OPTIMIZER_CLASSES[params.optimizer]([image], lr=params.lr)
    history = history or params.lbfgs_history
    if params.lbfgs_bounds == "projected":
        return BoundedLBFGS([image], lr=params.lr, history_size=history)
    options = {"max_iter": 1, "history_size": history}
    if params.lbfgs_bounds == "strong_wolfe":  # max_eval caps the line search at max_eval - 1
        options.update(line_search_fn="strong_wolfe", max_eval=1 + LINE_SEARCH_EVALUATIONS)
    return torch.optim.LBFGS([image], lr=params.lr, **options)


def clamps_in_closure(params: RunParams) -> bool:
    """Whether each evaluation starts by clamping the pixels to [0, 1] (the tutorial's closure;
    for a first-order optimizer, the projection after its step)."""
    return params.optimizer != "lbfgs" or params.lbfgs_bounds in ("clamp", "strong_wolfe")
