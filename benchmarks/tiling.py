"""Benchmark 11: the tiled objective (issue 23): exactness, peak RSS, time per megapixel.

    nice -n 10 .venv/bin/python -m benchmarks.tiling exact --sizes 256,384
    nice -n 10 .venv/bin/python -m benchmarks.tiling memory --cases gatys:512:0:3:2,gatys:512:256:3:2
    nice -n 10 .venv/bin/python -m benchmarks.tiling time --size 1024 --tile 512 --repeats 3
    nice -n 10 .venv/bin/python -m benchmarks.tiling all          # the table of BENCHMARKS.md, in one run
    nice -n 10 .venv/bin/python -m benchmarks --only 11           # the same, inside the suite

A tiled 4096 px iteration takes many minutes on 2 cores (the whole of `all` about an hour and a
half), so the suite runs it only when asked (`--only 11`), as benchmark 9.

1. exactness, in this process: the `gatys` preset (conv4_2 content, relu1_1..relu5_1 style,
   `weights: caffe`), each style loss (and each Gram normalisation), float64 and float32; the
   loss and gradient of Objective against TiledObjective with tiles of half the image (4 tiles
   at 256 px, 4 at 384 px: every tile has a clipped and an interior border), same image,
   targets and shift. Relative difference of the total (and every term) and of the gradient
   (max |g_tiled - g| / max |g|).
2. memory and time, one fresh `nst run` per case (GNU time's peak RSS, see common.run_child):
   PRESET:SIZE:TILE:ITERATIONS:LBFGS_HISTORY; TILE 0 = untiled. The seconds of one whole
   iteration (the median gap between history rows, see iteration_seconds) divided by the
   megapixels gives the per-megapixel time; the row also gives the memory model's estimate
   (nst/run/memory.py) beside the measurement.
3. time, in this process (malloc and NHWC layout as an `nst run` job has them): one evaluation
   with its gradient, untiled and tiled alternating, `repeats` times after one warm-up each;
   the untiled forward and backward apart, and the tiled objective without gradients (its
   pass 1 alone) beside the whole tiled call. On a shared machine the alternation keeps the
   two arms under the same load, which separate processes minutes apart do not.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

from . import common
from .common import BIN, child_env, log, run_child, table, test_images

STYLE_LOSSES = (("gram", "spatial"), ("gram", "abcd"), ("gram", "elements"), ("mean_std", "spatial"),
                ("wasserstein", "spatial"))
DEFAULT_CASES = ("gatys:512:0:3:2", "gatys:512:256:3:2", "gatys:1024:0:2:1", "gatys:1024:512:2:1",
                 "gatys:2048:0:1:1", "gatys:2048:672:2:1", "gatys:4096:448:2:1")  # 672, 448: the plans of max_memory_gb=8


def exactness(cache: Path, sizes=(256, 384), dtypes=("float64", "float32"), losses=STYLE_LOSSES) -> dict:
    import torch
    from nst.run.images import load_image
    from nst.run.objective import Objective
    from nst.contracts.presets import preset
    from nst.run.tiled import TiledObjective
    from nst.run.vgg import make_extractor
    from nst.run.weights import load_weights

    torch.set_num_threads(common.THREADS)
    base = preset("gatys")
    state, _ = load_weights(base.weights, base.family_weights_file)
    rows, raw = [], []
    for size in sizes:
        content_path, style_path = test_images(cache, size)
        tile = max(16, size // 2 // 16 * 16)
        for dtype in dtypes:
            dt = getattr(torch, dtype)
            for style_loss, gram_norm in losses:
                p = preset("gatys", size=size, style_loss=style_loss, gram_norm=gram_norm)
                ext = make_extractor(p.content_layers + p.style_layers, p.pooling, state).to(dt)
                content = load_image(content_path, size, p.resize)[0].to(dt)
                style = load_image(style_path, size, p.resize)[0].to(dt)
                gen = torch.Generator().manual_seed(0)
                image = (content + 0.1 * torch.randn(content.shape, generator=gen, dtype=dt)).clamp(0, 1)
                out = {}
                for name, make in (("untiled", lambda: Objective(p, ext, content, [style], None, contextlib.nullcontext())),
                                   ("tiled", lambda: TiledObjective(p, ext, content, [style], None,
                                                                    contextlib.nullcontext(), tile=tile))):
                    obj = make()
                    x = image.clone().requires_grad_(True)
                    t = time.perf_counter()
                    terms = obj(x)
                    terms["total"].backward()
                    out[name] = ({k: float(v) for k, v in terms.items()}, x.grad.detach(), time.perf_counter() - t)
                (a, ga, ta), (b, gb, tb) = out["untiled"], out["tiled"]
                term_rel = max(abs(a[k] - b[k]) / max(abs(a[k]), 1e-30) for k in a)
                grad_rel = float((ga - gb).abs().max() / ga.abs().max())
                r = {"size": size, "tile": tile, "dtype": dtype, "style_loss": style_loss, "gram_norm": gram_norm,
                     "total_rel": abs(a["total"] - b["total"]) / abs(a["total"]), "worst_term_rel": term_rel,
                     "grad_rel": grad_rel, "seconds_untiled": ta, "seconds_tiled": tb}
                raw.append(r)
                log(f"  exact {size} px {dtype} {style_loss}/{gram_norm}: total {r['total_rel']:.1e} "
                    f"terms {term_rel:.1e} grad {grad_rel:.1e} ({ta:.1f}s / {tb:.1f}s)")
                rows.append([f"{size} (tile {tile})", dtype, style_loss if style_loss != "gram" else f"gram/{gram_norm}",
                             f"{r['total_rel']:.1e}", f"{term_rel:.1e}", f"{grad_rel:.1e}"])
    md = table(["size px", "dtype", "style loss", "total: rel. diff", "worst term: rel. diff",
                "gradient: max abs diff / max abs"], rows)
    worst64 = max((r["grad_rel"] for r in raw if r["dtype"] == "float64"), default=None)
    if worst64 is not None:
        md += f"\n\nWorst float64 gradient difference {worst64:.1e} (target <= 1e-5: {'met' if worst64 <= 1e-5 else 'NOT met'})."
    return {"markdown": md, "raw": raw}


def memory_case(cache: Path, work: Path, case: str, timeout: float) -> dict:
    from nst.run import memory
    from nst.contracts.params import RunParams

    preset, size, tile, iters, hist = case.split(":")
    content, style = test_images(cache, int(size))
    out = work / case.replace(":", "_")
    while out.exists():  # a case measured twice (arms alternating): keep both folders
        out = out.with_name(out.name + "+")
    cmd = [str(BIN / "nst"), "run", str(content), str(style), "-o", str(out), "--preset", preset,
           "--weights", "caffe", "--set", f"size={size}", "--set", f"tile_size={tile}", "--set", f"iterations={iters}",
           "--set", f"lbfgs_history={hist}", "--threads", str(common.THREADS), "--device", "cpu", "--quiet",
           "--overwrite"]
    child = run_child(cmd, env=child_env(), timeout=timeout)
    rec = json.loads((out / "run.json").read_text())
    p = RunParams.from_dict(rec["params"])
    plan = memory.plan_stage(p, int(size), int(size), int(iters), 10**13, [(int(size), int(size))])
    loop = rec["timing"]["loop_seconds"]
    per_iteration = iteration_seconds(out / "history.csv")
    return {"case": case, "size": int(size), "tile": int(tile), "iterations": int(iters), "history": int(hist),
            "rss_mib": child.maxrss_mib, "est_mib": plan.peak_bytes / 2**20, "loop_s": loop,
            "iteration_s": per_iteration, "s_per_iter_mp": per_iteration / (int(size) ** 2 / 1e6), "wall": child.wall,
            "memory": rec.get("memory")}


def iteration_seconds(history_csv: Path) -> float:
    """Seconds of one whole iteration: the median gap between history rows. A row's `seconds`
    is taken after the objective's forward and before the engine's backward; an untiled
    objective's backward comes after it, a tiled one's second pass inside the call, so
    loop_seconds / iterations would leave out an untiled run's last backward only. A gap
    between rows holds one backward, one optimizer step and one forward for either.
    With a single row (one iteration): that row's seconds."""
    import csv
    import statistics

    with open(history_csv, newline="") as f:
        seconds = [float(row["seconds"]) for row in csv.DictReader(f)]
    gaps = [b - a for a, b in zip(seconds, seconds[1:])]
    return statistics.median(gaps) if gaps else seconds[0]


