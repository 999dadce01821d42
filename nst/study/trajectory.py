"""Shared trajectories: runs that differ only in `iterations` are one optimisation.

The run with the most iterations (the leader) saves a snapshot at each shorter count, with the
run's own losses and the reference evaluation of the image at that iteration. A shorter run is
then written from that snapshot, without torch: its image is the snapshot, its history the
leader's first k rows, its run.json the leader's with the numbers at k. The optimisation up to
iteration k does not depend on how many iterations follow, so this is the run a separate
`iterations: k` job would have made (tests check it bit for bit on the CPU).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import NSTError
from ..files import copy_file, staged_run_folder, write_text
from ..run.params import RunParams


def snapshot_record_path(run_dir: Path, iteration: int) -> Path:
    return Path(run_dir) / "snapshots" / f"{iteration}.json"


def _history_head(history: Path, rows: int) -> str:
    """The header and first `rows` data lines, as written (so values match to the bit)."""
    with open(history) as fh:
        lines = fh.read().splitlines(keepends=True)
    return "".join(lines[: rows + 1])


def derive_run(leader_dir: str | os.PathLike, iterations: int, outdir: str | os.PathLike,
               expected_run_id: str | None = None) -> Path:
    """Write the `iterations`-run of the leader's trajectory into `outdir`."""
    leader_dir, outdir = Path(leader_dir), Path(outdir)
    record_path = leader_dir / "run.json"
    if not record_path.is_file():
        raise NSTError(f"{record_path} does not exist: the leader run has not finished")
    leader = json.loads(record_path.read_text())
    if iterations > leader["params"]["iterations"]:
        raise NSTError(f"{leader_dir} ran {leader['params']['iterations']} iterations, fewer than {iterations}")
    params = RunParams.from_dict({**leader["params"], "iterations": iterations, "snapshots": []})
    if expected_run_id and params.run_id != expected_run_id:
        raise NSTError(f"{leader_dir} with iterations={iterations} is run {params.run_id}, not "
                       f"{expected_run_id}: their settings differ in more than iterations")
    record = {**leader, "run_id": params.run_id, "params": params.to_dict(), "derived_from": leader["run_id"]}

    diverged_before = leader["status"] == "diverged" and leader["diverged_at"] <= iterations
    if diverged_before:  # the same divergence, the same last finite image
        image, rows = leader_dir / "image.png", leader["diverged_at"]
    else:
        snapshot = snapshot_record_path(leader_dir, iterations)
        if not snapshot.is_file():
            raise NSTError(f"{leader_dir} has no snapshot at iteration {iterations} ({snapshot} missing)")
        at_k = json.loads(snapshot.read_text())
        reason = at_k.get("diverged_reason")  # the blow-up rule, judged at k as a k-run would be
        record.update(status="diverged" if reason else "ok", diverged_at=iterations if reason else None,
                      diverged_reason=reason, final=at_k["final"], evaluation=at_k["evaluation"])
        image, rows = snapshot.with_suffix(".png"), iterations
    record["iterations_done"] = rows
    history = _history_head(leader_dir / "history.csv", rows)
    loop_seconds = float(history.splitlines()[-1].rsplit(",", 1)[1]) if rows else 0.0
    record["timing"] = {"seconds": 0.0, "loop_seconds": loop_seconds, "shared_with": leader["run_id"]}

    with staged_run_folder(outdir) as staging:
        copy_file(image, staging / "image.png")
        write_text(staging / "history.csv", history)
        write_text(staging / "run.json", json.dumps(record, indent=2) + "\n")
    return outdir
