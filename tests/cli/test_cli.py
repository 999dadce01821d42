"""The `nst` command: a run end to end, re-running from run.json, one-line errors, presets."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from PIL import Image

import nst
from nst import cli

from kit import run_nst, tiny_params

HISTORY_COLUMNS = ["iteration", "content", "style", "total", "content_conv_4",
                   "style_conv_1", "style_conv_2", "style_conv_3", "style_conv_4", "style_conv_5", "seconds"]
ITERATIONS = 4


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, content_path, style_path):
    """One `nst run` in a subprocess, shared by the tests below."""
    out = tmp_path_factory.mktemp("cli") / "run"
    done = run_nst(["run", content_path, style_path, "-o", out, "--preset", "baseline",
                    "--set", "weights=random", "--image-size", "32", "--num-iterations", ITERATIONS,
                    "--device", "cpu", "--save-iter", "2", "--seed", "3", "--init", "noise"])
    return done, out


def test_run_end_to_end(cli_run):
    done, out = cli_run
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "weights=random" in done.stderr  # random weights are announced
    assert sorted(p.name for p in out.iterdir()) == ["history.csv", "image.png", "run.json", "snapshots"]
    # each snapshot's image and scores; a state at the last iteration only (issue 19, item 17)
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == ["2.json", "2.png", "4.json", "4.png", "4.pt"]

    image = Image.open(out / "image.png")
    assert (image.format, image.mode, image.size) == ("PNG", "RGB", (32, 32))

    history = pd.read_csv(out / "history.csv")
    assert list(history.columns) == HISTORY_COLUMNS
    assert len(history) == ITERATIONS and list(history["iteration"]) == [1, 2, 3, 4]
    assert (history["total"] - history["content"] - history["style"]).abs().max() <= 1e-5 * history["total"].max()

    record = json.loads((out / "run.json").read_text())
    params = nst.RunParams.from_dict(record["params"])
    assert params == tiny_params(iterations=ITERATIONS, seed=3, init="noise", snapshots=[2, 4])
    assert record["run_id"] == params.run_id and record["run_id"] in done.stdout
    assert (record["status"], record["diverged_at"], record["iterations_done"]) == ("ok", None, ITERATIONS)
    assert record["random_weights"] is True and record["device"] == "cpu"
    assert record["final"]["total"] == pytest.approx(record["final"]["content"] + record["final"]["style"])
    assert {"eval_content", "eval_style", "eval_total", "ssim_content", "color_distance_style"} <= set(record["evaluation"])
    assert record["content"]["size"] == [32, 32]
    assert {"torch", "torchvision", "nst"} <= set(record["versions"])


def test_rerun_from_run_json_reproduces_the_run(cli_run, tmp_path):
    done, out = cli_run
    assert done.returncode == 0, done.stderr
    assert cli.main(["run", "--params", str(out / "run.json"), "-o", str(tmp_path / "again"), "-q"]) == 0
    first = pd.read_csv(out / "history.csv").drop(columns="seconds")
    second = pd.read_csv(tmp_path / "again" / "history.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    assert (out / "image.png").read_bytes() == (tmp_path / "again" / "image.png").read_bytes()
    again = json.loads((tmp_path / "again" / "run.json").read_text())
    assert again["run_id"] == json.loads((out / "run.json").read_text())["run_id"]


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("nst: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.mark.parametrize(
    "case, expected",
    [("missing-image", "does not exist"), ("unknown-key", "'colour'"), ("bad-value", "lbfgs | adam | adagrad | sgd")],
)
def test_bad_input_in_a_subprocess(case, expected, tmp_path, content_path, style_path):
    args = {
        "missing-image": [tmp_path / "missing.png", style_path],
        "unknown-key": [content_path, style_path, "--set", "colour=red"],
        "bad-value": [content_path, style_path, "--optimizer", "rmsprop"],
    }[case]
    done = run_nst(["run", *args, "-o", tmp_path / "out", "--set", "weights=random", "--set", "size=32",
                    "--set", "iterations=1", "--device", "cpu"])
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert expected in line
    if case == "missing-image":
        assert "missing.png" in line
    assert not (tmp_path / "out" / "run.json").exists()


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--set", "style_weight=heavy"], "'style_weight'"),
        (["--set", "style_layers=conv_1,conv_42"], "conv_42"),
        (["--set", "no-equals-sign"], "KEY=VALUE"),
        (["--pooling", "min"], "avg | max"),
        (["--image-size", "4"], "'size'"),
        (["--device", "gpu"], "'device'"),
        (["--init", "{missing_init}"], "missing-init.png"),
        (["--weights", "{missing_weights}"], "missing.pth"),
        (["--preset", "fancy"], "unknown preset"),
        (["--image-size", "16", "--content-layers", "pool_5"], "too small for layer pool5 "),
        (["--save-iter", "-1"], "--save-iter -1"),
        (["--lr", "1e39"], "float32's range"),
        (["--weights", "caffe", "--weights-file", "{missing_weights}"], "(parameter 'caffe_weights_file')"),
        (["--params", "{folder}"], "is a folder, not a file"),
        (["--params", "{array}"], "holds an array, not a JSON object"),
        (["--params", "{params_number}"], "must be a mapping"),
        (["--params-json", "{{not json"], "--params-json is not JSON"),
        (["--params-json", "[1]"], "--params-json holds an array"),
        (["--execution", "{absent}"], "--execution file"),
        (["--execution", "{array}"], "holds an array"),
        (["--set", "iterations=many", "--save-iter", "2"], "'iterations'"),
        (["--num-iterations", "many"], "'iterations'"),
        (["--seed", "1.5"], "'seed'"),
        (["--weights", "{folder}"], "is a folder"),
    ],
)
def test_bad_input_in_process(extra, expected, tmp_path, content_path, style_path, capsys):
    names = {"missing_init": tmp_path / "missing-init.png", "missing_weights": tmp_path / "missing.pth",
             "folder": tmp_path, "absent": tmp_path / "absent.json", "array": tmp_path / "array.json",
             "params_number": tmp_path / "number.json"}
    names["array"].write_text("[1, 2]")
    names["params_number"].write_text('{"params": 3}')
    extra = [a.format(**names) for a in extra]
    # flags, not --set, in the base: --set overrides flags, a repeated flag overrides the first
    code = cli.main(["run", str(content_path), str(style_path), "-o", str(tmp_path / "out"),
                     "--weights", "random", "--image-size", "32", "--num-iterations", "1",
                     "--device", "cpu", "-q", *extra])
    assert code == 2
    assert expected in one_error_line(capsys.readouterr().err)


def test_params_file_problems_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "broken.json").write_text("{not json")
    assert cli.main(["run", "--params", str(tmp_path / "broken.json"), "-o", str(tmp_path / "o")]) == 2
    one_error_line(capsys.readouterr().err)
    assert cli.main(["run", "--params", str(tmp_path / "absent.json"), "-o", str(tmp_path / "o")]) == 2
    assert "absent.json" in one_error_line(capsys.readouterr().err)
    assert cli.main(["run", "-o", str(tmp_path / "o")]) == 2
    assert "CONTENT and STYLE" in one_error_line(capsys.readouterr().err)


def test_every_run_parameter_has_a_flag_and_the_neural_style_names_still_work(tmp_path):
    from nst.contracts.params import FIELD_NAMES

    parser, _ = cli.build_parser()
    args = parser.parse_args(["run", "-o", str(tmp_path), "--num-iterations", "7", "--learning-rate", "0.5",
                              "--image-size", "64", "--lbfgs-history", "5", "--caffe-weights-file", "c.pth"])
    assert (args.iterations, args.lr, args.size, args.lbfgs_history, args.caffe_weights_file) == \
        ("7", "0.5", "64", "5", "c.pth")
    assert parser.parse_args(["run", "-o", "x", "--iterations", "7", "--lr", "1", "--size", "9"]).iterations == "7"
    for key in FIELD_NAMES:
        value = parser.parse_args(["run", "-o", "x", f"--{key.replace('_', '-')}", "v"])
        assert getattr(value, key) == "v", key


def test_flags_give_the_run_that_set_gives(tmp_path):
    flags = cli.build_parser()[0].parse_args(["run", "c.png", "s.png", "-o", str(tmp_path), "--num-iterations", "7",
                                           "--optimizer", "adam", "--save-iter", "3", "--weights", "random"])
    sets = cli.build_parser()[0].parse_args(["run", "c.png", "s.png", "-o", str(tmp_path), "--set", "iterations=7",
                                          "--set", "optimizer=adam", "--set", "snapshots=3,6", "--set",
                                          "weights=random"])
    params, content, style = cli.run_params_from_args(flags)
    assert (params, content, style) == cli.run_params_from_args(sets)
    assert params == nst.preset("baseline", iterations=7, optimizer="adam", snapshots=[3, 6], weights="random")


@pytest.mark.parametrize("error", [RuntimeError("a bug"), ValueError("a bug"), OSError(5, "a bug"),
                                   json.JSONDecodeError("a bug", "{", 0)], ids=lambda e: type(e).__name__)
def test_a_bug_is_not_swallowed(error, monkeypatch, tmp_path):
    """Only NSTError is the user's mistake: anything else reaches the caller (the interpreter
    prints its traceback), ValueError and OSError included."""
    from nst.contracts import presets

    def broken(name):
        raise error

    monkeypatch.setattr(presets, "preset", broken)
    with pytest.raises(type(error), match="a bug"):
        cli.main(["run", "c.png", "s.png", "-o", str(tmp_path / "out")])


PROGRAM_RAISING = """
import sys
from nst import cli, errors
from nst.contracts import presets

