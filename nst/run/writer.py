"""Writing a finished run's folder (torch: the images and states). The folder's names, its
reader and history.csv's columns are nst/contracts/run_folder.py's, which stays torch-free."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..contracts import run_folder
from ..contracts.run_folder import (HISTORY, IMAGE, RECORD, SNAPSHOTS, history_columns, inputs_key, made_from,
                                    staged_run_folder)
from ..contracts.run_record import RunRecord
from ..files import finite_or_null, write_text
from .checkpoint import REPLACEMENT, is_state_of, link_or_copy, resume_file, snapshot_state_file, state_folder
from .images import save_png
from .result import RunResult


def write_run(result: RunResult, outdir: str | os.PathLike) -> Path:
    """Write a run's files into `outdir` (staged, then moved in, run.json last; see
    contracts/run_folder.py's staged_run_folder), with the state the run saved at its last iteration; then its
    states folder goes (resume.pt, or the replacement's folder: checkpoint.state_folder).
    Whether a finished run there may be replaced is the caller's decision (check_outdir)."""
    outdir = Path(outdir)
    states = state_folder(outdir)
    with staged_run_folder(outdir) as staging:
        for iteration, image in sorted(result.snapshots.items()):
            save_png(image, staging / SNAPSHOTS / f"{iteration}.png")
            write_text(staging / SNAPSHOTS / f"{iteration}.json",
                       json.dumps(finite_or_null(result.snapshot_scores[iteration]), indent=2) + "\n")
            state = snapshot_state_file(states, iteration)
            if is_state_of(state, result.params.run_id, inputs_key(made_from(result.record()))):
                link_or_copy(state, snapshot_state_file(staging, iteration))
        save_png(result.image, staging / IMAGE)
        # through the module, so that a test can make writing history.csv fail (a full disk)
        write_text(staging / HISTORY, run_folder.history_csv(result.history, history_columns(result.params)))
        write_text(staging / RECORD, RunRecord.from_dict(finite_or_null(result.record())).to_json())
    resume_file(outdir).unlink(missing_ok=True)  # finished: nothing to resume
    shutil.rmtree(outdir / REPLACEMENT, ignore_errors=True)
    return outdir
