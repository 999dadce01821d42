"""Where a study's files live: the one module that names every path under results/, used by
the workflow's rules (workflow/rules/*.smk) and by nst. Torch-free: planning imports it.

    results/plan/manifest.json                  this call's plan (the `plan` rule copies it)
    results/plan/manifests/<hash>.json          every call's plan, named by its content
    results/plan/execution/<hash>.json          every call's execution settings, likewise
    results/runs/<content>/<style>/<run_id>/    one run: image.png, history.csv, run.json,
                                                snapshots/ (names from nst/contracts/run_folder.py)
        .../scores/<evaluator hash>.json        the run scored by one evaluator
    results/tables/<name>.csv                   runs.csv, one per experiment, table5.csv,
                                                findings.csv (the claims checked)
    results/tables/<experiment>.summary.csv     per value: means and differences over pairs
    results/tables/<experiment>.interactions.csv  a grid's main effects and interactions
    results/figures/<experiment>/<figure>.png   grid, chart, selection, interaction, layers, reconstruction
    results/figures/results_array.png
    results/weights/<family>.json               a verified weights record (imagenet, caffe)
    results/cards/<content>/<style>/<run_id>/   one run's gallery card: thumb.webp, curve.js
    results/gallery/index.html                  the gallery page, its data and per-run copies
    results/judgements.sqlite                   people's judgements (nst judge; nst/study/tables/judgements.py)
    results/human/                              what they say: rankings, agreement, reliability

Paths are strings, as Snakemake takes them. A `..._PATTERN` holds Snakemake wildcards
({content}, {style}, {run_id}, {evaluator}, {experiment}). Functions that take `results` (or
`runs`) name the same file under another results folder, as `nst aggregate --results` does.
"""
from __future__ import annotations

import os

from .run_folder import HISTORY, IMAGE, RECORD, SCORES, SNAPSHOTS

__all__ = ["HISTORY", "IMAGE", "RECORD", "SNAPSHOTS"]  # the run folder's own files, re-exported

RESULTS = "results"

# --- the plan ------------------------------------------------------------------------------
def manifest_file(results: str | os.PathLike = RESULTS) -> str:
    """This call's plan, under `results` (nst judge finds a study's runs through it)."""
    return f"{results}/plan/manifest.json"


MANIFEST = manifest_file()
# <content hash>.json files a call's jobs read, written by nst/study/plan/invocation.py
MANIFESTS = f"{RESULTS}/plan/manifests"  # the plan (the plan job copies this call's to MANIFEST)
EXECUTIONS = f"{RESULTS}/plan/execution"  # how runs are computed
PRESCORE_REQUESTS = f"{RESULTS}/plan/prescore"  # the evaluators a run's process scores with


def results_of_manifest(manifest: str | os.PathLike) -> str:
    """The results folder that holds `manifest` (a path ending in MANIFEST's plan/manifest.json)."""
    return os.path.dirname(os.path.dirname(manifest))


# --- runs ----------------------------------------------------------------------------------
def runs_folder(results: str | os.PathLike = RESULTS) -> str:
    return f"{results}/runs"


RUNS = runs_folder()


def run_folder(content: str, style: str, run_id: str, runs: str | os.PathLike = RUNS) -> str:
    return f"{runs}/{content}/{style}/{run_id}"


def run_file(content: str, style: str, run_id: str, name: str = RECORD, runs: str | os.PathLike = RUNS) -> str:
    """A file of one run's folder: RECORD (run.json), IMAGE, HISTORY, or a score_name."""
    return f"{run_folder(content, style, run_id, runs)}/{name}"


def score_name(evaluator_hash: str) -> str:
    """A score file's path inside its run's folder (the evaluator's settings hash names it)."""
    return f"{SCORES}/{evaluator_hash}.json"


RUN_PATTERN = run_folder("{content}", "{style}", "{run_id}")
SCORE_PATTERN = f"{RUN_PATTERN}/{score_name('{evaluator}')}"


# --- tables and figures --------------------------------------------------------------------
def table(name: str, results: str | os.PathLike = RESULTS) -> str:
    """results/tables/<name>.csv: runs, an experiment's name, or table5."""
    return f"{results}/tables/{name}.csv"


