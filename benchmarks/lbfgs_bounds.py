"""Benchmark 9: how L-BFGS keeps the pixels in [0, 1] (`lbfgs_bounds`), on real style transfer.

    python -m benchmarks.lbfgs_bounds OUT [--workers 2] [--options projected,clamp,strong_wolfe,free]
    python -m benchmarks.lbfgs_bounds OUT --report-only    # the tables of what OUT holds
    python -m benchmarks.lbfgs_bounds OUT --timing         # cost per iteration, side by side
    python -m benchmarks.lbfgs_bounds OUT --scipy          # scipy's L-BFGS-B on one setting (reference)
    python -m benchmarks --only 9                          # both, inside the suite's report (hours)

Every option on 5 photographs (scikit-image: astronaut, chelsea, coffee, rocket,
hubble_deep_field; prepared as the demo prepares its two, shorter side 256 px) x the four
paintings of images/styles, at style weights 1e4, 1e6 and 1e8: the baseline preset otherwise
(300 iterations, 128 px, conv_4 / conv_1..5, content init, lr 1) with the Caffe VGG-19, on the
CPU, one torch thread per process, `--workers` processes. Each run is written to
OUT/runs/<option>/<content>/<style>/<weight>/ and scored there with the `gatys` evaluator, as
the workflow scores it; its numbers go to OUT/lbfgs_bounds.jsonl as soon as it finishes, so an
interrupted benchmark continues where it stopped.

Order (a shared CPU may not allow all 240 runs in the time there is): the first option given
(the candidate baseline) on every setting; then the other options setting by setting, the
demo's two photographs x the four paintings at the three weights (24 settings) first. A
benchmark stopped at any point compares the options on the settings all of them have (the
report says how many).

Reported per option: runs diverged (run.json's status: a non-finite loss, or the blow-up rule)
and stalled (stalled_at), the median over the 20 pairs at each style weight of the final total
loss (the run's own objective of its saved image) and of the gatys scores, how often each
option had the lowest final loss of a setting, and the time per run (of runs made two at a
time on a shared CPU: what each option costs per iteration is `--timing`, measured side by side).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from .common import REPO, log, table

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field")
STYLES = ("shipwreck", "starry_night", "the_scream", "woman_with_a_hat")
STYLE_WEIGHTS = (1e4, 1e6, 1e8)
OPTIONS = ("projected", "clamp", "strong_wolfe", "free")
SIZE, ITERATIONS = 128, 300


def write_photos(folder: Path) -> dict[str, Path]:
    """The photographs as PNGs, shorter side 256 px (the demo's two exactly as the demo has them)."""
    from PIL import Image
    from skimage import data

    from nst.study.demo import SIDE, content_photos

    folder.mkdir(parents=True, exist_ok=True)
    photos = content_photos()
    paths = {}
    for name in PHOTOS:
        path = folder / f"{name}.png"
        if not path.is_file():
            img = photos.get(name)
            if img is None:
                img = Image.fromarray(getattr(data, name)()[..., :3])
                w, h = img.size
                img = img.resize((round(w * SIDE / min(w, h)), round(h * SIDE / min(w, h))), Image.Resampling.LANCZOS)
            img.save(path)
        paths[name] = path
    return paths


def settings() -> list[tuple[str, str, float]]:
    return [(c, s, w) for w in STYLE_WEIGHTS for c in PHOTOS for s in STYLES]


DEMO_PHOTOS = ("astronaut", "chelsea")


def in_order(options) -> list[tuple[str, str, str, float]]:
    """(option, content, style, weight) in the order they are run (the module's docstring)."""
    first, others = options[0], options[1:]
    demo = [(c, s, w) for c, s, w in settings() if c in DEMO_PHOTOS]
    rest = [(c, s, w) for c, s, w in settings() if c not in DEMO_PHOTOS]
    return [(first, *x) for x in settings()] + [(o, *x) for x in demo + rest for o in others]


def _key(option: str, content: str, style: str, weight: float) -> str:
    return f"{option}/{content}/{style}/{weight:g}"


_NETWORK = None


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def one_run(out: str, option: str, content: str, style: str, weight: float) -> dict:
    """Run, write and score one setting; its row of the JSONL file."""
    global _NETWORK
    from nst.run.engine import stylize
    from nst.contracts.evaluators import make_evaluator
    from nst.run.writer import write_run
    from nst.contracts.presets import preset
    from nst.run.score import Network, score_run

    evaluator = make_evaluator("gatys")
    if _NETWORK is None:
        _NETWORK = Network(evaluator.settings)
    params = preset("baseline", size=SIZE, iterations=ITERATIONS, weights="caffe", style_weight=weight,
                    lbfgs_bounds=option, device="cpu", threads=1, checkpoint_seconds=0)
    folder = Path(out) / "runs" / option / content / style / f"{weight:g}"
    started = time.perf_counter()
    result = stylize(params, str(Path(out) / "photos" / f"{content}.png"), str(REPO / "images/styles" / f"{style}.jpg"))
    write_run(result, folder)
    scores = score_run(folder, evaluator, _NETWORK)["scores"]
    totals = [row["total"] for row in result.history]
    return {"key": _key(option, content, style, weight), "option": option, "content": content, "style": style,
            "style_weight": weight, "run_id": params.run_id, "status": result.status,
            "diverged_reason": result.diverged_reason, "stalled_at": result.stalled_at,
            "final_total": result.final["total"], "final_style": result.final["style"],
            "final_content": result.final["content"], "history_min": min(totals), "history_first": totals[0],
            "gatys_style": scores["style"], "gatys_content": scores["content"], "gatys_total": scores["total"],
            "loop_seconds": result.timing["loop_seconds"], "run_seconds": result.timing["seconds"],
            "wall_seconds": time.perf_counter() - started, "evaluations": len(totals), "load": os.getloadavg()[0]}


def run(out: Path, options=OPTIONS, workers: int = 2) -> list[dict]:
    """Every (option, setting) not yet in OUT/lbfgs_bounds.jsonl, `workers` at a time."""
    out.mkdir(parents=True, exist_ok=True)
    write_photos(out / "photos")
    results_file = out / "lbfgs_bounds.jsonl"
    done = {}
    if results_file.is_file():
        for line in results_file.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                done[row["key"]] = row
    todo = [(o, c, s, w) for o, c, s, w in in_order(options) if _key(o, c, s, w) not in done]
    log(f"benchmark 9: {len(done)} runs done, {len(todo)} to go, {workers} workers")
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as pool, open(results_file, "a") as fh:
        futures = {pool.submit(one_run, str(out), *task): task for task in todo}
        for n, future in enumerate(as_completed(futures), 1):
            row = future.result()
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            done[row["key"]] = row
            log(f"  9: [{n}/{len(todo)}] {row['key']}: {row['status']}"
                f"{', stalled at ' + str(row['stalled_at']) if row['stalled_at'] else ''}, final {row['final_total']:.4g}, "
                f"gatys {row['gatys_total']:.4g}, {row['wall_seconds']:.0f} s")
    return [done[_key(o, c, s, w)] for o in options for c, s, w in settings() if _key(o, c, s, w) in done]


def report(rows: list[dict]) -> str:
    """The markdown tables of BENCHMARKS.md from the rows of `run`."""
    options = list(dict.fromkeys(r["option"] for r in rows))
    by = {(r["option"], r["content"], r["style"], r["style_weight"]): r for r in rows}
    complete = [(c, s, w) for c, s, w in settings() if all((o, c, s, w) in by for o in options)]
    common = [r for r in rows if (r["content"], r["style"], r["style_weight"]) in complete]
    lines = [f"All options on the same {len(complete)} settings "
             f"({len({(c, s) for c, s, _ in complete})} pairs x the style weights):", "",
             _table(common, options, by, complete)]
    if len(common) < len(rows):
        lines += ["", "Every run of each option (the options' settings differ: compare counts, not medians):", "",
                  _table(rows, options, by, complete)]
    diverged = [r for r in rows if r["status"] != "ok"]
    if diverged:
        lines += ["", "Diverged: " + "; ".join(
            f"{r['option']} {r['content']}/{r['style']} at {r['style_weight']:g}" for r in diverged) + "."]
    loads = [r["load"] for r in rows]
    lines += ["", f"Load average (1 min) at the end of each run: median {statistics.median(loads):.1f}, "
                  f"max {max(loads):.1f} on 2 cores shared with other work: times are not comparable with other "
                  f"benchmarks' and only roughly with each other."]
    return "\n".join(lines)


def _table(rows: list[dict], options: list[str], by: dict, complete: list) -> str:
    """One row per option: counts, medians over pairs per style weight, wins, time."""
    med = statistics.median
    head = (["option", "runs", "diverged", "stalled"] + [f"final loss, sw {w:g}" for w in STYLE_WEIGHTS]
            + [f"gatys style / content, sw {w:g}" for w in STYLE_WEIGHTS]
            + ["lowest final loss of a setting", "s / run (loop)", "ms / iteration"])
    body = []
    for option in options:
        mine = [r for r in rows if r["option"] == option]
        cells = [option, len(mine), sum(r["status"] != "ok" for r in mine), sum(bool(r["stalled_at"]) for r in mine)]
        for w in STYLE_WEIGHTS:
            at_w = [r["final_total"] for r in mine if r["style_weight"] == w]
            cells.append(f"{med(at_w):.4g}" if at_w else "-")
        for w in STYLE_WEIGHTS:
            at_w = [r for r in mine if r["style_weight"] == w]
            cells.append(f"{med([r['gatys_style'] for r in at_w]):.3g} / {med([r['gatys_content'] for r in at_w]):.3g}"
                         if at_w else "-")
        wins = sum(min(options, key=lambda o: by[(o, c, s, w)]["final_total"]) == option for c, s, w in complete)
        cells += [f"{wins} of {len(complete)}", f"{med([r['loop_seconds'] for r in mine]):.0f}",
                  f"{1000 * med([r['loop_seconds'] / r['evaluations'] for r in mine]):.0f}"]
        body.append(cells)
    return table(head, body)


def per_iteration(out: Path, options=OPTIONS, iterations: int = 40, repeats: int = 3) -> tuple[str, dict]:
    """What each option costs per iteration, side by side: one process, one thread, the options
    alternated (reversed every other repeat) on astronaut x starry_night at 1e6, median seconds
    per iteration from the history stamps (first difference dropped), as a ratio to clamp."""
    import torch

    from nst.run.engine import stylize
    from nst.contracts.presets import preset

    torch.set_num_threads(1)
    photos = write_photos(out / "photos")
    times = {o: [] for o in options}
    for rep in range(repeats):
        for option in (options if rep % 2 == 0 else list(reversed(options))):
            params = preset("baseline", size=SIZE, iterations=iterations, weights="caffe", style_weight=1e6,
                            lbfgs_bounds=option, device="cpu", threads=1, checkpoint_seconds=0)
            result = stylize(params, str(photos["astronaut"]), str(REPO / "images/styles/starry_night.jpg"))
            stamps = [row["seconds"] for row in result.history]
            times[option] += [b - a for a, b in zip(stamps[1:], stamps[2:])]
    reference = statistics.median(times["clamp"]) if "clamp" in times else None
    rows = [[o, 1000 * statistics.median(t), f"{statistics.median(t) / reference:.2f}" if reference else "-"]
            for o, t in times.items()]
    md = table([f"option ({SIZE} px, {iterations} it x {repeats}, 1 thread)", "ms / iteration", "x clamp"], rows)
    return md, times


def scipy_reference(out: Path, content: str = "chelsea", style: str = "starry_night", weight: float = 1e4) -> dict:
    """The same objective minimised by scipy's L-BFGS-B (fmin_l_bfgs_b, history 100, bounds
    [0, 1], at most ITERATIONS evaluations), beside `projected`: the reference for bounded
    L-BFGS. float32 network, float64 in scipy."""
    import numpy as np
    import torch
    from scipy.optimize import fmin_l_bfgs_b

    from nst.run import engine
    from nst.contracts.presets import preset

    torch.set_num_threads(1)
    photos = write_photos(out / "photos")
    params = preset("baseline", size=SIZE, iterations=ITERATIONS, weights="caffe", style_weight=weight,
                    device="cpu", threads=1, checkpoint_seconds=0)
    run = engine.RunState(params, str(photos[content]), str(REPO / "images/styles" / f"{style}.jpg"))
    engine.bind_network([run], params, params.content_layers + params.style_layers, torch.device("cpu"))
    shape = run.image.shape

    def loss_and_gradient(x):
        image = torch.from_numpy(x.astype(np.float32)).view(shape).requires_grad_(True)
        total = run.objective(image)["total"]
        total.backward()
        return float(total.detach()), image.grad.double().numpy().ravel()

    started = time.perf_counter()
    start = run.image.detach().double().numpy().ravel()
    x, _, info = fmin_l_bfgs_b(loss_and_gradient, start, bounds=[(0, 1)] * start.size, m=params.lbfgs_history,
                               maxfun=ITERATIONS, maxiter=10 ** 6, factr=0, pgtol=0)
    final = run.scores(torch.from_numpy(x.astype(np.float32)).view(shape), evaluate_too=False)["final"]["total"]
    return {"setting": f"{content}/{style}/{weight:g}", "final_total": final, "iterations": info["nit"],
            "evaluations": info["funcalls"], "seconds": time.perf_counter() - started}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lbfgs_bounds", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--options", default=",".join(OPTIONS))
    parser.add_argument("--report-only", action="store_true", help="print the tables of what OUT holds")
    parser.add_argument("--timing", action="store_true", help="only the side-by-side cost per iteration")
    parser.add_argument("--scipy", action="store_true", help="only scipy's L-BFGS-B on chelsea x starry_night, 1e4")
    args = parser.parse_args(argv)
    options = [o for o in args.options.split(",") if o]
    if args.scipy:
        print(json.dumps(scipy_reference(args.out)))
        return 0
    if args.timing:
        print(per_iteration(args.out, options)[0])
        return 0
    if args.report_only:
        rows = [json.loads(line) for line in (args.out / "lbfgs_bounds.jsonl").read_text().splitlines() if line]
        rows = [r for r in rows if r["option"] in options]
    else:
        rows = run(args.out, options, args.workers)
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
