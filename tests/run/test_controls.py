"""The controls around the objective (issue 13): colour preservation, blends, style scale,
multi-scale stages, noise mixed into the start. Each test fails if its control did nothing.
The losses' own controls (style_loss, gram_norm, style_layer_weights, tv_weight) are in
tests/run/test_losses.py."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from kornia.color import rgb_to_ycbcr
from PIL import Image

from nst.run import color
from nst.run.engine import stylize
from nst.run.images import load_image
from nst.run.inputs import load_inputs
from nst.run.writer import write_run

from pathlib import Path

from kit import make_image, make_study, run_nst, snakemake, tiny_params

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def second_style(image_dir):
    return make_image(image_dir / "style2.png", 40, 40, seed=7)


def tinted(path, tint, seed: int):
    """A 32 px image of mid-range noise (no channel near 0 or 1, where clamping would change the
    chroma) shifted towards `tint`: two of these differ in colour statistics."""
    rng = np.random.default_rng(seed)
    pixels = 0.35 + 0.3 * rng.random((32, 32, 3)) + np.asarray(tint)
    Image.fromarray((pixels.clip(0, 1) * 255).astype(np.uint8), "RGB").save(path)
    return path


@pytest.fixture(scope="module")
def mild_content(image_dir):
    return tinted(image_dir / "mild_content.png", (0.0, 0.05, 0.1), seed=3)


@pytest.fixture(scope="module")
def red_style(image_dir):
    return tinted(image_dir / "red_style.png", (0.25, -0.2, -0.2), seed=4)


# --- colour ----------------------------------------------------------------------------------
def test_luminance_mode_keeps_the_content_chroma(mild_content, red_style):
    """The result's Cb and Cr are the content's (to 8-bit rounding) wherever the optimised
    luminance with the content's chroma is a colour in [0, 1] at all (elsewhere the saved image
    is clamped, which moves its chroma); its luminance is not the content's."""
    content_path, style_path = mild_content, red_style
    result = stylize(tiny_params(color="luminance", iterations=4, init="noise"), content_path, style_path)
    content = load_image(content_path, 32, "square")[0]
    out, ref = rgb_to_ycbcr(result.image), rgb_to_ycbcr(content)
    in_gamut = ((result.image > 0) & (result.image < 1)).all(dim=1, keepdim=True)  # not clamped
    assert float(in_gamut.float().mean()) > 0.9
    assert torch.allclose(out[:, 1:] * in_gamut, ref[:, 1:] * in_gamut, atol=2.5 / 255)
    assert not torch.allclose(out[:, :1], ref[:, :1], atol=2.5 / 255)
    plain = stylize(tiny_params(iterations=4, init="noise"), content_path, style_path)
    assert not torch.allclose(rgb_to_ycbcr(plain.image)[:, 1:], ref[:, 1:], atol=2.5 / 255)


def test_luminance_mode_optimises_a_grey_image(content_path, style_path):
    inputs = load_inputs(tiny_params(color="luminance"), content_path, [style_path], 32,
                         torch.Generator().manual_seed(0), ("conv_1",))
    for image in (inputs.content, *inputs.styles, inputs.start):
        assert torch.equal(image[:, 0], image[:, 1]) and torch.equal(image[:, 1], image[:, 2])
    # the style's luminance takes the content's mean and spread (Gatys et al. 2016, eq. 2)
    content_y, style_y = color.luminance(inputs.original_content), inputs.styles[0][:, :1]
    assert style_y.mean() == pytest.approx(float(content_y.mean()), abs=0.01)
    assert style_y.std() == pytest.approx(float(content_y.std()), abs=0.02)


