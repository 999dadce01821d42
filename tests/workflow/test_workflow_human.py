"""People's judgements through the real `snakemake` CLI: a study nobody judged builds as before
(select.metric human falls back and says so, the agrees_with_people claim is not run); after
raters answered through the rating page's API, the next `snakemake` makes the rankings, the
agreement and reliability tables, picks the tuned runs people preferred, checks the claim,
puts it all in the report, and then has nothing left to do."""
from __future__ import annotations

import shutil
import zipfile

import pandas as pd
import pytest
import yaml

from judge_kit import new_round, post, running, vote
from kit import make_study, snakemake
from nst.contracts import layout
from nst.contracts.manifest import Manifest

pytestmark = pytest.mark.workflow

CAT_WAVE = [{"content": "cat", "style": "wave"}]
CONFIG = {
    "images": {"content": "images/content", "style": "images/style"},
    "pairs": "all",
    "params": {"size": 32, "iterations": 4, "weights": "random"},
    "execution": {"device": "cpu", "threads": 1},
    "experiments": {
        "matrix": {"base": "baseline"},
        "style_weight": {"pairs": CAT_WAVE, "vary": {"style_weight": [1.0e+4, 1.0e+5, 1.0e+6]}},
        "revised": {"base": "revised", "tune": {"style_weight": [1.0e+4, 1.0e+6]},
                    "select": {"metric": "human", "fallback": "eval_total"}},
    },
    "results_array": {"baseline": "matrix", "revised": "revised"},
    "claims": "people_claims.yaml",
}
CLAIMS = {"claims": [{"claim": "The run's own total loss agrees with people on at most 60 % of pairs",
                      "agrees_with_people": {"metric": "final_total", "at_most": "60%"}}]}
JUDGED_PAIRS = {("cat", "wave"), ("dog", "mosaic")}  # the revised experiment's other two pairs: nobody


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = make_study(tmp_path_factory.mktemp("people"), CONFIG)
    (root / "people_claims.yaml").write_text(yaml.safe_dump(CLAIMS, sort_keys=False))
    snakemake(root)
    return root


def style_weights(root) -> dict[tuple[str, str, str], float]:
    manifest = Manifest.load(root / layout.MANIFEST)
    return {(t.content, t.style, t.run_id): float(t.values["style_weight"]) for t in manifest.trials
            if "style_weight" in t.values}


@pytest.fixture(scope="module")
def judged(study):
    """Before: the tables as built without judgements. Then three raters who prefer the higher
    style weight answer every comparison of the judged pairs, through the page's API."""
    before = {name: pd.read_csv(study / layout.table(name)) for name in ("revised", "findings")}
    weights = style_weights(study)
    with running(study / "results") as (judge, base):
        for rater in ("ann", "ben", "cid"):
            data = new_round(base, judge.main_token, rater)
            for item in data["items"]:
                c = judge.catalog.comparisons[item["item"].split(".")[0]]
                if (c.content, c.style) not in JUDGED_PAIRS:
                    continue
                a_better = weights[(c.content, c.style, c.run_a)] > weights[(c.content, c.style, c.run_b)]
                left_is_a = item["item"].endswith(".a")
                answer = "left" if a_better == left_is_a else "right"
                assert post(base, judge.main_token, vote(item, data["round"], answer, rater))[0] == 200
    snakemake(study)
    return before


def test_without_judgements_the_study_builds_as_before_and_says_so(study, judged):
    revised, findings = judged["revised"], judged["findings"]
    chosen = revised[revised["selected"]]
    assert len(chosen) == 4 and set(chosen["selected_by"]) == {"fallback"}
    assert chosen["note"].str.startswith("no judgements of this pair: selected by the fallback rule").all()
    assert findings.loc[0, "verdict"] == "not run" and "nst judge" in findings.loc[0, "evidence"]


def test_judgements_make_the_rankings_agreement_and_reliability(study, judged):
    for path in (layout.HUMAN_RANKINGS, layout.HUMAN_RANKINGS_FIGURE, layout.HUMAN_AGREEMENT,
                 layout.HUMAN_AGREEMENT_FIGURE, layout.HUMAN_RELIABILITY):
        assert (study / path).is_file(), path
    rankings = pd.read_csv(study / layout.HUMAN_RANKINGS)
    sw = rankings[rankings["experiment"] == "style_weight"].set_index("value")
    assert sw.loc["style_weight=1e+06", "rank"] == 1 and sw.loc["style_weight=10000", "rank"] == 3
    assert (sw["n_raters"] == 3).all()
    agreement = pd.read_csv(study / layout.HUMAN_AGREEMENT)
    people = agreement[(agreement["scope"] == "all") & (agreement["metric"] == "people")].iloc[0]
    assert people["accuracy"] == 1.0  # three raters with the same preference
    assert {"final_total", "eval_total", "score_gatys_total"} <= set(agreement["metric"])
    reliability = pd.read_csv(study / layout.HUMAN_RELIABILITY).set_index("rater")
    # five comparisons, each judged by all three (alpha itself: tests/study/tables/test_human.py)
    assert reliability.loc["all", "alpha_units"] == 5 and reliability.loc["all", "agrees_with_others"] == 1.0


def test_select_human_takes_people_s_choice_and_table5_follows(study, judged):
    revised = pd.read_csv(study / layout.table("revised"))
    chosen = revised[revised["selected"]].set_index(["content", "style"])
    for pair in JUDGED_PAIRS:
        assert chosen.loc[pair, "selected_by"] == "people" and chosen.loc[pair, "style_weight"] == 1.0e+6
    for pair in {("cat", "mosaic"), ("dog", "wave")}:
        assert chosen.loc[pair, "selected_by"] == "fallback"
    table5 = pd.read_csv(study / layout.TABLE5).set_index(["content", "style"])
    for pair in JUDGED_PAIRS:
        assert table5.loc[pair, "revised_run_id"] == chosen.loc[pair, "run_id"]


def test_the_claim_is_checked_and_the_report_has_a_people_page(study, judged):
    findings = pd.read_csv(study / layout.FINDINGS)
    assert findings.loc[0, "verdict"] != "not run" and findings.loc[0, "n_pairs"] > 0
    assert "agrees with people's choice" in findings.loc[0, "evidence"]
    snakemake(study, "--report", "report.zip")  # a zip: the report carries the gallery's folder
    with zipfile.ZipFile(study / "report.zip") as archive:
        html = archive.read("report/report.html").decode(errors="ignore")
    for name in ("rankings.png", "agreement.csv", "reliability.csv", "People"):
        assert name in html, name


def test_after_judging_nothing_is_left_to_do(study, judged):
    assert "Nothing to be done" in snakemake(study, "-n").stdout


def test_a_new_judgement_reruns_only_what_reads_the_judgements(study, judged, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(study, copy, symlinks=True)
    with running(copy / "results") as (judge, base):
        data = new_round(base, judge.main_token, "dee")
        assert post(base, judge.main_token, vote(data["items"][0], data["round"], "same", "dee"))[0] == 200
    out = snakemake(copy, "-n", "--quiet", "rules").stdout
    rules = {line.split()[0] for line in out.splitlines() if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert {"human_rankings", "human_agreement", "experiment_table", "results_array"} <= rules
    assert not rules & {"stylize", "score", "runs_table"}, rules
