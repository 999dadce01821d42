"""Benchmark 1: time per iteration, nst's engine vs the tutorial's loop, side by side.

One iteration = one evaluation of the objective and its gradient plus the optimizer's update.
Both sides: the `tutorial` preset's settings (max pooling, content conv_4, style conv_1..conv_5,
weights 1 / 1e6, L-BFGS lr 1 history 100, init = content, seed 0), the same random
torchvision-keyed VGG-19 weights, the same images (exactly size x size, so neither resizes),
torch.set_num_threads(2), CPU, in one process. Four arms take turns, each in a different place
of the order over the repeats: the engine as a job runs it (its defaults: on CPU that includes
channels-last convolutions, `execution.channels_last: auto`), the engine with NCHW convolutions
(`channels_last: false`, to show what the layout does), the plain loop, and the plain loop again
as an A/A control (its ratio to the plain loop shows what noise alone does to a ratio). The
process's malloc is shared by all arms: `--malloc nst` (default) sets it as nst's jobs do
(nst/execution/process.py), `--malloc system` leaves glibc's defaults. The engine is timed from its history rows (`seconds` is stamped after each
evaluation's losses, before backward); the plain loop stamps the same point in its closure.
Time per iteration = the difference of consecutive stamps; the first difference of each run is
dropped (warm-up), the rest pooled over repeats; the ratio is engine median / plain median.
Both compute the same thing: their total losses over the first 10 iterations agree to float32
rounding (reported; NHWC convolutions sum in another order, so the NHWC engine starts about
1e-6 apart and L-BFGS amplifies that sooner); after that L-BFGS at lr 1 with clamping amplifies rounding differences,
so the trajectories drift apart (as two runs of either would on different hardware); the time
per iteration does not depend on where the trajectory goes.
"""
from __future__ import annotations

import gc
import resource
import time
from pathlib import Path

from . import common
from .common import Weights, log, median, spread, table, test_images


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


class FaultCounter(list):
    """Minor page faults of this process, read at every append: faults per iteration inside a
    loop, whose memory is the same from one iteration to the next, mean the allocator gave
    memory back to the kernel and took it again (each fault maps and zeroes a 4 KiB page)."""

    def append(self, item) -> None:
        super().append((item, minor_faults()))

    def per_iteration(self) -> float:
        faults = [f for _, f in self][1:]  # from the end of the first iteration on
        return (faults[-1] - faults[0]) / max(len(faults) - 1, 1) if len(faults) > 1 else float("nan")


def engine_run(weights: Weights, content: Path, style: Path, size: int, iterations: int, **execution):
    from nst.run.engine import stylize
    from nst.contracts.presets import preset

    params = preset("tutorial", iterations=iterations, size=size, weights=str(weights.features),
                    threads=common.THREADS, device="cpu", seed=0, **execution)
    faults = FaultCounter()
    result = stylize(params, content, style, progress=faults.append)
    stamps = [row["seconds"] for row in result.history]
    return stamps, [row["total"] for row in result.history], result.status, faults.per_iteration()


def plain_model(weights: Weights):
    import torch
    import torchvision.models as models

    cnn = models.vgg19()
    cnn.load_state_dict(torch.load(weights.full, map_location="cpu", weights_only=True))
    return cnn.features.eval()


def plain_run(cnn, content: Path, style: Path, size: int, iterations: int):
    import torch
    import torchvision.transforms as transforms
    from PIL import Image

    from . import tutorial

    torch.set_num_threads(common.THREADS)
    torch.manual_seed(0)
    loader = transforms.Compose([transforms.Resize(size), transforms.ToTensor()])
    content_img = loader(Image.open(content).convert("RGB")).unsqueeze(0)
    style_img = loader(Image.open(style).convert("RGB")).unsqueeze(0)
    input_img = content_img.clone()
    stamps, rows = FaultCounter(), []
    try:  # the tutorial's loop stops only between LBFGS steps of 20: cap it at `iterations`
        tutorial.run_style_transfer(cnn, tutorial.CNN_MEAN, tutorial.CNN_STD, content_img, style_img, input_img,
                                    num_steps=iterations - 1, stamps=stamps, rows=rows, max_evals=iterations)
    except tutorial.StopRun:
        pass
    return ([t for t, _ in stamps[:iterations]], [style + content for _, style, content in rows[:iterations]],
            stamps.per_iteration())


