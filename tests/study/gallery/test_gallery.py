"""The gallery's Python side (nst/study/gallery/): a run's card (thumbnail, loss curve), the
page's data from the runs table and the manifest, and the folder a build writes. The page
itself is tested in a real browser (tests/study/gallery/test_gallery_browser.py)."""
from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from nst.errors import InputError
from nst.contracts import layout
from nst.study.tables import aggregate
from nst.study.gallery import build, cards
from nst.study.gallery.data import data_script, gallery_data, identity_columns
from kit import run_nst
from study_kit import scored  # noqa: F401  (module fixture: every experiment kind, scored)


def decoded(data: dict, name: str) -> list:
    """A column of the page's data decoded as the page decodes it."""
    column = data["columns"][name]
    if "numbers" in column:
        return column["numbers"]
    return [column["values"][c] for c in column.get("codes", [0] * data["count"])]


def curve_of(script: str) -> tuple[str, dict]:
    """The key and curve a curve.js files (it is one assignment of a JSON object)."""
    head, _, body = script.partition("] = ")
    return json.loads(head.split("[", 1)[1]), json.loads(body.rstrip().rstrip(";"))


# --- a run's card --------------------------------------------------------------------------
def test_a_thumbnail_keeps_the_aspect_and_is_never_enlarged(tmp_path):
    Image.new("RGB", (512, 256), (10, 200, 30)).save(tmp_path / "big.png")
    Image.new("RGB", (32, 32), (10, 200, 30)).save(tmp_path / "small.png")
    cards.write_thumbnail(tmp_path / "big.png", tmp_path / "big.webp")
    cards.write_thumbnail(tmp_path / "small.png", tmp_path / "small.webp")
    with Image.open(tmp_path / "big.webp") as big, Image.open(tmp_path / "small.webp") as small:
        assert big.format == "WEBP" and big.size == (cards.THUMB_SIDE, cards.THUMB_SIDE // 2)
        assert small.size == (32, 32)
        assert abs(big.convert("RGB").getpixel((10, 10))[1] - 200) < 8


def test_an_unreadable_run_image_is_one_error_naming_it(tmp_path):
    (tmp_path / "image.png").write_text("not a png")
    with pytest.raises(InputError, match="image.png"):
        cards.write_thumbnail(tmp_path / "image.png", tmp_path / "t.webp")
    assert not (tmp_path / "t.webp").exists()


def test_the_curve_keeps_first_and_last_and_at_most_its_points(tmp_path):
    rows = [{"iteration": i, "content": 1.0 / i, "style": 10.0 / i, "total": 11.0 / i, "seconds": i}
            for i in range(1, 1001)]
    rows[-1]["style"] = math.nan  # the last row is always kept
    pd.DataFrame(rows).to_csv(tmp_path / "history.csv", index=False)
    curve = cards.read_curve(tmp_path / "history.csv")
    assert curve["rows"] == 1000 and len(curve["iteration"]) == cards.CURVE_POINTS
    assert curve["iteration"][0] == 1 and curve["iteration"][-1] == 1000
    assert curve["iteration"] == sorted(curve["iteration"])
    assert set(curve) == {"rows", "iteration", "total", "content", "style"}  # no tv, no seconds
    assert curve["style"][-1] is None  # non-finite: null, not NaN (which JSON has not)
    assert curve["total"][0] == 11.0 and curve["style"][0] == 10.0


def test_a_card_is_a_thumbnail_and_a_script_filing_the_curve_under_the_key(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    Image.new("RGB", (40, 40), (1, 2, 3)).save(run / "image.png")
    pd.DataFrame({"iteration": [1, 2], "content": [2.0, 1.0], "style": [4.0, 3.0], "total": [6.0, 4.0],
                  "seconds": [0.1, 0.2], "scale": [16, 32]}).to_csv(run / "history.csv", index=False)
    cards.write_card(run, "cat/wave/abc", tmp_path / "t.webp", tmp_path / "c.js")
    key, curve = curve_of((tmp_path / "c.js").read_text())
    assert key == "cat/wave/abc"
    assert curve["total"] == [6.0, 4.0] and curve["scale"] == [16, 32]


def test_nst_gallery_card_reports_a_missing_history_in_one_line(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "image.png")
    proc = run_nst(["gallery", "card", tmp_path, "--key", "a/b/c", "--thumb", tmp_path / "t.webp",
                    "--curve", tmp_path / "c.js"])
    assert proc.returncode == 2 and "history.csv" in proc.stderr and "Traceback" not in proc.stderr


# --- the page's data ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tables(scored):  # noqa: F811
    _, manifest, runs = scored
    return {"revised": aggregate.experiment_table(manifest, runs, "revised")}


def test_every_run_is_in_the_data_once_with_its_values(scored, tables):  # noqa: F811
    _, manifest, runs = scored
    data = gallery_data(manifest, runs, tables)
    assert data["count"] == len(runs) == len(data["trials"])
    keys = list(zip(decoded(data, "content"), decoded(data, "style"), decoded(data, "run_id")))
    assert keys == list(zip(runs["content"], runs["style"], runs["run_id"]))
    assert decoded(data, "score_gatys_total") == [float(f"{v:.6g}") for v in runs["score_gatys_total"]]
    assert decoded(data, "status") == list(runs["status"])
    assert decoded(data, "style_weight") == [int(v) if float(v).is_integer() else v for v in runs["style_weight"]]
    json.loads(data_script(data)[len("window.NST_GALLERY = "):].rstrip().rstrip(";"))  # valid JSON: no NaN


def test_a_field_varies_exactly_when_it_takes_two_values(scored, tables):  # noqa: F811
    _, manifest, runs = scored
    fields = {f["name"]: f for f in gallery_data(manifest, runs, tables)["fields"]}
    assert fields["style_weight"]["varies"] and fields["optimizer"]["varies"] and fields["init"]["varies"]
    assert not fields["size"]["varies"] and not fields["param_weights"]["varies"]
    assert {"device", "threads", "snapshots", "checkpoint_seconds"}.isdisjoint(
        n for n, f in fields.items() if f["group"] == "param")  # execution settings are not a run's settings
    assert fields["score_gatys_total"]["group"] == "score" and fields["final_total"]["group"] == "loss"
    assert "param_device" not in identity_columns(runs)


def test_trials_list_every_experiment_of_a_shared_run_and_the_selection(scored, tables):  # noqa: F811
    _, manifest, runs = scored
    data = gallery_data(manifest, runs, tables)
    names = [e["name"] for e in data["experiments"]]
    per_run = {(c, s, r): t for c, s, r, t in zip(runs["content"], runs["style"], runs["run_id"], data["trials"])}
    for trial in manifest.trials:
        entries = per_run[(trial.content, trial.style, trial.run_id)]
        assert [names.index(trial.experiment), trial.label] in [e[:2] for e in entries]
    assert max(len(t) for t in data["trials"]) >= 2  # the baseline runs in several experiments
    revised = tables["revised"]
    for _, row in revised.iterrows():
        entry = next(e for e in per_run[(row.content, row["style"], row.run_id)] if names[e[0]] == "revised")
        assert entry[2] == int(bool(row.selected))


def test_a_stopped_candidate_keeps_where_it_stopped(scored, tables):  # noqa: F811
    _, manifest, runs = scored
    trials = tuple(dataclasses.replace(t, stopped_at=100) if t.experiment == "revised" and i % 2 else t
                   for i, t in enumerate(manifest.trials))
    data = gallery_data(dataclasses.replace(manifest, trials=trials), runs, tables)
    stops = [e[3] for entries in data["trials"] for e in entries]
    assert stops.count(100) == sum(1 for t in trials if t.stopped_at == 100)


def test_a_table_that_does_not_fit_the_manifest_is_refused(scored, tables):  # noqa: F811
    from nst.errors import AggregateError

    _, manifest, runs = scored
    with pytest.raises(AggregateError, match="revised"):
        gallery_data(manifest, runs, {"revised": tables["revised"].iloc[1:]})
    with pytest.raises(AggregateError, match="not in runs.csv"):
        gallery_data(manifest, runs.iloc[1:], tables)


def test_random_weights_are_said(scored, tables):  # noqa: F811
    _, manifest, runs = scored
    assert gallery_data(manifest, runs, tables)["random_weights"] is True
    real = runs.assign(random_weights=False)
    assert gallery_data(manifest, real, tables)["random_weights"] is False


# --- the folder -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(scored, tables):  # noqa: F811
    """The scored study as a results folder: runs.csv, the tuned table, every run's card."""
    study, manifest, runs = scored
    results = study.root
    aggregate.write_csv(runs, layout.table("runs", results))
    aggregate.write_csv(tables["revised"], layout.table("revised", results))
    for content, style, run_id in zip(runs["content"], runs["style"], runs["run_id"]):
        folder = layout.run_folder(content, style, run_id, runs=study.runs_dir)
        cards.write_card(folder, f"{content}/{style}/{run_id}",
                         layout.card_file(content, style, run_id, layout.THUMB, results),
                         layout.card_file(content, style, run_id, layout.CURVE, results))
    out = results / "gallery"
    build.build_gallery(manifest, results, out)
    return study, manifest, runs, out


def test_the_folder_has_the_page_its_data_and_every_runs_files(built):
    study, manifest, runs, out = built
    for name in build.ASSETS + ("data.js",):
        assert (out / name).stat().st_size > 100, name
    copies = sorted(p.relative_to(out).as_posix() for p in (out / "runs").rglob("*") if p.is_file())
    assert copies == sorted(f"runs/{c}/{s}/{r}.{ext}" for c, s, r in zip(runs["content"], runs["style"], runs["run_id"])
                            for ext in ("js", "png", "webp"))
    for content, style, run_id in zip(runs["content"], runs["style"], runs["run_id"]):
        copy = out / "runs" / content / style / run_id
        source = Path(layout.run_file(content, style, run_id, layout.IMAGE, study.runs_dir))
        assert os.path.samefile(copy.with_suffix(".png"), source)  # a hard link: no second copy on disk
        thumb = Path(layout.card_file(content, style, run_id, layout.THUMB, study.root))
        assert copy.with_suffix(".webp").read_bytes() == thumb.read_bytes()
        assert curve_of(copy.with_suffix(".js").read_text())[0] == f"{content}/{style}/{run_id}"
    data = json.loads((out / "data.js").read_text()[len("window.NST_GALLERY = "):].rstrip().rstrip(";"))
    for role in ("content", "style"):
        for stem, path in data["images"][role].items():
            assert (out / path).is_file() and stem in manifest.images[role]
    html = (out / "index.html").read_text()
    assert "http://" not in html and "https://" not in html  # nothing from the internet
    for name in build.ASSETS[1:]:
        assert name in html


def test_a_rebuild_replaces_the_folder_and_a_missing_card_is_named(built, tmp_path):
    study, manifest, runs, out = built
    (out / "stale.txt").write_text("from an older build")
    build.build_gallery(manifest, study.root, out)
    assert not (out / "stale.txt").exists() and (out / "index.html").is_file()
    content, style, run_id = runs.iloc[0][["content", "style", "run_id"]]
    card = Path(layout.card_file(content, style, run_id, layout.THUMB, study.root))
    card.rename(tmp_path / "kept.webp")
    try:
        with pytest.raises(InputError, match=str(card)):
            build.build_gallery(manifest, study.root, out)
        assert (out / "index.html").is_file()  # the last good gallery stays
    finally:
        (tmp_path / "kept.webp").rename(card)