def memory_and_time(cache: Path, cases=DEFAULT_CASES, timeout: float = 3600) -> dict:
    work = Path(tempfile.mkdtemp(prefix="nst-bench-tiling-"))
    rows, raw = [], []
    for case in cases:
        try:
            r = memory_case(cache, work, case, timeout)
        except Exception as e:  # a case past its timeout: say so, keep the others
            log(f"  {case}: {e!r}")
            rows.append([case, "-", "-", "-", "-", f"not measured: {type(e).__name__}"])
            continue
        raw.append(r)
        log(f"  {case}: peak RSS {r['rss_mib']:.0f} MiB (model {r['est_mib']:.0f}), {r['s_per_iter_mp']:.1f} s/iteration/MP")
        rows.append([case, "untiled" if r["tile"] == 0 else f"tile {r['tile']}", round(r["rss_mib"]),
                     round(r["est_mib"]), f"{r['s_per_iter_mp']:.1f}", f"{r['wall']:.0f}"])
    md = table(["preset:size:tile:iterations:history", "tiling", "peak RSS (MiB)", "memory model (MiB)",
                "s / iteration / MP (median gap)", "process wall (s)"], rows)
    return {"markdown": md, "raw": raw}


def timing(cache: Path, size: int = 1024, tile: int = 512, repeats: int = 3) -> dict:
    import statistics

    import torch
    from nst.run.engine import place_network
    from nst.run.images import load_image
    from nst.run.objective import Objective
    from nst.contracts.presets import preset
    from nst.run.tiled import TiledObjective
    from nst.run.tiling import conv_work
    from nst.run.vgg import make_extractor
    from nst.run.weights import load_weights

    torch.set_num_threads(common.THREADS)
    p = preset("gatys", size=size)
    state, _ = load_weights(p.weights, p.family_weights_file)
    ext = place_network(make_extractor(p.content_layers + p.style_layers, p.pooling, state), p, torch.device("cpu"))
    content_path, style_path = test_images(cache, size)
    content, style = (load_image(path, size, p.resize)[0] for path in (content_path, style_path))
    untiled = Objective(p, ext, content, [style], None, contextlib.nullcontext())
    tiled = TiledObjective(p, ext, content, [style], None, contextlib.nullcontext(), tile=tile)
    seconds: dict[str, list[float]] = {k: [] for k in ("forward", "backward", "untiled", "pass 1", "tiled")}
    for rep in range(repeats + 1):  # the first of each: warm-up (oneDNN's primitives, the allocator)
        x = content.clone().requires_grad_(True)
        t2 = time.perf_counter()
        terms = untiled(x)
        t3 = time.perf_counter()
        terms["total"].backward()
        t4 = time.perf_counter()
        x = content.clone().requires_grad_(True)
        t5 = time.perf_counter()
        tiled(x)["total"].backward()  # both passes (the backward only copies the gradient in)
        t6 = time.perf_counter()
        with torch.no_grad():
            tiled(content)  # without gradients: pass 1 only
        t7 = time.perf_counter()
        if rep:
            for k, v in (("untiled", t4 - t2), ("forward", t3 - t2), ("backward", t4 - t3), ("tiled", t6 - t5),
                         ("pass 1", t7 - t6)):
                seconds[k].append(v)
            log(f"  time {size} px tile {tile}: untiled {t4 - t2:.1f} s (forward {t3 - t2:.1f}, backward "
                f"{t4 - t3:.1f}), tiled {t6 - t5:.1f} s (pass 1 {t7 - t6:.1f})")
    med = {k: statistics.median(v) for k, v in seconds.items()}
    work = conv_work(tiled.plan)
    md = table(["", "median of " + str(repeats) + " (s)", "each (s)"],
               [[k, f"{med[k]:.2f}", ", ".join(f"{v:.2f}" for v in seconds[k])] for k in seconds])
    md += (f"\n\n{size} px, tiles of {tile} px ({tiled.plan.count}), convolution work {work:.3f}x the "
           f"untiled; tiled / untiled: {med['tiled'] / med['untiled']:.2f}x (target <= 1.5x: "
           f"{'met' if med['tiled'] / med['untiled'] <= 1.5 else 'NOT met'}).")
    return {"markdown": md, "raw": {"size": size, "tile": tile, "tiles": tiled.plan.count, "conv_work": work,
                                    "seconds": seconds, "medians": med}}


