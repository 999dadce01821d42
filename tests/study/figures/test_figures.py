"""nst.study.figures.grids, figures and charts: grid layout and labels, experiment grids and charts of
every kind, Fig. 19, the selection figure.

The study (run folders + manifest) is the one tests/study_kit.py fabricates.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import study_kit
from nst.errors import AggregateError, NSTError
from nst.study.tables import aggregate
from nst.study.figures import charts, run_grids as figures, grids, selection_chart
from nst.contracts.cells import short_number
from nst.contracts.manifest import Manifest
from nst.study.tables.select import pair_rows, pairs_in_order
from study_kit import manifest, runs, scored, study  # noqa: F401 (fixtures)

COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200),
          (200, 30, 200), (120, 60, 10), (10, 60, 120)]


@pytest.fixture(scope="module")
def swatches(tmp_path_factory):
    folder = tmp_path_factory.mktemp("swatches")
    paths = []
    for k, color in enumerate(COLORS):
        path = folder / f"{k}.png"
        Image.new("RGB", (48, 32), color).save(path)
        paths.append(path)
    return paths


def pixels(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def center(geo, row, col):
    x0, y0, x1, y1 = geo.cell_box(row, col)
    return (y0 + y1) // 2, (x0 + x1) // 2


def swatch_cells(swatches, n_rows, n_cols, flag=None):
    return [[(swatches[(r * n_cols + c) % len(swatches)], f"cell {r},{c} L=1.2e+01 eval=3.4",
              flag if (r, c) == (0, 0) else None) for c in range(n_cols)] for r in range(n_rows)]


def draw(tmp_path, swatches, n_rows, n_cols, name="g.png", flag=None, note=None,
         col_labels=True):
    cells = swatch_cells(swatches, n_rows, n_cols, flag)
    out = tmp_path / name
    geo = grids.labelled_grid(
        cells, [f"row {r}" for r in range(n_rows)],
        [f"col {c}" for c in range(n_cols)] if col_labels else None,
        "A title", out, note=note)
    return geo, out


# --- labelled_grid --------------------------------------------------------------------------
def test_grid_png_is_rows_by_columns_of_equal_cells(tmp_path, swatches):
    geo, out = draw(tmp_path, swatches, 2, 3)
    img = pixels(out)
    assert (geo.n_rows, geo.n_cols) == (2, 3)
    assert img.shape[:2] == (geo.height, geo.width)
    # default cell: the first image (48 x 32) scaled up so its long side is MIN_CELL
    assert (geo.cell_w, geo.cell_h) == (grids.MIN_CELL, round(32 * grids.MIN_CELL / 48))
    assert geo.width == geo.row_label_w + geo.gap + 3 * (geo.cell_w + geo.gap)
    assert geo.height == (geo.title_h + geo.note_h + geo.col_label_h + geo.gap
                          + 2 * (geo.cell_h + geo.caption_h + geo.gap))
    for r in range(2):
        for c in range(3):
            x0, y0, x1, y1 = geo.cell_box(r, c)
            assert (x0, y0) == (geo.row_label_w + geo.gap + c * (geo.cell_w + geo.gap),
                                geo.top + r * (geo.cell_h + geo.caption_h + geo.gap))
            assert (x1 - x0, y1 - y0) == (geo.cell_w, geo.cell_h)
            assert tuple(img[center(geo, r, c)]) == COLORS[(r * 3 + c) % len(COLORS)], (r, c)
            assert tuple(img[(y0 + y1) // 2, x1 + geo.gap // 2]) == grids.BACKGROUND  # gutter
    assert geo == grids.grid_geometry(2, 3, geo.cell_w, geo.cell_h, caption_h=geo.caption_h,
                                        row_label_w=geo.row_label_w,
                                        col_label_h=geo.col_label_h, title_h=geo.title_h,
                                        note_h=geo.note_h, gap=geo.gap)


def test_adding_a_column_or_a_row_adds_exactly_one_cell(tmp_path, swatches):
    geo, out = draw(tmp_path, swatches, 2, 3, "a.png")
    wider, wider_out = draw(tmp_path, swatches, 2, 4, "b.png")
    taller, taller_out = draw(tmp_path, swatches, 3, 3, "c.png")
    assert pixels(wider_out).shape[:2] == (geo.height, geo.width + geo.pitch_x)
    assert pixels(taller_out).shape[:2] == (geo.height + geo.pitch_y, geo.width)
    assert geo.pitch_x == geo.cell_w + geo.gap
    assert geo.pitch_y == geo.cell_h + geo.caption_h + geo.gap


def test_cell_px_sets_the_cell_size(tmp_path, swatches):
    out = tmp_path / "px.png"
    geo = grids.labelled_grid(swatch_cells(swatches, 1, 2), None, None, "", out, cell_px=(60, 40))
    assert (geo.cell_w, geo.cell_h) == (60, 40)
    assert geo.row_label_w == 0 and geo.col_label_h == 0 and geo.title_h == 0
    assert pixels(out).shape[:2] == (geo.height, geo.width)
    assert tuple(pixels(out)[center(geo, 0, 1)]) == COLORS[1]


def test_diverged_flag_changes_only_its_cell(tmp_path, swatches):
    geo, plain = draw(tmp_path, swatches, 2, 2, "plain.png")
    flagged_geo, flagged = draw(tmp_path, swatches, 2, 2, "flag.png", flag="DIVERGED")
    assert flagged_geo == geo
    a, b = pixels(plain), pixels(flagged)
    x0, y0, x1, y1 = geo.cell_box(0, 0)
    changed = (a != b).any(axis=2)
    assert changed[y0:y1, x0:x1].sum() > 0.1 * geo.cell_w * geo.cell_h
    changed[y0:y1, x0:x1] = False
    assert not changed.any()
    assert tuple(b[center(geo, 0, 0)]) == grids.FLAG_COLORS["DIVERGED"]  # the band
    assert (b[y0:y1, x0:x1] == grids.FLAG_COLORS["DIVERGED"]).all(axis=2).any()


def test_note_banner_is_drawn(tmp_path, swatches):
    geo, plain = draw(tmp_path, swatches, 1, 2, "plain.png")
    noted_geo, noted = draw(tmp_path, swatches, 1, 2, "noted.png", note=aggregate.RANDOM_NOTE)
    assert noted_geo.note_h > 0 and geo.note_h == 0
    assert noted_geo.height == geo.height + noted_geo.note_h
    banner = (pixels(noted) == grids.NOTE_FILL).all(axis=2)
    assert banner.sum() > noted_geo.width * noted_geo.note_h // 2
    assert not (pixels(plain) == grids.NOTE_FILL).all(axis=2).any()


def test_missing_cell_is_blank_and_ragged_rows_are_refused(tmp_path, swatches):
    cells = swatch_cells(swatches, 1, 3)
    cells[0][1] = None
    out = tmp_path / "blank.png"
    geo = grids.labelled_grid(cells, None, ["a", "b", "c"], "t", out)
    x0, y0, x1, y1 = geo.cell_box(0, 1)
    assert (pixels(out)[y0:y1, x0:x1] == grids.BACKGROUND).all()
    with pytest.raises(ValueError, match="row 1 has 1 cells"):
        grids.labelled_grid([cells[0], cells[0][:1]], None, None, "t", out)
    with pytest.raises(ValueError, match="2 column labels for 3 columns"):
        grids.labelled_grid(cells, None, ["a", "b"], "t", out)


def test_grid_is_written_atomically(tmp_path, swatches):
    _, out = draw(tmp_path, swatches, 1, 1, "only.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["only.png"]


def test_measuring_then_drawing_is_the_grid(tmp_path, swatches):
    cells = swatch_cells(swatches, 2, 2, flag="DIVERGED")
    geo = grids.labelled_grid(cells, ["a", "b"], ["c", "d"], "A title", tmp_path / "g.png", note="note",
                              cell_px=64)
    measured, text = grids.measure_grid(cells, ["a", "b"], ["c", "d"], "A title", "note", 64, 64)
    # what was measured is what lands on disk: the file's size, and the cells where measured
    assert text.title == ["A title"] and text.row_labels == [["a"], ["b"]]
    with Image.open(tmp_path / "g.png") as img:
        assert img.size == (measured.width, measured.height) == (geo.width, geo.height)


def test_long_labels_wrap_within_their_cell():
    font = grids.sized_font(11)
    lines = grids.wrap_text("style_layers=relu_1+relu_2+relu_3+relu_4+relu_5, L=1.23e+04", font,
                          100, 3)
    assert 1 < len(lines) <= 3
    assert all(grids.text_width(font, line) <= 100 for line in lines)
    assert lines[-1].endswith("...") or "".join(lines).replace(" ", "").endswith("e+04")


# --- experiment grids -----------------------------------------------------------------------
def test_experiment_grid_rows_are_pairs_and_columns_trials(study, manifest, runs, tmp_path):
    table = aggregate.experiment_table(manifest, runs, "iterations")
    out = tmp_path / "iterations.png"
    geo = figures.experiment_grid(manifest, table, "iterations", study.runs_dir, out)
    assert (geo.n_rows, geo.n_cols) == (3, 3)  # 3 pairs x iterations 100/300/600
    img = pixels(out)
    assert img.shape[:2] == (geo.height, geo.width)
    for r, (content, style) in enumerate(study_kit.TUNE_PAIRS):
        for c, it in enumerate((100, 300, 600)):
            record = study.records[(content, style, study_kit.baseline_id(iterations=it))]
            n = round(record["timing"]["seconds"] / 0.1)
            assert tuple(img[center(geo, r, c)]) == study_kit.color_of(n)
    # random weights: the banner is there
    assert geo.note_h > 0 and (img == grids.NOTE_FILL).all(axis=2).any()


def test_experiment_grid_marks_diverged_runs(study, manifest, runs, tmp_path):
    table = aggregate.experiment_table(manifest, runs, "optimizer")
    out = tmp_path / "optimizer.png"
    geo = figures.experiment_grid(manifest, table, "optimizer", study.runs_dir, out)
    img = pixels(out)
    red = (img == grids.FLAG_COLORS["DIVERGED"]).all(axis=2)
    ok, bad = geo.cell_box(0, 0), geo.cell_box(0, 1)  # lbfgs ok, sgd diverged
    assert red[bad[1]:bad[3], bad[0]:bad[2]].any()
    assert not red[ok[1]:ok[3], ok[0]:ok[2]].any()


def test_subsets_grid_wraps_many_trials(study, manifest, runs, tmp_path):
    table = aggregate.experiment_table(manifest, runs, "layers")  # 15 trials, one pair
    geo = figures.experiment_grid(manifest, table, "layers", study.runs_dir, tmp_path / "layers.png")
    assert (geo.n_rows, geo.n_cols) == (2, figures.MAX_COLS)
    assert geo.col_label_h == 0  # labels are in the captions
    narrow = figures.experiment_grid(manifest, table, "layers", study.runs_dir,
                                     tmp_path / "layers5.png", max_cols=5)
    assert (narrow.n_rows, narrow.n_cols) == (3, 5)
    img = pixels(tmp_path / "layers.png")
    x0, y0, x1, y1 = geo.cell_box(1, 7)  # 15 trials: the 16th cell is blank
    assert (img[y0:y1, x0:x1] == grids.BACKGROUND).all()


def test_pairs_grid_is_the_content_by_style_matrix(study, manifest, runs, tmp_path):
    table = aggregate.experiment_table(manifest, runs, "matrix")
    out = tmp_path / "matrix.png"
    geo = figures.experiment_grid(manifest, table, "matrix", study.runs_dir, out)
    assert (geo.n_rows, geo.n_cols) == (2, 2)
    img = pixels(out)
    for r, content in enumerate(("c1", "c2")):
        for c, style in enumerate(("s1", "s2")):
            record = study.records[(content, style, study_kit.baseline_id())]
            n = round(record["timing"]["seconds"] / 0.1)
            assert tuple(img[center(geo, r, c)]) == study_kit.color_of(n)


def test_tune_grid_marks_the_selected_cells(study, manifest, runs, tmp_path):
    table = aggregate.experiment_table(manifest, runs, "revised")
    out = tmp_path / "revised.png"
    geo = figures.experiment_grid(manifest, table, "revised", study.runs_dir, out)
    assert (geo.n_rows, geo.n_cols) == (3, 4)
    green = (pixels(out) == grids.FLAG_COLORS["SELECTED"]).all(axis=2)
    marked = set()
    for r in range(3):
        for c in range(4):
            x0, y0, x1, y1 = geo.cell_box(r, c)
            if green[y0:y1, x0:x1].any():
                marked.add((r, c))
    # (c1, s1): content_weight=1, init=zeros (col 1); (c2, s2): override 5/zeros (col 3)
    assert marked == {(0, 1), (1, 3)}


def test_grid_accepts_a_table_read_back_with_plain_read_csv(study, manifest, runs, tmp_path):
    table = aggregate.experiment_table(manifest, runs, "revised")
    path = aggregate.write_csv(table, tmp_path / "revised.csv")
    back = pd.read_csv(path)
    geo = figures.experiment_grid(manifest, back, "revised", study.runs_dir,
                                  tmp_path / "r.png")
    assert (geo.n_rows, geo.n_cols) == (3, 4)
    stale = back.copy()
    stale.loc[0, "run_id"] = "ffffffffffff"
    with pytest.raises(AggregateError, match="out of date"):
        figures.experiment_grid(manifest, stale, "revised", study.runs_dir,
                                tmp_path / "s.png")


# --- charts ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["iterations", "style_weight", "optimizer", "layers",
                                  "weights_grid", "matrix", "revised"])
def test_chart_is_a_png_for_every_kind(study, manifest, runs, tmp_path, name):
    table = aggregate.experiment_table(manifest, runs, name)
    out = charts.experiment_chart(manifest, table, name, study.runs_dir, tmp_path / f"{name}.png")
    with Image.open(out) as img:
        assert img.format == "PNG"
        assert img.width > 200 and img.height > 150
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.png"]


def test_grouped_chart_labels_flags_and_turns_horizontal_for_many_labels(manifest, runs):
    table = aggregate.experiment_table(manifest, runs, "revised")
    labels = list(table["label"][:4])
    expected = [labels[0], labels[1] + " [SELECTED]", labels[2], labels[3] + " [DIVERGED]"]
    vertical = charts.grouped_chart(table)
    horizontal = charts.grouped_chart(table, horizontal_over=2)
    assert len(vertical.axes) == len(horizontal.axes) == 3  # one panel per pair
    ticks = [t.get_text() for t in vertical.axes[0].get_xticklabels()]
    assert ticks == [e.replace(", ", "\n").replace(" [", "\n[") for e in expected]
    assert [t.get_text() for t in horizontal.axes[0].get_yticklabels()] == expected
    assert [t.get_text() for t in horizontal.axes[0].get_xticklabels()] != expected


def test_iterations_chart_plots_the_longest_history(study, manifest, runs):
    table = aggregate.experiment_table(manifest, runs, "iterations")
    fig = charts.iterations_chart(table, study.runs_dir)
    history = pd.read_csv(study.runs_dir / "c2" / "s1" / study_kit.baseline_id(iterations=600)
                          / "history.csv")
    curves = [line for line in fig.axes[0].get_lines() if len(line.get_xdata()) == 600]
    assert len(curves) == 3  # one per pair
    assert np.allclose(curves[-1].get_ydata(), history["total"])
    finals = [line for line in fig.axes[0].get_lines() if "final own total" in line.get_label()]
    assert list(finals[0].get_xdata()) == [100, 300, 600]


def test_iterations_chart_reads_the_longest_history(study, manifest, runs, tmp_path):
    other = study_kit.build_study(tmp_path / "copy")
    m = Manifest.load(study_kit.write_manifest(other))
    other_runs = aggregate.runs_table(m, other.runs_dir)
    table = aggregate.experiment_table(m, other_runs, "iterations")
    longest = other.runs_dir / "c1" / "s1" / study_kit.baseline_id(iterations=600) / "history.csv"
    longest.unlink()
    with pytest.raises(NSTError, match="history.csv"):
        charts.experiment_chart(m, table, "iterations", other.runs_dir, tmp_path / "it.png")


# --- results array --------------------------------------------------------------------------
def test_results_array_has_one_row_per_pair(study, manifest, runs, tmp_path):
    t5 = aggregate.table5(manifest, runs)
    out = tmp_path / "fig19.png"
    geo = figures.results_array(manifest, t5, study.runs_dir, out, [runs])
    assert (geo.n_rows, geo.n_cols) == (len(t5), 4) == (3, 4)
    img = pixels(out)
    assert img.shape[:2] == (geo.height, geo.width)
    for r, row in enumerate(t5.itertuples()):
        base = study.records[(row.content, row.style, row.baseline_run_id)]
        n = round(base["timing"]["seconds"] / 0.1)
        assert tuple(img[center(geo, r, 2)]) == study_kit.color_of(n)
        with Image.open(study.images["style"][row.style]) as style:
            assert tuple(img[center(geo, r, 0)]) == style.getpixel((0, 0))
    # row 3 (all revised runs diverged): the "Ours" cell has no image
    x0, y0, x1, y1 = geo.cell_box(2, 3)
    assert tuple(img[y0 + (y1 - y0) // 5, (x0 + x1) // 2]) == grids.BACKGROUND
    x0, y0, x1, y1 = geo.cell_box(0, 3)
    assert tuple(img[y0 + (y1 - y0) // 5, (x0 + x1) // 2]) != grids.BACKGROUND


def test_results_array_from_the_tables_on_disk_is_the_same_figure(study, manifest, runs, tmp_path):
    """`nst figures results-array` draws from table5.csv and the two experiments' tables."""
    t5 = aggregate.table5(manifest, runs)
    figures.results_array(manifest, t5, study.runs_dir, tmp_path / "memory.png", [runs])
    compared = [aggregate.read_csv(aggregate.write_csv(aggregate.experiment_table(manifest, runs, name),
                                                       tmp_path / f"{name}.csv"))
                for name in ("iterations", "revised")]
    back = aggregate.read_csv(aggregate.write_csv(t5, tmp_path / "table5.csv"))
    figures.results_array(manifest, back, study.runs_dir, tmp_path / "disk.png", compared)
    assert (pixels(tmp_path / "memory.png") == pixels(tmp_path / "disk.png")).all()


