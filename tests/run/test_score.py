"""Evaluators (nst/contracts/evaluators.py) and scoring a finished run (nst/run/score.py, `nst score`): one network
for every run whatever it was optimised with, the paper's definition still available by name
with today's numbers, scale-free per-layer terms, the texture metric, config errors."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

import pytest
import torch
from PIL import Image

from nst.contracts.job_environment import PRESCORE_VARIABLE
from nst.run import prescore, score
from nst.run.engine import stylize
from nst.contracts.evaluators import (BUILT_IN, REFERENCE, EvaluationError, Evaluator, make_evaluator,
                              resolve_evaluation)
from nst.run.reference import evaluate
from nst.run.images import load_image, pil_to_tensor, tensor_to_pil
from nst.run.writer import write_run
from nst.contracts.presets import PRESETS
from nst.run.vgg import make_extractor
from nst.run.weights import load_weights

from kit import ROOT, image_array, make_image, run_nst, tiny_params

SCALARS = ("content", "style", "total", "ssim_content", "color_distance_style")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score_images")
    return (make_image(folder / "content.png", 32, 32, seed=1),
            make_image(folder / "style.png", 32, 32, seed=2))


@pytest.fixture(scope="module")
def finished(tmp_path_factory, images):
    """A finished baseline run per weights family: (folder, RunResult)."""
    runs = {}
    for weights in ("random", "caffe"):
        params = tiny_params("baseline", weights=weights, iterations=3)
        result = stylize(params, *images)
        runs[weights] = (write_run(result, tmp_path_factory.mktemp(f"run_{weights}")), result)
    return runs


def paper_on(weights: str) -> Evaluator:
    return make_evaluator({"name": "paper", "weights": weights})


def as_saved(image: torch.Tensor) -> torch.Tensor:
    """The image as image.png holds it (8 bits per channel), read back."""
    return pil_to_tensor(tensor_to_pil(image))


# --- the paper's evaluator: today's numbers, by name ---------------------------------------
@pytest.mark.parametrize("weights", ["random", "caffe"])
def test_paper_on_the_runs_own_weights_is_run_json_evaluation(finished, images, weights):
    """run.json's `evaluation` is the engine's score of the float image before it is saved; a
    score file is the score of image.png. On the same pixels they are the same numbers: scoring
    the run's float image with `paper` on the run's weights gives run.json's evaluation, and the
    score file is exactly the engine's function applied to the saved image."""
    folder, result = finished[weights]
    record = json.loads((folder / "run.json").read_text())
    evaluator = paper_on(weights)
    network = score.Network(evaluator.settings)
    content, _ = load_image(images[0], 32, "square")
    style, _ = load_image(images[1], 32, "square")

    float_scores = score.score_images(evaluator, network.extractor, result.image, content, style)
    expected = record["evaluation"]
    assert float_scores["content"] == pytest.approx(expected["eval_content"], rel=1e-5)
    assert float_scores["style"] == pytest.approx(expected["eval_style"], rel=1e-5)
    assert float_scores["total"] == pytest.approx(expected["eval_total"], rel=1e-5)
    assert float_scores["ssim_content"] == pytest.approx(expected["ssim_content"], rel=1e-6)
    assert float_scores["color_distance_style"] == pytest.approx(expected["color_distance_style"], rel=1e-6)

    written = score.score_run(folder, evaluator, network)
    today = evaluate(network.extractor, as_saved(result.image), content, style)  # the engine's function
    assert written["scores"]["total"] == pytest.approx(today["eval_total"], rel=1e-6)
    assert written["scores"]["style"] == pytest.approx(today["eval_style"], rel=1e-6)
    assert written["scores"]["ssim_content"] == pytest.approx(today["ssim_content"], rel=1e-6)
    assert written["weights"]["family"] == weights


def test_paper_is_written_out_not_borrowed_from_the_presets(monkeypatch):
    paper = BUILT_IN["paper"]
    assert paper["content_layers"] == REFERENCE["content_layers"] == ("conv_4",)
    assert paper["style_layers"] == REFERENCE["style_layers"] == tuple(f"conv_{i}" for i in range(1, 6))
    assert (paper["content_weight"], paper["style_weight"], paper["loss"], paper["pooling"]) == (1.0, 1e6, "l2", "avg")
    before = make_evaluator("paper").hash
    monkeypatch.setitem(PRESETS["baseline"], "style_weight", 5.0)  # editing a preset ...
    monkeypatch.setitem(PRESETS["baseline"], "content_layers", ("conv_2",))
    assert make_evaluator("paper").hash == before  # ... changes neither evaluator
    assert REFERENCE["style_weight"] == 1e6


