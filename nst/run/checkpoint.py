"""A run's resumable state on disk, so that a killed `nst run` continues where it was.

    <outdir>/resume.pt          the latest state: every `checkpoint_seconds` (0: never) and at
                                each snapshot; deleted once run.json is written (nst/run/outputs.py),
                                so it exists only in the folder of an unfinished run
    <outdir>/snapshots/<k>.pt   the state after k iterations, for each requested snapshot k; kept,
                                so that a run can later be continued from its snapshot

A state is everything the rest of the optimisation depends on (nst.run.engine.RunState.state): the
image, the optimizer's state, the shift generator's state, the last finite image, the history so
far and its elapsed seconds. A resumed run is therefore the same optimisation: on the CPU its
files equal those of an uninterrupted run bit for bit. A state holds only tensors, lists, dicts,
numbers and strings, and is read back with torch.load(weights_only=True). A state of another run
id, of the same settings on other images (its `inputs`: outputs.inputs_key of the images'
content hashes), or of another format is never used and is removed: a folder never mixes two
runs.

The batching runner (nst/execution/batch.py, execution.batch_size > 1) neither saves nor resumes states:
its runs start from zero again when they are restarted.
"""
from __future__ import annotations

import os
import pickle
import shutil
import time
from pathlib import Path
from typing import Callable

import torch

from ..errors import NSTError
from ..files import atomic_path, read_json_object
from .outputs import inputs_key, made_from
from .params import RunParams

FORMAT = 1
RESUME_FILE = "resume.pt"


def resume_file(outdir: str | os.PathLike) -> Path:
    return Path(outdir) / RESUME_FILE


def snapshot_state_file(outdir: str | os.PathLike, iteration: int) -> Path:
    return Path(outdir) / "snapshots" / f"{iteration}.pt"


