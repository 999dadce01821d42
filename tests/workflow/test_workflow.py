"""The workflow through the real `snakemake` CLI, in a temporary copy (tiny images, random
weights, few iterations, CPU)."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from nst.execution.resources import SNAPSHOT_COPY_MB, run_memory_mb
from kit import BIN, PAIR, TINY_CONFIG, make_study, plan_of, planned_jobs, snakemake, write_image

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = make_study(tmp_path_factory.mktemp("study"))
    snakemake(root)
    return root


# --- a full run ----------------------------------------------------------------------------
def test_runs_table_has_one_row_per_unique_run(study):
    plan = plan_of(study)
    runs = pd.read_csv(study / "results/tables/runs.csv")
    assert len(runs) == len(plan.runs) < len(plan.trials)  # shared runs computed once
    assert set(zip(runs["content"], runs["style"], runs["run_id"])) == {
        (r.content, r.style, r.run_id) for r in plan.runs.values()}
    for column in ["content", "style", "run_id", "status", "iterations", "style_weight", "content_layers",
                   "final_total", "final_style", "final_content", "eval_total", "ssim_content",
                   "color_distance_style", "seconds", "device", "weights", "random_weights"]:
        assert column in runs.columns, column
    assert runs.random_weights.all()


def test_every_run_has_its_files_and_history_rows(study):
    for run in plan_of(study).runs.values():
        folder = study / "results/runs" / run.content / run.style / run.run_id
        record = json.loads((folder / "run.json").read_text())
        history = pd.read_csv(folder / "history.csv")
        assert record["run_id"] == run.run_id
        assert (folder / "image.png").is_file()
        if record["status"] == "ok":
            assert len(history) == run.params.iterations


def test_every_figure_and_table_exists(study):
    plan = plan_of(study)
    for name in plan.experiments:
        table = pd.read_csv(study / f"results/tables/{name}.csv")
        assert len(table) == len(plan.trials_of(name))
        for figure in ("grid", "chart"):
            with Image.open(study / f"results/figures/{name}/{figure}.png") as img:
                assert img.size[0] > 50 and img.size[1] > 50
    assert (study / "results/figures/results_array.png").is_file()
    table5 = pd.read_csv(study / "results/tables/table5.csv")
    assert len(table5) == 4  # one row per pair of the tuned experiment


def test_grid_size_follows_rows_and_columns(study):
    sizes = {}
    for name in ("style_weight", "layers", "matrix"):
        with Image.open(study / f"results/figures/{name}/grid.png") as img:
            sizes[name] = img.size
    # style_weight: 1 pair x 2 values; layers: 1 pair x 3 subsets; matrix: 2 contents x 2 styles
    col_w = sizes["layers"][0] - sizes["style_weight"][0]
    assert col_w > 0
    assert sizes["matrix"][1] > sizes["style_weight"][1]


def test_divergence_is_a_result_not_a_failure(study):
    runs = pd.read_csv(study / "results/tables/runs.csv")
    diverged = runs[runs.style_weight > 1e38]
    assert list(diverged.status) == ["diverged"]
    assert (runs[runs.style_weight < 1e38].status == "ok").all()


def test_tuned_experiment_selects_one_run_per_pair(study):
    table = pd.read_csv(study / "results/tables/revised.csv")
    assert table.groupby(["content", "style"]).selected.sum().eq(1).all()
    for (_, group) in table.groupby(["content", "style"]):  # the two-sided default: Pareto, then nearest the ideal
        chosen = group[group.selected].iloc[0]
        assert chosen.pareto_rank == 1 and chosen.selection_score == group.selection_score.min()


def test_nothing_left_to_do_after_a_full_run(study):
    assert planned_jobs(study, "stylize") == 0
    assert "Nothing to be done" in snakemake(study, "-n").stdout


def test_report_contains_every_figure_and_the_gallery(study):
    # a zip: the gallery is a folder with an index page, which a single-file report cannot hold
    snakemake(study, "--report", "report.zip")
    with zipfile.ZipFile(study / "report.zip") as archive:
        html = archive.read("report/report.html").decode(errors="ignore")
        names = archive.namelist()
    assert len(html) > 10_000
    for name in ("results_array.png", "table5.csv", "runs.csv", "grid.png", "chart.png", "gallery.html"):
        assert name in html, name
    # the gallery's page data once, and its own copy of every run's thumbnail (runs/<c>/<s>/<id>.webp)
    n_runs = len(pd.read_csv(study / "results/tables/runs.csv"))
    assert sum(n.endswith("/data.js") for n in names) == 1
    assert sum(n.endswith(".webp") for n in names) == n_runs


def test_lint_is_clean(study):
    proc = snakemake(study, "--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- incremental work ----------------------------------------------------------------------
@pytest.fixture
def finished_copy(study, tmp_path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(study, copy, symlinks=True)
    return copy


def study_files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file of a study but Snakemake's own (.snakemake/: its locks and metadata)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file() and ".snakemake" not in p.relative_to(root).parts}


@pytest.mark.parametrize("args", [("-n",), ("--lint",), ("-n", "--config", "pairs=[{content: cat, style: wave}]")])
def test_a_dry_run_or_lint_writes_nothing_into_the_study(tmp_path, finished_copy, args):
    """Planning writes no file: a new study stays as it was, and so does a finished one asked
    about another config (the files its jobs would read are written only by a call that runs jobs)."""
    new = make_study(tmp_path / "new")
    for root in (new, finished_copy):
        (root / "images/content/bird.png").parent.mkdir(exist_ok=True)
        write_image(root / "images/content/bird.png", 5)  # new work for the finished copy too
        before = study_files(root)
        proc = snakemake(root, *args, check=False)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert study_files(root) == before, args


def run_stamps(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.glob("results/runs/*/*/*/run.json")}


def test_adding_an_image_runs_only_the_new_combinations(finished_copy):
    root = finished_copy
    before = run_stamps(root)
    write_image(root / "images/style/dots.png", 99)
    new_plan = plan_of(root)
    new_runs = [r for r in new_plan.runs.values() if r.style == "dots"]
    assert len(new_runs) == 2 + 2 * 2  # matrix: 2 contents; revised: 2 contents x 2 weights
    assert planned_jobs(root, "stylize") == len(new_runs)
    snakemake(root)
    assert {k: v for k, v in run_stamps(root).items() if k in before} == before
    runs = pd.read_csv(root / "results/tables/runs.csv")
    assert (runs["style"] == "dots").sum() == len(new_runs)
    table5 = pd.read_csv(root / "results/tables/table5.csv")
    assert "dots" in set(table5["style"])


@pytest.mark.parametrize("key, value", [("style_weight", 1.0e+3), ("iterations", 6)])
def test_adding_a_value_runs_only_that_run(finished_copy, key, value):
    """Also for a longer iteration count, which becomes the longest run of a shared trajectory:
    the finished shorter runs (one written from the other's snapshot) stay as they are."""
    config = json.loads(json.dumps(TINY_CONFIG))
    config["experiments"][key]["vary"][key].append(value)
    (finished_copy / "study.yaml").write_text(yaml.safe_dump(config))
    assert planned_jobs(finished_copy, "stylize") == 1
    before = run_stamps(finished_copy)
    snakemake(finished_copy)
    assert {k: v for k, v in run_stamps(finished_copy).items() if k in before} == before
    assert planned_jobs(finished_copy, "stylize") == 0


def test_the_papers_crop_shift_runs_in_a_study_beside_the_mirrored_view(finished_copy):
    """shift_mode: crop (the paper's crop-and-resize) is a setting like any other: an experiment
    that varies it runs both modes, and the finished runs (shift_mode at its default, left out
    of their ids) stay as they are."""
    config = json.loads(json.dumps(TINY_CONFIG))
    config["experiments"]["shift"] = {"pairs": PAIR, "set": {"shift": 0.9, "shift_rotation": 2.0},
                                      "vary": {"shift_mode": ["mirror", "crop"]}}
    (finished_copy / "study.yaml").write_text(yaml.safe_dump(config))
    assert planned_jobs(finished_copy, "stylize") == 2
    before = run_stamps(finished_copy)
    snakemake(finished_copy)
    assert {k: v for k, v in run_stamps(finished_copy).items() if k in before} == before
    table = pd.read_csv(finished_copy / "results/tables/shift.csv")
    assert table["label"].tolist() == ["shift_mode=mirror", "shift_mode=crop"]
    # at 32 px with random weights any resampling view (the crop's zoom, a rotation) raises the
    # loss of the view many times over, and the crop run ends above the blow-up rule's 2 x the
    # start (nst/run/engine.py): a finished run, its image and scores written, flagged
    assert table["status"].tolist()[0] == "ok" and table["status"].tolist()[1] in ("ok", "diverged")
    assert table["run_id"].nunique() == 2
    runs = pd.read_csv(finished_copy / "results/tables/runs.csv").set_index("run_id")
    assert runs.loc[table["run_id"], "shift_mode"].tolist() == ["mirror", "crop"]
    crop = json.loads(next((finished_copy / "results/runs").glob(f"*/*/{table['run_id'][1]}/run.json")).read_text())
    assert crop["params"]["shift_mode"] == "crop"
    assert (finished_copy / "results/figures/shift/grid.png").exists()


def pids_running(fragment: str) -> list[int]:
    """Pids whose command line contains `fragment` (read from /proc)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and fragment in (proc / "cmdline").read_bytes().decode(errors="ignore"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_a_killed_job_is_recomputed_and_leaves_nothing_finished(finished_copy):
    root = finished_copy
    config = json.loads(json.dumps(TINY_CONFIG))
    config["experiments"]["slow"] = {"pairs": PAIR, "vary": {"iterations": [1500]}}
    (root / "study.yaml").write_text(yaml.safe_dump(config))
    slow = [r for r in plan_of(root, config).runs.values() if r.params.iterations == 1500][0]
    folder = root / "results/runs" / slow.content / slow.style / slow.run_id
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen([str(BIN / "snakemake"), "--cores", "1", "--configfile", "study.yaml"],
                            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history = root / "logs/runs" / slow.content / slow.style / f"{slow.run_id}.log"
    deadline = time.monotonic() + 120
    job = []
    while not job and time.monotonic() < deadline:
        time.sleep(0.5)
        job = [p for p in pids_running(f"--expect-run-id{chr(0)}{slow.run_id}") if p != proc.pid]
    assert job and history.exists(), "the slow job never started"
    time.sleep(2)
    for pid in job:  # the run dies as if killed by the OOM killer or a preempting scheduler
        os.kill(pid, signal.SIGKILL)
    assert proc.wait(timeout=120) != 0
    assert not (folder / "run.json").exists() and not (folder / "image.png").exists()
    assert planned_jobs(root, "stylize") == 1  # the next invocation recomputes it
    snakemake(root)
    assert json.loads((folder / "run.json").read_text())["iterations_done"] == 1500


# --- bad input: one clear message before any job, finished work kept -----------------------
BAD_INPUTS = {
    "missing folder": ({"images": {"content": "images/nothing", "style": "images/style"}}, None, "images/nothing"),
    "unreadable image": (None, {"images/style/broken.png": b"not a png"}, "broken.png"),
    "same stem": (None, {"images/content/cat.jpg": "copy:images/content/cat.png"}, "share the name 'cat'"),
    "space in name": (None, {"images/content/my cat.png": "copy:images/content/cat.png"}, "my_cat.png"),
    "unknown experiment key": ({"experiments": {"x": {"vary": {"style_weight": [1]}, "colour": 1}}}, None, "colour"),
    "unknown preset": ({"experiments": {"x": {"base": "gatsby"}}}, None, "gatsby"),
    "unknown layer": ({"experiments": {"x": {"vary": {"style_layers": [["conv_42"]]}}}}, None, "conv_42"),
    "wrong type": ({"params": {"size": "big"}}, None, "size"),
    "out of range": ({"params": {"size": 3}}, None, "size"),
    "missing pair image": ({"experiments": {"x": {"pairs": [{"content": "cow", "style": "wave"}]}}}, None, "cow"),
    "schema type in an experiment": ({"experiments": {"x": {"skip_missing_weights": "yes"}}}, None,
                                     "experiments.x.skip_missing_weights"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_one_clear_message(study, tmp_path, case):
    change, files, needle = BAD_INPUTS[case]
    root = tmp_path / "bad"
    shutil.copytree(study, root, symlinks=True)
    before = run_stamps(root)
    config = json.loads(json.dumps(TINY_CONFIG))
    for key, value in (change or {}).items():
        config[key] = value if key != "params" else {**config["params"], **value}
    config.pop("results_array") if "experiments" in (change or {}) else None
    (root / "study.yaml").write_text(yaml.safe_dump(config))
    for rel, content in (files or {}).items():
        data = (root / content[5:]).read_bytes() if isinstance(content, str) else content
        (root / rel).write_bytes(data)
    proc = snakemake(root, "-n", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert needle in output, output[-2000:]
    assert "Traceback" not in output and "Failed validating" not in output  # one line, no schema dump
    assert run_stamps(root) == before


def test_a_deleted_run_is_recomputed(finished_copy):
    run = next(r for r in plan_of(finished_copy).runs.values() if r.source is None)
    shutil.rmtree(finished_copy / "results/runs" / run.key)
    assert planned_jobs(finished_copy, "stylize") == 1


def test_batching_runner_computes_the_same_runs(tmp_path):
    """execution.batch_size > 1: one `nst runner` computes every job's run; LBFGS runs (one
    after another in the runner) are bit-for-bit the separate runs, stacked Adam runs equal them
    within float tolerance; the runner is gone afterwards."""
    config = {
        "params": {"size": 32, "iterations": 4, "weights": "random"},
        "execution": {"device": "cpu", "threads": 1},
        "experiments": {
            "adam": {"base": "revised", "vary": {"style_weight": [1.0e+5, 1.0e+6]}},
            "lbfgs": {"pairs": PAIR, "vary": {"init": ["content", "zeros"]}},
        },
    }
    alone = make_study(tmp_path / "alone", config)
    snakemake(alone, "--cores", "2")
    batched_config = {**config, "execution": {**config["execution"], "batch_size": 4}}
    batched = make_study(tmp_path / "batched", batched_config)
    snakemake(batched, "--cores", "4")

    logs = list((batched / "logs/runs").rglob("*.log"))
    assert logs and all("batched in the nst runner" in log.read_text() for log in logs)
    assert "runs in" in (batched / ".snakemake/nst-runner/runner.log").read_text()
    assert not (batched / ".snakemake/nst-runner/runner.json").exists()  # stopped
    a = pd.read_csv(alone / "results/tables/runs.csv").set_index(["content", "style", "run_id"]).sort_index()
    b = pd.read_csv(batched / "results/tables/runs.csv").set_index(["content", "style", "run_id"]).sort_index()
    assert list(a.index) == list(b.index)
    lbfgs = a.optimizer == "lbfgs"
    assert (a.loc[lbfgs, "final_total"] == b.loc[lbfgs, "final_total"]).all()
    # Stacked convolutions sum in another order (last float bits); Adam's first steps are nearly
    # lr x sign(gradient), so a pixel whose gradient is near zero may move a full step either
    # way: after 4 shifted iterations that is up to ~2e-4 of the loss (measured), not 1e-4.
    assert np.allclose(a.loc[~lbfgs, "final_total"], b.loc[~lbfgs, "final_total"], rtol=1e-3)
    for run in plan_of(alone, config).runs.values():
        if run.params.optimizer == "lbfgs":
            image = f"results/runs/{run.key}/image.png"
            assert (alone / image).read_bytes() == (batched / image).read_bytes()


def test_the_fork_server_serves_the_jobs_and_changes_no_result(tmp_path):
    """execution.forkserver (the default): the jobs' `nst` commands run in children of one
    process that imported torch once; every image and table equals a study without it but for
    the timing columns, and the server is gone afterwards."""
    config = {**TINY_CONFIG, "pairs": PAIR, "results_array": None,
              "experiments": {"weight": {"vary": {"style_weight": [1.0e+5, 1.0e+6]}}}}
    served = make_study(tmp_path / "served", config)
    snakemake(served)
    jobs = int(re.search(r"stopped after (\d+) jobs", (served / "logs/forkserver.log").read_text()).group(1))
    assert jobs >= 2 * len(list((served / "results/runs").rglob("run.json")))  # runs, scores, tables, figures
    alone = make_study(tmp_path / "alone", {**config, "execution": {**config.get("execution", {}), "forkserver": False}})
    snakemake(alone)
    assert not (alone / "logs/forkserver.log").exists()
    images = sorted(p.relative_to(served) for p in (served / "results").rglob("*.png") if "runs" in p.parts)
    assert images and images == sorted(p.relative_to(alone) for p in (alone / "results").rglob("*.png")
                                       if "runs" in p.parts)
    for image in images:
        assert (served / image).read_bytes() == (alone / image).read_bytes(), image
    for table in ("runs.csv", "weight.csv"):
        a, b = (pd.read_csv(root / "results/tables" / table) for root in (served, alone))
        timing = [c for c in a.columns if "seconds" in c]
        pd.testing.assert_frame_equal(a.drop(columns=timing), b.drop(columns=timing))


def test_each_run_job_declares_the_memory_of_its_run(tmp_path):
    """mem_mb (what `--resources mem_mb=N` and SLURM's --mem see) is the run's own estimate;
    runs written from a longer run's snapshot ask for little."""
    config = json.loads(json.dumps(TINY_CONFIG))
    config["experiments"]["large"] = {"pairs": PAIR, "set": {"size": 512, "optimizer": "adam"}}
    root = make_study(tmp_path / "study", config)
    out = snakemake(root, "-n").stdout
    declared = {(c, s, run): int(mb) for c, s, run, mb in re.findall(
        r"wildcards: content=(\S+), style=(\S+), run_id=(\w+)\n\s+resources: [^\n]*\bmem_mb=(\d+)", out)}
    runs = plan_of(root, config).runs.values()
    expected = {(r.content, r.style, r.run_id): SNAPSHOT_COPY_MB if r.source else run_memory_mb(r.params) for r in runs}
    assert declared == expected
    assert len(set(expected.values())) >= 3  # 32 px, 512 px Adam, snapshot copies


def test_changing_execution_settings_reruns_nothing(finished_copy):
    config = json.loads(json.dumps(TINY_CONFIG))
    config["execution"] = {"device": "auto", "threads": 2, "channels_last": True}
    (finished_copy / "study.yaml").write_text(yaml.safe_dump(config))
    assert planned_jobs(finished_copy, "stylize") == 0


def test_missing_imagenet_weights_stop_the_workflow_before_any_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("NST_OFFLINE", "1")
    config = json.loads(json.dumps(TINY_CONFIG))
    config["params"]["weights"] = "imagenet"
    root = make_study(tmp_path / "study", config)
    proc = snakemake(root, check=False)
    assert proc.returncode != 0
    assert "logs/weights.log" in proc.stdout + proc.stderr
    message = (root / "logs/weights.log").read_text()
    assert "vgg19-dcbb9e9d.pth" in message and "nst weights fetch" in message
    assert not list(root.glob("results/runs/*/*/*/run.json"))


# --- a second call never changes what a running call reads ---------------------------------
SLOW_CONFIG = {
    **TINY_CONFIG,
    "params": {"size": 64, "iterations": 400, "weights": "random"},
    "experiments": {
        "matrix": {"base": "baseline"},
        "iterations": {"pairs": PAIR, "vary": {"iterations": [100, 400, 401]}},
    },
    "results_array": None,
}


def start_snakemake(root: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [str(BIN / "snakemake"), "--cores", "2", "--configfile", "study.yaml", *args]
    return subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_first_job(root: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not list(root.glob("logs/runs/*/*/*.log")):
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "no stylize job started"
        time.sleep(0.2)


def test_a_second_call_never_changes_what_a_running_call_reads(tmp_path):
    """Issue reproductions: while a study runs, a dry run with a one-pair config made its
    runs.csv 2 rows instead of all; adding an image then `snakemake -n` made it fail. Here,
    during one running study: a dry run with another config, a call with another config
    (refused by the lock), and a dry run after adding an image."""
    config = {k: v for k, v in SLOW_CONFIG.items() if v is not None}
    root = make_study(tmp_path / "study", config)
    expected = plan_of(root, config).runs
    (root / "one_pair.yaml").write_text(yaml.safe_dump({**config, "pairs": PAIR}))
    running = start_snakemake(root)
    try:
        wait_for_first_job(root, running)
        snakemake(root, "-n", "--configfile", "one_pair.yaml")
        refused = snakemake(root, "--configfile", "one_pair.yaml", check=False)
        assert refused.returncode != 0 and "lock" in (refused.stdout + refused.stderr).lower()
        write_image(root / "images/content/bird.png", 99)
        snakemake(root, "-n")
        assert running.poll() is None, "the first call ended before the others: the test proves nothing"
        output, _ = running.communicate(timeout=600)
    finally:
        if running.poll() is None:
            running.kill()
    assert running.returncode == 0, output[-3000:]
    runs = pd.read_csv(root / "results/tables/runs.csv")
    assert len(runs) == len(expected) == 6  # 4 pairs + iterations 100 and 401 (400 is the matrix run)
    assert set(runs.run_id) == {r.run_id for r in expected.values()}
    assert len(pd.read_csv(root / "results/tables/matrix.csv")) == 4
    manifest = json.loads((root / "results/plan/manifest.json").read_text())
    assert {t["content"] for t in manifest["trials"]} == {"cat", "dog"}


def write_vgg_state(path: Path, seed: int) -> None:
    """A torchvision-keyed VGG-19 feature state dict of seeded random weights."""
    import torch

    from nst.run.vgg import init_random, vgg19_feature_layers

    body = torch.nn.Sequential(*vgg19_feature_layers("avg"))
    init_random(body, seed)
    torch.save({f"features.{k}": v for k, v in body.state_dict().items()}, path)


def test_a_weights_file_replaced_in_place_reruns_its_runs(tmp_path):
    """The run id covers the file's content and the file is an input: new weights under the
    old name are new runs, never "Nothing to be done" with the old losses."""
    config = {**TINY_CONFIG, "pairs": PAIR, "params": {**TINY_CONFIG["params"], "weights": "my.pth"},
              "experiments": {"matrix": {"base": "baseline"}}, "results_array": None}
    config = {k: v for k, v in config.items() if v is not None}
    root = make_study(tmp_path / "study", config)
    write_vgg_state(root / "my.pth", seed=1)
    snakemake(root)
    first = pd.read_csv(root / "results/tables/runs.csv")
    write_vgg_state(root / "my.pth", seed=2)
    assert planned_jobs(root, "stylize") == 1
    snakemake(root)
    second = pd.read_csv(root / "results/tables/runs.csv")
    assert len(first) == len(second) == 1
    assert first.run_id[0] != second.run_id[0] and first.final_total[0] != second.final_total[0]


# --- after kill -9: Snakemake's lock, and what the README says to do (issue 19, item 18) -------
def guarantees() -> str:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    return readme.split("## What is guaranteed", 1)[1].split("\n## ", 1)[0]


def test_after_kill_9_the_rerun_is_refused_until_unlock_as_the_readme_says(tmp_path):
    config = {"images": {"content": "images/content", "style": "images/style"},
              "params": {"size": 32, "weights": "random"}, "execution": {"device": "cpu", "threads": 1},
              "claims": None, "evaluation": {"name": "gatys", "weights": "random"},
              "experiments": {"slow": {"pairs": PAIR, "set": {"iterations": 100000}}}}
    root = make_study(tmp_path / "study", config)
    slow = next(iter(plan_of(root, config).runs.values()))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen([str(BIN / "snakemake"), "--cores", "1", "--configfile", "study.yaml"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    log = root / "logs/runs" / slow.content / slow.style / f"{slow.run_id}.log"
    deadline = time.monotonic() + 180
    while not log.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert log.exists(), "the slow run never started"
    os.killpg(proc.pid, signal.SIGKILL)  # snakemake and its job, as a power loss or `kill -9 -PGID`
    proc.wait(timeout=60)
    target = ("--keep-going", "results/plan/manifest.json")  # locks like any real run, and is quick
    # the killed call may have copied its plan before its first run: then the call below would
    # have nothing to do, and Snakemake looks at the lock only when there is work
    (root / target[1]).unlink(missing_ok=True)
    refused = snakemake(root, *target, check=False)
    assert refused.returncode != 0 and "--unlock" in refused.stdout + refused.stderr
    snakemake(root, "--unlock")
    snakemake(root, *target)
    assert planned_jobs(root, "stylize") == 1  # the killed run is planned again
    said = guarantees()
    assert "kill -9" in said and "snakemake --unlock" in said and "--configfile" in said
