"""Shared trajectories: runs that differ only in `iterations` are one optimisation.

The run with the most iterations (the leader) saves a snapshot at each shorter count, with the
run's own losses and the reference evaluation of the image at that iteration. A shorter run is
then written from that snapshot, without torch: its image is the snapshot, its history the
leader's first k rows, its run.json the leader's with the numbers at k. The optimisation up to
iteration k does not depend on how many iterations follow, so this is the run a separate
`iterations: k` job would have made (tests check it bit for bit on the CPU).

Which runs share is decided after planning (share_trajectories), as a step of its own: it
reads the finished runs' run.json, so that finished work is never redone, while build_plan
itself reads only the config and the images.
"""
from __future__ import annotations

import dataclasses
import json
import os
from collections import defaultdict
from pathlib import Path

from ...contracts import layout
from ...contracts.params import RunParams
from ...contracts.plan import Plan, Run
from ...contracts.run_folder import made_from, probe_record, staged_run_folder, usable_record
from ...contracts.run_record import RunRecord
from ...errors import NSTError
from ...files import copy_file, write_text


def snapshot_record_path(run_dir: Path, iteration: int) -> Path:
    return Path(run_dir) / layout.SNAPSHOTS / f"{iteration}.json"


def _history_head(history: Path, rows: int) -> str:
    """The header and first `rows` data lines, as written (so values match to the bit)."""
    with open(history) as fh:
        lines = fh.read().splitlines(keepends=True)
    return "".join(lines[: rows + 1])


def derive_run(leader_dir: str | os.PathLike, iterations: int, outdir: str | os.PathLike,
               expected_run_id: str | None = None, made: dict | None = None) -> Path:
    """Write the `iterations`-run of the leader's trajectory into `outdir`; with `made`
    (outputs.inputs_now of the images given), only if the leader was made from those images."""
    leader_dir, outdir = Path(leader_dir), Path(outdir)
    leader = probe_record(leader_dir)
    if leader is None:
        raise NSTError(f"{leader_dir / layout.RECORD} does not exist: the leader run has not finished")
    if iterations > leader.params["iterations"]:
        raise NSTError(f"{leader_dir} ran {leader.params['iterations']} iterations, fewer than {iterations}")
    params = RunParams.from_dict({**leader.params, "iterations": iterations, "snapshots": []})
    if expected_run_id and params.run_id != expected_run_id:
        raise NSTError(f"{leader_dir} with iterations={iterations} is run {params.run_id}, not "
                       f"{expected_run_id}: their settings differ in more than iterations")
    if made is not None and made_from(leader.data) != made:
        raise NSTError(f"{leader_dir} was made from other images than these (by content), or its run.json "
                       f"lists none: its trajectory is not this run's")
    changes = {"run_id": params.run_id, "params": params.to_dict(), "derived_from": leader.run_id}

    diverged_before = leader.status == "diverged" and leader.diverged_at <= iterations
    if diverged_before:  # the same divergence, the same last finite image
        image, rows = leader_dir / layout.IMAGE, leader.diverged_at
    else:
        snapshot = snapshot_record_path(leader_dir, iterations)
        if not snapshot.is_file():
            raise NSTError(f"{leader_dir} has no snapshot at iteration {iterations} ({snapshot} missing)")
        at_k = json.loads(snapshot.read_text())
        reason = at_k.get("diverged_reason")  # the blow-up rule, judged at k as a k-run would be
        changes.update(status="diverged" if reason else "ok", diverged_at=iterations if reason else None,
                      diverged_reason=reason, stalled_at=at_k.get("stalled_at"), final=at_k["final"],
                      evaluation=at_k["evaluation"])
        image, rows = snapshot.with_suffix(".png"), iterations
    changes["iterations_done"] = rows
    history = _history_head(leader_dir / layout.HISTORY, rows)
    loop_seconds = float(history.splitlines()[-1].rsplit(",", 1)[1]) if rows else 0.0
    changes["timing"] = {"seconds": 0.0, "loop_seconds": loop_seconds, "shared_with": leader.run_id}

    with staged_run_folder(outdir) as staging:
        copy_file(image, staging / layout.IMAGE)
        write_text(staging / layout.HISTORY, history)
        write_text(staging / layout.RECORD, leader.replace(**changes).to_json())  # the leader's, with these
    return outdir


# --- which runs share (after planning) --------------------------------------------------------
def shares_trajectories(config: dict) -> bool:
    """execution.share_trajectories: true unless the config turns it off (the schema's default)."""
    return bool((config.get("execution") or {}).get("share_trajectories", True))


def share_trajectories(plan: Plan, runs_dir: str | os.PathLike) -> Plan:
    """Runs that differ only in `iterations` become snapshots of the longest one; returns
    `plan`, changed in place. `runs_dir` holds the runs (layout.RUNS in the workflow).

    Finished work is never redone for this. Snakemake reruns a job whose params or set of
    inputs changed, so a finished run keeps its job as it ran: the snapshots it took and the
    run it was written from (`_as_finished`). The longest run takes snapshots only for runs
    not done yet; if it is finished itself, a count it lacks is computed on its own.
    Multi-scale runs, and L-BFGS with a line search (no snapshots: RunParams refuses them), are
    left alone: every such run computes its own stages or evaluations."""
    families: dict[tuple, list[Run]] = defaultdict(list)
    for run in plan.runs.values():
        if run.params.scales:  # its snapshots count across stages: not a shorter run's end
            continue
        if not run.params.one_evaluation_per_step:  # lbfgs_bounds: strong_wolfe
            continue
        if run.key in plan.ladder_runs:  # halving continues shorter runs instead (study/plan/rungs.py)
            continue
        identity = run.params.identity()
        identity.pop("iterations")
        families[(run.content, run.style, json.dumps(identity, sort_keys=True))].append(run)
    for members in families.values():
        if len(members) < 2:
            continue
        by_id = {m.run_id: m for m in members}
        records = {m.key: usable_record(Path(layout.run_folder(m.content, m.style, m.run_id, runs=runs_dir)))
                   for m in members}  # each run.json read once
        leader = max(members, key=lambda r: r.params.iterations)
        leader_record = records[leader.key]
        recorded = None if leader_record is None else list(leader_record.params.get("snapshots") or [])
        shared = []
        for member in members:
            record = records[member.key]
            if record is not None:
                _as_finished(plan, member, record, by_id)
            elif member is not leader and (recorded is None or member.params.iterations in recorded):
                shared.append(member)  # the leader has (or will have) its snapshot
        if recorded is None and shared:
            snapshots = sorted(m.params.iterations for m in shared)
            plan.runs[leader.key] = dataclasses.replace(leader, params=leader.params.replace(snapshots=snapshots))
        for member in shared:
            plan.runs[member.key] = dataclasses.replace(member, source=leader.key)
    return plan


def _as_finished(plan: Plan, run: Run, record: RunRecord, family: dict[str, Run]) -> None:
    """A finished run's job as it ran: its snapshots and the run it was written from (if that
    is still planned; otherwise it has no source and would be recomputed on its own)."""
    source = family.get(record.derived_from or "")
    snapshots = record.params.get("snapshots") or []
    plan.runs[run.key] = dataclasses.replace(run, params=run.params.replace(snapshots=snapshots),
                                             source=source.key if source else None)