def test_histogram_mode_gives_the_style_the_content_colour_statistics(mild_content, red_style):
    inputs = load_inputs(tiny_params(color="histogram"), mild_content, [red_style], 32,
                         torch.Generator().manual_seed(0), ("conv_1",))
    matched, content = inputs.styles[0].reshape(3, -1).double(), inputs.content.reshape(3, -1).double()
    original = inputs.original_styles[0].reshape(3, -1).double()
    assert torch.allclose(matched.mean(1), content.mean(1), atol=0.02)
    assert torch.allclose(torch.cov(matched), torch.cov(content), atol=5e-4)  # entries ~7e-3
    assert not torch.allclose(original.mean(1), content.mean(1), atol=0.1)
    assert torch.equal(inputs.content, inputs.original_content)  # only the style changes


# --- blends ------------------------------------------------------------------------------------
def test_a_blend_of_one_style_with_weight_one_is_that_style(content_path, style_path):
    params = tiny_params(iterations=3)
    alone = stylize(params, content_path, style_path)
    blend = stylize(params.replace(style_blend_weights=[1.0]), content_path, [style_path])
    assert torch.equal(alone.image, blend.image)
    assert alone.history == [{**row, "seconds": a["seconds"]} for row, a in zip(blend.history, alone.history)]


def test_a_blend_is_the_weighted_sum_of_each_style_loss(content_path, style_path, second_style):
    """Per layer, the blend's style loss is w1 * (loss against style 1) + w2 * (against 2):
    compared at the content image, where every run starts."""
    params = tiny_params(iterations=1)

    def first_style_row(style, **kw):
        return stylize(params.replace(**kw), content_path, style).history[0]

    one, two = first_style_row(style_path), first_style_row(second_style)
    blend = first_style_row([style_path, second_style], style_blend_weights=[3, 1])
    for layer in params.style_layers:
        expected = 0.75 * one[f"style_{layer}"] + 0.25 * two[f"style_{layer}"]
        assert blend[f"style_{layer}"] == pytest.approx(expected, rel=1e-5)


def test_nst_run_takes_several_styles_and_records_them(content_path, style_path, second_style, tmp_path):
    out = tmp_path / "blend"
    done = run_nst(["run", str(content_path), str(style_path), str(second_style), "-o", str(out), "-q",
                    "--weights", "random", "--size", "32", "--iterations", "2", "--style-blend-weights", "2,1"])
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "run.json").read_text())
    assert record["params"]["style_blend_weights"] == pytest.approx([2 / 3, 1 / 3])
    assert [s["path"] for s in record["styles"]] == [str(style_path), str(second_style)]
    bad = run_nst(["run", str(content_path), str(style_path), str(second_style), "-o", str(tmp_path / "x"),
                   "--weights", "random", "--size", "32", "--style-blend-weights", "1"])
    assert bad.returncode == 2 and "2 style images" in bad.stderr and "Traceback" not in bad.stderr


# --- style scale, start ------------------------------------------------------------------------
def test_style_scale_sizes_the_style_image(content_path, style_path):
    result = stylize(tiny_params(style_scale=1.5, iterations=2), content_path, style_path)
    assert result.style.size == (48, 48) and result.content.size == (32, 32)
    same = stylize(tiny_params(iterations=2), content_path, style_path)
    assert result.history[0]["style"] != same.history[0]["style"]


