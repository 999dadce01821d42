"""A fake finished study for the table and figure tests (tests/study/tables/test_aggregate.py,
tests/study/figures/test_figures.py): run folders as nst.contracts.run_folder writes them, score files as `nst score`
writes them, and the manifest the plan would make, with every experiment kind. No torch, no
optimisation: the numbers are made up so that each test knows what to expect.

The fixtures (`study`, `manifest`, `runs`, `scored`) are module-scoped: a test module that
imports them gets its own study.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from kit import small_config
from nst.contracts.evaluators import make_evaluator
from nst.contracts.selection import TWO_SIDED
from nst.contracts.presets import preset
from nst.study.tables import aggregate
from nst.contracts.manifest import Experiment, Manifest, ResultsArray, Trial, label_of

GATYS = make_evaluator({"name": "gatys", "weights": "random"})
TUNE_PAIRS = [("c1", "s1"), ("c2", "s2"), ("c2", "s1")]
TUNE_VALUES = [{"content_weight": cw, "init": init}
               for cw in (1, 5) for init in ("content", "zeros")]
# eval_total per tune trial; None marks a diverged run (its eval is then the smallest, 0.5)
TUNE_EVAL = {
    ("c1", "s1"): [40.0, 10.0, 30.0, None],   # min among ok runs: content_weight=1, init=zeros
    ("c2", "s2"): [5.0, 6.0, 7.0, 80.0],      # override picks content_weight=5, init=zeros
    ("c2", "s1"): [None, None, None, None],   # all diverged: nothing selected
}
SUBSET_LAYERS = ["relu_1", "relu_2", "relu_3", "relu_4"]


# --- one run ---------------------------------------------------------------------------------
def color_of(n: int) -> tuple[int, int, int]:
    """The flat colour of the n-th fabricated run's image."""
    return ((n * 67) % 200 + 30, (n * 131) % 200 + 30, (n * 29) % 200 + 30)


def baseline_id(**values) -> str:
    """The run id of the baseline preset with `values`, at the fake study's size and weights."""
    return preset("baseline", size=32, weights="random", **values).run_id