RUNS_TABLE = table("runs")
TABLE5 = table("table5")
FINDINGS = table("findings")
EXPERIMENT_TABLE_PATTERN = table("{experiment}")


def summary(experiment: str, results: str | os.PathLike = RESULTS) -> str:
    """results/tables/<experiment>.summary.csv: each value's mean and difference over pairs."""
    return table(f"{experiment}.summary", results)


def interactions(experiment: str, results: str | os.PathLike = RESULTS) -> str:
    """results/tables/<experiment>.interactions.csv: a grid experiment's effects."""
    return table(f"{experiment}.interactions", results)


SUMMARY_PATTERN = summary("{experiment}")
INTERACTIONS_PATTERN = interactions("{experiment}")

EXPERIMENT_FIGURES = ("grid", "chart")  # every experiment's; a tuned one's also has "selection"


def figure(experiment: str, name: str, results: str | os.PathLike = RESULTS) -> str:
    """results/figures/<experiment>/<name>.png, name one of grid, chart, selection, interaction."""
    return f"{results}/figures/{experiment}/{name}.png"


def figure_pattern(name: str) -> str:
    return figure("{experiment}", name)


def layer_chart(experiment: str, results: str | os.PathLike = RESULTS) -> str:
    """Every experiment's per-layer loss trajectories (nst/study/figures/layer_charts.py)."""
    return figure(experiment, "layers", results)


def reconstruction_figure(experiment: str, results: str | os.PathLike = RESULTS) -> str:
    """A `reconstruct` experiment's layer reconstructions (nst/study/figures/reconstruction.py)."""
    return figure(experiment, "reconstruction", results)


def rung_decision(experiment: str, rung: int | str, results: str | os.PathLike = RESULTS) -> str:
    """Successive halving's decision at one rung (nst/study/tables/halving.py)."""
    return f"{results}/tune/{experiment}/rung{rung}.json"


RUNG_DECISION_PATTERN = rung_decision("{experiment}", "{rung}")
RESULTS_ARRAY = f"{RESULTS}/figures/results_array.png"


# --- weights -------------------------------------------------------------------------------
def weights_record(family: str) -> str:
    """The record of a verified network's weights (imagenet: fetched; caffe: packaged)."""
    return f"{RESULTS}/weights/{family}.json"


# --- the gallery (nst/study/gallery/) --------------------------------------------------------
# A run's card (thumbnail, loss curve) is its own job's output, outside results/gallery/: the
# gallery is one directory() output (so the report can carry it whole), and Snakemake allows
# no other job's output inside a directory output. The gallery job links the cards in.
THUMB = "thumb.webp"
CURVE = "curve.js"
GALLERY = f"{RESULTS}/gallery"
GALLERY_INDEX = "index.html"  # inside GALLERY: the report's htmlindex


def cards_folder(results: str | os.PathLike = RESULTS) -> str:
    return f"{results}/cards"


def card_file(content: str, style: str, run_id: str, name: str, results: str | os.PathLike = RESULTS) -> str:
    """A file (THUMB or CURVE) of one run's gallery card."""
    return f"{cards_folder(results)}/{content}/{style}/{run_id}/{name}"


def card_pattern(name: str) -> str:
    return card_file("{content}", "{style}", "{run_id}", name)


# --- people's judgements (nst judge, workflow/rules/human.smk) --------------------------------
def judgements(results: str | os.PathLike = RESULTS) -> str:
    """The study's judgements database (SQLite, WAL; nst/study/tables/judgements.py)."""
    return f"{results}/judgements.sqlite"


def human(name: str, results: str | os.PathLike = RESULTS) -> str:
    """results/human/<name>: rankings.csv/.png, agreement.csv/.png, reliability.csv."""
    return f"{results}/human/{name}"


JUDGEMENTS = judgements()
HUMAN_RANKINGS = human("rankings.csv")
HUMAN_RANKINGS_FIGURE = human("rankings.png")
HUMAN_AGREEMENT = human("agreement.csv")
HUMAN_AGREEMENT_FIGURE = human("agreement.png")
HUMAN_RELIABILITY = human("reliability.csv")
