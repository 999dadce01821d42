"""Successive halving's decisions: which candidates of a pair go on at each rung.

A rung's decision is made from the scores of its runs, by the experiment's selection rule
(select.py's selection_score: pareto, tradeoff, score_*, a runs.csv column) and written as
results/tune/<experiment>/rung<k>.json:

    {"experiment", "rung": k, "iterations", "next_iterations", "eta",
     "pairs": {CONTENT__STYLE: {"candidates": [full run ids], "promoted": [full run ids]}}}

Candidates are named by the run id of their full run (the one computed straight through).
Only candidates with a finite rule value are promoted (not one stopped by a non-finite loss), at most
ceil(n / eta) per pair; a select.override's candidate is always promoted, so it reaches the
full count. Tables read the decisions back (resolve): a stopped trial is its rung's run, with
`stopped_at`. Only pandas and the standard library: no torch.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from ...contracts import layout
from ...contracts.cells import finite_float
from ...contracts.manifest import Manifest, Trial, pair_key
from ...errors import NSTError
from ...files import write_text
from ..plan.rungs import promoted_count
from .select import automatic_rule, matches, metric_column


def is_halving(manifest: Manifest, name: str) -> bool:
    return manifest.experiment(name).halving is not None


def decision_count(halving: dict) -> int:
    """Rungs at which a decision is made: every rung but the last (the full count)."""
    return len(halving["rungs"]) - 1


# --- the rungs each trial reached ----------------------------------------------------------------
def promoted_at(decision: dict, trial: Trial) -> bool:
    chosen = decision["pairs"].get(pair_key(trial.content, trial.style), {}).get("promoted", [])
    return trial.run_id in chosen


def reached_rung(trial: Trial, decisions: list[dict]) -> int:
    """The rung a trial (its run id: the full run's) reached, given the decisions made so far:
    0, then one more for each decision that promoted it."""
    rung = 0
    for decision in decisions:
        if not promoted_at(decision, trial):
            break
        rung += 1
    return rung


def alive_at(trials: list[Trial], decisions: list[dict], rung: int) -> list[Trial]:
    """The trials that run at `rung`, given the decisions of the rungs before it."""
    return [t for t in trials if reached_rung(t, decisions[:rung]) >= rung]


def run_at(halving: dict, trial: Trial, rung: int) -> str:
    """The run id of a trial's candidate at `rung`."""
    return halving["ladders"][trial.run_id][rung]


# --- one decision ---------------------------------------------------------------------------------
def rung_manifest(manifest: Manifest, name: str, trials: list[Trial], rung: int) -> Manifest:
    """The experiment as its `rung` runs: those trials, each its run at that rung (the override
    left out: decide() promotes its candidate itself; select.metric human's fallback rule, since
    people judge finished runs only)."""
    exp = manifest.experiment(name)
    select = {**automatic_rule(exp.select), "override": {}}
    at_rung = tuple(dataclasses.replace(t, run_id=run_at(exp.halving, t, rung)) for t in trials)
    experiment = dataclasses.replace(exp, select=select, halving=None)
    return dataclasses.replace(manifest, experiments={name: experiment}, trials=at_rung)


def rung_table(sub: Manifest, name: str, runs_dir, iterations: int):
    """The rung's experiment table with select.py's selection_score. A run the blow-up rule
    judged diverged at the rung is a candidate still (the rule is the final run's; an early
    loss above the start's may come down), if it saved its state there; one that stopped on a
    non-finite loss saved none and is out."""
    from .aggregate import experiment_table, runs_table
    from .select import select_runs

    exp = sub.experiment(name)
    unselected = dataclasses.replace(sub, experiments={name: dataclasses.replace(exp, kind="grid")})
    table = experiment_table(unselected, runs_table(sub, runs_dir), name)
    for i in table.index:
        state = Path(runs_dir) / table.at[i, "content"] / table.at[i, "style"] / table.at[i, "run_id"]
        if (state / layout.SNAPSHOTS / f"{iterations}.pt").is_file():
            table.at[i, "status"] = "ok"
    return select_runs(table, sub, name)


def ranked(table, sign: float) -> list[int]:
    """Rows with a finite selection_score, best first (ties: plan order)."""
    rows = [i for i in table.index if finite_float(table.at[i, "selection_score"]) is not None]
    return sorted(rows, key=lambda i: (sign * float(table.at[i, "selection_score"]), i))


def decide(manifest: Manifest, name: str, rung: int, runs_dir, decisions: list[dict]) -> dict:
    """The decision at `rung` from the scores of its runs (decisions: those of the rungs before)."""
    exp = manifest.experiment(name)
    if not 0 <= rung < decision_count(exp.halving):
        raise NSTError(f"experiment {name!r}: no decision at rung {rung}; rungs: {exp.halving['rungs']}")
    trials = alive_at(manifest.trials_of(name), decisions, rung)
    sub = rung_manifest(manifest, name, trials, rung)
    table = rung_table(sub, name, runs_dir, exp.halving["rungs"][rung])
    rule = automatic_rule(exp.select)
    sign = -1.0 if metric_column(rule) is not None and rule["mode"] == "max" else 1.0
    pairs = {}
    for key in dict.fromkeys(pair_key(t.content, t.style) for t in trials):
        rows = [i for i, t in enumerate(trials) if pair_key(t.content, t.style) == key]
        wanted = exp.select["override"].get(key)
        forced = [i for i in rows if wanted and matches(wanted, trials[i].values)][:1]
        best = [i for i in ranked(table.loc[rows], sign) if i not in forced]
        keep = forced + best[: max(0, promoted_count(len(rows), exp.halving["eta"]) - len(forced))]
        pairs[key] = {"candidates": [trials[i].run_id for i in rows],
                      "promoted": [trials[i].run_id for i in sorted(keep)]}
    steps = exp.halving["rungs"]
    return {"experiment": name, "rung": rung, "iterations": steps[rung], "next_iterations": steps[rung + 1],
            "eta": exp.halving["eta"], "pairs": pairs}


def write_decision(decision: dict, path: str | os.PathLike) -> None:
    write_text(Path(path), json.dumps(decision, indent=1, sort_keys=True) + "\n")


def read_decisions(name: str, count: int, results: str | os.PathLike) -> list[dict]:
    """The decisions of rungs 0..count-1 (NSTError naming a missing one)."""
    decisions = []
    for rung in range(count):
        path = Path(layout.rung_decision(name, rung, results))
        try:
            decisions.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            raise NSTError(f"experiment {name!r}: the decision at rung {rung} ({path}) is missing or not JSON; "
                           "the workflow makes it (nst halving)") from None
    return decisions


# --- the tables' view ------------------------------------------------------------------------------
def resolve(manifest: Manifest, results: str | os.PathLike, experiments=None) -> Manifest:
    """The manifest with every halving trial as the run it ended with: a stopped candidate is
    its rung's run, with stopped_at (the rung's iterations); the others keep their full run.
    `experiments` (default all): resolve only these; the other halving experiments' trials stay
    as planned and their decisions are not read (a job may read only the decisions among its
    inputs: another experiment's may not be made yet)."""
    decisions = {name: read_decisions(name, decision_count(exp.halving), results)  # once per experiment
                 for name, exp in manifest.experiments.items()
                 if exp.halving is not None and (experiments is None or name in experiments)}
    trials = []
    for trial in manifest.trials:
        halving = manifest.experiments[trial.experiment].halving
        if trial.experiment not in decisions:
            trials.append(trial)
            continue
        count = decision_count(halving)
        rung = reached_rung(trial, decisions[trial.experiment])
        stopped = halving["rungs"][rung] if rung < count else None
        trials.append(dataclasses.replace(trial, run_id=run_at(halving, trial, rung), stopped_at=stopped))
    return dataclasses.replace(manifest, trials=tuple(trials))


def load_manifest(path: str | os.PathLike, results: str | os.PathLike, experiments=None) -> Manifest:
    """The workflow's manifest as the tables and figures read it (halving resolved; only that
    of `experiments`, the ones the command reads, when given: see resolve)."""
    manifest = Manifest.load(path)
    if not any(exp.halving for exp in manifest.experiments.values()):
        return manifest
    return resolve(manifest, results, experiments)


def computed_iterations(manifest: Manifest, name: str, results) -> dict[str, int]:
    """{"halving": iterations computed by the halving experiment, "full_grid": what running
    every trial to the full count computes} (distinct runs per pair)."""
    exp = manifest.experiment(name)
    decisions = read_decisions(name, decision_count(exp.halving), results)
    seen = {(t.content, t.style, t.run_id): t for t in manifest.trials_of(name)}
    steps = exp.halving["rungs"]
    done = sum(steps[reached_rung(t, decisions)] for t in seen.values())
    return {"halving": done, "full_grid": steps[-1] * len(seen)}