# --- one network for every run -------------------------------------------------------------
def test_runs_of_different_weights_are_scored_by_one_network(finished):
    """A run optimised with random weights and one with caffe weights: both scored on the
    evaluator's network (caffe), so the same image would get the same score in either run."""
    gatys = make_evaluator("gatys")
    network = score.Network(gatys.settings)
    files = {w: score.score_run(folder, gatys, network) for w, (folder, _) in finished.items()}
    assert files["random"]["weights"] == files["caffe"]["weights"]
    assert files["random"]["weights"]["family"] == "caffe" and not files["random"]["weights"]["random"]
    assert files["random"]["scores"]["style"] != files["caffe"]["scores"]["style"]  # different images

    # the random run's image, moved into the caffe run's folder, scores as it did in its own
    swapped = finished["caffe"][0].parent / "swapped"
    shutil.copytree(finished["caffe"][0], swapped)
    shutil.copy(finished["random"][0] / "image.png", swapped / "image.png")
    again = score.score_run(swapped, gatys, network)
    assert again["scores"] == files["random"]["scores"]
    # while the run's own network (what run.json's evaluation uses) would score it differently
    own = score.score_run(swapped, make_evaluator({"name": "gatys", "weights": "random"}))
    assert own["scores"]["style"] != pytest.approx(again["scores"]["style"], rel=1e-2)


def test_gatys_layers_and_per_layer_terms(finished):
    gatys = make_evaluator("gatys")
    s = gatys.settings
    assert s["style_layers"] == ("relu_1", "relu_3", "relu_5", "relu_9", "relu_13")  # relu1_1 .. relu5_1
    assert s["content_layers"] == ("relu_10",)                                         # relu4_2
    assert (s["weights"], s["normalise"]) == ("caffe", "relative")
    result = score.score_run(finished["random"][0], gatys)["scores"]
    assert set(result["style_layers"]) == set(s["style_layers"])
    assert result["style"] == pytest.approx(sum(result["style_layers"].values()) / 5)
    assert result["content"] == pytest.approx(result["content_layers"]["relu_10"])
    assert result["total"] == pytest.approx(result["style"] + result["content"])
    assert 0 <= result["texture_distance_style"] <= 1


def test_relative_terms_are_scale_free_and_raw_ones_are_not(images):
    """Features scaled by c (a network of another scale): relative terms do not move; the
    paper's raw terms scale by c^2 (content) and c^4 (style, Grams are quadratic)."""
    weights, _ = load_weights("random")
    content, _ = load_image(images[0], 32, "square")
    style, _ = load_image(images[1], 32, "square")
    output = 0.5 * content + 0.5 * style
    for name in ("gatys", "paper"):
        settings = make_evaluator({"name": name, "weights": "random"}).settings
        extractor = make_extractor(list(settings["content_layers"]) + list(settings["style_layers"]),
                                   settings["pooling"], weights)

        def scaled(image, layers, c=3.0):
            return {k: c * v for k, v in extractor(image, layers).items()}

        plain = score.network_scores(settings, extractor, output, content, style)
        bigger = score.network_scores(settings, scaled, output, content, style)
        if name == "gatys":
            assert bigger["style_layers"] == pytest.approx(plain["style_layers"], rel=1e-5)
            assert bigger["content"] == pytest.approx(plain["content"], rel=1e-5)
        else:
            assert bigger["content"] == pytest.approx(9 * plain["content"], rel=1e-5)
            assert bigger["style"] == pytest.approx(81 * plain["style"], rel=1e-4)


def test_the_targets_themselves_score_zero(images):
    gatys = make_evaluator("gatys")
    network = score.Network(gatys.settings)
    content, _ = load_image(images[0], 32, "square")
    style, _ = load_image(images[1], 32, "square")
    as_content = score.score_images(gatys, network.extractor, content, content, style)
    as_style = score.score_images(gatys, network.extractor, style, content, style)
    assert as_content["content"] == 0 and as_content["ssim_content"] == pytest.approx(1)
    assert as_style["style"] == 0 and as_style["texture_distance_style"] == 0
    assert as_style["color_distance_style"] == 0
    assert as_content["style"] > 0 and as_style["content"] > 0


