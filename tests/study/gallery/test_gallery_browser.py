"""The gallery page in a real browser (Debian's Chromium through Playwright, tests/browser_kit.py),
on a small study made here by the real snakemake CLI with every experiment kind (pairs with a
blend, vary with a diverging value, subsets, grid, tune with its selection, successive halving
with its stopped candidates, reconstruct), random weights, 32 px: opened from disk (file://)
and from inside the report's zip."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from nst.contracts import layout
from nst.study.tables.aggregate import read_csv
from kit import PAIR, make_study, snakemake

pytestmark = pytest.mark.workflow

TWO_PAIRS = [{"content": "cat", "style": "wave"}, {"content": "dog", "style": "mosaic"}]
CONFIG = {
    "images": {"content": "images/content", "style": "images/style"},
    "pairs": "all",
    "blends": {"mix": {"wave": 1, "mosaic": 1}},
    "params": {"size": 32, "iterations": 3, "weights": "random"},
    "execution": {"device": "cpu", "threads": 1},
    "experiments": {
        "matrix": {"base": "baseline", "pairs": [*TWO_PAIRS, {"content": "cat", "style": "mix"}]},
        "style_weight": {"pairs": PAIR, "vary": {"style_weight": [1.0e+5, 1.0e+39]}},
        "layers": {"pairs": PAIR, "subsets": {"style_layers": ["conv_1", "conv_3"]}},
        "grid": {"pairs": PAIR, "grid": {"init": ["content", "zeros"], "style_weight": [1.0e+5, 1.0e+6]}},
        "revised": {"base": "revised", "pairs": TWO_PAIRS, "tune": {"style_weight": [1.0e+5, 1.0e+6]}},
        "halving": {"base": "revised", "pairs": PAIR, "schedule": "halving", "eta": 3, "min_iterations": 2,
                    "set": {"iterations": 6}, "tune": {"style_weight": [1.0e+3, 1.0e+5, 1.0e+7]}},
        "rec": {"pairs": PAIR, "reconstruct": {"content_layers": ["relu1_1"], "style_layers": ["relu1_1"]}},
    },
    "evaluation": [{"name": "paper", "weights": "random"}],
}
SCORE = "score_paper_total"


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = make_study(tmp_path_factory.mktemp("gallery"), CONFIG)
    snakemake(root)
    return root


@pytest.fixture(scope="module")
def runs(study) -> pd.DataFrame:
    return read_csv(study / layout.RUNS_TABLE)


def keys_of(table: pd.DataFrame) -> list[str]:
    return [f"{c}/{s}/{r}" for c, s, r in zip(table["content"], table["style"], table["run_id"])]


@pytest.fixture
def page(browser):
    """A fresh page; `page.errors` collects console errors and uncaught exceptions."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.errors = []
    tab.on("console", lambda message: tab.errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    yield tab
    context.close()


def open_gallery(page, index: Path, hash_: str = "") -> None:
    page.goto(index.resolve().as_uri() + hash_)
    page.wait_for_selector("body[data-ready=true]")


def listed(page) -> list[str]:
    """Every card the grid lists, in order (scrolled through: only what is on screen exists)."""
    seen = {}
    height = page.evaluate("document.getElementById('grid').scrollHeight")
    step = page.evaluate("document.getElementById('grid').clientHeight")
    for top in range(0, height + step, step):
        page.evaluate(f"document.getElementById('grid').scrollTop = {top}")
        page.wait_for_timeout(60)
        for key, y, x in page.eval_on_selector_all(".card", "cs => cs.map(c => [c.dataset.key, "
                                                   "c.getBoundingClientRect().top + document.getElementById('grid')"
                                                   ".scrollTop, c.getBoundingClientRect().left])"):
            seen[key] = (round(y), round(x))
    page.evaluate("document.getElementById('grid').scrollTop = 0")
    return sorted(seen, key=seen.get)


def count_text(page) -> str:
    return page.inner_text("#count")


def search(page, key: str) -> None:
    """Search for one run by its key (a run id alone may name runs of several pairs)."""
    page.fill("#search", key)
    page.wait_for_function("document.querySelectorAll('.card').length === 1")
    assert page.get_attribute(".card", "data-key") == key


# --- from disk -------------------------------------------------------------------------------
def test_the_page_lists_every_run_and_marks_them(study, runs, page):
    index = study / layout.GALLERY / layout.GALLERY_INDEX
    open_gallery(page, index)
    assert count_text(page) == f"all {len(runs)} runs"
    assert sorted(listed(page)) == sorted(keys_of(runs))
    assert "RANDOM WEIGHTS" in page.inner_text("#banner")
    diverged = runs[runs["status"] != "ok"]
    assert len(diverged) >= 1
    search(page, keys_of(diverged)[0])
    assert "DIVERGED" in page.inner_text(".card .marks")
    revised = read_csv(study / layout.table("revised"))
    chosen = revised[revised["selected"].astype(str) == "True"]
    search(page, keys_of(chosen)[0])
    assert "SELECTED" in page.inner_text(".card")
    halved = read_csv(study / layout.table("halving"))
    stopped = halved[halved["stopped_at"].notna()]
    assert len(stopped) == 2
    search(page, keys_of(stopped)[0])
    assert "STOPPED" in page.inner_text(".card .marks")
    assert page.eval_on_selector(".card .thumb img", "i => i.complete && i.naturalWidth") > 0
    assert page.errors == []


def test_every_experiment_is_a_value_with_its_count(study, runs, page):
    open_gallery(page, study / layout.GALLERY / layout.GALLERY_INDEX)
    for name in CONFIG["experiments"]:
        table = read_csv(study / layout.table(name))
        label = page.locator(f'fieldset[data-control="experiment"] label:has(input[value="{name}"])')
        assert label.locator(".count").inner_text() == str(len(set(keys_of(table)))), name
    assert page.errors == []


def test_ticking_values_narrows_the_cards_to_their_count(study, runs, page):
    open_gallery(page, study / layout.GALLERY / layout.GALLERY_INDEX)
    weight = runs["style_weight"].astype(float) == 1e5
    box = 'fieldset[data-control="style_weight"] input[value="100000"]'
    label_count = page.locator(f'fieldset[data-control="style_weight"] label:has(input[value="100000"]) .count')
    assert label_count.inner_text() == str(weight.sum())
    page.check(box)
    assert count_text(page) == f"{weight.sum()} of {len(runs)} runs"
    assert sorted(listed(page)) == sorted(keys_of(runs[weight]))
    both = weight & (runs["content"] == "dog")
    dog = page.locator('fieldset[data-control="content"] label:has(input[value="dog"]) .count')
    assert dog.inner_text() == str(both.sum())  # counts follow the other controls' ticks
    page.check('fieldset[data-control="content"] input[value="dog"]')
    assert count_text(page) == f"{both.sum()} of {len(runs)} runs"
    assert sorted(listed(page)) == sorted(keys_of(runs[both]))
    assert page.errors == []


def test_sorting_by_a_score_orders_the_cards(study, runs, page):
    open_gallery(page, study / layout.GALLERY / layout.GALLERY_INDEX)
    page.select_option("#sort", SCORE)
    scores = runs[SCORE].astype(float).map(lambda v: float(f"{v:.6g}"))  # as data.js holds them
    ordered = runs.assign(position=range(len(runs)), score=scores)
    ascending = ordered.sort_values(["score", "position"], na_position="last", kind="stable")
    assert listed(page) == keys_of(ascending)
    page.click("#dir")
    descending = ordered.assign(neg=-scores).sort_values(["neg", "position"], na_position="last", kind="stable")
    assert listed(page) == keys_of(descending)
    first = page.inner_text(".card[data-key='%s'] .sorted" % keys_of(descending)[0])
    assert first.endswith(SCORE) and first.split()[0] != "\u2013"  # the card shows the value it is sorted by
    assert page.errors == []


def test_the_address_brings_the_view_back_after_a_reload(study, runs, page):
    open_gallery(page, study / layout.GALLERY / layout.GALLERY_INDEX)
    page.check('fieldset[data-control="content"] input[value="cat"]')
    page.select_option("#sort", "final_total")
    page.click("#dir")
    picks = listed(page)[:2]
    for key in picks:
        page.check(f".card[data-key='{key}'] input.pick")
    page.click("#compare-button")
    page.wait_for_selector("#compare .pane")
    url = page.url
    view = (count_text(page), listed(page))
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.url == url
    assert page.is_checked('fieldset[data-control="content"] input[value="cat"]')
    assert page.input_value("#sort") == "final_total" and "descending" in page.inner_text("#dir")
    assert page.eval_on_selector_all("#compare .pane", "ps => ps.map(p => p.dataset.key)") == picks
    page.keyboard.press("Escape")
    assert (count_text(page), listed(page)) == view
    assert page.errors == []


def test_compare_shows_the_chosen_runs_side_by_side(study, runs, page):
    open_gallery(page, study / layout.GALLERY / layout.GALLERY_INDEX)
    keys = keys_of(runs[runs["style"] == "wave"])[:3]
    hash_ = "#" + "&".join(f"sel={k}" for k in keys) + "&view=compare"
    open_gallery(page, study / layout.GALLERY / layout.GALLERY_INDEX, hash_)
    assert page.eval_on_selector_all("#compare .pane", "ps => ps.map(p => p.dataset.key)") == keys
    page.wait_for_function("[...document.querySelectorAll('#compare .stage img')].every(i => i.complete && i.naturalWidth > 0)")
    differing = page.eval_on_selector_all("#compare tr.differs th", "ts => ts.map(t => t.textContent)")
    assert "trials" in differing
    compared = runs.set_axis(keys_of(runs), axis=0).loc[keys]
    for column in ("style_weight", "init", "style_layers"):
        assert (column in differing) == (compared[column].astype(str).nunique() > 1), column
    stage = page.locator("#compare .stage").first.bounding_box()
    page.mouse.move(stage["x"] + stage["width"] / 3, stage["y"] + stage["height"] / 3)
    page.mouse.wheel(0, -600)
    transforms = page.eval_on_selector_all("#compare .stage img", "is => is.map(i => i.style.transform)")
    assert len(set(transforms)) == 1 and "scale(1)" not in transforms[0]  # every image zoomed alike
    page.mouse.down()
    page.mouse.move(stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
    page.mouse.up()
    panned = page.eval_on_selector_all("#compare .stage img", "is => is.map(i => i.style.transform)")
    assert len(set(panned)) == 1 and panned != transforms
    assert page.errors == []


def test_a_card_opens_its_run_with_images_settings_and_curve(study, runs, page):
    index = study / layout.GALLERY / layout.GALLERY_INDEX
    open_gallery(page, index)
    key = keys_of(runs)[0]
    page.click(f".card[data-key='{key}'] .thumb")
    page.wait_for_selector("#detail svg.loss-chart path.series-total")
    assert "open=" in page.url
    page.wait_for_function("[...document.querySelectorAll('#detail .images img')].every(i => i.complete && i.naturalWidth > 0)")
    assert len(page.query_selector_all("#detail .images img")) == 3  # the result, its content, its style
    assert page.get_attribute("#detail svg.loss-chart path.series-total", "d").count("L") >= 1
    assert "style_weight" in page.inner_text("#detail table.facts")
    href = page.get_attribute("#detail .links a", "href")
    assert href == f"../runs/{key}/" and (index.parent / href / "run.json").is_file()  # the run's own folder
    card_href = page.get_attribute(f".card[data-key='{key}'] a.run-link", "href")
    assert card_href == href
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"!location.hash.includes('open={key.replace('/', '%2F')}')")
    assert page.errors == []


def test_the_loss_curve_is_on_a_log_axis_even_when_a_loss_starts_at_zero(study, page):
    open_gallery(page, study / layout.GALLERY / layout.GALLERY_INDEX)
    # init: content makes the content loss 0 at iteration 1 (a linear axis would flatten the curve
    # under the first iterations' style loss); 1e-9 lies below the axis's floor
    labels = page.evaluate("""() => {
        const chart = NSTG.lossChart({iteration: [1, 2, 3, 4], total: [1e4, 50, 3, 2],
                                      content: [0, 1e-9, 1.5, 1.6], style: [1e4, 49, 1.5, 0.4]});
        return [...chart.querySelectorAll('.axis text[text-anchor=end]')].map(t => t.textContent);
    }""")
    assert labels == ["0.01", "0.1", "1", "10", "100", "1000", "10000"]  # decades; the floor six below the top
    assert page.errors == []


# --- inside the report's zip ----------------------------------------------------------------------
def test_the_gallery_works_inside_the_report_zip(study, runs, page, tmp_path):
    snakemake(study, "--report", "report.zip")
    with zipfile.ZipFile(study / "report.zip") as archive:
        archive.extractall(tmp_path)
    pages = [p for p in (tmp_path / "report/data/raw").glob("*/index.html") if (p.parent / "data.js").is_file()]
    assert len(pages) == 1
    open_gallery(page, pages[0])
    assert count_text(page) == f"all {len(runs)} runs"
    assert sorted(listed(page)) == sorted(keys_of(runs))
    page.wait_for_function("[...document.querySelectorAll('.card img')].every(i => i.complete && i.naturalWidth > 0)")
    key = keys_of(runs)[-1]
    search(page, key)
    href = page.get_attribute(".card a.run-link", "href")
    assert href == f"runs/{key}.png"  # the gallery's own copy of the run's image, named by its run id
    assert (pages[0].parent / href).is_file()
    page.click(".card .thumb")
    page.wait_for_selector("#detail svg.loss-chart path.series-total")
    page.wait_for_function("[...document.querySelectorAll('#detail .images img')].every(i => i.complete && i.naturalWidth > 0)")
    assert page.errors == []