def run(cache: Path, sizes=(256, 384), cases=DEFAULT_CASES) -> dict:
    """Both parts, for `python -m benchmarks --only 11`."""
    exact, mem, times = exactness(cache, sizes), memory_and_time(cache, cases), timing(cache)
    return {"markdown": "#### Exactness\n\n" + exact["markdown"] + "\n\n#### Peak RSS and time\n\n" + mem["markdown"]
            + "\n\n#### Time, in one process\n\n" + times["markdown"],
            "raw": {"exact": exact["raw"], "memory": mem["raw"], "time": times["raw"]}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tiling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("exact", "memory", "time", "all"))
    parser.add_argument("--sizes", default="256,384")
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES))
    parser.add_argument("--cache", default=str(Path("/tmp") / "nst-bench-cache"))
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds per memory case (a tiled 4096 px case takes tens of minutes on 2 cores)")
    parser.add_argument("--size", type=int, default=1024, help="time: image size")
    parser.add_argument("--tile", type=int, default=512, help="time: tile size")
    parser.add_argument("--repeats", type=int, default=3, help="time: repeats after the warm-up")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if args.what in ("time", "all"):  # as an nst job: before torch allocates anything
        from nst.execution.process import keep_freed_memory

        keep_freed_memory()
    cache = Path(args.cache)
    report, raw = [], {}
    if args.what in ("exact", "all"):
        r = exactness(cache, [int(s) for s in args.sizes.split(",")], args.dtypes.split(","))
        report.append("#### Exactness\n\n" + r["markdown"])
        raw["exact"] = r["raw"]
    if args.what in ("memory", "all"):
        r = memory_and_time(cache, args.cases.split(","), args.timeout)
        report.append("#### Peak RSS and time\n\n" + r["markdown"])
        raw["memory"] = r["raw"]
    if args.what in ("time", "all"):
        r = timing(cache, args.size, args.tile, args.repeats)
        report.append("#### Time, in one process\n\n" + r["markdown"])
        raw["time"] = r["raw"]
    print("\n\n".join(report))
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