def per_iteration(stamps: list[float]) -> list[float]:
    diffs = [b - a for a, b in zip(stamps, stamps[1:])]
    return diffs[1:]  # the first difference is warm-up (allocator, first LBFGS step)


ARMS = ("engine", "engine_nchw", "plain", "control")  # control: the plain loop again, an A/A check of the noise


def run(cache: Path, weights: Weights, sizes=(128, 256, 512), iterations=None, repeats: int = 3) -> dict:
    import torch

    torch.set_num_threads(common.THREADS)
    iterations = iterations or {128: 60, 256: 40, 512: 20}
    iterations = {size: iterations.get(size, 20) for size in sizes} if isinstance(iterations, dict) else iterations
    cnn = plain_model(weights)
    rows, raw = [], {}
    for size in sizes:
        n = iterations[size] if isinstance(iterations, dict) else iterations
        content, style = test_images(cache, size)
        times = {arm: [] for arm in ARMS}
        per_repeat = {arm: [] for arm in ARMS}
        faults = {arm: [] for arm in ARMS}
        statuses, losses = set(), {}
        for rep in range(repeats):
            order = ARMS[rep % len(ARMS):] + ARMS[:rep % len(ARMS)]  # each arm in another place each time
            for which in order:
                gc.collect()
                t0 = time.perf_counter()
                if which.startswith("engine"):
                    layout = {"channels_last": False} if which == "engine_nchw" else {}
                    stamps, losses[which], status, flt = engine_run(weights, content, style, size, n, **layout)
                    statuses.add(status)
                else:
                    stamps, losses[which], flt = plain_run(cnn, content, style, size, n)
                faults[which].append(flt)
                diffs = per_iteration(stamps)
                if len(stamps) != n:
                    log(f"  warning: {which} did {len(stamps)} iterations, not {n}")
                times[which] += diffs
                per_repeat[which].append(median(diffs))
                log(f"  {size}px {which} repeat {rep + 1}/{repeats}: {len(stamps)} it, median "
                    f"{1000 * median(diffs):.1f} ms/it, {flt:.0f} minor faults/it "
                    f"({time.perf_counter() - t0:.1f}s incl. setup)")
        e, nchw, p, a = (median(times[arm]) for arm in ARMS)
        pair_ratios = [x / y for x, y in zip(per_repeat["engine"], per_repeat["plain"])]
        # same computation: the total losses of the first 10 iterations agree up to float32
        # rounding (later, L-BFGS at lr 1 amplifies rounding differences chaotically)
        def agree(arm, first=10):
            return max(abs(x - y) / max(abs(y), 1e-30) for x, y in zip(losses[arm][:first], losses["plain"][:first]))
        rows.append([f"{size} px", n, repeats, 1000 * e, 1000 * p, f"**{e / p:.3f}**", spread(pair_ratios),
                     f"{nchw / p:.3f}", f"{a / p:.3f}",
                     f"{median(faults['engine']):.0f} / {median(faults['plain']):.0f}",
                     ", ".join(sorted(statuses)), f"{agree('engine_nchw'):.1e} / {agree('engine'):.1e} "
                     f"({agree('engine', 3):.1e})"])
        raw[size] = {"engine_ms": 1000 * e, "plain_ms": 1000 * p, "control_ms": 1000 * a, "ratio": e / p,
                     "engine_nchw_ms": 1000 * nchw, "nchw_ratio": nchw / p,
                     "control_ratio": a / p, "pair_ratios": pair_ratios, "iterations": n, "repeats": repeats,
                     "per_repeat_ms": {k: [1000 * v for v in vs] for k, vs in per_repeat.items()},
                     "minor_faults_per_iteration": faults}
    md = table(["size", "iterations/run", "repeats", "engine ms/it (median)", "plain ms/it (median)",
                "ratio engine/plain", "ratio per repeat (min-max)", "engine NCHW / plain",
                "A/A control: plain again / plain",
                "minor page faults/it, engine / plain (median)", "engine status", "total loss vs plain, iterations 1-10, max rel. diff: NCHW / NHWC (NHWC, 1-3)"], rows)
    return {"markdown": md, "raw": raw}