# --- the texture metric --------------------------------------------------------------------
def stripes(period: int, side: int = 64, angle: bool = False) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    phase = (x + y) if angle else x
    wave = 0.5 + 0.4 * torch.sin(2 * math.pi * phase.float() / period)
    return wave.expand(1, 3, side, side).clone()


def test_texture_distance_sees_texture_at_several_scales():
    fine, coarse = stripes(4), stripes(32)
    assert score.texture_distance(fine, fine) == 0
    # the same texture shifted and cropped differently: the statistics barely move
    assert score.texture_distance(stripes(4, 64), stripes(4, 48)) < 0.1
    per_level = score.texture_distances(fine, coarse)
    assert len(per_level) == 4  # 64, 32, 16, 8 px
    assert score.texture_distance(fine, coarse) > 0.3
    # local binary patterns compare each pixel with its neighbours: a contrast and brightness
    # change (a palette matter, for the colour distance) hardly moves them; a mirror image not at all
    noisy = pil_to_tensor(Image.fromarray(image_array(64, 64, 3)))
    assert score.texture_distance(noisy, 0.8 * noisy + 0.1) < 0.05
    assert score.texture_distance(noisy, noisy.flip(3)) == 0
    other = pil_to_tensor(Image.fromarray(image_array(64, 64, 4)))
    assert score.texture_distance(noisy, other) > 0.1


# --- config --------------------------------------------------------------------------------
def test_evaluation_config_shapes():
    assert [e.name for e in resolve_evaluation(None)] == ["gatys"]
    assert [e.name for e in resolve_evaluation("paper")] == ["paper"]
    both = resolve_evaluation(["gatys", {"name": "paper", "weights": "imagenet"}])
    assert [e.name for e in both] == ["gatys", "paper"] and both[1].settings["weights"] == "imagenet"
    deep = make_evaluator({"name": "deep", "style_layers": ["relu5_1", "relu4_1"]})
    assert deep.settings["style_layers"] == ("relu_9", "relu_13")  # base gatys, network order
    assert deep.settings["content_layers"] == BUILT_IN["gatys"]["content_layers"]
    # the hash is the settings', not the name's: renaming re-scores nothing
    assert make_evaluator({"name": "mine", "base": "gatys"}).hash == make_evaluator("gatys").hash
    assert make_evaluator({"name": "gatys", "style_layers": "relu4_1"}).hash != make_evaluator("gatys").hash
    assert Evaluator.from_dict(deep.to_dict()).hash == deep.hash
    assert deep.column("style_relu_9") == "score_deep_style_relu_9"


@pytest.mark.parametrize("spec, needle", [
    ({"name": "gatys", "style_layer": ["relu_1"]}, "'evaluation.style_layer'"),
    ({"name": "gatys", "style_layers": ["relu_99"]}, "'evaluation.style_layers'"),
    ({"name": "gatys", "weights": "vgg16"}, "'evaluation.weights'"),
    ({"name": "gatys", "metrics": ["psnr"]}, "'evaluation.metrics'"),
    ({"name": "x", "base": "nope"}, "'evaluation.base'"),
    ({"name": "bad name"}, "'evaluation.name'"),
    ([{"name": "a"}, {"name": "a", "base": "paper"}], "'evaluation[1].name'"),
    ([], "'evaluation'"),
])
def test_bad_evaluation_is_named(spec, needle):
    with pytest.raises(EvaluationError) as err:
        resolve_evaluation(spec)
    assert needle in str(err.value)


# --- the command ---------------------------------------------------------------------------
def test_nst_score_writes_the_score_file(finished, tmp_path):
    folder = finished["random"][0]
    evaluator = paper_on("random")
    out = tmp_path / "scores" / f"{evaluator.hash}.json"
    spec = json.dumps(evaluator.to_dict()["settings"])
    proc = run_nst(["score", folder, "--evaluator", spec, "--expect-hash", evaluator.hash, "-o", out])
    assert proc.returncode == 0, proc.stderr
    written = json.loads(out.read_text())
    assert written["evaluator"]["hash"] == evaluator.hash
    assert written["scores"]["total"] == pytest.approx(score.score_run(folder, evaluator)["scores"]["total"])
    assert written["run_id"] == finished["random"][1].params.run_id

    wrong = run_nst(["score", folder, "--evaluator", spec, "--expect-hash", "0" * 12, "-o", out])
    assert wrong.returncode == 2 and "re-run snakemake" in wrong.stderr and "Traceback" not in wrong.stderr
    bad = run_nst(["score", folder, "--evaluator", '{"name": "gatys", "pooling": "median"}'])
    assert bad.returncode == 2 and "'--evaluator.pooling'" in bad.stderr


