"""Run one study with two revisions of this repository and check that they give the same
results: run ids, images (bytes), histories, run records, scores and tables, less what is
wall-clock time. For refactors that promise "behaviour unchanged".

    .venv/bin/python scripts/compare_revisions.py REV_A REV_B [--config workflow/demo.yaml]
        [--set 'params: {size: 48}'] [--cores 2]
    .venv/bin/python scripts/compare_revisions.py --studies FOLDER_A FOLDER_B

The second form compares two studies that have run already, e.g. two fresh clones' demos
(`bash scripts/demo.sh` in each: every revision with its own install).

Each revision is checked out into a temporary folder (`git worktree`) and its study runs there
with that revision's `nst` first on PYTHONPATH, so one environment serves both. Exit status 0
when everything matches; otherwise the differing files are listed.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Wall-clock and environment fields: they differ between any two runs of the same code.
TIME_KEYS = {"timing", "seconds", "setup_seconds", "loop_seconds", "iterations_per_second",
             "score_seconds", "network_seconds", "versions", "path", "file"}
TIME_COLUMNS = {"seconds"}


def checkout(rev: str, into: Path) -> Path:
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(into), rev], cwd=REPO, check=True)
    return into


def merged(base: dict, changes: dict) -> dict:
    """`changes` laid over `base`, mappings merged key by key (as Snakemake's --config does)."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = merged(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def run_study(tree: Path, config: str, overrides: list[str], cores: int) -> None:
    """Run the study `config` (with each YAML mapping of `overrides` laid over it) in `tree`."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run([sys.executable, "-m", "nst", "demo-images", "images/demo/content"], cwd=tree, env=env,
                   check=True, capture_output=True)
    study = yaml.safe_load((tree / config).read_text())
    for override in overrides:
        study = merged(study, yaml.safe_load(override))
    (tree / "compared-study.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    command = [str(BIN / "snakemake"), "--cores", str(cores), "--configfile", "compared-study.yaml"]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"the study failed in {tree}:\n{done.stderr[-3000:]}")


def without_time(value):
    if isinstance(value, dict):
        return {k: without_time(v) for k, v in value.items() if k not in TIME_KEYS}
    if isinstance(value, list):
        return [without_time(v) for v in value]
    return value


def comparable(path: Path):
    """What of a result file must be equal: bytes, or its content less the time fields."""
    if path.suffix == ".json":
        return without_time(json.loads(path.read_text()))
    if path.suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(path.read_text())))
        return [{k: v for k, v in row.items() if k not in TIME_COLUMNS and not k.endswith("_seconds")}
                for row in rows]
    return path.read_bytes()


def result_files(tree: Path) -> dict[str, Path]:
    results = tree / "results"
    keep = ("runs/", "tables/", "figures/")
    return {str(p.relative_to(results)): p for p in sorted(results.rglob("*"))
            if p.is_file() and str(p.relative_to(results)).startswith(keep) and p.suffix != ".pt"}


def compare(a: Path, b: Path) -> list[str]:
    files_a, files_b = result_files(a), result_files(b)
    problems = [f"only in {name}: {path}" for name, files, other in (("A", files_a, files_b), ("B", files_b, files_a))
                for path in sorted(set(files) - set(other))]
    problems += [f"differs: {rel}" for rel in sorted(set(files_a) & set(files_b))
                 if comparable(files_a[rel]) != comparable(files_b[rel])]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rev_a")
    parser.add_argument("rev_b")
    parser.add_argument("--config", default="workflow/demo.yaml")
    parser.add_argument("--set", action="append", default=[],
                        help="a YAML mapping laid over the config for both, e.g. 'params: {size: 48}'")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--studies", action="store_true",
                        help="REV_A and REV_B are folders of studies that have run: compare their results only")
    args = parser.parse_args()
    if args.studies:
        trees = [Path(args.rev_a), Path(args.rev_b)]
        missing = [str(t) for t in trees if not (t / "results").is_dir()]
        if missing:
            parser.error(f"no results/ folder in {', '.join(missing)}")
        return report(compare(*trees), len(result_files(trees[0])))
    with tempfile.TemporaryDirectory(prefix="nst-compare-") as tmp:
        trees = [checkout(rev, Path(tmp) / name) for rev, name in ((args.rev_a, "a"), (args.rev_b, "b"))]
        try:
            for tree in trees:
                run_study(tree, args.config, args.set, args.cores)
            problems = compare(*trees)
            count = len(result_files(trees[0]))
        finally:
            for tree in trees:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=False)
    return report(problems, count)


def report(problems: list[str], count: int) -> int:
    for line in problems:
        print(line)
    print(f"{count} result files compared: {'identical' if not problems else f'{len(problems)} differ'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