def preset(name):
    raise {error}("deep inside")

presets.preset = preset
sys.exit(cli.main(["run", "c.png", "s.png", "-o", sys.argv[1]]))
"""


def test_a_bug_shows_its_traceback_and_a_mistake_one_line(tmp_path):
    def nst_raising(error: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", PROGRAM_RAISING.format(error=error), str(tmp_path)],
                              capture_output=True, text=True, timeout=60)

    bug = nst_raising("ValueError")
    assert bug.returncode == 1
    assert "Traceback" in bug.stderr and "ValueError: deep inside" in bug.stderr and "nst: error" not in bug.stderr
    mistake = nst_raising("errors.NSTError")
    assert mistake.returncode == 2
    assert one_error_line(mistake.stderr) == "nst: error: deep inside"


def test_bad_score_input_is_one_line(cli_run, tmp_path, capsys):
    done, run_dir = cli_run
    assert done.returncode == 0, done.stderr
    (tmp_path / "array.json").write_text("[1]")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{not json")
    cases = [
        ([run_dir, "--evaluator", "{not json"], "--evaluator is not JSON"),
        ([run_dir, "--weights-record", tmp_path / "absent.json"], "absent.json' does not exist"),
        ([run_dir, "--weights-record", tmp_path / "array.json"], "holds an array"),
        ([run_dir, "--content", tmp_path / "absent.png"], "absent.png' does not exist"),
        ([tmp_path / "broken"], "run.json' is not JSON"),
        ([tmp_path / "nothing"], "no finished run"),
        ([run_dir, "--threads", "-3"], "--threads -3: expected a number of CPU threads >= 0"),
    ]
    for args, expected in cases:
        assert cli.main(["score", *map(str, args)]) == 2, args
        assert expected in one_error_line(capsys.readouterr().err), args


def test_demo_images_under_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "taken").write_text("mine")
    assert cli.main(["demo-images", str(tmp_path / "taken" / "demo")]) == 2
    assert "a file stands where a folder is needed" in one_error_line(capsys.readouterr().err)


def test_presets_lists_every_preset_and_how_it_differs(capsys):
    assert cli.main(["presets"]) == 0
    out = capsys.readouterr().out
    printed = yaml.safe_load(out)
    assert list(printed) == ["baseline", "revised", "tutorial", "gatys"]
    for name, shown in printed.items():  # YAML a config can take: the preset itself, the same run id
        assert nst.RunParams.from_dict(shown) == nst.preset(name)
        assert nst.RunParams.from_dict(shown).run_id == nst.preset(name).run_id
    assert "# differs from baseline in: pooling max (baseline: avg)" in out  # the tutorial
    assert "gram_norm spatial (baseline: abcd)" in out
    # standard layer names, and the paper's sequential ones only with the standard one beside them
    assert printed["baseline"]["content_layers"] == ["conv2_2"] and printed["gatys"]["content_layers"] == ["relu4_2"]
    assert "content [conv_4 (conv2_2)]" in out and "content_layers [relu4_2] (baseline: [conv_4 (conv2_2)])" in out
    assert not re.search(r"\b(conv|relu|pool)_\d+\b(?! \()", out)


@pytest.mark.parametrize("outdir", ["", "  "])
def test_an_empty_output_folder_is_refused_not_taken_as_the_current_one(tmp_path, monkeypatch, outdir,
                                                                           content_path, style_path, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", str(content_path), str(style_path), "-o", outdir, "--weights", "random",
                     "--image-size", "32", "--num-iterations", "1", "--device", "cpu", "-q"]) == 2
    assert "-o" in one_error_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []  # nothing written into the current folder


# --- `nst run -o` never loses a finished run -----------------------------------------------
def tiny_run_args(content, style, out, *extra):
    return [str(a) for a in ["run", content, style, "-o", out, "--set", "weights=random", "--image-size", "32",
                             "--num-iterations", "2", "--device", "cpu", "-q", *extra]]


def folder_state(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_another_finished_run_in_the_folder_is_never_replaced_unasked(tmp_path, content_path, style_path, capsys):
    out = tmp_path / "run"
    assert cli.main(tiny_run_args(content_path, style_path, out, "--save-iter", "1")) == 0
    before = folder_state(out)
    old_id = json.loads((out / "run.json").read_text())["run_id"]
    capsys.readouterr()

    assert cli.main(tiny_run_args(content_path, style_path, out, "--seed", "7")) == 2
    err = capsys.readouterr().err
    assert old_id in err and "--overwrite" in err and err.count("\n") == 1
    assert folder_state(out) == before

    assert cli.main(tiny_run_args(content_path, style_path, out, "--save-iter", "1")) == 0  # the same run
    assert "already finished" in capsys.readouterr().out
    assert folder_state(out) == before

    assert cli.main(tiny_run_args(content_path, style_path, out, "--seed", "7", "--overwrite")) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["run_id"] != old_id and record["params"]["seed"] == 7
    assert not (out / "snapshots").exists() or not any((out / "snapshots").iterdir())  # no snapshots of the old run


def test_a_full_disk_keeps_the_finished_run_and_names_the_path(tmp_path, content_path, style_path, monkeypatch, capsys):
    import errno

    from nst.contracts import run_folder

    out = tmp_path / "run"
    assert cli.main(tiny_run_args(content_path, style_path, out)) == 0
    before = folder_state(out)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_folder, "history_csv", disk_full)
    capsys.readouterr()
    assert cli.main(tiny_run_args(content_path, style_path, out, "--seed", "7", "--overwrite")) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "No space left on device" in err and "Errno" not in err
    assert folder_state(out) == before  # the finished run is intact, no staging left behind
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_outdir_naming_a_file_is_one_clear_line(tmp_path, content_path, style_path, capsys):
    target = tmp_path / "taken.txt"
    target.write_text("mine")
    assert cli.main(tiny_run_args(content_path, style_path, target)) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and "taken.txt" in err and "Errno" not in err
    assert target.read_text() == "mine"


def test_nst_score_names_what_is_wrong_in_one_line(tmp_path, capsys):
    """An unknown evaluator name was scored silently with gatys; a run.json whose images are
    not mappings was an AttributeError; one without a run id is not a run's record."""
    run = tmp_path / "run"
    run.mkdir()
    record = {"run_id": "abc", "params": {"size": 32}, "content": "cat.png", "style": "x.png"}
    (run / "run.json").write_text(json.dumps(record))
    assert cli.main(["score", str(run), "--evaluator", "paepr"]) == 2
    assert "unknown evaluator 'paepr'" in one_error_line(capsys.readouterr().err)
    assert cli.main(["score", str(run), "--evaluator", "paper"]) == 2
    assert "names no content or style image" in one_error_line(capsys.readouterr().err)
    (run / "run.json").write_text(json.dumps({**record, "run_id": None}))
    assert cli.main(["score", str(run), "--evaluator", "paper"]) == 2
    assert "run.json' holds no run: its 'run_id' is null" in one_error_line(capsys.readouterr().err)
