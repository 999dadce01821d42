"""Benchmark 2: job start-up, `nst run` vs the same job done the tutorial way.

Each job is a fresh process doing one 1-iteration run at 128 px on the CPU (2 threads) with the
`tutorial` preset's settings, and writing its files. Measured from outside, from just before
the fork (time.time()):
  - to the first iteration: the moment the first iteration's losses are computed (the point
    where nst stamps history row 1; the tutorial script reports the same point itself);
  - to the files written: the mtime of the last file written (run.json, for both);
  - the process's wall time and its own peak RSS (see common.run_child).
nst is not instrumented: its first iteration is placed from its own records. stylize() ends
just before image.png is written (mtime), run.json's timing says how long stylize() took
(`seconds`) and when its loop started (`setup_seconds`), and history row 1 says when, after
the loop started, the first losses were computed. So
    first iteration = mtime(image.png) - seconds + setup_seconds + history[0].seconds
(the image's PNG encoding, ~1 ms at 128 px, is counted as start-up: a slight overestimate).

Rows (alternated, `repeats` times each):
  nst run            the console script, `--weights` = the features-only file (80 MB; what
                     `nst weights fetch` leaves for jobs to load)
  nst run, full file the same with the full 548 MB file (isolates the features-only copy)
  nst run, Adam      the same with `--optimizer adam`: Adam's `step` imports torch._dynamo
                     (L-BFGS jobs skip that import, nst/execution/process.py; Adam's nst cannot skip)
  tutorial way       benchmarks/tutorial.py: import torchvision, build vgg19() (classifier
                     included), torch.load the full 548 MB state dict, load_state_dict, the
                     tutorial's model and loop, write image.png, history.csv, run.json
  import torch       `python -c "import torch"`: the floor every job pays (first column: the
                     imports are done)
  + torch._dynamo    what constructing a torch.optim optimizer imports unless nst/execution/process.py
                     skipped it (Optimizer.__init__ is wrapped in torch._disable_dynamo, which
                     imports torch._dynamo on first use); importing torchvision imports it too
  + torchvision      the tutorial's imports
All weight files are in the page cache (each is read in every repeat).
"""
from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path

from . import common
from .common import BIN, PYTHON, REPO, Weights, child_env, log, median, run_child, table, test_images

SIZE = 128


def nst_job(weights_file: Path, content: Path, style: Path, outdir: Path, iterations: int = 1,
            optimizer: str = "lbfgs") -> dict:
    cmd = [str(BIN / "nst"), "run", str(content), str(style), "-o", str(outdir), "--preset", "tutorial",
           "--optimizer", optimizer,
           "--weights", str(weights_file), "--num-iterations", str(iterations), "--image-size", str(SIZE),
           "--threads", str(common.THREADS), "--device", "cpu", "--quiet"]
    child = run_child(cmd, env=child_env())
    record = json.loads((outdir / "run.json").read_text())
    with open(outdir / "history.csv") as fh:
        first_row = next(csv.DictReader(fh))
    timing = record["timing"]
    stylize_end = (outdir / "image.png").stat().st_mtime_ns / 1e9
    first = stylize_end - timing["seconds"] + timing["setup_seconds"] + float(first_row["seconds"])
    written = (outdir / "run.json").stat().st_mtime_ns / 1e9
    return {"first": first - child.started, "written": written - child.started, "wall": child.wall,
            "rss": child.maxrss_mib, "setup_inside": timing["setup_seconds"],
            "loop": timing["loop_seconds"], "stylize": timing["seconds"], "first_row": float(first_row["seconds"])}


