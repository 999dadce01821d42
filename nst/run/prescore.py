"""Scores computed by the run's own process, for the score jobs to take (torch-free).

Why: a score job is a process of its own, and most of its time is importing torch and
scikit-image (about 3.5 s of a 4.5 s job at 128 px on a 2-core CPU), not scoring. The process
that has just optimised a run already has torch loaded, so the workflow asks it (through the
file named by NST_PRESCORE, which lists the study's evaluators) to score its saved image too.
It leaves each result in <run>/scores/prescored/<evaluator hash>.json with the identity of
everything it scored: the image's, the content's and the style images' sha256 and the
evaluator's hash. `nst score` takes such a file, without importing torch, only when all of
that equals what it was asked to score now; otherwise (another image, a changed photograph,
no file) it scores as before. The score job stays the one that writes the score file, so a
changed `evaluation:` still re-scores every run without re-optimising any.

Evaluators whose network needs a verified weights record (imagenet) are left to the score
job: the run's process does not have that record.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..contracts.job_environment import PRESCORE_VARIABLE
from ..contracts.run_folder import IMAGE, SCORES
from ..files import write_text
from ..hashes import sha256_file

FOLDER = f"{SCORES}/prescored"
FORMAT = 1


def requests_from_environment() -> list[dict]:
    """The evaluators ({"hash", "settings"}) the workflow asks a run's process to score with,
    from the file NST_PRESCORE names; [] when it is unset or unreadable (prescoring is an
    optimisation: never a reason for a run to fail)."""
    path = os.environ.get(PRESCORE_VARIABLE)
    if not path:
        return []
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return []
    evaluators = data.get("evaluators") if isinstance(data, dict) else None
    return [e for e in evaluators or [] if isinstance(e, dict) and "hash" in e and "settings" in e]


def scored_identity(run_dir, content, styles) -> dict:
    """What a score depends on besides the evaluator: the saved image and the images scored
    against, by content (sha256), so a moved folder still matches and an edited image never."""
    styles = [styles] if isinstance(styles, (str, os.PathLike)) else list(styles)
    return {
        "image": sha256_file(Path(run_dir) / IMAGE),
        "content": sha256_file(content),
        "styles": [sha256_file(s) for s in styles],
    }


def prescored_path(run_dir, evaluator_hash: str) -> Path:
    return Path(run_dir) / FOLDER / f"{evaluator_hash}.json"


def write_prescored(run_dir, evaluator_hash: str, identity: dict, score_file: dict) -> Path:
    """Leave one evaluator's score file (what `nst score` would write) with its identity."""
    path = prescored_path(run_dir, evaluator_hash)
    write_text(path, json.dumps({"format": FORMAT, "evaluator": evaluator_hash, "identity": identity,
                                 "score_file": score_file}, indent=1) + "\n")
    return path


def take_prescored(run_dir, evaluator_hash: str, content, styles) -> dict | None:
    """The score file computed by the run's process, if there is one for exactly this image,
    these images and this evaluator; else None (score it)."""
    path = prescored_path(run_dir, evaluator_hash)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("evaluator") != evaluator_hash:
        return None
    try:
        identity = scored_identity(run_dir, content, styles)
    except OSError:
        return None
    score_file = data.get("score_file")
    if data.get("identity") != identity or not isinstance(score_file, dict):
        return None
    return score_file
