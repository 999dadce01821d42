"""A run's resumable state on disk, so that a killed `nst run` continues where it was.

    <states>/resume.pt          the latest state: every `checkpoint_seconds` (0: never); deleted
                                once run.json is written (nst/contracts/run_folder.py), so it exists only
                                for an unfinished run
    <states>/snapshots/<k>.png  each requested snapshot's image and scores, written as the run
            and <k>.json        passes it (a resumed run takes the earlier ones from there)
    <outdir>/snapshots/<k>.pt   the state after the run's last iteration k, when k is a requested
                                snapshot; kept, so that a longer run can continue from it
                                (--resume-from, successive halving)

<states> is the run folder itself, or `<outdir>/.replacement/` while the folder holds a finished
run that this one will replace (--overwrite): that run stays whole, its own states included,
until the new one has landed, and a replacement killed half-way continues from there.
Snapshots keep no state of their own: shared trajectories need only their images and scores
(nst/study/plan/trajectory.py), and a state (the optimizer's, the whole history) per snapshot cost
229 MB and most of the time of a 32 px `--save-iter 1` run (BENCHMARKS.md).

A state is everything the rest of the optimisation depends on (nst.run.engine.RunState.state): the
image, the optimizer's state, the shift generator's state, the last finite image, the history so
far and its elapsed seconds, and which snapshots the run had written. A resumed run is therefore
the same optimisation: on the CPU its files equal those of an uninterrupted run bit for bit. A
state holds only tensors, lists, dicts, numbers and strings, and is read back with
torch.load(weights_only=True). A state of another run id, of the same settings on other images
(its `inputs`: outputs.inputs_key of the images' content hashes; a state saved before states
recorded them cannot tell and counts as this run's), or of another format is never used and is
removed: a folder never mixes two runs. A state that cannot be saved (a full disk) is a warning
naming the file: the run goes on, and only a kill would cost it more.

The batching runner (nst/execution/batch.py, execution.batch_size > 1) neither saves nor resumes states:
its runs start from zero again when they are restarted.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from ..contracts.params import RunParams
from ..contracts.run_folder import RECORD, RESUME, SNAPSHOTS, inputs_key, made_from, probe_record
from ..errors import NSTError, OutputError
from ..files import atomic_path, finite_or_null, write_text
from .images import open_rgb, pil_to_tensor, save_png

FORMAT = 1
REPLACEMENT = ".replacement"  # the states of a run that will replace the finished one in its folder


def state_folder(outdir: str | os.PathLike) -> Path:
    """Where the run being computed into `outdir` keeps its states and snapshots until it lands:
    `outdir`, or its REPLACEMENT folder while `outdir` holds a finished run (or a killed
    replacement left one)."""
    outdir = Path(outdir)
    replacement = outdir / REPLACEMENT
    return replacement if replacement.is_dir() or (outdir / RECORD).is_file() else outdir


def resume_file(outdir: str | os.PathLike) -> Path:
    return Path(outdir) / RESUME


def snapshot_state_file(outdir: str | os.PathLike, iteration: int) -> Path:
    return Path(outdir) / SNAPSHOTS / f"{iteration}.pt"


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
    for tmp in [*outdir.glob(f".{RESUME}.tmp*"), *outdir.glob(f"{SNAPSHOTS}/.*.pt.tmp*")]:
        tmp.unlink(missing_ok=True)


def is_state_of(path: Path, run_id: str, inputs: str | None) -> bool:
    """Whether `path` holds a state of run `run_id` on the images whose inputs_key is `inputs`
    (a state saved before states recorded their images counts as one)."""
    state = read_state(path, peek=True) if path.is_file() else None
    return state is not None and state.get("run_id") == run_id and state.get("inputs", inputs) == inputs


def states_of_run(outdir: Path, run_id: str, inputs: str | None) -> dict[Path, int]:
    """This run's state files in `outdir` -> their iteration (is_state_of). Files of another run
    (or other images), or unreadable ones, are removed."""
    found = {}
    for path in [resume_file(outdir), *sorted((outdir / SNAPSHOTS).glob("*.pt"))]:
        if not path.is_file():
            continue
        if not is_state_of(path, run_id, inputs):
            path.unlink(missing_ok=True)
            continue
        found[path] = int(read_state(path, peek=True)["iteration"])
    return found


def resumable_state(outdir: str | os.PathLike, params: RunParams,
                    inputs: str | None) -> tuple[dict, dict[int, tuple]] | None:
    """(state, {k: (image, scores)} for the requested snapshots it has passed) to continue the
    unfinished run of `outdir` from (its state_folder), or None to start afresh. `inputs`: the
    inputs_key of the images the run is made from now; a state of other images is not this run's.

    Only an unfinished run (resume.pt present) is continued: a finished run's folder keeps the
    state at its last iteration, but running it again starts from zero. It continues from
    resume.pt if the run had written every snapshot it asks for now up to there; otherwise (its
    snapshots were re-planned) it starts afresh."""
    folder = state_folder(outdir)
    remove_killed_writes(folder)
    found = states_of_run(folder, params.run_id, inputs)
    iteration = found.get(resume_file(folder))
    if iteration is None or iteration > params.total_iterations:
        return None
    state = read_state(resume_file(folder))
    if state is None:
        return None
    wanted = [k for k in params.snapshots if k <= iteration]
    written = state.get("snapshots_written")
    if written is None:  # a state saved before they were recorded: its snapshots are states
        written = [k for k in wanted if snapshot_state_file(folder, k).is_file()]
    if not set(wanted) <= set(written):
        return None
    return state, {k: snapshot_at(folder, k) for k in wanted}


def continued_state(source_dir: str | os.PathLike, params: RunParams,
                    made: dict | None) -> tuple[dict, dict[int, tuple]]:
    """(state, snapshots) to continue another, finished run into `params`' run: a run whose
    settings differ only in `iterations` (fewer), made from the same images (`made`:
    outputs.inputs_now; a run.json that lists none cannot tell), that saved its state at its
    last iteration (snapshots/<its iterations>.pt). The optimisation up to there does not depend
    on how many iterations follow, so continuing it is the run computed straight through
    (successive halving promotes a candidate this way). NSTError when the source does not fit."""
    source_dir = Path(source_dir)
    source = probe_record(source_dir, "--resume-from run record")  # InputError: not a run's record
    if source is None:
        raise NSTError(f"--resume-from {source_dir}: no finished run there ({RECORD} missing)")
    if source.iterations is None:
        raise NSTError(f"--resume-from {source_dir}: its {RECORD} holds no run (params, run_id)")
    done = int(source.iterations)
    same = RunParams.from_dict({**source.params, "iterations": params.iterations, "snapshots": []})
    if same.run_id != params.run_id or done >= params.iterations:
        raise NSTError(f"--resume-from {source_dir}: run {source.run_id} ({done} iterations) differs from "
                       f"this run in more than iterations, or does not run fewer")
    if None not in (made_from(source.data), made) and made_from(source.data) != made:
        raise NSTError(f"--resume-from {source_dir}: run {source.run_id} was made from other images than "
                       f"these (their content differs)")
    # a run judged diverged by the blow-up rule at its end still has its state (one that stopped
    # on a non-finite loss took no state at its end: refused below)
    state = read_state(snapshot_state_file(source_dir, done))
    if (state is None or state.get("run_id") != source.run_id
            or state.get("inputs", inputs_key(made)) != inputs_key(made) or int(state["iteration"]) != done):
        raise NSTError(f"--resume-from {source_dir}: no state at its last iteration "
                       f"({snapshot_state_file(source_dir, done)}; the run must list {done} in its snapshots)")
    wanted = [k for k in params.snapshots if k <= done]
    missing = [k for k in wanted if not snapshot_files(source_dir, k)]
    if missing:
        raise NSTError(f"--resume-from {source_dir}: has no snapshot at iteration {missing[0]}, "
                       "which this run asks for")
    return state, {k: snapshot_at(source_dir, k) for k in wanted}


def snapshot_files(folder: Path, iteration: int) -> tuple[Path, Path] | None:
    """(image, scores) files of snapshot `iteration` in a run's (or states') folder, if both are there."""
    image, scores = Path(folder) / SNAPSHOTS / f"{iteration}.png", Path(folder) / SNAPSHOTS / f"{iteration}.json"
    return (image, scores) if image.is_file() and scores.is_file() else None


def snapshot_at(folder: Path, iteration: int) -> tuple[torch.Tensor, dict]:
    """(snapshot image, its scores) as the run wrote them: the PNG read back is the very image
    (8-bit values survive the round trip exactly), the scores their JSON. A state saved before
    snapshots were written as the run went holds them itself (snapshots/<k>.pt)."""
    found = snapshot_files(folder, iteration)
    if found is None:
        state = read_state(snapshot_state_file(folder, iteration), peek=True)
        return state["image"].detach().clamp(0, 1), state["snapshot"]
    image, _, _ = open_rgb(found[0])
    return pil_to_tensor(image), json.loads(found[1].read_text())


# Time-based saves take at most this share of a run: an L-BFGS state is 160 MB at 256 px and
# 630 MB at 512 px (history 100), so a short interval would otherwise cost much (BENCHMARKS.md).
MAX_TIME_SHARE = 0.02


class Checkpoints:
    """Writes a run's snapshots and saves its state into its state_folder after an iteration:
    a requested snapshot's image and scores when the run passes it, the state at the run's last
    iteration if that is a requested snapshot (snapshots/<k>.pt), and resume.pt when
    `checkpoint_seconds` have passed since the last save, or 1 / MAX_TIME_SHARE times as long as
    that save took, if longer. A save that fails (a full disk) is a warning; the run goes on."""

    def __init__(self, outdir: str | os.PathLike, params: RunParams):
        self.folder, self.params = state_folder(outdir), params
        self.last_saved, self.save_seconds = time.perf_counter(), 0.0
        self.failed: set[str] = set()  # the reasons already told, once each

    def due(self) -> bool:
        interval = self.params.checkpoint_seconds
        wait = max(interval, self.save_seconds / MAX_TIME_SHARE)
        return interval > 0 and time.perf_counter() - self.last_saved >= wait

    def after_step(self, iteration: int, state: Callable[[], dict], snapshot: tuple | None = None) -> None:
        """`snapshot`: (image, scores) when `iteration` is a requested snapshot."""
        if snapshot is not None:
            self.attempt(self.folder / SNAPSHOTS / f"{iteration}.png", lambda: write_snapshot(
                self.folder, iteration, *snapshot))
        started = time.perf_counter()
        if snapshot is not None and iteration == self.params.total_iterations:
            path = snapshot_state_file(self.folder, iteration)  # what --resume-from continues from
        elif self.due():
            path = resume_file(self.folder)
        else:
            return
        self.attempt(path, lambda: save_state(state(), path))
        self.last_saved = time.perf_counter()
        self.save_seconds = self.last_saved - started

    def attempt(self, path: Path, save: Callable[[], None]) -> None:
        """Save, or warn (once per reason) naming `path`."""
        try:
            save()
        except (OSError, OutputError, RuntimeError) as err:
            reason = failure_reason(err)
            if reason not in self.failed:
                self.failed.add(reason)
                print(f"nst: warning: could not save {path} ({reason}); the run goes on, but a kill now "
                      f"would restart it from its last saved state", file=sys.stderr)


def failure_reason(err: Exception) -> str:
    """Why a save failed, in a few words: atomic_path's OutputError and OSError say it; torch.save
    on a full disk raises a RuntimeError that names neither the file nor the cause."""
    if isinstance(err, OutputError):
        return str(err).split(": ", 1)[-1]
    if isinstance(err, OSError):
        return err.strerror or str(err)
    text = (str(err).strip().splitlines() or [""])[0]
    return f"torch.save could not write it, a full disk most likely: {text or type(err).__name__}"


def write_snapshot(folder: Path, iteration: int, image: torch.Tensor, scores: dict) -> None:
    """Snapshot `iteration`'s image and scores, as the finished run writes them (writer.write_run)."""
    save_png(image, folder / SNAPSHOTS / f"{iteration}.png")
    write_text(folder / SNAPSHOTS / f"{iteration}.json", json.dumps(finite_or_null(scores), indent=2) + "\n")


def link_or_copy(source: Path, dest: Path) -> None:
    """`dest` becomes the same file as `source`: a hard link (no second write of a state that can
    be hundreds of MB), or a copy where the filesystem has no hard links."""
    with atomic_path(dest) as tmp:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