# --- selection of a tuned experiment and the evaluator in every figure ---------------------
def test_selection_figure_marks_the_chosen_candidate_of_each_pair(scored, tmp_path):
    s, manifest, runs = scored
    table = aggregate.experiment_table(manifest, runs, "revised")
    out = selection_chart.selection_figure(manifest, table, "revised", tmp_path / "selection.png")
    with Image.open(out) as img:
        assert img.size[0] > 600 and img.size[1] > 300
    from matplotlib.figure import Figure

    evaluator = study_kit.GATYS
    marked = set()
    for content, style in pairs_in_order(table):
        rows = pair_rows(table, content, style).reset_index(drop=True)
        ax = Figure().add_subplot()
        selection_chart.selection_panel(ax, rows, evaluator.column("style"), evaluator.column("content"))
        stars = [c for c in ax.collections if c.get_label().startswith("selected")]
        picked = rows[rows["selected"]]
        if picked.empty:  # all diverged: nothing to mark, and it says so
            assert not stars and any("nothing selected" in t.get_text() for t in ax.texts)
            continue
        point = picked[[evaluator.column("style"), evaluator.column("content")]].to_numpy()
        assert np.allclose(stars[0].get_offsets(), point)
        override = "override" in picked["note"].item()
        assert stars[0].get_label() == ("selected (override)" if override else "selected")
        marked.add((content, style))
    assert marked, "no pair had a selected candidate: the checks above never ran"


def test_selection_figure_is_only_for_tuned_experiments(scored, tmp_path):
    _, manifest, runs = scored
    table = aggregate.experiment_table(manifest, runs, "iterations")
    with pytest.raises(AggregateError, match="not a tuned experiment"):
        selection_chart.selection_figure(manifest, table, "iterations", tmp_path / "x.png")


def test_figure_titles_and_captions_name_the_evaluator(scored):
    _, manifest, runs = scored
    evaluator = study_kit.GATYS
    assert f"gatys [{evaluator.hash}]" in figures.evaluator_line(manifest)
    assert figures.score_column(manifest)[0] == evaluator.column("total")
    row = runs.iloc[0].to_dict()
    caption = figures.run_caption(row, manifest.main_evaluator)
    assert f"S={short_number(row[evaluator.column('style')])}" in caption
