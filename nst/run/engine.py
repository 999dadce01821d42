"""One style-transfer run: RunParams + two images -> RunResult.

One iteration is one evaluation of the objective and its gradient, for every optimizer
(L-BFGS is stepped with max_iter=1, or is nst/run/bounded_lbfgs.py, which evaluate exactly once
per step), so a run with `iterations: N` does exactly N evaluations, and costs compare across
optimizers. L-BFGS with a line search (`lbfgs_bounds: strong_wolfe`) evaluates several times
per step: each evaluation is an iteration there too (see `optimize`).

A multi-scale run (`scales`) is stages, coarse to fine: each stage optimises at its size with a
fresh optimizer, starting from the previous stage's result upsampled; iterations are numbered
across stages, and history.csv's `scale` column says which stage a row belongs to.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from typing import Callable

import torch

from ..contracts import run_folder
from ..contracts.evaluators import REFERENCE
from ..contracts.layers import LAYER_INDEX
from ..contracts.params import RunParams
from ..contracts.run_folder import history_columns
from . import checkpoint, color, memory, stall
from .device import pick_device
from .inputs import load_inputs
from .loop import each_objective, optimize  # noqa: F401  (batch.py takes them from here)
from .objective import Objective
from .optimizers import clamps_in_closure, make_optimizer
from .reference import evaluate
from .result import RunResult
from .shift import RandomShift
from .tiled import TiledObjective
from .vgg import make_extractor
from .weights import load_weights


# --- pieces of a run -----------------------------------------------------------------------
def uses_channels_last(params: RunParams, device: torch.device) -> bool:
    """NHWC convolutions: `auto` turns them on for CPU, where oneDNN's NHWC kernels were 6-17 %
    faster per iteration at 128-512 px (BENCHMARKS.md); on GPUs only when asked for."""
    return params.channels_last is True or (params.channels_last == "auto" and device.type == "cpu")


def place_network(extractor, params: RunParams, device: torch.device):
    """The feature extractor on `device`, in the memory layout the run asks for."""
    extractor = extractor.to(device)
    if uses_channels_last(params, device):
        extractor = extractor.to(memory_format=torch.channels_last)
        extractor.channels_last = True
    return extractor


def precision_context(params: RunParams, device: torch.device):
    """fp32 is true fp32 (TF32 off); tf32 lets CUDA matmuls/convs use TF32; bf16 autocasts the
    VGG forward while Gram matrices and losses stay fp32 (losses.py casts up)."""
    if device.type == "cuda":
        allow = params.precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = allow
        torch.backends.cudnn.allow_tf32 = allow
        torch.backends.cudnn.benchmark = params.cudnn_benchmark
    if params.precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_budget(params: RunParams, device: torch.device) -> int:
    """Bytes the run plans with (nst/run/memory.py): max_memory_gb, else a share of the GPU's
    free memory on CUDA, of the host's available memory otherwise."""
    free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" and params.max_memory_gb <= 0 else None
    return memory.budget_bytes(params.max_memory_gb, free)


BLOW_UP_FACTOR = 2.0


def blow_up_reason(final_total: float, reference_total: float) -> str | None:
    """Why a run whose losses stayed finite counts as diverged, or None. Pixels are clamped to
    [0, 1] each step, so an optimizer that overshoots (sgd with lr=1e9; the tutorial's L-BFGS
    loop, `lbfgs_bounds: clamp`, now and then) never reaches a non-finite loss: it throws the
    pixels to 0 and 1 and ends on an image of saturated noise.

    The rule: the final image's total loss (the run's own objective of the whole, unshifted
    image) is over BLOW_UP_FACTOR x `reference_total`, the larger of the starting image's and
    the content image's: the result is much worse than the image the run started from, and than
    the content image. The content image is a floor for starts that are already near the
    optimum (init=style has a style loss of 0; a low style weight makes the content start near
    optimal), and the factor absorbs the optimizers' jitter around such a start. What this was
    checked against: BENCHMARKS.md, "Resuming: what checkpoints cost"."""
    if final_total > BLOW_UP_FACTOR * reference_total:
        return (f"final total loss {final_total:.6g} above {BLOW_UP_FACTOR:g} x {reference_total:.6g}, "
                f"the larger of the starting and the content image's")
    return None


