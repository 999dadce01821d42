"""The plan record: a study's runs and trials, what the workflow's rules read at parse time.

nst/study/plan/build.py builds it from a config (build_plan), halving adds every candidate's ladder
of runs (rungs.add_ladders), and two steps after planning that read finished runs
(trajectory.share_trajectories, rungs.keep_finished_continuations) replace some runs by
the job as it ran; the rules then read the runs, the trials and the images, and the tables the
manifest it gives (nst/contracts/manifest.py). Here, the record only: no config is read and
nothing is decided, so every module that takes a plan can name its type.

A Run is frozen (its key and run id follow from it). The Plan is not: it is built up one trial
at a time and those later steps change its `runs` in place, each run replaced whole.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .evaluators import Evaluator
from .manifest import Experiment, Manifest, ResultsArray, Trial, label_of
from .params import RunParams


@dataclass(frozen=True)
class Run:
    content: str
    style: str
    params: RunParams
    source: str | None = None  # key of the longer run whose trajectory this run is part of (trajectory.py)
    resumes: str | None = None  # key of the shorter run it continues (successive halving, study/plan/rungs.py)

    @property
    def run_id(self) -> str:
        return self.params.run_id

    @property
    def key(self) -> str:
        return f"{self.content}/{self.style}/{self.run_id}"


@dataclass
class Plan:
    content_images: dict[str, str]
    style_images: dict[str, str]
    experiments: dict[str, Experiment]  # frozen records, as the manifest holds them
    runs: dict[str, Run] = field(default_factory=dict)
    trials: list[Trial] = field(default_factory=list)
    results_array: ResultsArray | None = None
    evaluation: list[Evaluator] = field(default_factory=list)  # what scores every run (nst/contracts/evaluators.py)
    blends: dict[str, dict[str, float]] = field(default_factory=dict)  # name -> {style stem: weight}
    notes: list[str] = field(default_factory=list)  # what the plan left out, one line each
    ladder_runs: set[str] = field(default_factory=set)  # keys of halving's runs: no shared trajectories

    def add(self, experiment: str, content: str, style: str, params: RunParams, values: dict,
            label: str | None = None) -> None:
        run = Run(content, style, params)
        self.runs.setdefault(run.key, run)
        self.trials.append(Trial(experiment, content, style, run.run_id, values, label or label_of(values)))

    def style_inputs(self, style: str) -> list[str]:
        """The image file(s) of a style: a blend's members, in its order, else the one image."""
        if style in self.blends:
            return [self.style_images[stem] for stem in self.blends[style]]
        return [self.style_images[style]]

    def trials_of(self, experiment: str) -> list[Trial]:
        return [t for t in self.trials if t.experiment == experiment]

    def manifest(self) -> Manifest:
        """What the tables and figures read (nst/contracts/manifest.py; the workflow writes it as
        results/plan/manifest.json)."""
        return Manifest(
            experiments=dict(self.experiments),
            trials=tuple(self.trials),
            results_array=self.results_array,
            images={"content": self.content_images, "style": self.style_images},
            evaluation=tuple(self.evaluation))