def fabricate_run(runs_dir: Path, content: str, style: str, params, *, n: int,
                  status: str = "ok", eval_total: float | None = None, size: int = 32) -> dict:
    """Write image.png, history.csv and run.json as nst.run.writer.write_run does; returns
    the record. Its losses, timing and colour follow from `n`."""
    out = Path(runs_dir) / content / style / params.run_id
    out.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), color_of(n)).save(out / "image.png")
    done = params.iterations if status == "ok" else max(1, params.iterations // 2)
    history = pd.DataFrame({
        "iteration": range(1, done + 1),
        "content": [1.0 / i for i in range(1, done + 1)],
        "style": [10.0 / i for i in range(1, done + 1)],
    })
    history["total"] = history["content"] + history["style"]
    for layer in params.content_layers:
        history[f"content_{layer}"] = history["content"]
    for layer in params.style_layers:
        history[f"style_{layer}"] = history["style"] / len(params.style_layers)
    history["seconds"] = history["iteration"] * 0.01
    history.to_csv(out / "history.csv", index=False)
    final_content, final_style = 1.5 * n, 0.25 * n
    if eval_total is None:
        eval_total = 10.0 * n
    record = {
        "run_id": params.run_id,
        "status": status,
        "diverged_at": None if status == "ok" else done,
        "iterations_done": done,
        "params": params.to_dict(),
        "final": {"content": final_content, "style": final_style,
                  "total": final_content + final_style,
                  **{f"content_{l}": final_content for l in params.content_layers}},
        "evaluation": {"eval_content": 0.25 * eval_total, "eval_style": 0.75 * eval_total,
                       "eval_total": eval_total, "ssim_content": 0.5 + n / 1000,
                       "color_distance_style": n / 100},
        "content": {"path": f"images/content/{content}.png", "size": [size, size]},
        "style": {"path": f"images/style/{style}.png", "size": [size, size]},
        "weights": {"source": params.weights, "random": params.weights == "random", "seed": 0},
        "random_weights": params.weights == "random",
        "device": "cpu",
        "timing": {"seconds": 0.1 * n, "setup_seconds": 0.01, "loop_seconds": 0.09,
                   "iterations_per_second": 100.0},
        "versions": {"nst": "0.1.0"},
    }
    (out / "run.json").write_text(json.dumps(record))
    return record


def write_scores(runs_dir: Path, content: str, style: str, run_id: str, evaluator, style_score: float,
                 content_score: float) -> None:
    """A score file as `nst score` writes it."""
    layers = {"style_layers": {n: style_score for n in evaluator.settings["style_layers"]},
              "content_layers": {n: content_score for n in evaluator.settings["content_layers"]}}
    data = {"format": 1, "run_id": run_id, "evaluator": {"hash": evaluator.hash,
                                                         "settings": evaluator.to_dict()["settings"]},
            "scores": {"style": style_score, "content": content_score, "total": style_score + content_score,
                       "ssim_content": 0.5, "color_distance_style": 0.1, "texture_distance_style": 0.2,
                       **layers}}
    path = aggregate.score_path(runs_dir, content, style, run_id, evaluator)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


# --- a study -----------------------------------------------------------------------------------
def plan_select(select: dict, evaluation=()) -> dict:
    """`select` with the defaults the plan fills in (nst/study/plan/build.py)."""
    select = {"metric": "pareto", "mode": "min", "override": {}, **select}
    if evaluation:
        select.setdefault("evaluator", evaluation[0].name)
    if select["metric"] in TWO_SIDED:
        select.setdefault("style_share", 0.5)
    return select


class Study:
    """Fabricated runs under root/runs and the trials of its experiments."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.records: dict[tuple[str, str, str], dict] = {}
        self.experiments: dict[str, dict] = {}
        self.trials: list[Trial] = []
        self._n = itertools.count(1)
        images = {"content": {}, "style": {}}
        for role, stems in (("content", ("c1", "c2")), ("style", ("s1", "s2"))):
            for k, stem in enumerate(stems):
                path = self.root / "images" / role / f"{stem}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (40, 30), (250, 200 - 90 * k, 20 if role == "style" else 200)
                          ).save(path)
                images[role][stem] = str(path)
        self.images = images

    def experiment(self, name, kind, keys, base="baseline", paper="", select=None):
        self.experiments[name] = {"kind": kind, "keys": keys, "base": base, "title": name.title(),
                                  "paper": paper, "select": select}

    def trial(self, exp, content, style, values, label=None, status="ok", eval_total=None):
        """A trial of `exp`, fabricating its run unless another trial made it; its run id."""
        params = preset(self.experiments[exp]["base"], size=32, weights="random", **values)
        key = (content, style, params.run_id)
        if key not in self.records:
            self.records[key] = fabricate_run(self.runs_dir, content, style, params,
                                              n=next(self._n), status=status,
                                              eval_total=eval_total)
        self.trials.append(Trial(exp, content, style, params.run_id, values, label or label_of(values)))
        return params.run_id

    def manifest(self, evaluation=()) -> Manifest:
        """The manifest the plan would make of this study, scored by `evaluation`."""
        experiments = {name: Experiment(info["kind"], tuple(info["keys"]), info["base"], info["title"],
                                        info["paper"],
                                        plan_select(info["select"], evaluation) if info["select"] else None)
                       for name, info in self.experiments.items()}
        return Manifest(experiments, tuple(self.trials), ResultsArray("iterations", "revised"),
                        self.images, tuple(evaluation))


def build_study(root: Path) -> Study:
    """Every experiment kind over the fabricated runs; several trials share a run."""
    s = Study(root)
    s.experiment("iterations", "vary", ["iterations"], paper="Fig. 6")
    for content, style in TUNE_PAIRS:
        for it in (100, 300, 600):
            s.trial("iterations", content, style, {"iterations": it})
    s.experiment("style_weight", "vary", ["style_weight"], paper="Fig. 8")
    for sw in (1e6, 1e3):
        s.trial("style_weight", "c1", "s1", {"style_weight": sw})
    s.experiment("optimizer", "vary", ["optimizer"], paper="Table 3")
    s.trial("optimizer", "c1", "s1", {"optimizer": "lbfgs"})
    s.trial("optimizer", "c1", "s1", {"optimizer": "sgd"}, status="diverged")
    s.experiment("layers", "subsets", ["style_layers"], paper="Fig. 7")
    for k in range(1, len(SUBSET_LAYERS) + 1):
        for subset in itertools.combinations(SUBSET_LAYERS, k):
            s.trial("layers", "c1", "s1", {"style_layers": list(subset)})
    s.experiment("weights_grid", "grid", ["content_weight", "style_weight"])
    for cw in (1, 10):
        for sw in (1e6, 1e4):
            s.trial("weights_grid", "c1", "s1", {"content_weight": cw, "style_weight": sw})
    s.experiment("matrix", "pairs", [], paper="Figs. 13-14")
    for content in ("c1", "c2"):
        for style in ("s1", "s2"):
            s.trial("matrix", content, style, {}, label=f"{content} x {style}")
    s.experiment("revised", "tune", ["content_weight", "init"], base="revised", paper="Fig. 19",
                 select={"metric": "eval_total", "mode": "min",
                         "override": {"c2__s2": {"content_weight": 5, "init": "zeros"}}})
    for pair in TUNE_PAIRS:
        for values, ev in zip(TUNE_VALUES, TUNE_EVAL[pair]):
            s.trial("revised", *pair, values, status="ok" if ev is not None else "diverged",
                    eval_total=ev if ev is not None else 0.5)
    return s


def scored_study(root: Path) -> Study:
    """build_study with every run scored by GATYS (its manifest: study.manifest([GATYS]))."""
    s = build_study(root)
    for k, (content, style, run_id) in enumerate(sorted(s.records)):
        write_scores(s.runs_dir, content, style, run_id, GATYS, 0.1 * (k + 1), 1.0 / (k + 1))
    return s


def write_manifest(study: Study, manifest: Manifest | dict | None = None) -> Path:
    """`manifest` (default the study's own) as the workflow writes it; returns the new file."""
    path = study.root / f"manifest{len(list(study.root.glob('manifest*.json')))}.json"
    manifest = study.manifest() if manifest is None else manifest
    path.write_text(manifest.to_json() if isinstance(manifest, Manifest) else json.dumps(manifest))
    return path


def with_select(manifest: Manifest, name: str, select: dict) -> Manifest:
    """`manifest` with experiment `name` selecting by `select` (taken as given)."""
    exp = dataclasses.replace(manifest.experiments[name], select=select)
    return dataclasses.replace(manifest, experiments={**manifest.experiments, name: exp})


# --- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Study:
    return build_study(tmp_path_factory.mktemp("study"))


@pytest.fixture(scope="module")
def manifest(study) -> Manifest:
    """The study's manifest, written and read back as the workflow's jobs do."""
    return Manifest.load(write_manifest(study))


@pytest.fixture(scope="module")
def runs(manifest, study) -> pd.DataFrame:
    return aggregate.runs_table(manifest, study.runs_dir)


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> tuple[Study, Manifest, pd.DataFrame]:
    """The study with every run scored by GATYS, its manifest naming the evaluator, and its runs."""
    s = scored_study(tmp_path_factory.mktemp("scored"))
    manifest = Manifest.load(write_manifest(s, s.manifest([GATYS])))
    return s, manifest, aggregate.runs_table(manifest, s.runs_dir)


# --- constructed experiment tables (tests/study/tables/test_stats.py, tests/study/tables/test_findings.py) -----------------
# Tables made directly, without run folders: each test sets every score by hand.
FOUR_PAIRS = [("c1", "s1"), ("c1", "s2"), ("c2", "s1"), ("c2", "s2")]


def constructed(name: str, kind: str, keys: list[str], values: list[dict], totals: dict,
                statuses: dict | None = None, base: str = "baseline") -> tuple[Manifest, pd.DataFrame]:
    """A manifest with one experiment `name` (scored by GATYS) and its experiment table: one
    trial per (pair of `totals`, value of `values`), pair by pair. totals[pair][i] is the
    GATYS total of the pair's run of values[i] (style and content half each, eval_total ten
    times it); statuses[pair][i], default "ok"."""
    trials, rows = [], []
    for content, style in totals:
        for i, vals in enumerate(values):
            run_id = f"{len(trials):012x}"
            status = (statuses or {}).get((content, style), ["ok"] * len(values))[i]
            total = totals[(content, style)][i]
            trials.append(Trial(name, content, style, run_id, vals, label_of(vals)))
            rows.append({"experiment": name, "trial": len(rows), "content": content, "style": style,
                         "run_id": run_id, "label": label_of(vals),
                         **{k: aggregate._cell(v) for k, v in vals.items()},
                         "status": status, "final_total": 100.0 + total, "eval_total": 10.0 * total,
                         GATYS.column("style"): total / 2, GATYS.column("content"): total / 2,
                         GATYS.column("total"): total, "random_weights": False})
    experiment = Experiment(kind, tuple(keys), base, name.title(), "", None)
    return Manifest({name: experiment}, tuple(trials), None, {"content": {}, "style": {}}, (GATYS,)), pd.DataFrame(rows)


def halving_config(**experiment) -> dict:
    """A tuned experiment of four style weights on cat x wave, halving with eta 2 from 3 of 12 iterations."""
    tune = {"tune": {"style_weight": [1.0, 10.0, 100.0, 1000.0]}, "schedule": "halving", "eta": 2,
            "min_iterations": 3, "select": {"metric": "eval_total"}, **experiment}
    config = small_config(tuned=tune)
    config["params"]["iterations"] = 12
    config["pairs"] = [{"content": "cat", "style": "wave"}]
    return config