def save_state(state: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def read_state(path: Path, peek: bool = False) -> dict | None:
    """The state in `path`; None if the file cannot be read as one. `peek` maps the file instead
    of reading it, for a look at its run id and iteration (an L-BFGS state is ~600 MB at 512 px)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=peek)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError):
        return None
    return state if isinstance(state, dict) and state.get("format") == FORMAT else None


def remove_killed_writes(outdir: Path) -> None:
    """Temporary files of state writes killed half-way (atomic_path's `.<name>.tmp<pid>`): a
    state file is large, and a SIGKILL skips atomic_path's own clean-up."""
    for tmp in [*outdir.glob(f".{RESUME_FILE}.tmp*"), *outdir.glob("snapshots/.*.pt.tmp*")]:
        tmp.unlink(missing_ok=True)


def states_of_run(outdir: Path, run_id: str, inputs: str | None) -> dict[Path, int]:
    """This run's state files in `outdir` -> their iteration: of `run_id` on the images whose
    inputs_key is `inputs`. Files of another run (or other images), or unreadable ones, are
    removed."""
    found = {}
    for path in [resume_file(outdir), *sorted((outdir / "snapshots").glob("*.pt"))]:
        if not path.is_file():
            continue
        state = read_state(path, peek=True)
        if state is None or state.get("run_id") != run_id or state.get("inputs") != inputs:
            path.unlink(missing_ok=True)
            continue
        found[path] = int(state["iteration"])
    return found


def resumable_state(outdir: str | os.PathLike, params: RunParams,
                    inputs: str | None) -> tuple[dict, dict[int, tuple]] | None:
    """(state, {k: (image, scores)} for the requested snapshots it has passed) to continue the
    unfinished run in `outdir` from, or None to start afresh. `inputs`: the inputs_key of the
    images the run is made from now; a state of other images is not this run's.

    Only an unfinished run (resume.pt present) is continued: a finished run's folder keeps its
    snapshot states, but running it again starts from zero. It continues from resume.pt, or, when
    a snapshot the run asks for now is missing before that point (its snapshots were re-planned),
    from the latest snapshot state that has every requested snapshot before it."""
    outdir = Path(outdir)
    remove_killed_writes(outdir)
    found = states_of_run(outdir, params.run_id, inputs)
    latest = found.get(resume_file(outdir))
    if latest is None:
        return None
    snapshot_states = {it: path for path, it in found.items() if path.name == f"{it}.pt"}
    for path, iteration in sorted(found.items(), key=lambda item: -item[1]):
        wanted = [k for k in params.snapshots if k <= iteration]
        if iteration > min(latest, params.total_iterations) or any(k not in snapshot_states for k in wanted):
            continue
        state = read_state(path)
        if state is None:
            continue
        return state, {k: snapshot_at(snapshot_states[k]) for k in wanted}
    return None


def continued_state(source_dir: str | os.PathLike, params: RunParams,
                    made: dict | None) -> tuple[dict, dict[int, tuple]]:
    """(state, snapshots) to continue another, finished run into `params`' run: a run whose
    settings differ only in `iterations` (fewer), made from the same images (`made`:
    outputs.inputs_now), that saved its state at its last iteration (snapshots/<its
    iterations>.pt). The optimisation up to there does not depend on how many iterations
    follow, so continuing it is the run computed straight through (successive halving promotes a
    candidate this way). NSTError when the source does not fit."""
    source_dir = Path(source_dir)
    if not (source_dir / "run.json").is_file():
        raise NSTError(f"--resume-from {source_dir}: no finished run there (run.json missing)")
    source = read_json_object(source_dir / "run.json", "--resume-from run record")
    recorded = source.get("params")
    if not isinstance(recorded, dict) or "iterations" not in recorded or "run_id" not in source:
        raise NSTError(f"--resume-from {source_dir}: its run.json holds no run (params, run_id)")
    done = int(recorded["iterations"])
    same = RunParams.from_dict({**recorded, "iterations": params.iterations, "snapshots": []})
    if same.run_id != params.run_id or done >= params.iterations:
        raise NSTError(f"--resume-from {source_dir}: run {source['run_id']} ({done} iterations) differs from "
                       f"this run in more than iterations, or does not run fewer")
    if made_from(source) != made:
        raise NSTError(f"--resume-from {source_dir}: run {source['run_id']} was made from other images than "
                       f"these (by content), or its run.json lists none")
    # a run judged diverged by the blow-up rule at its end still has its state (one that stopped
    # on a non-finite loss took no state at its end: refused below)
    state = read_state(snapshot_state_file(source_dir, done))
    if (state is None or state.get("run_id") != source["run_id"] or state.get("inputs") != inputs_key(made)
            or int(state["iteration"]) != done):
        raise NSTError(f"--resume-from {source_dir}: no state at its last iteration "
                       f"({snapshot_state_file(source_dir, done)}; the run must list {done} in its snapshots)")
    wanted = [k for k in params.snapshots if k <= done]
    missing = [k for k in wanted if not snapshot_state_file(source_dir, k).is_file()]
    if missing:
        raise NSTError(f"--resume-from {source_dir}: has no snapshot state at iteration {missing[0]}, "
                       "which this run asks for")
    return state, {k: snapshot_at(snapshot_state_file(source_dir, k)) for k in wanted}


def snapshot_at(path: Path) -> tuple[torch.Tensor, dict]:
    """(snapshot image, its scores) from a snapshot state: the image is the state's, clamped as
    the run clamps it for a snapshot."""
    state = read_state(path, peek=True)
    return state["image"].detach().clamp(0, 1), state["snapshot"]


# Time-based saves take at most this share of a run: an L-BFGS state is 160 MB at 256 px and
# 630 MB at 512 px (history 100), so a short interval would otherwise cost much (BENCHMARKS.md).
MAX_TIME_SHARE = 0.02


class Checkpoints:
    """Saves a run's state into its folder after an iteration: at each requested snapshot (into
    snapshots/<k>.pt and resume.pt), and into resume.pt when `checkpoint_seconds` have passed
    since the last save, or 1 / MAX_TIME_SHARE times as long as that save took, if longer."""

    def __init__(self, outdir: str | os.PathLike, params: RunParams):
        self.outdir, self.params = Path(outdir), params
        self.last_saved, self.save_seconds = time.perf_counter(), 0.0

    def due(self) -> bool:
        interval = self.params.checkpoint_seconds
        wait = max(interval, self.save_seconds / MAX_TIME_SHARE)
        return interval > 0 and time.perf_counter() - self.last_saved >= wait

    def after_step(self, iteration: int, state: Callable[[], dict]) -> None:
        started = time.perf_counter()
        if iteration in self.params.snapshots:
            snapshot = snapshot_state_file(self.outdir, iteration)
            save_state(state(), snapshot)
            link_or_copy(snapshot, resume_file(self.outdir))
        elif self.due():
            save_state(state(), resume_file(self.outdir))
        else:
            return
        self.last_saved = time.perf_counter()
        self.save_seconds = self.last_saved - started


def link_or_copy(source: Path, dest: Path) -> None:
    """`dest` becomes the same file as `source`: a hard link (no second write of a state that can
    be hundreds of MB), or a copy where the filesystem has no hard links."""
    with atomic_path(dest) as tmp:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
