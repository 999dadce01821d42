"""The manifest: what a study's plan hands to its tables and figures.

nst/study/plan/build.py builds the plan (nst/contracts/plan.py), whose `Plan.manifest()` makes it;
the workflow writes it as JSON (results/plan/manifest.json, `Manifest.to_json`), and nst/study/tables/aggregate.py, select.py and
figures.py read it back (`Manifest.load`). Pure Python: no pandas, no torch.

    format         MANIFEST_FORMAT; a manifest of another format is refused with one message
    experiments    name -> Experiment: kind, varied keys, base preset, title, paper, select rule
    trials         one per (experiment, pair, values), in plan order; trials of several
                   experiments may name the same run (content, style, run_id)
    results_array  the baseline and revised experiments of Fig. 19 and Table 5, or null
    images         {"content": {stem: path}, "style": {stem: path}}
    evaluation     the evaluators that score every run ({name, hash, settings}), the main one first
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AggregateError, InputError
from ..files import read_json_object
from .evaluators import Evaluator

MANIFEST_FORMAT = 1  # raise it whenever the JSON changes shape
PAIRS = "pairs"  # an experiment with no design: its base settings over every pair
DESIGNS = ("vary", "subsets", "grid", "tune", "reconstruct")  # the config keys that give an experiment its trials
KINDS = (PAIRS, *DESIGNS)


# --- names -----------------------------------------------------------------------------------
def format_value(value: Any) -> str:
    """A parameter value in a label: lists joined with '+', floats in short form."""
    if isinstance(value, (list, tuple)):
        return "+".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def label_of(values: dict) -> str:
    """A trial's label: its varied values as 'key=value, ...', or 'base' when it varies none."""
    return ", ".join(f"{k}={format_value(v)}" for k, v in values.items()) or "base"


def pair_key(content: str, style: str) -> str:
    """How select.override names a pair: CONTENT__STYLE (image stems never contain '__')."""
    return f"{content}__{style}"


# --- the parts ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Experiment:
    kind: str  # one of KINDS
    keys: tuple[str, ...]  # the varied parameters, in config order
    base: str  # the preset it starts from
    title: str
    paper: str  # the paper's figure or table it mirrors, or ""
    select: dict | None  # a tuned experiment's rule, every default filled in by the plan; else None
    # successive halving (nst/study/tables/halving.py): eta, min_iterations, rungs and each candidate's
    # ladder {full run id: [run id at each rung]}; None: every candidate runs in full
    halving: dict | None = None

    @classmethod
    def from_dict(cls, data: dict) -> Experiment:
        """Raises ValueError for an unknown kind, TypeError for missing or unknown keys."""
        experiment = cls(**{**data, "keys": tuple(data["keys"])})
        if experiment.kind not in KINDS:
            raise ValueError(f"kind {experiment.kind!r} is none of {', '.join(KINDS)}")
        return experiment

    def to_dict(self) -> dict:
        out = {**asdict(self), "keys": list(self.keys)}
        if self.halving is None:  # a plan without halving keeps the manifest it had
            del out["halving"]
        return out


@dataclass(frozen=True)
class Trial:
    experiment: str
    content: str
    style: str
    run_id: str
    values: dict  # the experiment's varied keys -> this trial's values
    label: str  # label_of(values), or the plan's own label
    stopped_at: int | None = None  # successive halving: the rung's iterations where it stopped

    @property
    def pair(self) -> tuple[str, str]:
        return self.content, self.style


@dataclass(frozen=True)
class ResultsArray:
    baseline: str  # the experiment whose run per pair is "Gatys et al."
    revised: str  # the tuned experiment whose selected run per pair is "Ours"


def _trial_dict(trial: Trial) -> dict:
    out = asdict(trial)
    if trial.stopped_at is None:  # set only once halving's rungs are read (halving.resolve)
        del out["stopped_at"]
    return out


# --- the manifest ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Manifest:
    experiments: dict[str, Experiment]
    trials: tuple[Trial, ...]
    results_array: ResultsArray | None = None
    images: dict[str, dict[str, str]] = field(default_factory=lambda: {"content": {}, "style": {}})
    evaluation: tuple[Evaluator, ...] = ()

    def experiment(self, name: str) -> Experiment:
        """Raises AggregateError for a name the plan does not have."""
        if name not in self.experiments:
            raise AggregateError(f"unknown experiment {name!r}; planned: {', '.join(self.experiments)}")
        return self.experiments[name]

    def trials_of(self, name: str) -> list[Trial]:
        """The trials of experiment `name` in plan order (AggregateError for an unknown name)."""
        self.experiment(name)
        return [t for t in self.trials if t.experiment == name]

    def restricted_to(self, names: list[str]) -> Manifest:
        """This manifest with only the trials of experiments `names`, so that a table made from
        it reads only their runs."""
        for name in names:
            self.experiment(name)
        return Manifest(self.experiments, tuple(t for t in self.trials if t.experiment in names),
                        self.results_array, self.images, self.evaluation)

    @property
    def main_evaluator(self) -> Evaluator | None:
        """The first evaluator: charts and captions show its scores (None: run.json's eval)."""
        return self.evaluation[0] if self.evaluation else None

    def evaluator(self, name: str | None) -> Evaluator | None:
        return next((ev for ev in self.evaluation if ev.name == name), None)

    # --- JSON ---
    def to_dict(self) -> dict:
        return {
            "format": MANIFEST_FORMAT,
            "experiments": {name: exp.to_dict() for name, exp in self.experiments.items()},
            "trials": [_trial_dict(t) for t in self.trials],
            "results_array": asdict(self.results_array) if self.results_array else None,
            "images": self.images,
            "evaluation": [ev.to_dict() for ev in self.evaluation],
        }

    def to_json(self) -> str:
        """The JSON text the workflow writes (sorted keys, so equal manifests give equal files)."""
        return json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Any, source: str = "manifest") -> Manifest:
        """The manifest `data` (as to_dict makes it). Raises InputError, naming `source`, for
        anything else: another format, or missing, unknown or mistyped parts."""
        found = data.get("format") if isinstance(data, dict) else None
        if found != MANIFEST_FORMAT:
            raise _not_this_version(source, f"format {found!r}, this nst reads format {MANIFEST_FORMAT}")
        try:
            return cls(
                experiments={name: Experiment.from_dict(exp) for name, exp in data["experiments"].items()},
                trials=tuple(Trial(**t) for t in data["trials"]),
                results_array=ResultsArray(**data["results_array"]) if data["results_array"] else None,
                images={role: dict(data["images"][role]) for role in ("content", "style")},
                evaluation=tuple(Evaluator.from_dict(e, f"evaluation[{i}]")
                                 for i, e in enumerate(data["evaluation"])))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise _not_this_version(source, f"{type(err).__name__}: {err}") from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Manifest:
        """Read a manifest file; InputError, naming the file, if it is missing, not JSON or not
        a manifest of this version."""
        path = Path(path)
        data = read_json_object(path, "manifest")
        return cls.from_dict(data, source=f"manifest {str(path)!r}")


def _not_this_version(source: str, detail: str) -> InputError:
    return InputError(f"{source} is not a manifest of this nst version ({detail}); run snakemake "
                      "again to re-plan")
