"""Benchmark 4: peak RSS of a 512 px `nst run`, L-BFGS (history 100) vs Adam, and what each
run declares to the workflow (`mem_mb`, nst/execution/resources.py).

Each row is a fresh `nst run` process (baseline preset at 512 px, CPU, 2 threads, the
features-only stand-in weights), its own peak RSS (through GNU time, see common.run_child).
L-BFGS keeps up to `lbfgs_history` pairs of (s, y) vectors of the image's size
(2 x 3 x 512 x 512 float32 = 6 MiB a pair), one pair per update, so its memory grows over the
first 100 updates: it is measured after as many iterations as Adam (whose state, two
image-sized buffers, is complete after one step) and again after enough iterations to fill
the history. One more L-BFGS row runs with glibc's default malloc (NST_SYSTEM_MALLOC=1), to
show what the jobs' allocator setting (nst/execution/process.py) costs in memory and saves in time.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from nst.contracts.params import RunParams
from nst.execution.resources import run_memory_bytes

from . import common
from .common import BIN, Weights, child_env, log, run_child, table, test_images

CASES = (  # optimizer, iterations (None: as many as Adam), malloc
    ("adam", None, "nst"), ("lbfgs", None, "nst"), ("lbfgs", None, "system"), ("lbfgs", "full", "nst"))

SIZE = 512


def nst_rss(weights: Weights, content: Path, style: Path, outdir: Path, optimizer: str, iterations: int,
            history: int = 100, malloc: str = "nst") -> dict:
    cmd = [str(BIN / "nst"), "run", str(content), str(style), "-o", str(outdir), "--preset", "baseline",
           "--optimizer", optimizer, "--set", f"lbfgs_history={history}", "--weights", str(weights.features),
           "--num-iterations", str(iterations), "--image-size", str(SIZE), "--threads", str(common.THREADS),
           "--device", "cpu", "--quiet"]
    env = child_env(**({"NST_SYSTEM_MALLOC": "1"} if malloc == "system" else {}))
    child = run_child(cmd, env=env, timeout=1800)
    record = json.loads((outdir / "run.json").read_text())
    params = RunParams.from_dict({**record["params"], "iterations": iterations})
    return {"rss": child.maxrss_mib, "wall": child.wall, "status": record["status"],
            "iterations": record["iterations_done"], "loop": record["timing"]["loop_seconds"],
            "declared_mib": run_memory_bytes(params) / 2**20, "malloc": malloc}


def run(cache: Path, weights: Weights, iterations: int = 20, full_history: int = 105) -> dict:
    content, style = test_images(cache, SIZE)
    work = Path(tempfile.mkdtemp(prefix="nst-bench-mem-"))
    cases = [(opt, full_history if n == "full" else iterations, malloc) for opt, n, malloc in CASES
             if n != "full" or full_history]
    rows, raw = [], []
    try:
        for optimizer, n, malloc in cases:
            r = nst_rss(weights, content, style, work / f"{optimizer}{n}{malloc}", optimizer, n, malloc=malloc)
            raw.append({"optimizer": optimizer, **r})
            log(f"  512 px {optimizer} x{n} ({malloc} malloc): peak RSS {r['rss']:.0f} MiB, {r['wall']:.1f}s, {r['status']}")
            pairs = min(100, max(n - 1, 0)) if optimizer == "lbfgs" else 0
            state = (pairs * 2 * 3 * SIZE * SIZE * 4 / 2**20) if optimizer == "lbfgs" else 2 * 3 * SIZE * SIZE * 4 / 2**20
            rows.append([f"{optimizer}" + (" (history 100)" if optimizer == "lbfgs" else ""),
                         "glibc defaults" if malloc == "system" else "as nst sets it", r["iterations"],
                         r["rss"], round(state), round(r["declared_mib"]), r["wall"],
                         1000 * r["loop"] / max(r["iterations"], 1)])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    md = table(["512 px nst run, CPU", "malloc", "iterations", "peak RSS (MiB)", "optimizer state, computed (MiB)",
                "declared by the run: mem_mb estimate (MiB)", "process wall (s)", "ms/iteration"], rows)
    adam = next(r for r in raw if r["optimizer"] == "adam")
    lb = [r for r in raw if r["optimizer"] == "lbfgs" and r["malloc"] == "nst"]
    md += "\n\n" + "; ".join(f"L-BFGS after {r['iterations']} iterations / Adam: {r['rss'] / adam['rss']:.2f}x "
                             f"({r['rss'] - adam['rss']:+.0f} MiB)" for r in lb) + "."
    system = next((r for r in raw if r["malloc"] == "system"), None)
    if system:
        same = next(r for r in lb if r["iterations"] == system["iterations"])
        md += (f" nst's malloc setting vs glibc's defaults (L-BFGS, {same['iterations']} iterations): peak RSS "
               f"{same['rss'] / system['rss']:.2f}x, time per iteration "
               f"{same['loop'] / same['iterations'] / (system['loop'] / system['iterations']):.2f}x.")
    md += (" Every run's peak is below what it declares (`mem_mb`): "
           + ("yes." if all(r["rss"] <= r["declared_mib"] for r in raw) else "**no**, see the table."))
    return {"markdown": md, "raw": raw}