def test_init_noise_mixes_seeded_noise_into_the_start(content_path, style_path):
    def start(**kw):
        return load_inputs(tiny_params(**kw), content_path, [style_path], 32,
                           torch.Generator().manual_seed(0), ("conv_1",)).start

    content = load_image(content_path, 32, "square")[0]
    assert torch.equal(start(init_noise=0.0), content)
    mixed = start(init_noise=0.25)
    noise = torch.rand(content.shape, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(mixed, 0.75 * content + 0.25 * noise)
    assert torch.equal(mixed, start(init_noise=0.25)) and not torch.equal(mixed, start(init_noise=0.5))


# --- multi-scale -------------------------------------------------------------------------------
def test_a_multi_scale_run_does_each_stage_at_its_size(content_path, style_path, tmp_path):
    params = tiny_params(scales=[16], scale_iterations=[3], iterations=4, style_layers=["conv_1", "conv_3"],
                         snapshots=[2, 6])
    result = stylize(params, content_path, style_path)
    write_run(result, tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history["iteration"]) == list(range(1, 8))
    assert list(history["scale"]) == [16] * 3 + [32] * 4
    assert result.image.shape[-2:] == (32, 32) and result.snapshots[2].shape[-2:] == (16, 16)
    assert result.snapshots[6].shape[-2:] == (32, 32)


def test_the_fine_stage_starts_from_the_coarse_result(content_path, style_path, monkeypatch):
    """The second stage's first evaluation is of the first stage's result, upsampled: not of
    the content image (which a run without scales starts from)."""
    from nst.run import engine

    starts = []
    real = engine.RunState._bind_stage

    def spy(self):
        real(self)
        starts.append(self.image.detach().clone())

    monkeypatch.setattr(engine.RunState, "_bind_stage", spy)
    params = tiny_params(scales=[16], scale_iterations=[3], iterations=2, style_layers=["conv_1"], init="noise")
    stylize(params, content_path, style_path)
    coarse_start, fine_start = starts
    assert coarse_start.shape[-1] == 16 and fine_start.shape[-1] == 32
    assert not torch.equal(fine_start, load_image(content_path, 32, "square")[0])
    assert fine_start.min() >= 0 and fine_start.max() <= 1


def test_scales_ending_at_the_size_mean_the_same_run():
    assert tiny_params(scales=[16, 32]).run_id == tiny_params(scales=[16]).run_id
    assert tiny_params(scales=[16]).total_iterations == 10


# --- the controls in a study -------------------------------------------------------------------
@pytest.mark.workflow
def test_a_study_sweeps_the_controls_and_blends(tmp_path):
    """Blends are styles of their own (every member an input of the run, scored against all);
    the controls vary like any parameter and show in the tables and grids."""
    config = {
        "images": {"content": "images/content", "style": "images/style"},
        "pairs": [{"content": "cat", "style": "mix"}],
        "blends": {"mix": {"wave": 1, "mosaic": 3}},
        "params": {"size": 32, "iterations": 3, "weights": "random", "style_layers": ["conv_1", "conv_3"]},
        "execution": {"device": "cpu", "threads": 1},
        "evaluation": {"name": "gatys", "weights": "random"},
        "experiments": {
            "colour": {"vary": {"color": ["style", "luminance", "histogram"]}},
            "losses": {"grid": {"style_loss": ["gram", "wasserstein"], "tv_weight": [0, 1.0]}},
            "stages": {"vary": {"scales": [[], [16]]}},
        },
    }
    root = make_study(tmp_path / "study", config)
    snakemake(root)
    runs = pd.read_csv(root / "results/tables/runs.csv")
    assert len(runs) == 3 + 4 - 1 + 2 - 1  # the default settings' run is shared by all three
    assert set(runs["style"]) == {"mix"} and set(runs["color"]) == {"style", "luminance", "histogram"}
    for run_dir in (root / "results/runs/cat/mix").iterdir():
        record = json.loads((run_dir / "run.json").read_text())
        assert [Path(s["path"]).stem for s in record["styles"]] == ["wave", "mosaic"]
        assert record["params"]["style_blend_weights"] == [0.25, 0.75]
        assert len(list((run_dir / "scores").glob("*.json"))) == 1
    losses = pd.read_csv(root / "results/tables/losses.csv")
    assert set(losses["label"]) == {"style_loss=gram, tv_weight=0", "style_loss=gram, tv_weight=1",
                                    "style_loss=wasserstein, tv_weight=0", "style_loss=wasserstein, tv_weight=1"}
    assert (root / "results/figures/colour/grid.png").is_file()
    staged = runs[pd.to_numeric(runs["scales"]) == 16]  # lists are joined with ',': one scale reads as a number
    history = pd.read_csv(root / "results/runs/cat/mix" / staged["run_id"].iloc[0] / "history.csv")
    assert list(history["scale"]) == [16, 16, 16, 32, 32, 32]
