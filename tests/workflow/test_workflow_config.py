"""The workflow's config as Snakemake hands it over, checked before any job (issue 19): names
that become parts of paths and shell arguments, overrides given with --config, duplicate keys.
Dry runs of the real snakemake CLI in a fresh copy of the workflow (nothing is computed)."""
from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import pytest

from kit import PAIR, make_study, snakemake

BASE = {
    "images": {"content": "images/content", "style": "images/style"},
    "pairs": "all",
    "params": {"size": 32, "iterations": 2, "weights": "random"},
    "execution": {"device": "cpu", "threads": 1},
    "claims": None,
    "evaluation": {"name": "gatys", "weights": "random"},
    "experiments": {"sw": {"pairs": PAIR, "vary": {"style_weight": [1.0e+5, 1.0e+6]}}},
}


def config(**changes) -> dict:
    out = copy.deepcopy(BASE)
    out.update(changes)
    return out


def dry_run(root: Path, *args: str):
    proc = snakemake(root, "-n", *args, check=False)
    return proc, proc.stdout + proc.stderr


def assert_refused(proc, output: str, needle: str, root: Path) -> None:
    """One message naming the key, before anything is planned to a file or computed."""
    assert proc.returncode != 0, output[-2000:]
    assert needle in output, output[-2000:]
    assert "Traceback" not in output and "Failed validating" not in output, output[-2000:]
    assert not (root / "results").exists()


# --- names that become path parts and shell arguments (items 7 and 8) --------------------------
@pytest.mark.parametrize("changes, needle", [
    ({"experiments": {"../../../escaped": {"pairs": PAIR}}}, "config key 'experiments.../../../escaped'"),
    ({"experiments": {"my exp": {"pairs": PAIR}}}, "config key 'experiments.my exp'"),  # broke a job's command
    ({"blends": {"../../../../x": {"wave": 1, "mosaic": 1}}}, "config key 'blends.../../../../x'"),
], ids=["experiment leaving results", "experiment with a space", "blend leaving results"])
def test_a_name_that_would_leave_results_or_split_a_command_stops_planning(tmp_path, changes, needle):
    root = make_study(tmp_path / "a" / "b" / "study", config(**changes))
    proc, output = dry_run(root)
    assert_refused(proc, output, needle, root)
    assert "letters, digits" in output
    assert sorted(p.name for p in tmp_path.rglob("*") if "escaped" in p.name or p.name == "x") == []


# --- --config overrides (item 12) ----------------------------------------------------------------
def planned_runs(output: str) -> set[str]:
    """The run folders a dry run would compute."""
    return set(re.findall(r"results/runs/[\w.-]+/[\w.-]+/[0-9a-f]{12}(?=/run\.json)", output))


# how Snakemake users override a study's values, and the same values written in the config file
OVERRIDES = {
    "size and weight": (["params={size: 48, style_weight: 1e5, iterations: 3}"],
                        {"params": {"size": 48, "style_weight": 1.0e+5, "iterations": 3, "weights": "random"}}),
    "execution": (["execution={device: cpu, threads: 2, checkpoint_seconds: 0, cudnn_benchmark: false}"],
                  {"execution": {"device": "cpu", "threads": 2, "checkpoint_seconds": 0, "cudnn_benchmark": False}}),
    "optimizer and lr": (["params={optimizer: adam, lr: 0.1, shift: null}"],
                         {"params": {**BASE["params"], "optimizer": "adam", "lr": 0.1, "shift": None}}),
    "evaluator size": (["evaluation={name: gatys, weights: random, size: 40}"],
                       {"evaluation": {"name": "gatys", "weights": "random", "size": 40}}),
    "a vary list": (["experiments={sw: {pairs: all, vary: {style_weight: [1e3, 1e4]}}}"],
                    {"experiments": {"sw": {"pairs": "all", "vary": {"style_weight": [1.0e+3, 1.0e+4]}}}}),
}


@pytest.mark.parametrize("case", list(OVERRIDES))
def test_a_config_override_plans_what_the_same_value_in_the_file_plans(tmp_path, case):
    """Snakemake reads nested --config values with YAML's base loader (every scalar a string):
    they are read as the schema's types, so the override plans the runs its value would."""
    args, written = OVERRIDES[case]
    root = make_study(tmp_path / "study", config())
    proc, output = dry_run(root, "--config", *args)
    assert proc.returncode == 0 and "is not of type" not in output, output[-2000:]
    same = make_study(tmp_path / "same", config(**written))
    expected_proc, expected = dry_run(same)
    assert expected_proc.returncode == 0, expected[-2000:]
    assert planned_runs(output) == planned_runs(expected) and planned_runs(output), (output[-1500:], expected[-1500:])


def test_claims_null_on_the_command_line_turns_the_findings_off(tmp_path):
    root = make_study(tmp_path / "study", config(claims="claims.yaml"))
    (root / "claims.yaml").write_text("claims:\n  - {claim: x, experiment: sw, better: 1.0e+6, than: 1.0e+5}\n")
    proc, output = dry_run(root, "--config", "claims=null")
    assert proc.returncode == 0 and "findings" not in output and "no claims file" not in output, output[-2000:]


def test_a_bad_override_is_still_named_in_one_line(tmp_path):
    root = make_study(tmp_path / "study", config())
    proc, output = dry_run(root, "--config", "params={size: big}")
    assert_refused(proc, output, "key 'params.size': 'big' is not of type 'integer'", root)


# --- repeated keys (item 13) ---------------------------------------------------------------------
def test_a_config_file_with_a_key_twice_is_refused_naming_the_key_and_both_lines(tmp_path):
    root = make_study(tmp_path / "study", config())
    text = (root / "study.yaml").read_text()
    (root / "study.yaml").write_text(text + "experiments:\n  other: {pairs: all}\n")  # the first section would vanish
    first = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("experiments:"))
    proc, output = dry_run(root)
    assert_refused(proc, output, f"key 'experiments' appears twice, on lines {first} and {len(text.splitlines()) + 1}",
                   root)
    assert "study.yaml" in output


# --- image folders (item 14) ---------------------------------------------------------------------
def test_every_bad_image_name_is_reported_in_one_round(tmp_path):
    root = make_study(tmp_path / "study", config())
    for name in ("my cat.png", "dog (2).png", "a__b.png"):
        shutil.copy(root / "images/content/cat.png", root / "images/content" / name)
    proc, output = dry_run(root)
    assert_refused(proc, output, "3 image file names", root)
    assert "'my cat.png' to 'my_cat.png'" in output and "'dog (2).png' to 'dog_2.png'" in output
    assert "'a__b.png' to 'a_b.png'" in output


def test_what_an_image_folder_skips_is_printed(tmp_path):
    root = make_study(tmp_path / "study", config())
    (root / "images/style/gone.png").symlink_to(root / "images/style/deleted.png")
    (root / "images/style/more.png").mkdir()
    proc, output = dry_run(root)
    assert proc.returncode == 0, output[-2000:]
    assert ("nst: style image folder 'images/style': skipped 'gone.png' (a symbolic link to a missing file), "
            "'more.png' (a folder)") in output
