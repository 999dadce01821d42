"""What one `snakemake` call plans, computed without writing anything: the one function the
workflow's common.smk calls (`plan_invocation`), and the one that writes its files (from the
workflow's onstart, which Snakemake runs only for a call that runs jobs).

A call's plan is the config's plan (build.py) after the two steps that read finished runs
(trajectory.share_trajectories, rungs.keep_finished_continuations), with the finished runs made
from images that have changed since (stale_runs.py). Its files are named by their content
(results/plan/manifests/<hash>.json: the plan, which the plan job copies to
results/plan/manifest.json under Snakemake's lock; results/plan/execution/<hash>.json: how runs
are computed; results/plan/prescore/<hash>.json: the evaluators a run's process scores with), so a second call (a dry run, a call refused by the
lock, another config) that writes only ever adds a file: it never changes one a running call's
jobs read. Jobs find them through environment variables (`Invocation.environment`), not their
params, so changing how runs are computed never reruns a finished run.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ...contracts import layout
from ...contracts.job_environment import EXECUTION_VARIABLE, PRESCORE_VARIABLE
from ...contracts.plan import Plan
from ...files import write_text
from .build import build_plan, execution_settings
from .rungs import keep_finished_continuations
from .stale_runs import stale_runs
from .trajectory import share_trajectories, shares_trajectories


@dataclass(frozen=True)
class ContentFile:
    """A JSON file named by its content: `folder`/<first 16 hex digits of its sha256>.json."""

    path: str
    text: str

    @classmethod
    def of(cls, folder: str | os.PathLike, data: dict) -> ContentFile:
        return cls.named(folder, json.dumps(data, indent=1, sort_keys=True) + "\n")

    @classmethod
    def named(cls, folder: str | os.PathLike, text: str) -> ContentFile:
        return cls(str(Path(folder) / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"), text)

    def write(self) -> None:
        """Write the file unless it is there: the name follows from the content."""
        if not Path(self.path).is_file():
            write_text(self.path, self.text)


@dataclass(frozen=True)
class Invocation:
    plan: Plan
    manifest: ContentFile  # what the tables and figures read; the plan job copies it to results/plan/manifest.json
    execution: ContentFile  # the config's execution settings that are RunParams fields
    prescore: ContentFile  # the study's evaluators, for a run's process to score with (nst/run/prescore.py)
    # finished runs made from other images than the ones they would be made from now:
    # {run key: the changed image files}; the workflow marks them out of date (stale_runs.mark_out_of_date)
    stale: dict[str, list[str]] = field(default_factory=dict)

    @property
    def environment(self) -> dict[str, str]:
        """The variables the jobs read their files' names from."""
        return {EXECUTION_VARIABLE: self.execution.path, PRESCORE_VARIABLE: self.prescore.path}

    @property
    def files(self) -> tuple[ContentFile, ...]:
        return self.manifest, self.execution, self.prescore


def prescore_requests(plan: Plan) -> dict:
    """The evaluators a run's process is asked to score its image with, once per settings hash
    (evaluators with equal settings share score files); the format nst/run/prescore.py reads."""
    evaluators = {ev.hash: ev for ev in plan.evaluation}
    return {"evaluators": [{"hash": digest, "settings": ev.to_dict()["settings"]} for digest, ev in evaluators.items()]}


def plan_invocation(config: dict, root: str | os.PathLike = ".", runs_dir: str | os.PathLike = layout.RUNS) -> Invocation:
    """This call's plan and the files its jobs read, from `config` (schema-validated) and the
    images and finished runs on disk; writes nothing. Raises NSTError (PlanError, ImageError,
    InputError) for a bad config or image."""
    plan = build_plan(config, root=root)
    if shares_trajectories(config):
        plan = share_trajectories(plan, runs_dir)
    plan = keep_finished_continuations(plan, runs_dir)  # halving: a finished run keeps its job as it ran
    return Invocation(
        plan=plan,
        manifest=ContentFile.named(layout.MANIFESTS, plan.manifest().to_json()),
        execution=ContentFile.of(layout.EXECUTIONS, execution_settings(config)),
        prescore=ContentFile.of(layout.PRESCORE_REQUESTS, prescore_requests(plan)),
        stale=stale_runs(plan, runs_dir, root),
    )


def write_invocation_files(invocation: Invocation) -> None:
    """Write the files the jobs read (onstart: before any job, only in a call that runs jobs)."""
    for file in invocation.files:
        file.write()
