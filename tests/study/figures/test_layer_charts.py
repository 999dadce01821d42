"""nst.study.figures.layer_charts: each layer's loss over iterations, one panel per run, from the runs'
history.csv (fabricated here as tests/study_kit.py does, plus columns newer runs write)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import study_kit
from nst.errors import InputError
from nst.study.figures import layer_charts
from nst.study.plan.reconstruct import reconstruction_label, reconstruction_trials


def study_with_layers(root, n_trials=2):
    """One vary experiment on two pairs; every history gets a scale and a tv column too."""
    s = study_kit.Study(root)
    s.experiment("sw", "vary", ["style_weight"])
    for sw in (1e6, 1e3, 1e2)[:n_trials]:
        for pair in (("c1", "s1"), ("c2", "s2")):
            s.trial("sw", *pair, {"style_weight": sw})
    for path in s.runs_dir.rglob("history.csv"):
        history = pd.read_csv(path)
        history["scale"] = [16 if i < len(history) // 2 else 32 for i in range(len(history))]
        history["tv"] = 0.5
        history["style_conv_1"] *= 1e4  # layers of very different magnitude
        history.to_csv(path, index=False)
    return s


def drawn_curves(ax) -> list[str]:
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_one_panel_per_run_and_one_curve_per_optimised_layer(tmp_path):
    s = study_with_layers(tmp_path)
    fig = layer_charts.layer_chart_figure(s.manifest(), "sw", s.runs_dir)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 4  # 2 trials x 2 pairs
    base = study_kit.preset("baseline")
    expected = [f"content {l}" for l in base.content_layers] + [f"style {l}" for l in base.style_layers]
    for ax in panels:
        assert drawn_curves(ax) == expected  # scale, tv, seconds are no layers
        assert ax.get_yscale() == "log"  # conv_1 is 1e4 times the others
        assert sum(line.get_linestyle() == ":" for line in ax.get_lines()) == 1  # where the scale changes
    assert "style_weight=1000" in panels[2].get_title()
    assert "per-layer losses" in fig._suptitle.get_text() and "divided by its largest value" in fig._suptitle.get_text()
    assert "RANDOM WEIGHTS" in fig._suptitle.get_text()


def test_curves_are_each_divided_by_their_largest_value(tmp_path):
    s = study_with_layers(tmp_path, n_trials=1)
    fig = layer_charts.layer_chart_figure(s.manifest(), "sw", s.runs_dir)
    line = next(l for l in fig.axes[0].get_lines() if l.get_label() == "style conv_1")
    assert np.nanmax(line.get_ydata()) == pytest.approx(1.0)
    assert line.get_ydata()[-1] == pytest.approx(1 / len(line.get_ydata()))  # 10/i, divided by 10


def test_terms_weighted_zero_are_not_drawn(tmp_path):
    s = study_kit.Study(tmp_path)
    spec = {"content_layers": ["relu1_1", "relu2_1"], "style_layers": ["relu1_1", "relu2_1"]}
    s.experiment("rec", "reconstruct", list(spec))
    for values in reconstruction_trials(spec, "rec"):
        s.trial("rec", "c1", "s1", values, label=reconstruction_label(values))
    fig = layer_charts.layer_chart_figure(s.manifest(), "rec", s.runs_dir)
    curves = [drawn_curves(ax) for ax in fig.axes if ax.get_visible()]
    assert curves == [["content relu_1"], ["content relu_3"], ["style relu_1"], ["style relu_1", "style relu_3"]]


def test_the_chart_is_a_png_written_atomically(tmp_path):
    s = study_with_layers(tmp_path / "study")
    out = tmp_path / "out" / "layers.png"
    layer_charts.layer_chart(s.manifest(), "sw", s.runs_dir, out)
    with Image.open(out) as img:
        assert img.format == "PNG" and img.width > 600 and img.height > 400
    assert [p.name for p in out.parent.iterdir()] == ["layers.png"]


def test_a_missing_history_is_named(tmp_path):
    s = study_with_layers(tmp_path)
    victim = next(s.runs_dir.rglob("history.csv"))
    victim.unlink()
    with pytest.raises(InputError, match=f"history '{victim}' is missing"):
        layer_charts.layer_chart_figure(s.manifest(), "sw", s.runs_dir)


def test_many_runs_show_the_first_and_say_so(tmp_path, monkeypatch):
    s = study_with_layers(tmp_path, n_trials=3)
    monkeypatch.setattr(layer_charts, "MAX_PANELS", 4)
    fig = layer_charts.layer_chart_figure(s.manifest(), "sw", s.runs_dir)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 4
    assert "first 4 of 6 runs" in fig._suptitle.get_text()


def test_layer_columns_ignore_what_is_not_a_layer():
    history = pd.DataFrame(columns=["iteration", "content", "style", "total", "style_relu_3", "content_conv_4",
                                    "style_relu_1", "style_scale", "tv", "scale", "seconds"])
    assert layer_charts.layer_columns(history) == [
        ("content_conv_4", "content", "conv_4"), ("style_relu_1", "style", "relu_1"),
        ("style_relu_3", "style", "relu_3")]


def test_settled_at_is_where_a_curve_stays_near_its_end():
    assert layer_charts.settled_at([10, 5, 2, 1.05, 1.0, 0.98, 1.0]) == 3
    assert layer_charts.settled_at([1.0, 1.0]) == 0
    assert layer_charts.settled_at([10, 1, 10, 1]) == 3
    assert layer_charts.settled_at([np.nan, np.nan]) is None
    assert layer_charts.settled_at([4, 2, 1, np.nan]) == 2  # a trailing NaN is no end
