"""The layer-reconstruction figure (Gatys et al. 2016, Fig. 1; nst/study/figures/reconstruction.py),
from runs fabricated as tests/study_kit.py does, and the workflow that draws it (planning the
experiment: tests/study/plan/test_reconstruct.py)."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest
from PIL import Image

import study_kit
from kit import make_study, snakemake
from nst.errors import AggregateError
from nst.contracts import layout
from nst.study.figures import grids
from nst.study.plan.reconstruct import reconstruction_label, reconstruction_trials
from nst.study.figures.reconstruction import column_labels, reconstruction_figure, reconstruction_grid

FIVE = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]


# --- the figure ------------------------------------------------------------------------------
def reconstruction_study(root, content_layers=FIVE[:3], style_layers=FIVE[:3], weights="random",
                         status=None):
    """A fabricated study with one reconstruct experiment on two pairs."""
    s = study_kit.Study(root)
    spec = {k: v for k, v in (("content_layers", content_layers), ("style_layers", style_layers)) if v}
    s.experiment("rec", "reconstruct", list(spec))
    for values in reconstruction_trials(spec, "rec"):
        for pair in (("c1", "s1"), ("c2", "s2")):
            s.trial("rec", *pair, values, label=reconstruction_label(values),
                    status=(status or {}).get(reconstruction_label(values), "ok"))
    return s


def test_figure_has_a_content_and_a_style_row_per_pair(tmp_path):
    s = reconstruction_study(tmp_path)
    out = tmp_path / "rec.png"
    geo = reconstruction_figure(s.manifest(), "rec", s.runs_dir, out)
    assert (geo.n_rows, geo.n_cols) == (4, 4)  # 2 pairs x (content, style); reference + 3 layers
    with Image.open(out) as img:
        assert img.size == (geo.width, geo.height)
        pixels = np.asarray(img.convert("RGB"))
    with Image.open(s.images["style"]["s1"]) as style:
        x0, y0, x1, y1 = geo.cell_box(1, 0)  # c1/s1's style row starts with the style image
        assert tuple(pixels[(y0 + y1) // 2, (x0 + x1) // 2]) == style.getpixel((0, 0))
    trial = next(t for t in s.trials if t.label == "style_layers=relu_1+relu_3" and t.pair == ("c2", "s2"))
    n = round(s.records[("c2", "s2", trial.run_id)]["timing"]["seconds"] / 0.1)
    x0, y0, x1, y1 = geo.cell_box(3, 2)
    assert tuple(pixels[(y0 + y1) // 2, (x0 + x1) // 2]) == study_kit.color_of(n)
    assert geo.note_h > 0  # random weights: the banner


def test_figure_labels_name_the_layers_as_gatys_does(tmp_path):
    s = reconstruction_study(tmp_path)
    grid = reconstruction_grid(s.manifest(), "rec", s.runs_dir)
    assert grid.col_labels == ["reference", "relu1_1", "relu2_1", "relu3_1"]
    assert [c[1] for c in grid.cells[0]] == ["content image: c1", "relu1_1", "relu2_1", "relu3_1"]
    assert [c[1] for c in grid.cells[1]] == ["style image: s1", "relu1_1", "relu1_1 + relu2_1",
                                             "relu1_1 + relu2_1 + relu3_1"]
    assert grid.row_labels[:2] == ["c1 / s1\ncontent from one layer", "c1 / s1\nstyle from the layers up to"]
    assert grid.random


def test_content_and_style_layers_of_one_block_label_the_block(tmp_path):
    s = reconstruction_study(tmp_path, content_layers=["relu1_2", "relu2_2"], style_layers=["relu1_1", "relu2_1"])
    geo = reconstruction_figure(s.manifest(), "rec", s.runs_dir, tmp_path / "rec.png")
    assert (geo.n_rows, geo.n_cols) == (4, 3)
    rows = {"content_layers": [t for t in s.trials if "content_layers" in t.values and t.pair == ("c1", "s1")],
            "style_layers": [t for t in s.trials if "style_layers" in t.values and t.pair == ("c1", "s1")]}
    assert column_labels(rows, 3) == ["reference", "block 1", "block 2"]


def test_a_diverged_reconstruction_is_flagged(tmp_path):
    s = reconstruction_study(tmp_path, style_layers=None, status={"content_layers=relu_3": "diverged"})
    out = tmp_path / "rec.png"
    geo = reconstruction_figure(s.manifest(), "rec", s.runs_dir, out)
    assert (geo.n_rows, geo.n_cols) == (2, 4)  # content rows only
    red = (np.asarray(Image.open(out).convert("RGB")) == grids.FLAG_COLORS["DIVERGED"]).all(axis=2)
    x0, y0, x1, y1 = geo.cell_box(0, 2)
    assert red[y0:y1, x0:x1].any()
    x0, y0, x1, y1 = geo.cell_box(0, 1)
    assert not red[y0:y1, x0:x1].any()


def test_only_a_reconstruct_experiment_has_the_figure(tmp_path):
    s = reconstruction_study(tmp_path)
    s.experiment("other", "vary", ["iterations"])
    s.trial("other", "c1", "s1", {"iterations": 5})
    with pytest.raises(AggregateError, match="not reconstruct"):
        reconstruction_figure(s.manifest(), "other", s.runs_dir, tmp_path / "x.png")


# --- the workflow ----------------------------------------------------------------------------
@pytest.mark.workflow
def test_the_workflow_draws_the_layer_figures(tmp_path):
    config = {
        "images": {"content": "images/content", "style": "images/style"},
        "pairs": [{"content": "cat", "style": "wave"}],
        "params": {"size": 32, "iterations": 3, "weights": "random"},
        "execution": {"device": "cpu", "threads": 1},
        "experiments": {"rec": {"reconstruct": {"content_layers": ["relu1_1", "relu2_1"],
                                                "style_layers": ["relu1_1", "relu2_1"]}}},
        "evaluation": [{"name": "paper", "weights": "random"}],
    }
    root = make_study(tmp_path / "study", config)
    snakemake(root)
    for path in (layout.layer_chart("rec"), layout.reconstruction_figure("rec")):
        with Image.open(root / path) as img:
            assert img.format == "PNG" and img.width > 200, path
    snakemake(root, "--report", "report.zip")  # a zip: the report holds the gallery's folder
    with zipfile.ZipFile(root / "report.zip") as archive:
        html = archive.read("report/report.html").decode(errors="ignore")
    assert "layers.png" in html and "reconstruction.png" in html