def tutorial_job(weights: Weights, content: Path, style: Path, outdir: Path, iterations: int = 1) -> dict:
    cmd = [PYTHON, str(REPO / "benchmarks" / "tutorial.py"), str(content), str(style), str(outdir),
           "--weights", str(weights.full), "--size", str(SIZE), "--steps", str(iterations),
           "--threads", str(common.THREADS)]
    child = run_child(cmd, env=child_env())
    stamps = json.loads(child.stdout)
    written = (outdir / "run.json").stat().st_mtime_ns / 1e9
    return {"first": stamps["first_iteration_wall"] - child.started, "written": written - child.started,
            "wall": child.wall, "rss": child.maxrss_mib}


def floor_job(modules: str) -> dict:
    """A process that only imports `modules`; "first" = when the imports are done."""
    child = run_child([PYTHON, "-c", f"import time; import {modules}; print(time.time())"], env=child_env())
    return {"first": float(child.stdout.split()[-1]) - child.started, "written": float("nan"),
            "wall": child.wall, "rss": child.maxrss_mib}


def run(cache: Path, weights: Weights, repeats: int = 5) -> dict:
    content, style = test_images(cache, SIZE)
    kinds = {
        "nst run (features-only file, 80 MB)": lambda d: nst_job(weights.features, content, style, d),
        "nst run (full file, 548 MB)": lambda d: nst_job(weights.full, content, style, d),
        "nst run, Adam (features-only file; Adam's step imports torch._dynamo)": lambda d: nst_job(
            weights.features, content, style, d, optimizer="adam"),
        "tutorial way (torchvision vgg19, full 548 MB file)": lambda d: tutorial_job(weights, content, style, d),
        "python -c 'import torch' (first column: imports done)": lambda d: floor_job("torch"),
        "python -c 'import torch, torch._dynamo' (imports done)": lambda d: floor_job("torch, torch._dynamo"),
        "python -c 'import torch, torchvision' (imports done)": lambda d: floor_job("torch, torchvision"),
    }
    results = {name: [] for name in kinds}
    work = Path(tempfile.mkdtemp(prefix="nst-bench-startup-"))
    try:
        # one untimed pass: page cache and .pyc files warm for every row alike
        for name, job in kinds.items():
            job(work / "warm" / str(abs(hash(name))))
        for rep in range(repeats):
            names = list(kinds) if rep % 2 == 0 else list(reversed(kinds))
            for name in names:
                outdir = work / f"r{rep}" / str(abs(hash(name)))
                results[name].append(kinds[name](outdir))
            log(f"  start-up repeat {rep + 1}/{repeats}: " + ", ".join(
                f"{n.split(' (')[0]} {results[n][-1]['first']:.2f}/{results[n][-1]['wall']:.2f}s" for n in names))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {name: {k: median([r[k] for r in rs]) for k in rs[0]} for name, rs in results.items()}
    tut = med["tutorial way (torchvision vgg19, full 548 MB file)"]
    rows = []
    for name, m in med.items():
        ratio = m["first"] / tut["first"]
        rows.append([name, m["first"], "" if m["written"] != m["written"] else m["written"], m["wall"], m["rss"],
                     f"{ratio:.2f}"])
    md = table([f"job (1 iteration, 128 px, CPU, {common.THREADS} threads)", "to first iteration (s)", "to files written (s)",
                "process wall (s)", "peak RSS (MiB)", "first iteration vs tutorial way"], rows)
    nst = med["nst run (features-only file, 80 MB)"]
    md += (f"\n\nMedians of {repeats} alternated repeats. Inside nst (run.json timing, median): stylize() "
           f"{nst['stylize']:.2f} s = set-up {nst['setup_inside']:.2f} s (images, weights, network, targets, "
           f"optimizer) + the 1-iteration loop {nst['loop']:.2f} s + after the loop "
           f"{nst['stylize'] - nst['setup_inside'] - nst['loop']:.2f} s (scoring: the run's own losses and the "
           f"reference evaluation); before stylize() (interpreter, imports, arguments): "
           f"{nst['first'] - nst['setup_inside'] - nst['first_row']:.2f} s.")
    return {"markdown": md, "raw": {"medians": med, "all": results}}
