"""The rating page in a real browser (Debian's Chromium driven by Playwright): a scripted rater
rates a whole round by clicking, another by keys, and exactly their answers land in the
database, each with the run that was really shown on the left."""
from __future__ import annotations

import pytest

from judge_kit import fabricated_results, running
from nst.contracts import layout
from nst.study.tables.judgements import read_judgements

EXPERIMENTS = ["iterations", "style_weight"]  # 3 x 3 + 1 comparisons: a round of 10, one repeated


@pytest.fixture(scope="module")
def page_server(tmp_path_factory):
    results, _ = fabricated_results(tmp_path_factory.mktemp("browser"))
    with running(results, questions=("overall", "style"), raters=("kim",), experiments=EXPERIMENTS) as (judge, base):
        yield results, judge, base


def image_id(page, selector: str) -> str:
    return page.get_attribute(selector, "src").split("/img/")[1].split("?")[0]


def rate_round(page, choose) -> list[tuple[str, str, str]]:
    """Answer every question of the round with `choose(page, k)` -> its answer; returns, per
    answer, (left image id, right image id, answer) as they were on the screen."""
    shown = []
    page.wait_for_selector("#rating:not([hidden])")
    total = int(page.text_content("#progress").split(" of ")[1].split()[0])
    for k in range(2 * total):
        progress = page.text_content("#progress")
        assert progress.startswith(f"{k // 2 + 1} of {total}"), progress
        page.wait_for_function("() => [...document.querySelectorAll('#rating img')].every(i => i.complete && i.naturalWidth > 0)")
        left, right = image_id(page, "#left-img"), image_id(page, "#right-img")
        answer = choose(page, k)
        shown.append((left, right, answer))
        if k + 1 < 2 * total:
            page.wait_for_function("(p) => document.querySelector('#progress').textContent !== p", arg=progress)
    page.wait_for_selector("#done:not([hidden])")
    assert page.text_content("#done-text") == f"Round finished: {2 * total} answers saved."
    return shown


def check_rows(results, judge, rater: str, shown) -> None:
    rows = read_judgements(layout.judgements(results))
    rows = rows[rows["rater"] == rater].to_dict("records")
    assert len(rows) == len(shown)
    for row, (left, right, answer) in zip(rows, shown):
        assert row["answer"] == answer and row["question"] == ["overall", "style"][rows.index(row) % 2]
        left_run = row["run_a"] if row["left"] == "a" else row["run_b"]
        right_run = row["run_b"] if row["left"] == "a" else row["run_a"]
        assert judge.catalog.images[left] == judge.catalog.run_image_path(row["content"], row["style"], left_run)
        assert judge.catalog.images[right] == judge.catalog.run_image_path(row["content"], row["style"], right_run)
    assert sum(r["repeat"] for r in rows) == 2  # one comparison repeated, asked both questions


def test_a_rater_rates_a_round_by_clicking(browser, page_server):
    results, judge, base = page_server
    context = browser.new_context()
    page = context.new_page()
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None)
    page.goto(f"{base}/?token={judge.main_token}")
    page.wait_for_selector("#name-form:not([hidden])")  # asked once
    page.fill("#rater", "lee")
    page.click("#rater-form button")
    buttons = ["#left", "#right", "#same"]

    def click(page, k):
        page.click(buttons[k % 3])
        return ["left", "right", "same"][k % 3]

    shown = rate_round(page, click)
    text = page.content()
    for (_, _, run_id) in judge.catalog.run_images:
        assert run_id not in text  # no run names, settings or scores on the page
    assert "style_weight" not in text and "iterations" not in text
    assert not outside, outside
    check_rows(results, judge, "lee", shown)
    # the name is remembered: a new round starts without asking
    page.reload()
    page.wait_for_selector("#rating:not([hidden]), #done:not([hidden])")
    assert page.is_hidden("#name-form")
    context.close()


def test_a_rater_rates_a_round_by_keys_from_a_rater_link(browser, page_server):
    results, judge, base = page_server
    token = next(t for t, r in judge.tokens.items() if r == "kim")
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/?token={token}")
    keys = [("ArrowLeft", "left"), ("2", "right"), ("ArrowDown", "same"), ("1", "left"), ("ArrowRight", "right"),
            (" ", "same")]

    def press(page, k):
        key, answer = keys[k % len(keys)]
        page.keyboard.press("Space" if key == " " else key)
        return answer

    shown = rate_round(page, press)
    assert page.is_hidden("#name-form")  # a rater link names its rater
    check_rows(results, judge, "kim", shown)
    context.close()
