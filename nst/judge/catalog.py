"""What the rating page may show: the study's finished runs, grouped into the sets whose
members people compare, and an opaque id for every image it serves.

Read from the study's manifest (results/plan/manifest.json, as the tables read it: halving's
rungs resolved) and its run folders, through the tables' own readers; no Snakemake. A group is
one experiment's runs of one content/style pair (scope "experiment"), or every run of one pair
(scope "pair"). A run takes part when it finished ok (not diverged, not stopped at a halving
rung); reconstruction experiments (one layer's reconstruction, not a style transfer) and
experiments with one run per pair have nothing to compare. Images are named by random ids made
here (secrets.token_urlsafe), so a request names an entry of this catalog, never a path.
"""
from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ..contracts import layout
from ..contracts.manifest import pair_key
from ..contracts.run_folder import image_named
from ..contracts.run_record import RunRecord
from ..errors import InputError, MissingRunError, NSTError
from ..study.tables.aggregate import read_run
from ..study.tables.halving import load_manifest
from ..study.tables.judgements import comparison_id, ordered

SCOPES = ("experiment", "pair")
NOT_STYLE_TRANSFER = ("reconstruct",)  # experiment kinds whose images are not compared


@dataclass(frozen=True)
class Comparison:
    id: str
    content: str
    style: str
    run_a: str
    run_b: str


@dataclass(frozen=True)
class Group:
    name: str  # "experiment/content__style", or "content__style" for scope pair
    content: str
    style: str
    runs: tuple[str, ...]  # plan order

    def comparisons(self) -> list[Comparison]:
        """Every two of its runs."""
        out = []
        for x, y in itertools.combinations(self.runs, 2):
            a, b = ordered(x, y)
            out.append(Comparison(comparison_id(self.content, self.style, a, b), self.content, self.style, a, b))
        return out


@dataclass
class Catalog:
    root: Path  # the study folder (relative image paths are relative to it)
    results: Path
    groups: list[Group] = field(default_factory=list)
    images: dict[str, Path] = field(default_factory=dict)  # id -> file
    run_images: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (content, style, run) -> id
    pair_images: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add_image(self, path: Path) -> str:
        image_id = secrets.token_urlsafe(12)
        self.images[image_id] = path
        return image_id

    def run_image_path(self, content: str, style: str, run_id: str) -> Path:
        return self.images[self.run_images[(content, style, run_id)]]


def _resolved(root: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p


def build_catalog(results: str | Path = layout.RESULTS, scope: str = "experiment",
                  experiments: list[str] | None = None) -> Catalog:
    """The catalog of the study whose results folder is `results`. NSTError for a study
    without a manifest, an unknown experiment or scope, or nothing to compare."""
    results = Path(results)
    if scope not in SCOPES:
        raise NSTError(f"--scope {scope!r}: allowed: {', '.join(SCOPES)}")
    manifest_path = Path(layout.manifest_file(results))
    if not manifest_path.is_file():
        raise InputError(f"{str(manifest_path)!r} does not exist: run snakemake in the study folder first "
                         "(or name the results folder with --results)")
    manifest = load_manifest(manifest_path, results)
    for name in experiments or []:
        manifest.experiment(name)  # an unknown name: one line naming the planned ones
    catalog = Catalog(root=results.resolve().parent, results=results)
    runs_dir = layout.runs_folder(results)
    records: dict[tuple[str, str, str], RunRecord | None] = {}
    members: dict[str, tuple[str, str, list[str]]] = {}
    for trial in manifest.trials:
        exp = manifest.experiments[trial.experiment]
        if (experiments and trial.experiment not in experiments) or exp.kind in NOT_STYLE_TRANSFER:
            continue
        key = (trial.content, trial.style, trial.run_id)
        if key not in records:
            records[key] = _finished(runs_dir, *key)
        if records[key] is None or trial.stopped_at is not None:
            continue
        pair = pair_key(trial.content, trial.style)
        name = f"{trial.experiment}/{pair}" if scope == "experiment" else pair
        runs = members.setdefault(name, (trial.content, trial.style, []))[2]
        if trial.run_id not in runs:
            runs.append(trial.run_id)
    unfinished = sum(record is None for record in records.values())
    if unfinished:
        catalog.notes.append(f"{unfinished} of {len(records)} runs are not finished ok (still running, "
                             "diverged or missing): not shown")
    for name, (content, style, runs) in members.items():
        if len(runs) < 2:
            continue
        catalog.groups.append(Group(name, content, style, tuple(runs)))
        for run_id in runs:
            if (content, style, run_id) not in catalog.run_images:
                path = Path(layout.run_file(content, style, run_id, layout.IMAGE, runs=runs_dir))
                catalog.run_images[(content, style, run_id)] = catalog.add_image(path)
        if (content, style) not in catalog.pair_images:
            catalog.pair_images[(content, style)] = _pair_images(catalog, manifest, records, content, style, runs[0])
        for comparison in catalog.groups[-1].comparisons():
            catalog.comparisons.setdefault(comparison.id, comparison)
    if not catalog.comparisons:
        raise NSTError(f"nothing to compare in {str(results)!r}: no experiment has two finished runs of "
                       "one content/style pair" + (f" ({'; '.join(catalog.notes)})" if catalog.notes else ""))
    return catalog


def _finished(runs_dir: str, content: str, style: str, run_id: str) -> RunRecord | None:
    """The run's record if it finished ok with its image, else None."""
    try:
        record = read_run(runs_dir, content, style, run_id)
    except (MissingRunError, NSTError):
        return None
    image = Path(layout.run_file(content, style, run_id, layout.IMAGE, runs=runs_dir))
    return record if record.status == "ok" and image.is_file() else None


def _pair_images(catalog: Catalog, manifest, records: dict, content: str, style: str,
                 run_id: str) -> tuple[str, tuple[str, ...]]:
    """Ids of the pair's content image and style image(s) (every image of a blend), as the
    run's record names them, else as the manifest does (the first that exists)."""
    found = records[(content, style, run_id)]
    record = found.data if found else {}
    blend = [entry.get("path") for entry in record.get("styles") or [] if isinstance(entry, dict)]
    content_path = _existing(catalog.root, [image_named(record, "content"), manifest.images["content"].get(content)])
    style_paths = [_existing(catalog.root, [p]) for p in blend] if blend else []
    if not style_paths or None in style_paths:
        style_paths = [_existing(catalog.root, [image_named(record, "style"), manifest.images["style"].get(style)])]
    if content_path is None or None in style_paths:
        raise InputError(f"pair {pair_key(content, style)}: its content or style image is missing (run.json "
                         f"and the manifest name {image_named(record, 'content')!r} and {image_named(record, 'style')!r})")
    ids = [catalog.add_image(p) for p in [content_path, *style_paths]]
    return ids[0], tuple(ids[1:])


def _existing(root: Path, paths: list[str | None]) -> Path | None:
    """The first of `paths` (relative ones: to the study folder) that is a file."""
    for path in paths:
        if path and _resolved(root, path).is_file():
            return _resolved(root, path)
    return None
