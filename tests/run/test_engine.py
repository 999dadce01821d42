"""The run loop: optimizers, iteration counting, snapshots, seeds, shifting, initialisation,
divergence and precision."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import nst.run.engine as engine
from nst.run.engine import stylize
from nst.run.inputs import initial_image
from nst.run.objective import Objective
from nst.errors import ImageError
from nst.run.images import load_image
from nst.run.writer import write_run

from kit import loss_rows, make_image, tiny_params


def history_table(run_dir) -> pd.DataFrame:
    return pd.read_csv(run_dir / "history.csv").drop(columns=["seconds"])


# --- optimizers and iteration counting -----------------------------------------------------
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam", "adagrad", "sgd"])
def test_each_optimizer_lowers_the_total_loss(optimizer, content_path, style_path):
    params = tiny_params(optimizer=optimizer, init="noise", iterations=8)
    result = stylize(params, content_path, style_path)
    assert result.status == "ok"
    start, end = result.history[0]["total"], result.final["total"]
    assert end < 0.5 * start, f"{optimizer}: total loss {start} -> {end}"


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
@pytest.mark.parametrize("iterations", [1, 7])
def test_a_run_does_exactly_n_iterations(optimizer, iterations, content_path, style_path, tmp_path):
    """One iteration = one evaluation (L-BFGS included: its default would evaluate up to 25
    times per step), so history has exactly N rows."""
    result = stylize(tiny_params(optimizer=optimizer, iterations=iterations), content_path, style_path)
    assert [row["iteration"] for row in result.history] == list(range(1, iterations + 1))
    write_run(result, tmp_path)
    assert len(pd.read_csv(tmp_path / "history.csv")) == iterations
    assert json.loads((tmp_path / "run.json").read_text())["iterations_done"] == iterations


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_snapshot_k_is_the_final_image_of_a_k_iteration_run(optimizer, content_path, style_path, tmp_path):
    params = tiny_params(optimizer=optimizer, iterations=6, snapshots=[2, 5], init="noise", shift=0.9)
    result = stylize(params, content_path, style_path)
    assert sorted(result.snapshots) == [2, 5]
    for k in (2, 5):
        shorter = stylize(params.replace(iterations=k, snapshots=[]), content_path, style_path)
        assert torch.equal(result.snapshots[k], shorter.image), f"snapshot {k}"
    assert not torch.equal(result.snapshots[5], result.image)  # the run went on after snapshot 5
    write_run(result, tmp_path)
    for k in (2, 5):
        saved = np.asarray(Image.open(tmp_path / "snapshots" / f"{k}.png"))
        expected = (result.snapshots[k][0].permute(1, 2, 0).numpy() * 255).round()
        assert np.abs(saved.astype(float) - expected).max() <= 1


# --- seeds ---------------------------------------------------------------------------------
def test_same_seed_gives_an_identical_history_csv_and_image(content_path, style_path, tmp_path):
    params = tiny_params(init="noise", shift=0.9, shift_rotation=3.0, seed=7, iterations=4)
    write_run(stylize(params, content_path, style_path), tmp_path / "a")
    write_run(stylize(params, content_path, style_path), tmp_path / "b")
    pd.testing.assert_frame_equal(history_table(tmp_path / "a"), history_table(tmp_path / "b"), check_exact=True)
    assert (tmp_path / "a" / "image.png").read_bytes() == (tmp_path / "b" / "image.png").read_bytes()


def test_different_seed_with_noise_init_differs(content_path, style_path):
    a = stylize(tiny_params(init="noise", seed=1, iterations=2), content_path, style_path)
    b = stylize(tiny_params(init="noise", seed=2, iterations=2), content_path, style_path)
    assert a.history[0]["total"] != b.history[0]["total"]
    assert not torch.equal(a.image, b.image)


# --- random style shifting -----------------------------------------------------------------
def test_shift_of_factor_one_without_rotation_is_no_shift(content_path, style_path):
    plain = stylize(tiny_params(iterations=4), content_path, style_path)
    identity = stylize(tiny_params(iterations=4, shift=1.0, shift_rotation=0.0), content_path, style_path)
    assert loss_rows(identity.history) == loss_rows(plain.history)
    assert torch.equal(identity.image, plain.image)


@pytest.mark.parametrize("rotation", [0.0, 5.0])
def test_shift_changes_the_loss_and_moves_image_and_content_together(rotation, content_path, style_path):
    plain = stylize(tiny_params(iterations=3), content_path, style_path)
    shifted = stylize(tiny_params(iterations=3, shift=0.95, shift_rotation=rotation), content_path, style_path)
    # init=content: the same crop (and rotation) of image and content leaves nothing to compare
    assert shifted.history[0]["content"] == 0.0
    # ... while the style statistics of the crop differ from those of the whole image
    assert shifted.history[0]["style"] != plain.history[0]["style"]
    assert [r["total"] for r in shifted.history] != [r["total"] for r in plain.history]
    # the final losses are of the whole, unshifted image: the same as the (unshifted,
    # baseline-definition) reference evaluation of a baseline run
    assert math.isclose(shifted.final["total"], shifted.evaluation["eval_total"], rel_tol=1e-5)


def test_the_papers_crop_mode_runs_and_is_recorded(content_path, style_path, tmp_path):
    mirror = stylize(tiny_params(iterations=3, shift=0.9, shift_rotation=3.0), content_path, style_path)
    crop = stylize(tiny_params(iterations=3, shift=0.9, shift_rotation=3.0, shift_mode="crop"),
                   content_path, style_path)
    assert crop.status == "ok" and crop.history[0]["content"] == 0.0  # image and content cropped alike
    assert crop.history[0]["style"] != mirror.history[0]["style"]  # another view: a zoomed crop, black corners
    assert not torch.equal(crop.image, mirror.image)
    write_run(crop, tmp_path)
    recorded = json.loads((tmp_path / "run.json").read_text())
    assert recorded["params"]["shift_mode"] == "crop"
    assert recorded["run_id"] == crop.params.run_id != mirror.params.run_id


# --- initialisation ------------------------------------------------------------------------
def black_png(path, size=(32, 32)):
    Image.new("RGB", size, (0, 0, 0)).save(path)
    return path


@pytest.mark.parametrize("init", ["content", "noise", "zeros", "style", "file"])
def test_every_init_runs(init, content_path, style_path, tmp_path):
    value = str(make_image(tmp_path / "start.jpg", 40, 24, seed=5)) if init == "file" else init
    result = stylize(tiny_params(init=value, iterations=2), content_path, style_path)
    # finite throughout (whether 2 steps of L-BFGS from it blow up is test_..._blew_up's matter)
    assert all(math.isfinite(row["total"]) for row in result.history) and len(result.history) == 2
    assert result.image.shape == (1, 3, 32, 32)


def test_initial_images(content_path, style_path, tmp_path):
    content = load_image(content_path, 32, "square")[0]
    style = load_image(style_path, 32, "square")[0]

    def start(**kw):
        return initial_image(tiny_params(**kw), content, style_path, torch.Generator().manual_seed(kw.get("seed", 0)))[0]

    assert torch.equal(start(init="content"), content)
    assert torch.equal(start(init="zeros"), torch.zeros_like(content))
    assert torch.equal(start(init="style"), style)
    other = make_image(tmp_path / "other.png", 64, 48, seed=9)
    assert torch.equal(start(init=str(other)), load_image(other, 32, "square", exact=(32, 32))[0])
    noise = start(init="noise", seed=3)
    assert torch.equal(noise, torch.randn(content.shape, generator=torch.Generator().manual_seed(3)))
    assert not torch.equal(noise, start(init="noise", seed=4))


def test_each_init_starts_where_it_should(content_path, style_path, tmp_path):
    """The first evaluation is of the starting image: compare inits that must start alike."""
    def first(init):
        return loss_rows(stylize(tiny_params(init=init, iterations=1), content_path, style_path).history)[0]

    zeros = first("zeros")
    assert first(str(black_png(tmp_path / "black.png"))) == zeros
    assert first(str(content_path)) == first("content")
    style = first("style")
    assert first(str(style_path)) == style
    assert first("content")["content"] == 0.0 and zeros["content"] > 0
    assert style["style"] == 0.0 and all(style[f"style_conv_{i}"] == 0.0 for i in range(1, 6))
    assert zeros != first("content") and first("noise") != zeros


def test_init_file_follows_the_content_size_under_keep_aspect(tmp_path, style_path):
    wide = make_image(tmp_path / "wide.png", 64, 32, seed=3)
    start = make_image(tmp_path / "start.png", 30, 50, seed=4)
    params = tiny_params(init=str(start), resize="keep_aspect", iterations=1)
    result = stylize(params, wide, style_path)
    assert result.image.shape == (1, 3, 16, 32)


def test_missing_init_file_is_a_clear_error(content_path, style_path, tmp_path):
    missing = tmp_path / "nowhere.png"
    with pytest.raises(ImageError, match="nowhere.png"):
        stylize(tiny_params(init=str(missing), iterations=1), content_path, style_path)


# --- divergence ----------------------------------------------------------------------------
def test_overflowing_loss_stops_the_run_as_diverged(content_path, style_path, tmp_path):
    """A style weight of 1e39 is a finite Python float but infinite in float32."""
    params = tiny_params(style_weight=1e39, iterations=5)
    result = stylize(params, content_path, style_path)
    assert result.status == "diverged" and result.diverged_at == 1
    assert len(result.history) == 1 and math.isinf(result.history[0]["total"])
    # nothing finite was ever reached: the kept image is the start (the content image)
    assert torch.equal(result.image, load_image(content_path, 32, "square")[0])
    write_run(result, tmp_path)
    record = json.loads((tmp_path / "run.json").read_text())
    assert (record["status"], record["diverged_at"], record["iterations_done"]) == ("diverged", 1, 1)
    assert record["diverged_reason"] == "non-finite loss at iteration 1"
    assert (tmp_path / "image.png").is_file()


def test_a_run_that_blew_up_with_finite_losses_is_diverged_with_the_rule(content_path, style_path, tmp_path):
    """sgd with lr=1e9: pixels are clamped each step, so no loss is ever non-finite, but every
    step throws the pixels to 0 or 1 and the run ends far above where it started."""
    result = stylize(tiny_params(optimizer="sgd", lr=1e9, iterations=10, snapshots=[8]), content_path, style_path)
    assert all(math.isfinite(row["total"]) for row in result.history) and len(result.history) == 10
    assert result.final["total"] > 2 * result.history[0]["total"]
    assert (result.status, result.diverged_at) == ("diverged", 10)  # judged after the last iteration
    assert result.diverged_reason.startswith(f"final total loss {result.final['total']:.6g} above 2 x ")
    write_run(result, tmp_path)
    record = json.loads((tmp_path / "run.json").read_text())
    assert (record["status"], record["diverged_reason"]) == ("diverged", result.diverged_reason)
    # a snapshot says what a run of that many iterations would (shared trajectories read it)
    snapshot = json.loads((tmp_path / "snapshots" / "8.json").read_text())
    assert snapshot["diverged_reason"].startswith(f"final total loss {snapshot['final']['total']:.6g} above 2 x ")


@pytest.mark.parametrize("preset_name, settings", [
    ("baseline", {}), ("baseline", {"init": "noise"}), ("revised", {}), ("revised", {"init": "zeros"})],
    ids=["baseline", "baseline-noise", "revised", "revised-zeros"])
def test_healthy_runs_are_ok(preset_name, settings, content_path, style_path):
    """The presets, shifted (noisy per-iteration losses) or not, are not flagged by the rule."""
    result = stylize(tiny_params(preset_name, iterations=6, **settings), content_path, style_path)
    assert (result.status, result.diverged_at, result.diverged_reason) == ("ok", None, None)
    assert result.record()["diverged_reason"] is None


@pytest.mark.parametrize("final, blew_up", [(25.0, True), (19.0, False)])
def test_the_blow_up_rule_allows_twice_the_reference(final, blew_up):
    """Jitter around a near-optimal start (up to 1.4x measured) is not a blow-up."""
    assert (engine.blow_up_reason(final, 10.0) is not None) == blew_up


def test_divergence_mid_run_keeps_the_last_finite_image(content_path, style_path, monkeypatch):
    """The loss turns NaN at the 4th evaluation (a stand-in for a blow-up): the run stops
    there and keeps the image of the 3rd evaluation, which is the image after 2 updates."""
    real = Objective.terms
    calls = {"n": 0}

    def failing_at_4(self, features, content_targets, image):
        terms = real(self, features, content_targets, image)
        if not torch.is_grad_enabled():  # scoring a snapshot or the final image, not an evaluation
            return terms
        calls["n"] += 1
        if calls["n"] == 4:
            terms = {n: v * float("nan") for n, v in terms.items()}
        return terms

    # the tutorial's loop, where evaluation k is of the image after k - 1 updates (projected
    # L-BFGS evaluates trial points, which it may refuse)
    params = tiny_params(iterations=8, snapshots=[2, 6], lbfgs_bounds="clamp")
    reference = stylize(params.replace(iterations=2), content_path, style_path)
    monkeypatch.setattr(Objective, "terms", failing_at_4)
    result = stylize(params, content_path, style_path)
    assert result.status == "diverged" and result.diverged_at == 4
    assert len(result.history) == 4 and math.isnan(result.history[-1]["total"])
    assert all(math.isfinite(row["total"]) for row in result.history[:3])
    assert torch.equal(result.image, reference.image)
    assert sorted(result.snapshots) == [2]
    assert all(math.isfinite(v) for v in result.final.values())
    assert result.record()["diverged_at"] == 4


# --- precision -----------------------------------------------------------------------------
def test_bf16_runs_on_cpu_close_to_fp32(content_path, style_path):
    """bf16 autocasts the VGG forward; Adam (steady steps) keeps the two runs comparable.
    Stated tolerance: final total loss within 5% of fp32 (observed: < 0.5%)."""
    fp32 = stylize(tiny_params(optimizer="adam", iterations=10), content_path, style_path)
    bf16 = stylize(tiny_params(optimizer="adam", iterations=10, precision="bf16"), content_path, style_path)
    assert bf16.status == "ok" and bf16.params.precision == "bf16"
    assert loss_rows(bf16.history) != loss_rows(fp32.history)  # bf16 really was used
    assert math.isclose(bf16.final["total"], fp32.final["total"], rel_tol=0.05)
    assert math.isclose(bf16.history[0]["total"], fp32.history[0]["total"], rel_tol=0.01)


def test_bf16_targets_match_the_image_path_exactly(content_path, style_path):
    """Targets and image go through the same bf16 forward and the same fp32 Gram: a run
    starting at the style image has zero style loss, one starting at the content image zero
    content loss (a Gram target computed in bf16 would leave a residue)."""
    at_style = stylize(tiny_params(precision="bf16", init="style", iterations=1), content_path, style_path)
    assert at_style.history[0]["style"] == 0.0
    at_content = stylize(tiny_params(precision="bf16", init="content", iterations=1), content_path, style_path)
    assert at_content.history[0]["content"] == 0.0


# --- evaluation ----------------------------------------------------------------------------
def test_baseline_run_is_its_own_reference_evaluation(content_path, style_path):
    """The fixed evaluator is the baseline's definition: for a baseline run it repeats the
    run's own final losses; for an L1 run it does not."""
    baseline = stylize(tiny_params(iterations=3), content_path, style_path)
    assert math.isclose(baseline.evaluation["eval_total"], baseline.final["total"], rel_tol=1e-5)
    l1 = stylize(tiny_params(iterations=3, loss="l1"), content_path, style_path)
    assert not math.isclose(l1.evaluation["eval_total"], l1.final["total"], rel_tol=1e-2)
    for result in (baseline, l1):
        assert 0 < result.evaluation["ssim_content"] <= 1
        assert result.evaluation["color_distance_style"] >= 0


def test_channels_last_changes_layout_not_results(content_path, style_path):
    plain = stylize(tiny_params(optimizer="adam", iterations=4), content_path, style_path)
    nhwc = stylize(tiny_params(optimizer="adam", iterations=4, channels_last=True), content_path, style_path)
    assert nhwc.params.run_id == plain.params.run_id  # an execution setting
    for a, b in zip(plain.history, nhwc.history):
        assert b["total"] == pytest.approx(a["total"], rel=1e-4)


def test_channels_last_auto_means_on_for_cpu_only():
    from nst.run.engine import uses_channels_last

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert tiny_params().channels_last == "auto"  # the default
    assert uses_channels_last(tiny_params(), cpu) and not uses_channels_last(tiny_params(), cuda)
    assert uses_channels_last(tiny_params(channels_last=True), cuda)
    assert not uses_channels_last(tiny_params(channels_last="false"), cpu)


def test_a_diverged_run_json_is_strict_json(tmp_path, content_path, style_path):
    import json

    from nst.run.writer import write_run

    result = stylize(tiny_params(style_weight=1e39, iterations=3), content_path, style_path)
    text = (write_run(result, tmp_path / "run") / "run.json").read_text()
    record = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert record["status"] == "diverged"