# --- the run -------------------------------------------------------------------------------
class RunState:
    """One run's moving parts: its images, objective, the image being optimised and what it
    records. `stylize` drives one; nst/execution/batch.py several through one network pass.
    Made from the params and image paths (ImageError for an image that cannot be used)."""

    def __init__(self, params: RunParams, content_path, style_paths):
        self.params = params
        self.content_path = content_path
        self.style_paths = [style_paths] if isinstance(style_paths, (str, os.PathLike)) else list(style_paths)
        self.generator = torch.Generator().manual_seed(params.seed)  # noise init, then shifts
        self.needed = params.content_layers + params.style_layers  # and the fixed evaluation's
        self.needed += tuple(REFERENCE["content_layers"]) + tuple(REFERENCE["style_layers"])
        self.stage = 0
        self.inputs = self._load(0)
        self.init_info = self.inputs.init_info  # the init file, read at the first stage only
        self.names = [c for c in history_columns(params) if c not in ("iteration", "seconds", "scale")]
        self.history: list[dict] = []
        self.snapshots: dict[int, torch.Tensor] = {}
        self.snapshot_scores: dict[int, dict] = {}
        self.diverged_at: int | None = None
        self.carried_seconds = 0.0        # loop time of earlier invocations (a resumed run)
        self.resumed_from: list[int] = []
        self.continued_from: str | None = None  # the shorter run continued (checkpoint.continued_state)
        self.evaluated: tuple | None = None  # (image, loss, gradient) of the last evaluation: `reuse`
        self._reference_totals: dict[int, float] = {}  # per stage
        self.memory_plans: dict[int, memory.StageMemory] = {}  # per stage: tiling, L-BFGS history

    def _load(self, stage: int, previous: torch.Tensor | None = None):
        return load_inputs(self.params, self.content_path, self.style_paths, self.params.stages[stage][0],
                           self.generator, self.needed, previous)

    @property
    def stage_end(self) -> int:
        """The last iteration (numbered across stages) of the current stage."""
        return sum(n for _, n in self.params.stages[: self.stage + 1])

    def bind(self, device: torch.device, extractor, state, weights_record: dict) -> None:
        """Put the run on `device` with a (possibly shared) extractor holding its layers."""
        params = self.params
        self.device, self.weights_record, self.extractor = device, weights_record, extractor
        self.amp = precision_context(params, device)
        self.budget = memory_budget(params, device)
        self.evaluator = extractor
        if params.pooling != REFERENCE["pooling"] or not _covers(extractor, REFERENCE):
            self.evaluator = make_extractor(REFERENCE["content_layers"] + REFERENCE["style_layers"],
                                            REFERENCE["pooling"], state).to(device)
        self._bind_stage()

    def _bind_stage(self) -> None:
        """The objective and the image being optimised, of the current stage's inputs."""
        params, inputs, device = self.params, self.inputs, self.device
        self.content = inputs.content.to(device)
        shift = (RandomShift(params.shift, params.shift_rotation, self.generator, params.shift_mode)
                 if params.shift is not None else None)
        self.memory = self.memory_plans[self.stage] = memory.plan_stage(
            params, *self.content.shape[-2:], params.stages[self.stage][1], self.budget,
            [tuple(s.shape[-2:]) for s in inputs.styles])
        styles = [s.to(device) for s in inputs.styles]
        if self.memory.tile:  # the same losses and gradients, tile by tile (nst/run/tiled.py)
            self.objective = TiledObjective(params, self.extractor, self.content, styles, shift, self.amp,
                                            self.memory.tile)
        else:
            self.objective = Objective(params, self.extractor, self.content, styles, shift, self.amp)
        # inputs.start stays the start; clamped as the first evaluation of the tutorial's loop clamps it
        self.image = inputs.start.to(device, copy=True).clamp_(0, 1).requires_grad_(True)
        self.last_good = self.image.detach().clone()
        self.evaluated = None

    def enter_stage(self, stage: int) -> None:
        """Move on to `stage` (a finer scale), starting from this stage's result upsampled."""
        previous = self.image.detach().clamp(0, 1).cpu()
        self.stage, self.inputs = stage, self._load(stage, previous)
        self._bind_stage()

    def presented(self, image: torch.Tensor) -> torch.Tensor:
        """The image a user gets (luminance mode: with the content's chroma)."""
        return color.present(self.params.color, image, self.inputs.original_content)

    def evaluate(self, image: torch.Tensor) -> dict:
        """The reference evaluation of the image a user gets, against the images as loaded;
        for a blend, each value blended by the style weights."""
        shown = self.presented(image)
        content = self.inputs.original_content.to(self.device)
        styles = [s.to(self.device) for s in self.inputs.original_styles]
        tile = self.memory.tile
        if len(styles) == 1:
            return evaluate(self.evaluator, shown, content, styles[0], tile)
        each = [evaluate(self.evaluator, shown, content, s, tile) for s in styles]
        return {k: sum(w * e[k] for w, e in zip(self.objective.style_weights, each)) for k in each[0]}

    def scores(self, image: torch.Tensor, evaluate_too: bool = True) -> dict:
        """The run's own losses (unshifted) and the reference evaluation of an image."""
        with torch.no_grad():
            terms = self.objective(image, shifted=False)
            scores = {"final": {n: float(terms[n]) for n in self.names}}
            if evaluate_too:
                scores["evaluation"] = self.evaluate(image)
            return scores

    def record(self, iteration: int, terms: dict, loop_start: float) -> bool:
        """Add the history row of one evaluation; False (and diverged) if the loss is not finite."""
        values = torch.stack([terms[n].detach().float() for n in self.names]).tolist()
        self.history.append({"iteration": iteration, **dict(zip(self.names, values)),
                             "seconds": time.perf_counter() - loop_start + self.carried_seconds})
        if self.params.scales:
            self.history[-1]["scale"] = self.params.stages[self.stage][0]
        if not math.isfinite(self.history[-1]["total"]):
            self.diverged_at = iteration
            return False
        self.last_good = self.image.detach().clone()
        return True

    def remember(self, loss: torch.Tensor) -> None:
        """Keep the evaluation just made (after its backward pass), for `reuse`."""
        self.evaluated = (self.image.detach().clone(), loss.detach(), self.image.grad.detach().clone())

    def reuse(self) -> torch.Tensor | None:
        """The loss of the image, with its gradient set, if it is the image evaluated last; else
        None. torch's L-BFGS with a line search evaluates each step's start again, which is
        the point its last line search ended on: that is not a new evaluation."""
        if self.evaluated is None or not torch.equal(self.image.detach(), self.evaluated[0]):
            return None
        self.image.grad = self.evaluated[2].clone()
        return self.evaluated[1]

    def stalled_at(self, iterations: int | None = None) -> int | None:
        """stall.stalled_at of the first `iterations` (default all) rows, as a run of that many
        iterations judges them; None for a run with random shifting (stall.py says why)."""
        if self.params.shift is not None:
            return None
        rows = self.history[:iterations] if iterations is not None else self.history
        stages, left = [], iterations if iterations is not None else self.params.total_iterations
        for _, planned in self.params.stages:
            if left <= 0:
                break
            stages.append(min(planned, left))
            left -= planned
        return stall.stalled_at([row["total"] for row in rows], stages)

    def after_step(self, iteration: int) -> None:
        """Take the snapshot `iteration` if the run asks for one (image and scores)."""
        if iteration in self.params.snapshots:  # scored as a run of `iteration` iterations would be
            at_k = self.image.detach().clamp(0, 1)
            self.snapshots[iteration] = self.presented(at_k).cpu()
            scores = self.scores(at_k)
            scores["diverged_reason"] = self.blow_up(scores["final"]["total"])
            scores["stalled_at"] = self.stalled_at(iteration)
            self.snapshot_scores[iteration] = scores

    def made_from(self) -> dict | None:
        """The content hashes of the images the run was made from (run_folder.made_from)."""
        return run_folder.made_from({"content": self.inputs.content_info.to_dict(),
                                  "styles": [info.to_dict() for info in self.inputs.style_infos],
                                  "init_image": self.init_info.to_dict() if self.init_info else None})

    # --- resuming (nst/run/checkpoint.py) ---------------------------------------------------------
    def state(self, optimizer: torch.optim.Optimizer, loop_start: float) -> dict:
        """Everything the rest of the run depends on, after the last recorded iteration, as
        plain types and tensors (torch.load(weights_only=True) reads it back), with the images
        it was made from (their run_folder.inputs_key)."""
        iteration = len(self.history)
        return {
            "format": checkpoint.FORMAT, "run_id": self.params.run_id, "iteration": iteration,
            "inputs": run_folder.inputs_key(self.made_from()), "snapshots_written": sorted(self.snapshots),
            "seconds": time.perf_counter() - loop_start + self.carried_seconds,
            "resumed_from": list(self.resumed_from), "continued_from": self.continued_from,
            "image": self.image.detach(), "last_good": self.last_good,
            "optimizer": optimizer.state_dict(), "generator": self.generator.get_state(),
            "history": self.history, "snapshot": self.snapshot_scores.get(iteration), "stage": self.stage,
            "evaluated": list(self.evaluated) if self.evaluated is not None else None,
        }

    def restore(self, state: dict, snapshots: dict[int, tuple[torch.Tensor, dict]]) -> None:
        """Continue from `state` (call after bind, before the optimizer is made): the image,
        generator, history and snapshots as they were. The optimizer's state is loaded by the
        caller, into the optimizer of the restored image."""
        if state.get("stage", 0) != self.stage:  # a multi-scale run killed at a finer scale
            self.stage, self.inputs = state["stage"], self._load(state["stage"])
            self._bind_stage()
        self.image = state["image"].to(self.device).requires_grad_(True)
        self.last_good = state["last_good"].to(self.device)
        self.generator.set_state(state["generator"])
        self.history = list(state["history"])
        evaluated = state.get("evaluated")
        self.evaluated = tuple(t.to(self.device) for t in evaluated) if evaluated is not None else None
        self.carried_seconds = float(state["seconds"])
        self.resumed_from = [*state["resumed_from"], int(state["iteration"])]
        own = state["run_id"] == self.params.run_id  # else another run's state, continued
        self.continued_from = state.get("continued_from") if own else state["run_id"]
        for iteration, (image, scores) in snapshots.items():
            self.snapshots[iteration], self.snapshot_scores[iteration] = image.cpu(), scores

    # --- the outcome ---------------------------------------------------------------------------
    def reference_total(self) -> float:
        """The larger of the starting image's and the content image's total loss (unshifted;
        the start clamped as the first step clamps it), of the current stage; computed once
        per stage, when first asked."""
        if self.stage not in self._reference_totals:
            start = self.inputs.start.to(self.device).clamp(0, 1)
            images = [start] if torch.equal(start, self.content) else [start, self.content]
            self._reference_totals[self.stage] = max(self.scores(image, evaluate_too=False)["final"]["total"]
                                                     for image in images)
        return self._reference_totals[self.stage]

    def blow_up(self, final_total: float) -> str | None:
        """blow_up_reason for the run so far, with `final_total` the loss of its image now."""
        return blow_up_reason(final_total, self.reference_total())

    def verdict(self, final_total: float) -> tuple[int | None, str | None]:
        """(diverged_at, diverged_reason), both None for a run that is ok."""
        if self.diverged_at is not None:
            return self.diverged_at, f"non-finite loss at iteration {self.diverged_at}"
        reason = self.blow_up(final_total)
        return (len(self.history), reason) if reason else (None, None)  # judged after the last one

    def result(self, started: float, loop_start: float) -> RunResult:
        final_image = (self.last_good if self.diverged_at is not None else self.image.detach()).clamp(0, 1)
        final_scores = self.scores(final_image)
        diverged_at, reason = self.verdict(final_scores["final"]["total"])
        loop_seconds = self.history[-1]["seconds"] if self.history else 0.0
        return RunResult(
            params=self.params, image=self.presented(final_image).cpu(), history=self.history,
            snapshots=self.snapshots,
            snapshot_scores=self.snapshot_scores,
            status="diverged" if reason else "ok", diverged_at=diverged_at, diverged_reason=reason,
            stalled_at=None if reason else self.stalled_at(),
            final=final_scores["final"], evaluation=final_scores["evaluation"],
            content=self.inputs.content_info, style=self.inputs.style_infos[0],
            styles=self.inputs.style_infos, weights=self.weights_record, init_image=self.init_info,
            memory=[self.memory_plans[k].record() for k in sorted(self.memory_plans)],
            device=str(self.device), resumed_from=self.resumed_from, continued_from=self.continued_from,
            timing={  # a resumed run counts the loop time of its earlier invocations, not their set-up
                "seconds": time.perf_counter() - started + self.carried_seconds,
                "setup_seconds": loop_start - started,
                "loop_seconds": loop_seconds,
                "iterations_per_second": len(self.history) / max(loop_seconds, 1e-9) if self.history else 0.0,
            },
        )


