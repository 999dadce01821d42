"""Several runs in one process: the network and weights are loaded once, and runs whose
optimisation can be stacked are computed as one batch.

Adam, Adagrad and SGD update every pixel from its own gradient and state, so stacking N images
along the batch dimension, summing their independent losses and giving each image its own
parameter group (its own learning rate) is the same optimisation as N separate runs; only the
floating-point order of the batched convolutions differs. L-BFGS mixes all parameters in one
history, so L-BFGS runs (and runs that differ in what the network or loop must be) are done one
after another in the same process instead.
"""
from __future__ import annotations

import time
from collections import defaultdict
from typing import Iterable

import torch

from ..run.device import pick_device
from ..run.engine import RunResult, RunState, make_optimizer, place_network, stylize
from ..run.params import RunParams
from ..run.vgg import load_weights, make_extractor

STACKABLE_OPTIMIZERS = ("adam", "adagrad", "sgd")

Request = tuple[RunParams, str, str]  # (params, content path, style path)


def batch_key(params: RunParams) -> tuple:
    """Runs with equal keys can share one network pass and one loop."""
    return (params.optimizer, params.iterations, params.pooling, params.weights, params.family_weights_file,
            params.precision, params.device, params.channels_last, params.size, params.resize)


def stackable(requests: list[Request]) -> bool:
    return (len(requests) > 1 and requests[0][0].optimizer in STACKABLE_OPTIMIZERS
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
    """One stacked optimisation when possible, otherwise runs one at a time."""
    if not stackable(requests):
        return [stylize(p, c, s) for p, c, s in requests]
    started = time.perf_counter()
    first = requests[0][0]
    if first.threads > 0:
        torch.set_num_threads(first.threads)
    device = pick_device(first.device)
    runs = [RunState(p, c, s) for p, c, s in requests]
    if len({tuple(r.content_cpu.shape) for r in runs}) > 1:  # keep_aspect: sizes differ
        return [stylize(p, c, s) for p, c, s in requests]
    state, weights_record = load_weights(first.weights, first.family_weights_file)
    layers = {n for p, _, _ in requests for n in p.content_layers + p.style_layers}
    extractor = place_network(make_extractor(sorted(layers), first.pooling, state), first, device)
    for run in runs:
        run.bind(device, extractor, state, weights_record)
    optimizer_class = type(make_optimizer(first, torch.zeros(1, requires_grad=True)))
    # one parameter group per run: its own learning rate and optimizer state
    optimizer = optimizer_class([{"params": [run.image], "lr": run.params.lr} for run in runs])
    loop_start = time.perf_counter()

    for iteration in range(1, first.iterations + 1):
        active = [run for run in runs if run.diverged_at is None]
        if not active:
            break
        with torch.no_grad():
            for run in active:
                run.image.clamp_(0, 1)
        optimizer.zero_grad()
        prepared = [run.objective.inputs(run.image) for run in active]
        with runs[0].amp:
            feats = extractor(torch.cat([net_input for net_input, _ in prepared]))
        total = None
        for i, (run, (_, content_targets)) in enumerate(zip(active, prepared)):
            terms = run.objective.terms({n: f[i:i + 1] for n, f in feats.items()}, content_targets)
            if run.record(iteration, terms, loop_start):
                total = terms["total"] if total is None else total + terms["total"]
        if total is not None:
            total.backward()
        for run in active:
            if run.diverged_at is not None:
                run.image.grad = None  # the optimizer skips it from now on
        optimizer.step()
        for run in active:
            if run.diverged_at is None:
                run.after_step(iteration)
    return [run.result(started, loop_start) for run in runs]
