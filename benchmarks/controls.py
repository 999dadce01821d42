"""Benchmarks 7 and 8: what the controls cost (issue 13).

7. Cost per iteration of each control relative to the baseline: the same run (baseline preset,
   caffe weights, chelsea x starry_night, CPU), once per control, arms alternated over repeats,
   median seconds per iteration from the history stamps (first difference dropped). A control
   that only changes the images (colour, histogram, style scale, init noise) or the loss (Gram
   normalisation, layer weights, mean/std, Wasserstein, TV) is measured in the loop it changes.

8. Multi-scale time-to-quality: at each size, the single-scale baseline run (`iterations`
   evaluations at full size) against a coarse-to-fine schedule of the same preset (scales at
   1/4 and 1/2 of the size first). Quality is the study's default evaluator (`gatys`, scored
   from the saved image as `nst score` does). The multi-scale run is done twice: once without
   snapshots, for clean times, and once with snapshots every `every` iterations, for the scores
   along the way (the CPU runs are deterministic: the same trajectory). Time-to-quality is the
   clean loop time at the first snapshot whose score is at or below the baseline's final score,
   as a ratio to the baseline's loop time (target <= 0.5).
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from . import common
from .common import REPO, log, median, spread, table

CONTENT = REPO / "images/demo/content/chelsea.png"
STYLE = REPO / "images/styles/starry_night.jpg"
SECOND_STYLE = REPO / "images/styles/the_scream.jpg"

# control -> (settings over the baseline, extra style images)
CONTROLS = {
    "baseline (reference)": ({}, []),
    "gatys preset (relu layers, 1e3/n^2, Gram / hw)": ({"preset": "gatys"}, []),
    "style_layer_weights: gatys": ({"style_layer_weights": "gatys"}, []),
    "gram_norm: spatial": ({"gram_norm": "spatial"}, []),
    "style_loss: mean_std": ({"style_loss": "mean_std"}, []),
    "style_loss: wasserstein": ({"style_loss": "wasserstein"}, []),
    "color: luminance": ({"color": "luminance"}, []),
    "color: histogram": ({"color": "histogram"}, []),
    "tv_weight: 1e-3": ({"tv_weight": 1e-3}, []),
    "style_scale: 0.5": ({"style_scale": 0.5}, []),
    "style_scale: 2": ({"style_scale": 2.0}, []),
    "blend of 2 styles": ({"style_blend_weights": [0.5, 0.5]}, [SECOND_STYLE]),
    "init_noise: 0.3": ({"init_noise": 0.3}, []),
}


def _params(settings: dict, size: int, iterations: int):
    from nst.contracts.presets import preset

    settings = dict(settings)
    name = settings.pop("preset", "baseline")
    return preset(name, size=size, iterations=iterations, weights="caffe", device="cpu",
                  threads=common.THREADS, checkpoint_seconds=0, **settings)


def seconds_per_iteration(history: list[dict]) -> list[float]:
    stamps = [row["seconds"] for row in history]
    return [b - a for a, b in zip(stamps[1:], stamps[2:])]  # the first difference holds warm-up


def per_iteration(size: int, iterations: int, repeats: int) -> tuple[str, dict]:
    """Benchmark 7: median seconds per iteration of each control, as a ratio to the baseline."""
    from nst.run.engine import stylize

    times = {name: [] for name in CONTROLS}
    for rep in range(repeats):
        names = list(CONTROLS) if rep % 2 == 0 else list(reversed(CONTROLS))
        for name in names:
            settings, extra = CONTROLS[name]
            styles = [str(STYLE), *map(str, extra)]
            result = stylize(_params(settings, size, iterations), str(CONTENT), styles if extra else styles[0])
            times[name].extend(seconds_per_iteration(result.history))
            log(f"  7: {name}: {median(times[name]) * 1000:.1f} ms/it")
    reference = median(times["baseline (reference)"])
    rows = [[name, median(ts) * 1000, spread([t * 1000 for t in ts]), median(ts) / reference]
            for name, ts in times.items()]
    md = table([f"control ({size} px, {iterations} it x {repeats}, {common.THREADS} threads)", "ms / iteration",
                "min-max (ms)", "x baseline"], rows)
    return md, {"size": size, "seconds": times}


def _score(result, folder: Path, evaluator, network) -> float:
    """The evaluator's total of a run's final image, scored from the saved files."""
    from nst.run.writer import write_run
    from nst.run.score import score_run

    write_run(result, folder)
    return score_run(folder, evaluator, network)["scores"]["total"]


def _snapshot_scores(run_dir: Path, evaluator, network) -> dict[int, float]:
    """{iteration: evaluator total} of each snapshot image of a written run."""
    from nst.run.score import score_run

    scores = {}
    record = json.loads((run_dir / "run.json").read_text())
    for png in sorted((run_dir / "snapshots").glob("*.png"), key=lambda p: int(p.stem)):
        probe = run_dir.parent / f"{run_dir.name}-at-{png.stem}"
        probe.mkdir(exist_ok=True)
        shutil.copy(png, probe / "image.png")
        (probe / "run.json").write_text(json.dumps(record))
        scores[int(png.stem)] = score_run(probe, evaluator, network)["scores"]["total"]
    return scores


def time_to_quality(size: int, iterations: int, final_iterations: int, every: int) -> tuple[list, dict]:
    """Benchmark 8 at one size: (table row, raw numbers)."""
    from nst.run.engine import stylize
    from nst.contracts.evaluators import make_evaluator
    from nst.run.writer import write_run
    from nst.run.score import Network

    evaluator = make_evaluator("gatys")
    network = Network(evaluator.settings)
    scales = [size // 4, size // 2]
    work = Path(tempfile.mkdtemp(prefix="nst-bench-ttq-"))
    try:
        single = stylize(_params({}, size, iterations), str(CONTENT), str(STYLE))
        target = _score(single, work / "single", evaluator, network)
        single_seconds = single.history[-1]["seconds"]
        log(f"  8: {size} px single-scale: {single_seconds:.1f} s, gatys total {target:.4g}")
        multi = {"scales": scales, "scale_iterations": [iterations // 2, iterations // 4]}
        clean = stylize(_params(multi, size, final_iterations), str(CONTENT), str(STYLE))
        coarse = sum(multi["scale_iterations"])
        steps = list(range(coarse + every, coarse + final_iterations + 1, every))
        traced = stylize(_params({**multi, "snapshots": steps}, size, final_iterations), str(CONTENT), str(STYLE))
        write_run(traced, work / "multi")
        scores = _snapshot_scores(work / "multi", evaluator, network)
        reached = next((k for k in steps if scores[k] <= target), None)
        clean_seconds = {row["iteration"]: row["seconds"] for row in clean.history}
        seconds = clean_seconds[reached] if reached else None
        log(f"  8: {size} px multi-scale: reached at {reached}, {seconds} s; scores {scores}")
        row = [f"{size} px", iterations, single_seconds, f"{target:.4g}",
               f"{scales} x {multi['scale_iterations']} + {final_iterations}",
               reached if reached else f"not within {coarse + final_iterations}",
               seconds if seconds is not None else float("nan"),
               seconds / single_seconds if seconds is not None else float("nan")]
        return row, {"size": size, "single_seconds": single_seconds, "target": target, "scores": scores,
                     "multi_seconds": clean_seconds, "reached_at": reached}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def multi_scale(sizes=(256, 512), iterations: int = 300, final_iterations: int = 150, every: int = 10):
    rows, raw = [], {}
    for size in sizes:
        row, numbers = time_to_quality(size, iterations, final_iterations, every)
        rows.append(row)
        raw[size] = numbers
    md = table(["size", "single-scale iterations", "single-scale loop (s)", "its gatys total",
                "multi-scale schedule", "reached at iteration", "multi-scale time to it (s)", "ratio"], rows)
    return md, raw