def stylize(params: RunParams, content_path, style_path,
            progress: Callable[[dict], None] | None = None, outdir=None, continue_from=None) -> RunResult:
    """One run. With `outdir` (its folder), the run saves its state there as it goes and, if a
    killed run left one, continues from it (nst/run/checkpoint.py); nst/execution/batch.py
    calls it without. Raises ImageError, WeightsError, ParamsError (a weights file), or
    NSTError (a device that is not there, a state that does not fit). `continue_from`: the folder of
    a finished shorter run of the same settings, continued from its last state unless this run's
    own folder has a state to resume (checkpoint.continued_state)."""
    started = time.perf_counter()
    if params.threads > 0:
        torch.set_num_threads(params.threads)
    device = pick_device(params.device)
    torch.manual_seed(params.seed)
    # the states first: a source that does not fit is told before any image or weights load
    made = run_folder.inputs_now(params, content_path, style_path) if outdir or continue_from else None
    resume = checkpoint.resumable_state(outdir, params, run_folder.inputs_key(made)) if outdir is not None else None
    if resume is None and continue_from is not None:
        resume = checkpoint.continued_state(continue_from, params, made)
    run = RunState(params, content_path, style_path)
    bind_network([run], params, params.content_layers + params.style_layers, device)
    if resume is not None:
        run.restore(*resume)
    optimizer = make_optimizer(params, run.image, run.memory.lbfgs_history)
    if resume is not None:
        optimizer.load_state_dict(resume[0]["optimizer"])
    checkpoints = checkpoint.Checkpoints(outdir, params) if outdir is not None else None
    loop_start = time.perf_counter()

    def after_step(iteration: int) -> None:
        if checkpoints is not None:
            taken = (run.snapshots[iteration], run.snapshot_scores[iteration]) if iteration in run.snapshots else None
            checkpoints.after_step(iteration, lambda: run.state(optimizer, loop_start), taken)
        if progress is not None:
            progress(run.history[-1])

    while True:  # one stage per scale, coarse to fine; one stage without scales
        optimize([run], optimizer, each_objective, len(run.history) + 1, loop_start, after_step, run.stage_end)
        if run.stage + 1 == len(params.stages) or run.diverged_at is not None:
            optimizer = None  # its state (L-BFGS's history) is let go before the final scores
            return run.result(started, loop_start)
        optimizer = None  # the coarser stage's history, before the finer stage is set up
        run.enter_stage(run.stage + 1)
        optimizer = make_optimizer(params, run.image, run.memory.lbfgs_history)  # a fresh one: another image size


# --- network and loop (also nst/execution/batch.py's: several runs, one network pass) -------
def bind_network(runs: list[RunState], params: RunParams, layers, device: torch.device):
    """Load `params`' weights, build one extractor of `layers` on `device` and bind every run
    to it; returns the extractor."""
    state, weights_record = load_weights(params.weights, params.family_weights_file)
    extractor = place_network(make_extractor(layers, params.pooling, state), params, device)
    for run in runs:
        run.bind(device, extractor, state, weights_record)
    return extractor


def _covers(extractor, reference: dict) -> bool:
    deepest = max(LAYER_INDEX[n] for n in reference["content_layers"] + reference["style_layers"])
    return len(extractor.names) > deepest
