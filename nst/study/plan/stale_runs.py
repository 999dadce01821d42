"""Finished runs whose images have changed since they were made: a step after planning (it
reads the finished runs' run.json, as nst/study/plan/trajectory.py does), called by the workflow.

A run folder is named by its images' stems, not their content, and Snakemake reruns a job when
an input is newer than its outputs, by mtime. An image replaced by another picture with an
older mtime (`cp -p`, an unpacked archive, a restored backup) is newer only in content; its
runs would stay "done" with the old picture's results. Every run.json lists the content hash
of each image it was made from (outputs.made_from), so this step compares those with the
images as they are now, and marks a run made from other images out of date in Snakemake's own
terms: its run.json's mtime is set to just before the changed image's. Snakemake then reruns
it (its input checksum differs from the one it recorded), and everything made from it after.
That mtime is the only thing written. A run.json that lists no hashes (written before runs
recorded them) cannot be compared and is left as it is.

Adding the hashes to the stylize rule's params would make Snakemake compare them itself, but
Snakemake compares a job's params as a set: a new param changes that set for every run made
before it, and every finished run would be recomputed once.
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from ...contracts import layout
from ...contracts.param_values import INITS
from ...contracts.plan import Plan
from ...contracts.run_folder import inputs_now, made_from, usable_record


def stale_runs(plan: Plan, runs_dir: str | os.PathLike, root: str | os.PathLike = ".") -> dict[str, list[str]]:
    """{run key: the image files that differ from what its run.json lists} for the planned
    runs that are finished and were made from other images (by content). `root`: where the
    config's relative paths (an init file) start."""
    stale, now = {}, {}
    for key, run in plan.runs.items():
        record = usable_record(Path(runs_dir) / key)  # unreadable: the job rewrites it
        recorded = None if record is None else made_from(record.data)
        if recorded is None:
            continue
        init = run.params.init if run.params.init in INITS else str(Path(root) / run.params.init)
        images = (plan.content_images[run.content], tuple(plan.style_inputs(run.style)), init)
        if images not in now:
            now[images] = inputs_now(run.params.replace(init=init), images[0], list(images[1]))
        changed = _changed(recorded, now[images], images)
        if changed:
            stale[key] = changed
    return stale


def _changed(recorded: dict, current: dict, images: tuple) -> list[str]:
    content, styles, init = images
    changed = [content] if recorded["content"] != current["content"] else []
    if len(recorded["styles"]) != len(current["styles"]):
        return changed + list(styles)
    changed += [path for path, a, b in zip(styles, recorded["styles"], current["styles"]) if a != b]
    return changed + ([init] if recorded["init"] != current["init"] else [])


def mark_out_of_date(stale: dict[str, list[str]], runs_dir: str | os.PathLike) -> list[str]:
    """Set each stale run's run.json mtime to 1 s before its oldest changed image's, so that
    Snakemake reruns it; returns one note per changed image, for the user."""
    by_image = defaultdict(list)
    for key, images in stale.items():
        record_file = Path(runs_dir) / key / layout.RECORD
        before = min(os.stat(image).st_mtime_ns for image in images) - 1_000_000_000
        if record_file.stat().st_mtime_ns > before:
            os.utime(record_file, ns=(before, before))
        for image in images:
            by_image[image].append(key)
    return [f"{image} is not the image {len(keys)} finished run(s) were made from (their run.json lists another "
            f"content hash): they are rerun" for image, keys in sorted(by_image.items())]
