"""Benchmark 3: planning a large study, `snakemake -n` on 10,000 runs over 100 images.

A temporary copy of the workflow (Snakefile, workflow/, environment.yml, as the workflow tests
make one) with 10 content x 10 style images (16 px PNGs) and one experiment, a 10 x 10 grid
(style_weight x content_weight) over all 100 pairs: 10,000 runs, none of them done. Timed:
  - `snakemake -n --quiet --configfile gen.yaml --cores 1`, twice (the first run in a fresh
    folder also creates .snakemake/ and writes the plan's manifest);
  - nst.study.plan.build.build_plan alone on the same config, in a fresh process (`python -c`), with and
    without its imports, to split planning from Snakemake's own work (parsing, DAG, checks).
With `profile=True` the second dry run is also run under cProfile and the top entries (by
cumulative time) are reported.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import yaml

from .common import BIN, PYTHON, REPO, child_env, log, median, run_child, table

N_CONTENT = N_STYLE = 10
STYLE_WEIGHTS = [10.0 ** (3 + k / 2) for k in range(10)]
CONTENT_WEIGHTS = [float(k + 1) for k in range(10)]


def make_study(root: Path) -> Path:
    import numpy as np
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "environment.yml"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "workflow", root / "workflow", ignore=shutil.ignore_patterns("__pycache__"))
    rng = np.random.default_rng(0)
    for role, n in (("content", N_CONTENT), ("style", N_STYLE)):
        folder = root / "images" / role
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray((rng.random((16, 16, 3)) * 255).astype("uint8")).save(folder / f"{role}{i:02d}.png")
    config = {
        "images": {"content": "images/content", "style": "images/style"},
        "pairs": "all",
        "params": {"size": 64, "iterations": 10, "weights": "random"},
        "execution": {"device": "cpu", "threads": 1},
        "experiments": {
            "weights_grid": {
                "title": "Style weight x content weight",
                "base": "baseline",
                "grid": {"style_weight": STYLE_WEIGHTS, "content_weight": CONTENT_WEIGHTS},
            },
        },
    }
    (root / "gen.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


PLAN_ONLY = """
import time, sys, yaml
t0 = time.perf_counter()
from nst.study.plan.build import build_plan
t1 = time.perf_counter()
config = yaml.safe_load(open('gen.yaml'))
plan = build_plan(config, root='.')
t2 = time.perf_counter()
manifest = plan.manifest()
t3 = time.perf_counter()
print(f'{{"import": {t1 - t0}, "build_plan": {t2 - t1}, "manifest": {t3 - t2}, "runs": {len(plan.runs)}, "trials": {len(plan.trials)}}}')
"""


def dry_run(root: Path, profile_to: Path | None = None):
    cmd = [str(BIN / "snakemake"), "-n", "--quiet", "--configfile", "gen.yaml", "--cores", "1"]
    if profile_to is not None:
        cmd = [PYTHON, "-m", "cProfile", "-o", str(profile_to)] + cmd
    return run_child(cmd, cwd=root, env=child_env(), timeout=1800)


def planned_stylize_jobs(root: Path) -> int:
    out = run_child([str(BIN / "snakemake"), "-n", "--quiet", "rules", "--configfile", "gen.yaml", "--cores", "1"],
                    cwd=root, env=child_env(), timeout=1800).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "stylize":
            return int(parts[1])
    return 0


def profile_summary(prof: Path, top: int = 25) -> str:
    import io
    import pstats

    buffer = io.StringIO()
    stats = pstats.Stats(str(prof), stream=buffer)
    stats.sort_stats("cumulative").print_stats(top)
    text = buffer.getvalue()
    overall = text[text.find("   ncalls"):].rstrip()
    buffer.seek(0)
    buffer.truncate()
    stats.print_stats(r"/nst/|\.smk|Snakefile", 15)  # the workflow's and nst's own functions
    text = buffer.getvalue()
    ours = text[text.find("   ncalls"):].rstrip() if "   ncalls" in text else "(none)"
    return overall + "\n\n# the workflow's own functions and nst's (same profile):\n" + ours


def run(repeats: int = 2, profile: bool = False) -> dict:
    work = Path(tempfile.mkdtemp(prefix="nst-bench-plan-"))
    try:
        root = make_study(work / "study")
        walls, rss = [], []
        for rep in range(repeats):
            child = dry_run(root)
            walls.append(child.wall)
            rss.append(child.maxrss_mib)
            log(f"  snakemake -n, 10,000 runs, repeat {rep + 1}/{repeats}: {child.wall:.1f}s, {child.maxrss_mib:.0f} MiB")
        plan_child = run_child([PYTHON, "-c", PLAN_ONLY], cwd=root, env=child_env())
        plan = json.loads(plan_child.stdout.strip().splitlines()[-1])
        jobs = planned_stylize_jobs(root)
        log(f"  build_plan alone: {plan} ({plan_child.wall:.1f}s process)")
        prof_text = ""
        if profile:
            prof = work / "dry.prof"
            child = dry_run(root, prof)
            log(f"  snakemake -n under cProfile: {child.wall:.1f}s")
            prof_text = profile_summary(prof)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [[f"snakemake -n --quiet (run {i + 1}{', fresh folder' if i == 0 else ''})", w, r]
            for i, (w, r) in enumerate(zip(walls, rss))]
    rows.append(["nst.study.plan.build.build_plan alone (fresh process: import + plan + manifest)", plan_child.wall,
                 plan_child.maxrss_mib])
    md = table(["10 x 10 images, 10,000 runs", "wall (s)", "peak RSS (MiB)"], rows)
    md += (f"\n\nPlanned: {plan['runs']} runs, {plan['trials']} trials; the dry run schedules {jobs} stylize jobs. "
           f"Inside build_plan's process: import nst.study.plan.build {plan['import']:.2f} s, build_plan {plan['build_plan']:.2f} s, "
           f"manifest {plan['manifest']:.2f} s. Snakemake's own share of a dry run (median wall minus "
           f"build_plan's process): {median(walls) - plan_child.wall:.1f} s.")
    if prof_text:
        md += "\n\ncProfile of a dry run (top entries by cumulative time):\n\n```\n" + prof_text.rstrip() + "\n```"
    return {"markdown": md, "raw": {"walls": walls, "rss": rss, "plan": plan, "plan_process": plan_child.wall,
                                    "jobs": jobs}}