# --- scores computed by the run's own process (nst/run/prescore.py) ------------------------
def test_a_runs_process_scores_it_and_nst_score_takes_exactly_that(images, tmp_path):
    content, style = images
    evaluators = [make_evaluator({"name": "gatys", "weights": "random", "size": 32}),
                  make_evaluator({"name": "paper", "weights": "imagenet"})]  # needs a record: left alone
    request = tmp_path / "prescore.json"
    request.write_text(json.dumps({"evaluators": [{"hash": e.hash, "settings": e.to_dict()["settings"]}
                                                  for e in evaluators]}))
    run_dir = tmp_path / "run"
    proc = run_nst(["run", content, style, "--preset", "baseline", "--weights", "random", "--size", "32",
                    "--iterations", "3", "--device", "cpu", "-o", run_dir, "--quiet"],
                   env={PRESCORE_VARIABLE: str(request)})
    assert proc.returncode == 0, proc.stderr
    gatys = evaluators[0]
    assert sorted(p.name for p in (run_dir / prescore.FOLDER).iterdir()) == [f"{gatys.hash}.json"]

    spec = json.dumps(gatys.to_dict()["settings"])
    args = ["score", run_dir, "--evaluator", spec, "--content", content, "--style", style, "--threads", "1"]
    taken = run_nst(args + ["-o", tmp_path / "taken.json"])
    assert taken.returncode == 0 and "scored by the run's process" in taken.stdout, taken.stderr
    # the point of it: taking the file costs no torch import (most of a score job's time)
    probe = ("import sys; from nst.cli import main; code = main(sys.argv[1:]); "
             "sys.exit(code or ('torch' in sys.modules and 9))")
    light = subprocess.run([sys.executable, "-c", probe, *map(str, args), "-o", str(tmp_path / "light.json")],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert light.returncode == 0, light.stdout + light.stderr
    shutil.rmtree(run_dir / prescore.FOLDER)
    scored = run_nst(args + ["-o", tmp_path / "scored.json"])
    assert scored.returncode == 0 and "scored by the run's process" not in scored.stdout, scored.stderr

    def without_timing(path):
        data = json.loads(path.read_text())
        return {k: v for k, v in data.items() if k not in ("seconds", "network_seconds")}
    assert without_timing(tmp_path / "taken.json") == without_timing(tmp_path / "scored.json")


def test_a_prescored_file_is_taken_only_for_the_same_images_and_evaluator(finished, images, tmp_path):
    content, style = images
    run_dir = tmp_path / "run"
    shutil.copytree(finished["random"][0], run_dir)
    gatys = make_evaluator({"name": "gatys", "weights": "random", "size": 32})
    assert score.prescore(run_dir, [{"hash": gatys.hash, "settings": gatys.to_dict()["settings"]}],
                          content, style) == [gatys.hash]
    assert prescore.take_prescored(run_dir, gatys.hash, content, [style])["evaluator"]["hash"] == gatys.hash

    other = make_evaluator({"name": "gatys", "weights": "random", "size": 32, "style_weight": 2.0})
    assert prescore.take_prescored(run_dir, other.hash, content, style) is None  # another evaluator
    assert prescore.take_prescored(run_dir, gatys.hash, style, style) is None    # another content image
    edited = tmp_path / "style.png"
    Image.open(style).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(edited)
    assert prescore.take_prescored(run_dir, gatys.hash, content, edited) is None  # another style image
    Image.open(run_dir / "image.png").rotate(90).save(run_dir / "image.png")
    assert prescore.take_prescored(run_dir, gatys.hash, content, style) is None  # the run was redone
    # a request from another nst (its hash disagrees) is skipped, never an error
    assert score.prescore(run_dir, [{"hash": "0" * 12, "settings": gatys.to_dict()["settings"]}],
                          content, style) == []
