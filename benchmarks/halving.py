"""Successive halving against the full grid, on one study of real style transfer.

    python benchmarks/halving.py OUT [--metric pareto] [--size 64] [--iterations 300] [--min-iterations 34] [--eta 3]
    python benchmarks/halving.py OUT --demo --size 128 --iterations 600 --min-iterations 100   # the demo's

Makes a study in OUT (the demo's photographs and paintings, caffe weights, the revised preset,
six style weights per pair on three pairs) and runs snakemake twice: first the tuned experiment
`halving_<metric>` alone (schedule: halving), then with `full_<metric>`, the same grid run in
full (select.metric: --metric). Both share
the runs folder, so the full grid reuses the halving's finalists (the same run ids). Prints
and writes OUT/halving_<metric>.json: the iterations each computed, as a fraction of the full grid's,
each call's seconds, and per pair whether halving selected the full grid's run and, if not,
the gap in the full grid's selection score (select.py's rule over all six candidates). Another
--metric in the same OUT reuses every run already there (seconds then count only new work).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
PAIRS = [{"content": "astronaut", "style": "starry_night"}, {"content": "chelsea", "style": "the_scream"},
         {"content": "chelsea", "style": "woman_with_a_hat"}]
BIN = Path(sys.executable).parent  # the venv's nst and snakemake; jobs find nst on PATH
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
STYLE_WEIGHTS = [1.0e+2, 1.0e+3, 1.0e+4, 1.0e+5, 1.0e+6, 1.0e+7]
# --demo: the demo study's own tuned experiment (workflow/demo.yaml, `revised`)
DEMO_PAIRS = [{"content": "astronaut", "style": "starry_night"}, {"content": "astronaut", "style": "the_scream"},
              {"content": "chelsea", "style": "woman_with_a_hat"}]
DEMO_STYLE_WEIGHTS = [1.0e+4, 1.0e+5]


def names(args) -> tuple[str, str]:
    """The two experiments, named by the select metric (several metrics share one runs folder)."""
    return f"halving_{args.metric}", f"full_{args.metric}"


def study_config(args, schedules: list[str]) -> dict:
    tune = {"base": "revised", "set": {"content_weight": 10}, "pairs": DEMO_PAIRS if args.demo else PAIRS,
            "tune": {"style_weight": DEMO_STYLE_WEIGHTS if args.demo else STYLE_WEIGHTS},
            "select": {"metric": args.metric}}
    halving, full = names(args)
    experiments = {halving: {**tune, "schedule": "halving", "eta": args.eta, "min_iterations": args.min_iterations},
                   full: tune}
    return {"images": {"content": "images/demo/content", "style": "images/styles"}, "pairs": "all",
            "params": {"size": args.size, "weights": "caffe", "seed": 0, "iterations": args.iterations},
            "execution": {"device": "cpu", "threads": 1},
            "experiments": {name: experiments[name] for name in schedules}, "evaluation": "gatys"}


def make_study(out: Path) -> None:
    for name in ("Snakefile", "environment.yml"):
        shutil.copy(REPO / name, out / name)
    shutil.copytree(REPO / "workflow", out / "workflow", dirs_exist_ok=True)
    shutil.copytree(REPO / "images/styles", out / "images/styles", dirs_exist_ok=True)
    subprocess.run([str(BIN / "nst"), "demo-images", str(out / "images/demo/content")], check=True,
                   capture_output=True, env=ENV)


def snakemake(out: Path, config: dict, cores: int) -> float:
    """Seconds of one snakemake call on `config`."""
    (out / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    started = time.perf_counter()
    subprocess.run([str(BIN / "snakemake"), "--cores", str(cores), "--configfile", "study.yaml", "--quiet",
                    "rules"], cwd=out, check=True, env=ENV)
    return time.perf_counter() - started


def compare(out: Path, args) -> list[dict]:
    """Per pair: the run each selected, and the gap of halving's in the full grid's rule."""
    halving, full = names(args)
    full = pd.read_csv(out / f"results/tables/{full}.csv")
    halved = pd.read_csv(out / f"results/tables/{halving}.csv")
    rows = []
    for (content, style), group in full.groupby(["content", "style"], sort=False):
        chosen = group[group["selected"]].iloc[0]
        ours = halved[(halved["content"] == content) & (halved["style"] == style) & halved["selected"]].iloc[0]
        theirs = group[group["run_id"] == ours["run_id"]].iloc[0]
        rows.append({"pair": f"{content}__{style}", "full_grid": chosen["label"], "halving": ours["label"],
                     "same": bool(chosen["run_id"] == ours["run_id"]),
                     "score_gap": float(theirs["selection_score"] - chosen["selection_score"]),
                     "score_gap_relative": float(theirs["selection_score"] / chosen["selection_score"] - 1)
                     if args.metric not in ("pareto", "tradeoff") else None,
                     "pareto_rank_in_full_grid": int(theirs["pareto_rank"])})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--min-iterations", type=int, default=34)
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--metric", default="pareto", help="select.metric of both experiments")
    parser.add_argument("--demo", action="store_true",
                        help="the demo's tuned experiment (its pairs and two style weights; use --size 128 --iterations 600)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    make_study(args.out)
    halving_name, full_name = names(args)
    seconds = {"halving": snakemake(args.out, study_config(args, [halving_name]), args.cores)}
    seconds["full_grid_rest"] = snakemake(args.out, study_config(args, [halving_name, full_name]), args.cores)

    from nst.study.tables import halving
    from nst.contracts.manifest import Manifest

    manifest = Manifest.load(args.out / "results/plan/manifest.json")
    counted = halving.computed_iterations(manifest, halving_name, args.out / "results")
    report = {"settings": {k: v for k, v in vars(args).items() if k != "out"}, "pairs": len(DEMO_PAIRS if args.demo else PAIRS),
              "candidates": len(DEMO_STYLE_WEIGHTS if args.demo else STYLE_WEIGHTS), "rungs": manifest.experiment(halving_name).halving["rungs"],
              "iterations": {**counted, "fraction": counted["halving"] / counted["full_grid"]},
              "seconds": seconds, "selection": compare(args.out, args)}
    report["same_selection"] = sum(r["same"] for r in report["selection"])
    (args.out / f"halving_{args.metric}.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
