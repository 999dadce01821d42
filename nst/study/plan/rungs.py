"""Successive halving for a tuned experiment, as planned (pure Python, no torch, no pandas).

`schedule: halving` runs every candidate (the tune grid's values) to the first rung
(`min_iterations`), keeps the best ceil(n / eta) per pair by the experiment's selection rule,
continues those to the next rung (min_iterations x eta, ...) from their state there, and so on;
the last rung is always the full `iterations`. A candidate stopped at rung r is exactly the
run with `iterations: r` (the start of its trajectory); a promoted one is continued from that
run's state (nst run --resume-from), so that it is the run computed straight through.
Here: the settings, the rungs, and each candidate's ladder of runs. The decisions at each rung
are nst/study/tables/halving.py's.
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

from ...contracts.params import RunParams
from ...contracts.plan import Plan, Run
from ...contracts.run_folder import usable_record
from ...errors import PlanError

HALVING_KEYS = ("schedule", "eta", "min_iterations")
SCHEDULES = ("full", "halving")
DEFAULT_ETA = 3


def _key(path: str, message: str) -> PlanError:
    return PlanError(f"config key {path!r}: {message}")


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_schedule(name: str, spec: dict, kind: str, keys: list[str]) -> dict | None:
    """{eta, min_iterations} of an experiment with `schedule: halving`, else None; PlanError
    naming the key for a schedule outside tune, a tuned `iterations`, eta < 2 or a
    min_iterations that is not a whole number >= 1."""
    where = f"experiments.{name}"
    given = [k for k in HALVING_KEYS if k in spec]
    schedule = spec.get("schedule", "full")
    if given and kind != "tune":
        raise _key(f"{where}.{given[0]}", "only an experiment with 'tune' takes a schedule")
    if schedule not in SCHEDULES:
        raise _key(f"{where}.schedule", f"{schedule!r} is not allowed; allowed: {', '.join(SCHEDULES)}")
    if schedule != "halving":
        extra = [k for k in given if k != "schedule"]
        if extra:
            raise _key(f"{where}.{extra[0]}", "applies only with schedule: halving")
        return None
    if "iterations" in keys:
        raise _key(f"{where}.tune.iterations", "schedule: halving chooses iterations itself; tune other keys")
    eta = spec.get("eta", DEFAULT_ETA)
    if not _whole(eta) or eta < 2:
        raise _key(f"{where}.eta", f"must be a whole number >= 2 (the share kept per rung is 1/eta), not {eta!r}")
    if "min_iterations" not in spec:
        raise _key(f"{where}.min_iterations", "schedule: halving needs the first rung's iterations")
    first = spec["min_iterations"]
    if not _whole(first) or first < 1:
        raise _key(f"{where}.min_iterations", f"must be a whole number >= 1, not {first!r}")
    return {"eta": eta, "min_iterations": first}


def rungs(min_iterations: int, eta: int, iterations: int) -> list[int]:
    """The iterations of each rung: min_iterations, x eta, ... below `iterations`, then
    `iterations` itself (100, 3, 1000 -> [100, 300, 900, 1000]). ValueError unless
    min_iterations < iterations."""
    if min_iterations >= iterations:
        raise ValueError(f"must be fewer than the full iterations ({iterations}), not {min_iterations}")
    out, r = [], min_iterations
    while r < iterations:
        out.append(r)
        r *= eta
    return out + [iterations]


def promoted_count(candidates: int, eta: int) -> int:
    """How many of a pair's candidates go on to the next rung: ceil(n / eta), at least one."""
    return max(1, math.ceil(candidates / eta))


def ladder(params: RunParams, rung_iterations: list[int]) -> list[RunParams]:
    """The runs a candidate is at each rung: `iterations: r` saving its state at r (the next
    rung continues from it), the last one the full run itself."""
    steps = [params.replace(iterations=r, snapshots=[r]) for r in rung_iterations[:-1]]
    return steps + [params]


def schedule_info(schedule: dict, params_of: dict[str, RunParams], where: str) -> dict:
    """The manifest's halving record: eta, min_iterations, rungs and {full run id: [run id per
    rung]} for the candidates `params_of` (full run id -> params). PlanError naming
    min_iterations when it is not below the full iterations."""
    if any(p.scales for p in params_of.values()):  # a multi-scale run's iterations count per stage
        raise _key(f"{where}.schedule", "halving does not take multi-scale runs (scales)")
    full = {p.iterations for p in params_of.values()}
    try:
        steps = rungs(schedule["min_iterations"], schedule["eta"], max(full))
    except ValueError as err:
        raise _key(f"{where}.min_iterations", str(err)) from None
    return {**schedule, "rungs": steps,
            "ladders": {run_id: [p.run_id for p in ladder(params, steps)] for run_id, params in params_of.items()}}


def add_ladders(plan: Plan, experiment: str, where: str, schedule: dict) -> dict:
    """A halving experiment's runs at every rung, each continuing the one before (every
    candidate's whole ladder is planned; the rung decisions pick which are computed), added to
    `plan`; returns the manifest's halving record (schedule_info)."""
    trials = plan.trials_of(experiment)
    params_of = {t.run_id: plan.runs[f"{t.content}/{t.style}/{t.run_id}"].params for t in trials}
    info = schedule_info(schedule, params_of, where)
    for t in trials:
        before = None
        for params in ladder(params_of[t.run_id], info["rungs"]):
            run = Run(t.content, t.style, params, resumes=before)
            plan.runs[run.key] = run
            plan.ladder_runs.add(run.key)
            before = run.key
    return info


def keep_finished_continuations(plan: Plan, runs_dir: str | os.PathLike) -> Plan:
    """`plan` with every finished run's job as it ran (Snakemake reruns a job whose inputs or
    params changed): a run that continued another (run.json's continued_from) keeps that run
    as its input, planned as it ran too, even when no halving experiment asks for it any more;
    a halving run that was computed otherwise continues nothing. Changed in place and returned;
    reads run.json of the planned runs (and of the runs they continued)."""
    for key in list(plan.runs):
        _as_ran(plan, key, Path(runs_dir))
    return plan


def _as_ran(plan: Plan, key: str, runs_dir: Path) -> None:
    run = plan.runs[key]
    record = usable_record(runs_dir / key)
    if record is None:
        return
    source = record.continued_from
    source_key = f"{run.content}/{run.style}/{source}"
    if source and source_key not in plan.runs:
        source_record = usable_record(runs_dir / source_key)
        if source_record is not None:  # planned as it ran, but no target: it is finished
            params = RunParams.from_dict(source_record.params)
            plan.runs[source_key] = dataclasses.replace(run, params=params, source=None, resumes=None)
            _as_ran(plan, source_key, runs_dir)
    if source and source_key in plan.runs:
        plan.runs[key] = dataclasses.replace(run, resumes=source_key, source=None)
    elif run.resumes:
        plan.runs[key] = dataclasses.replace(run, resumes=None)
