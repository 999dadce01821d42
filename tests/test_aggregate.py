"""nst.study.aggregate: runs table, experiment tables, tune selection, Table 5, CSV files.

The study is fabricated on disk (run folders as nst.run.outputs writes them, a planner-style
manifest); `build_study` is reused by tests/test_figures.py.
"""
from __future__ import annotations

import copy
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from nst.study import aggregate
from nst.run.presets import preset

PARAM_LISTS = ("content_layers", "style_layers")
DOCUMENTED_RUN_COLUMNS = [
    "content", "style", "run_id", "status", "diverged_at", "final_content", "final_style",
    "final_total", "eval_content", "eval_style", "eval_total", "ssim_content",
    "color_distance_style", "seconds", "device", "weights", "random_weights",
]


# --- fabricating a study --------------------------------------------------------------------
def color_of(n: int) -> tuple[int, int, int]:
    return ((n * 67) % 200 + 30, (n * 131) % 200 + 30, (n * 29) % 200 + 30)


def fabricate_run(runs_dir: Path, content: str, style: str, params, *, n: int,
                  status: str = "ok", eval_total: float | None = None, size: int = 32) -> dict:
    """Write image.png, history.csv and run.json as nst.run.outputs.write_run does."""
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


class Study:
    """A manifest of every experiment kind plus its fabricated runs."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.records: dict[tuple[str, str, str], dict] = {}
        self.experiments: dict[str, dict] = {}
        self.trials: list[dict] = []
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

    def trial(self, exp, content, style, values, label=None, status="ok", eval_total=None,
              base=None):
        base = base or self.experiments[exp]["base"]
        params = preset(base, size=32, weights="random", **values)
        key = (content, style, params.run_id)
        if key not in self.records:
            self.records[key] = fabricate_run(self.runs_dir, content, style, params,
                                              n=next(self._n), status=status,
                                              eval_total=eval_total)
        label = label or ", ".join(f"{k}={aggregate._cell(v)}" for k, v in values.items())
        self.trials.append({"experiment": exp, "content": content, "style": style,
                            "run_id": params.run_id, "values": values, "label": label or "-"})
        return params.run_id

    def manifest(self) -> dict:
        return {"experiments": self.experiments, "trials": self.trials,
                "results_array": {"baseline": "iterations", "revised": "revised"},
                "images": self.images}


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


def build_study(root: Path) -> Study:
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


def write_manifest(study: Study, manifest: dict | None = None) -> Path:
    path = study.root / f"manifest{len(list(study.root.glob('manifest*.json')))}.json"
    path.write_text(json.dumps(manifest if manifest is not None else study.manifest()))
    return path


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return build_study(tmp_path_factory.mktemp("study"))


@pytest.fixture(scope="module")
def manifest(study):
    return aggregate.load_manifest(write_manifest(study))


@pytest.fixture(scope="module")
def runs(manifest, study):
    return aggregate.runs_table(manifest, study.runs_dir)


def baseline_id(**values):
    return preset("baseline", size=32, weights="random", **values).run_id


# --- manifest -------------------------------------------------------------------------------
def test_load_manifest_fills_defaults(study):
    m = copy.deepcopy(study.manifest())
    del m["experiments"]["matrix"]["paper"]
    del m["results_array"]
    loaded = aggregate.load_manifest(write_manifest(study, m))
    assert loaded["experiments"]["matrix"]["paper"] == ""
    assert loaded["results_array"] is None
    assert len(loaded["trials"]) == len(study.trials)


@pytest.mark.parametrize("breakage, message", [
    (lambda m: m["trials"][0].update(experiment="nope"), "unknown experiment 'nope'"),
    (lambda m: m["experiments"]["matrix"].update(kind="sweep"), "kind 'sweep'"),
    (lambda m: m["experiments"]["revised"]["select"].update(mode="median"), "min | max"),
    (lambda m: m["results_array"].update(revised="gone"), "results_array.revised"),
])
def test_load_manifest_rejects_bad_manifests(study, breakage, message):
    m = copy.deepcopy(study.manifest())
    breakage(m)
    with pytest.raises(aggregate.AggregateError, match=message):
        aggregate.load_manifest(write_manifest(study, m))


# --- runs table -----------------------------------------------------------------------------
def test_runs_table_has_one_row_per_distinct_run(study, manifest, runs):
    distinct = {(t["content"], t["style"], t["run_id"]) for t in study.trials}
    assert len(distinct) < len(study.trials)  # the study does share runs
    assert len(runs) == len(distinct)
    assert set(zip(runs["content"], runs["style"], runs["run_id"])) == distinct
    for column in DOCUMENTED_RUN_COLUMNS + ["iterations", "content_weight", "style_layers",
                                            "optimizer", "init", "param_device", "param_weights"]:
        assert column in runs.columns, column
    assert list(runs.columns[:3]) == ["content", "style", "run_id"]


def test_runs_table_values_come_from_run_json(study, runs):
    assert runs["random_weights"].dtype == bool and runs["random_weights"].all()
    for _, row in runs.iterrows():
        record = study.records[(row["content"], row["style"], row["run_id"])]
        assert row["final_total"] == record["final"]["total"]
        assert row["eval_total"] == record["evaluation"]["eval_total"]
        assert row["status"] == record["status"]
        assert row["seconds"] == record["timing"]["seconds"]
        assert row["style_layers"] == ",".join(record["params"]["style_layers"])
        assert row["weights"] == "random"
        assert row["device"] == "cpu" and row["param_device"] == "auto"


def test_runs_table_missing_run_json_names_the_path(study, tmp_path):
    other = build_study(tmp_path)
    content, style, run_id = next(iter(other.records))
    missing = other.runs_dir / content / style / run_id / "run.json"
    missing.unlink()
    manifest = aggregate.load_manifest(write_manifest(other))
    with pytest.raises(aggregate.MissingRunError) as err:
        aggregate.runs_table(manifest, other.runs_dir)
    assert str(missing) in str(err.value)


# --- experiment tables ----------------------------------------------------------------------
def test_shared_run_appears_once_in_runs_but_in_several_experiments(manifest, runs):
    shared = baseline_id()  # iterations=300 == style_weight=1e6 == lbfgs == matrix c1 x s1
    def count(table):
        return ((table["run_id"] == shared) & (table["content"] == "c1")
                & (table["style"] == "s1")).sum()

    assert count(runs) == 1
    for name in ("iterations", "style_weight", "optimizer", "matrix"):
        assert count(aggregate.experiment_table(manifest, runs, name)) == 1, name


def test_experiment_table_rows_follow_plan_order_with_key_columns(study, manifest, runs):
    table = aggregate.experiment_table(manifest, runs, "iterations")
    trials = [t for t in study.trials if t["experiment"] == "iterations"]
    assert list(table["run_id"]) == [t["run_id"] for t in trials]
    assert list(table["label"]) == [t["label"] for t in trials]
    assert list(table.columns[:7]) == ["experiment", "trial", "content", "style", "run_id",
                                       "label", "iterations"]
    assert list(table["iterations"]) == [t["values"]["iterations"] for t in trials]
    assert "selected" not in table.columns
    # every runs column is there, once
    assert set(runs.columns) <= set(table.columns)
    assert len(set(table.columns)) == len(table.columns)


def test_subsets_table_joins_layer_lists(manifest, runs):
    table = aggregate.experiment_table(manifest, runs, "layers")
    assert len(table) == 15
    assert table["style_layers"].iloc[0] == "relu_1"
    assert table["style_layers"].iloc[-1] == "relu_1,relu_2,relu_3,relu_4"


def _selected(table):
    return {(r.content, r.style): dict(content_weight=r.content_weight, init=r.init)
            for r in table.itertuples() if r.selected}


def test_tune_selects_min_among_ok_runs_and_override_wins(manifest, runs):
    table = aggregate.experiment_table(manifest, runs, "revised")
    assert table["selected"].dtype == bool
    chosen = _selected(table)
    # (c1, s1): the diverged run has the smallest eval_total (0.5) but is not eligible
    assert chosen[("c1", "s1")] == {"content_weight": 1.0, "init": "zeros"}
    # (c2, s2): the override beats the minimum (eval 5 at content_weight=1, init=content)
    assert chosen[("c2", "s2")] == {"content_weight": 5.0, "init": "zeros"}
    # (c2, s1): all diverged, nothing selected, and said so
    assert ("c2", "s1") not in chosen
    notes = table[(table["content"] == "c2") & (table["style"] == "s1")]["note"]
    assert all("all runs diverged" in n for n in notes)
    assert table.groupby(["content", "style"])["selected"].sum().to_dict() == {
        ("c1", "s1"): 1, ("c2", "s1"): 0, ("c2", "s2"): 1}


def test_tune_mode_max_and_other_metric(manifest, runs):
    m = copy.deepcopy(manifest)
    m["experiments"]["revised"]["select"] = {"metric": "eval_total", "mode": "max",
                                             "override": {}}
    chosen = _selected(aggregate.experiment_table(m, runs, "revised"))
    assert chosen[("c1", "s1")] == {"content_weight": 1.0, "init": "content"}  # 40
    assert chosen[("c2", "s2")] == {"content_weight": 5.0, "init": "zeros"}   # 80
    m["experiments"]["revised"]["select"]["metric"] = "no_such_metric"
    with pytest.raises(aggregate.AggregateError, match="no_such_metric"):
        aggregate.experiment_table(m, runs, "revised")


@pytest.mark.parametrize("override, message", [
    ({"c2__s2": {"content_weight": 7, "init": "zeros"}}, "'c2__s2'.*matches none"),
    ({"c2__s2": {"content_weight": 5}}, "'c2__s2'.*matches 2 trials"),
    ({"c9__s2": {"content_weight": 5, "init": "zeros"}}, "'c9__s2'"),
])
def test_bad_override_is_a_clear_error(manifest, runs, override, message):
    m = copy.deepcopy(manifest)
    m["experiments"]["revised"]["select"]["override"] = override
    with pytest.raises(aggregate.AggregateError, match=message):
        aggregate.experiment_table(m, runs, "revised")


def test_override_values_are_normalised(manifest, runs):
    m = copy.deepcopy(manifest)
    m["experiments"]["revised"]["select"]["override"] = {
        "c1__s1": {"content_weight": "5.0", "init": "Content"}}
    assert _selected(aggregate.experiment_table(m, runs, "revised"))[("c1", "s1")] == {
        "content_weight": 5.0, "init": "content"}


# --- Table 5 --------------------------------------------------------------------------------
def test_table5_numbers_are_the_runs_own(study, manifest, runs):
    t5 = aggregate.table5(manifest, runs)
    assert list(t5.columns) == aggregate.TABLE5_COLUMNS
    assert list(zip(t5["content"], t5["style"])) == TUNE_PAIRS
    assert list(t5["row"]) == [1, 2, 3]
    for row in t5.itertuples():
        # the baseline is the iterations trial at the preset's 300 iterations, not the first
        base = study.records[(row.content, row.style, baseline_id(iterations=300))]
        assert row.baseline_run_id == base["run_id"]
        assert row.baseline_L_S == base["final"]["style"]
        assert row.baseline_L_C == base["final"]["content"]
        assert row.baseline_eval_total == base["evaluation"]["eval_total"]
        assert row.baseline_ssim == base["evaluation"]["ssim_content"]
        assert row.random_weights
    first = t5.iloc[0]
    revised = study.records[("c1", "s1", preset("revised", size=32, weights="random",
                                                content_weight=1, init="zeros").run_id)]
    assert first["revised_run_id"] == revised["run_id"]
    assert first["revised_L_S"] == revised["final"]["style"]
    assert first["revised_L_C"] == revised["final"]["content"]
    assert first["revised_eval_style"] == revised["evaluation"]["eval_style"]
    last = t5.iloc[2]
    assert pd.isna(last["revised_L_S"]) and pd.isna(last["revised_run_id"])
    assert "diverged" in last["note"]


def test_table5_needs_a_results_array(manifest, runs):
    m = copy.deepcopy(manifest)
    m["results_array"] = None
    with pytest.raises(aggregate.AggregateError, match="results_array"):
        aggregate.table5(m, runs)


# --- files ----------------------------------------------------------------------------------
def test_write_csv_is_atomic_and_read_csv_keeps_text(tmp_path):
    df = pd.DataFrame({"content": ["007"], "style": ["1e5"], "run_id": ["000123456789"],
                       "label": ["1"], "final_total": [1.5], "note": [""], "diverged_at": [None],
                       "random_weights": [True]})
    path = aggregate.write_csv(df, tmp_path / "sub" / "t.csv")
    assert [p.name for p in path.parent.iterdir()] == ["t.csv"]
    back = aggregate.read_csv(path)
    assert back.loc[0, "content"] == "007" and back.loc[0, "style"] == "1e5"
    assert back.loc[0, "run_id"] == "000123456789" and back.loc[0, "label"] == "1"
    assert back.loc[0, "final_total"] == 1.5 and pd.isna(back.loc[0, "diverged_at"])
    assert bool(back.loc[0, "random_weights"]) is True


def test_tables_survive_a_csv_round_trip(manifest, runs, tmp_path):
    back = aggregate.read_csv(aggregate.write_csv(runs, tmp_path / "runs.csv"))
    assert len(back) == len(runs)
    direct = aggregate.experiment_table(manifest, runs, "revised")
    again = aggregate.experiment_table(manifest, back, "revised")
    assert list(again["selected"]) == list(direct["selected"])
    t5 = aggregate.table5(manifest, back)
    assert list(t5["baseline_L_S"]) == list(aggregate.table5(manifest, runs)["baseline_L_S"])


def test_modules_import_without_torch_or_snakemake():
    code = ("import sys, nst.study.aggregate, nst.figures; "
            "bad = [m for m in ('torch', 'snakemake') if m in sys.modules]; "
            "sys.exit(str(bad) if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr + result.stdout


# --- evaluators' scores and the two-sided selection ----------------------------------------
from nst.run.evaluate import make_evaluator  # noqa: E402

GATYS = make_evaluator({"name": "gatys", "weights": "random"})


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


def scored_study(root: Path) -> tuple[Study, dict]:
    """The fabricated study, every run scored by GATYS; its manifest names the evaluator."""
    s = build_study(root)
    for k, (content, style, run_id) in enumerate(sorted(s.records)):
        write_scores(s.runs_dir, content, style, run_id, GATYS, 0.1 * (k + 1), 1.0 / (k + 1))
    manifest = s.manifest()
    manifest["evaluation"] = [GATYS.to_dict()]
    return s, manifest


def test_runs_table_has_each_evaluators_scores_per_layer(tmp_path):
    s, manifest = scored_study(tmp_path)
    manifest = aggregate.load_manifest(write_manifest(s, manifest))
    runs = aggregate.runs_table(manifest, s.runs_dir)
    assert set(GATYS.columns()) <= set(runs.columns)
    for row in runs.itertuples():
        data = json.loads(aggregate.score_path(s.runs_dir, row.content, row.style, row.run_id, GATYS).read_text())
        assert row.score_gatys_style == data["scores"]["style"]
        assert row.score_gatys_content_relu_10 == data["scores"]["content_layers"]["relu_10"]
        assert row.score_gatys_style_relu_13 == data["scores"]["style_layers"]["relu_13"]
        assert row.score_gatys_evaluator.startswith(f"gatys [{GATYS.hash}]: random VGG-19")
    t5 = aggregate.table5(manifest, runs)
    assert {"baseline_score_gatys_style", "revised_score_gatys_content", "score_gatys_evaluator"} <= set(t5.columns)
    # a run without its score file is named, with the evaluator
    content, style, run_id = next(iter(s.records))
    aggregate.score_path(s.runs_dir, content, style, run_id, GATYS).unlink()
    with pytest.raises(aggregate.MissingRunError, match=f"{run_id}.*gatys \\[{GATYS.hash}\\]"):
        aggregate.runs_table(manifest, s.runs_dir)


def hand_made(points: dict[str, tuple[float, float, float]], select: dict) -> pd.DataFrame:
    """A tuned experiment of one pair whose candidates have the given (style score, content
    score, eval_total), made in memory: runs table and manifest by hand."""
    trials, rows = [], []
    for k, (label, (style_score, content_score, eval_total)) in enumerate(points.items()):
        run_id = f"{k:012d}"
        trials.append({"experiment": "t", "content": "c", "style": "s", "run_id": run_id,
                       "values": {"content_weight": k + 1}, "label": label})
        rows.append({"content": "c", "style": "s", "run_id": run_id, "content_weight": float(k + 1),
                     "status": "ok", "eval_total": eval_total,
                     GATYS.column("style"): style_score, GATYS.column("content"): content_score})
    manifest = aggregate.check_manifest({
        "experiments": {"t": {"kind": "tune", "keys": ["content_weight"], "select": select}},
        "trials": trials, "evaluation": [GATYS.to_dict()]})
    return aggregate.experiment_table(manifest, pd.DataFrame(rows), "t")


# style distance, content distance, eval_total (the paper's definition: it favours the content)
CANDIDATES = {
    "content copy": (0.90, 0.00, 1.0),   # nothing transferred: best eval_total, best content
    "balanced": (0.30, 0.25, 5.0),       # near both bests
    "all style": (0.25, 0.95, 9.0),      # best style, content lost
    "dominated": (0.60, 0.50, 7.0),      # worse than "balanced" in both
}


def chosen(table: pd.DataFrame) -> str:
    return table.loc[table["selected"], "label"].item()


def test_default_selection_is_two_sided_where_one_sided_differs():
    default = hand_made(CANDIDATES, {})  # metric defaults to pareto
    assert chosen(default) == "balanced"
    assert "Pareto front" in default.loc[default["selected"], "note"].item()
    assert chosen(hand_made(CANDIDATES, {"metric": "eval_total"})) == "content copy"
    assert chosen(hand_made(CANDIDATES, {"metric": "score_style"})) == "all style"
    assert chosen(hand_made(CANDIDATES, {"metric": "score_content"})) == "content copy"
    ranks = dict(zip(default["label"], default["pareto_rank"]))
    assert ranks == {"content copy": 1, "balanced": 1, "all style": 1, "dominated": 2}
    # tradeoff: a stated share of style vs content on the same relative scale
    assert chosen(hand_made(CANDIDATES, {"metric": "tradeoff", "style_share": 1.0})) == "all style"
    assert chosen(hand_made(CANDIDATES, {"metric": "tradeoff", "style_share": 0.0})) == "content copy"


def test_pareto_choice_ignores_dominated_candidates_and_score_scales():
    base = {k: v for k, v in CANDIDATES.items() if k != "content copy"}
    first = chosen(hand_made(base, {}))
    worse = {**base, "terrible": (5.0, 9.0, 1.0)}  # dominated by all: the choice stays
    assert chosen(hand_made(worse, {})) == first
    scaled = {k: (1e4 * s, c, e) for k, (s, c, e) in base.items()}  # another scale of style score
    assert chosen(hand_made(scaled, {})) == first


def test_pareto_ranks_and_relative_excess():
    assert aggregate.pareto_ranks({0: (1, 1), 1: (2, 2), 2: (0, 3), 3: (3, 3)}) == {0: 1, 2: 1, 1: 2, 3: 3}
    assert aggregate.relative_excess({0: 2.0, 1: 3.0}) == {0: 0.0, 1: 0.5}
    assert aggregate.relative_excess({0: 0.0, 1: 4.0, 2: 2.0}) == {0: 0.0, 1: 1.0, 2: 0.5}


def test_two_sided_selection_needs_an_evaluator(manifest):
    m = copy.deepcopy(manifest)
    m["experiments"]["revised"]["select"] = {"metric": "pareto"}
    with pytest.raises(aggregate.AggregateError, match="needs the scores of an evaluator"):
        aggregate.check_manifest(m)
