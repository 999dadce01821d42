"""Several runs in one process: the network and weights are loaded once, and runs whose
optimisation can be stacked are computed as one batch.

Adam, Adagrad and SGD update every pixel from its own gradient and state, so stacking N images
along the batch dimension, summing their independent losses and giving each image its own
parameter group (its own learning rate) is the same optimisation as N separate runs; only the
floating-point order of the batched convolutions differs. L-BFGS mixes all parameters in one
history, so L-BFGS runs (and runs that differ in what the network or loop must be) are done one
after another in the same process instead, each with its own `lbfgs_bounds`.
"""
from __future__ import annotations

import time
from collections import defaultdict
from typing import Iterable

import torch

from ..contracts.params import RunParams
from ..run.device import pick_device
from ..run.engine import RunResult, RunState, bind_network, optimize, stylize
from ..run.optimizers import OPTIMIZER_CLASSES

STACKABLE_OPTIMIZERS = ("adam", "adagrad", "sgd")

Request = tuple[RunParams, str, str]  # (params, content path, style path)


def batch_key(params: RunParams) -> tuple:
    """Runs with equal keys can share one network pass and one loop."""
    return (params.optimizer, params.iterations, params.pooling, params.weights, params.family_weights_file,
            params.precision, params.device, params.channels_last, params.size, params.resize, params.scales,
            params.style_scale)


def stackable(requests: list[Request]) -> bool:
    """Whether the runs can be one stacked optimisation: two or more, a per-pixel optimizer,
    equal batch keys."""
    return (len(requests) > 1 and requests[0][0].optimizer in STACKABLE_OPTIMIZERS
            and not requests[0][0].scales  # stages change the image size mid-run
            and len({batch_key(p) for p, _, _ in requests}) == 1)


def stylize_many(requests: Iterable[Request], batch_size: int = 8) -> list[RunResult]:
    """Results in request order: stackable groups of up to `batch_size` as one batch, the rest
    one after another."""
    requests = list(requests)
    results: list[RunResult | None] = [None] * len(requests)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for index, (params, _, _) in enumerate(requests):
        groups[batch_key(params)].append(index)
    for indices in groups.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            for index, result in zip(chunk, stylize_batch([requests[i] for i in chunk])):
                results[index] = result
    return results


def stylize_batch(requests: list[Request]) -> list[RunResult]:
    """Results in request order: one stacked optimisation when the runs allow it (`stackable`,
    equal image sizes), otherwise the runs one at a time."""
    if not stackable(requests):
        return [stylize(p, c, s) for p, c, s in requests]
    started = time.perf_counter()
    first = requests[0][0]
    if first.threads > 0:
        torch.set_num_threads(first.threads)
    device = pick_device(first.device)
    runs = [RunState(p, c, s) for p, c, s in requests]
    if len({tuple(r.inputs.content.shape) for r in runs}) > 1:  # keep_aspect: sizes differ
        return [stylize(p, c, s) for p, c, s in requests]
    layers = {n for p, _, _ in requests for n in p.content_layers + p.style_layers}
    extractor = bind_network(runs, first, sorted(layers), device)
    if any(run.memory.tile for run in runs):  # a tiled objective computes its own gradient: not stackable
        return [stylize(p, c, s) for p, c, s in requests]
    # one parameter group per run: its own learning rate and optimizer state
    optimizer = OPTIMIZER_CLASSES[first.optimizer]([{"params": [run.image], "lr": run.params.lr} for run in runs])
    loop_start = time.perf_counter()
    optimize(runs, optimizer, stacked_objective(extractor, runs[0].amp), 1, loop_start)
    return [run.result(started, loop_start) for run in runs]


def stacked_objective(extractor, amp):
    """A `forward` for engine.optimize: the runs' images (shifted where a run shifts) stacked
    along the batch dimension through one network pass, then each run's terms of its slice."""
    def forward(runs: list[RunState]) -> list[dict]:
        prepared = [run.objective.inputs(run.image) for run in runs]
        with amp:
            feats = extractor(torch.cat([net_input for net_input, _ in prepared]))
        return [run.objective.terms({n: f[i:i + 1] for n, f in feats.items()}, content_targets, run.image)
                for i, (run, (_, content_targets)) in enumerate(zip(runs, prepared))]

    return forward
