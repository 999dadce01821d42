"""People's judgements as data (nst/study/tables/bradley_terry.py, human.py, human_agreement.py,
people_claims.py, select.metric human): simulated raters with known utilities, so each test
knows the truth."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, spearmanr

from nst.errors import ClaimsError
from nst.study.tables import bradley_terry, human, human_agreement
from nst.study.tables.findings import findings_table, load_claims
from nst.study.tables.judgements import COLUMNS, chosen_side
from nst.contracts.manifest import Experiment, Manifest, Trial
from study_kit import GATYS, plan_select


# --- simulated judgements ----------------------------------------------------------------------
def simulate(utility: dict, pairs, raters, rng, noise: float = 1.0, per: int = 1, same_within: float = 0.0,
             question: str = "overall", repeat_share: float = 0.0) -> pd.DataFrame:
    """Judgements of every two runs of each pair by each rater: the rater prefers the run of
    higher utility (per content/style pair: utility[(pair, run)]) with the Bradley-Terry
    probability of noise x the difference (noise 0: always the better one, inf: a coin), and says
    "same" when the two are within `same_within`."""
    rows = []
    for rater in raters:
        for pair in pairs:
            runs = sorted(r for (p, r) in utility if p == pair)
            for k, a in enumerate(runs):
                for b in runs[k + 1:]:
                    for rep in range(per):
                        d = utility[(pair, a)] - utility[(pair, b)]
                        if abs(d) <= same_within:
                            chosen = "same"
                        elif noise == 0:
                            chosen = "a" if d > 0 else "b"
                        else:
                            chosen = "a" if rng.random() < 1 / (1 + math.exp(-d / noise)) else "b"
                        left = rng.choice(["a", "b"])
                        answer = "same" if chosen == "same" else ("left" if chosen == left else "right")
                        repeat = int(rng.random() < repeat_share)
                        rows.append({"id": f"{rater}-{pair}-{a}-{b}-{rep}", "rater": rater, "content": pair[0],
                                     "style": pair[1], "run_a": a, "run_b": b, "sha256_a": "", "sha256_b": "",
                                     "left": left, "answer": answer, "question": question, "repeat": repeat,
                                     "round": "r", "response_ms": 1000, "time": ""})
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["chosen"] = [chosen_side(left, answer) for left, answer in zip(frame["left"], frame["answer"])]
    frame["stale"] = False
    return frame


def study_of(values: list[float], pairs) -> tuple[Manifest, dict]:
    """A manifest with one vary experiment `sw` over `values` on `pairs`, run ids 'v<k>' per pair."""
    trials = [Trial("sw", c, s, f"{c}{s}v{k}", {"style_weight": v}, f"style_weight={v:g}")
              for (c, s) in pairs for k, v in enumerate(values)]
    return Manifest({"sw": Experiment("vary", ("style_weight",), "baseline", "Style weight", "", None)},
                    tuple(trials), None, {"content": {}, "style": {}}, (GATYS,)), {}


PAIRS = [(f"c{k}", f"s{k}") for k in range(4)]


# --- Bradley-Terry -------------------------------------------------------------------------------
def test_the_bradley_terry_fit_recovers_known_strengths_with_covering_intervals():
    truth = np.array([1.2, 0.5, 0.0, -0.4, -1.3])
    manifest, _ = study_of(list(range(5)), PAIRS)
    covered, total, rhos = 0, 0, []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        utility = {((c, s), f"{c}{s}v{k}"): truth[k] for (c, s) in PAIRS for k in range(5)}
        judged = simulate(utility, PAIRS, [f"r{k}" for k in range(6)], rng)
        table = human.rankings_table(manifest, judged)
        estimate = table["strength"].to_numpy()
        rhos.append(spearmanr(estimate, truth).statistic)
        centred = truth - truth.mean()
        covered += int(((table["ci_low"] <= centred) & (centred <= table["ci_high"])).sum())
        total += len(truth)
        assert set(table["method"]) == {bradley_terry.method(("raters", "pairs"))}
        assert (table["n_judgements"] == 4 * 6 * 4).all()  # 4 others x 6 raters x 4 pairs
    assert np.mean(rhos) >= 0.9
    assert covered / total >= 0.85  # nominal 95 %; 30 intervals


def test_a_tie_counts_half_a_win_for_each_side():
    wins = bradley_terry.win_matrix(2, np.array([0, 0, 0]), np.array([1, 1, 1]), np.array([1.0, 0.5, 0.5]))
    assert wins.tolist() == [[0, 2], [1, 0]]
    theta = bradley_terry.fit(wins)
    # 2 wins to 1: the strength difference is near log 2 (choix's small alpha pulls it in a little)
    assert 0.6 < theta[0] - theta[1] < math.log(2) + 1e-9 and abs(theta.sum()) < 1e-9


def test_a_value_nobody_judged_has_no_strength_and_few_judgements_no_interval():
    manifest, _ = study_of([1, 2, 3], PAIRS[:1])
    utility = {(PAIRS[0], "c0s0v0"): 1.0, (PAIRS[0], "c0s0v1"): 0.0}
    table = human.rankings_table(manifest, simulate(utility, PAIRS[:1], ["r1", "r2"], np.random.default_rng(0)))
    assert math.isnan(table.loc[2, "strength"]) and table.loc[2, "note"] == "not judged"
    assert table.loc[0, "n_judgements"] == 2 and math.isnan(table.loc[0, "ci_low"])
    assert "no interval" in table.loc[0, "note"]


def test_stale_judgements_are_left_out_and_counted():
    manifest, _ = study_of([1, 2], PAIRS[:3])
    utility = {(p, f"{p[0]}{p[1]}v{k}"): float(k) for p in PAIRS[:3] for k in range(2)}
    judged = simulate(utility, PAIRS[:3], [f"r{k}" for k in range(4)], np.random.default_rng(0), noise=0)
    judged.loc[judged["content"] == "c0", "stale"] = True
    table = human.rankings_table(manifest, judged)
    assert (table["n_stale"] == 4).all() and (table["n_judgements"] == 8).all() and (table["n_pairs"] == 2).all()


# --- agreement -----------------------------------------------------------------------------------
def runs_of(utility: dict, columns: dict) -> pd.DataFrame:
    rows = [{"content": p[0], "style": p[1], "run_id": run, **{c: f(p, run) for c, f in columns.items()}}
            for (p, run) in utility]
    return pd.DataFrame(rows)


def test_the_raters_own_utility_agrees_fully_and_a_random_metric_by_chance():
    rng = np.random.default_rng(3)
    values = list(range(6))
    manifest, _ = study_of(values, PAIRS)
    utility = {(p, f"{p[0]}{p[1]}v{k}"): rng.normal() for p in PAIRS for k in values}
    judged = simulate(utility, PAIRS, ["r1", "r2", "r3"], rng, noise=0)
    noise = {key: rng.random() for key in utility}
    runs = runs_of(utility, {"final_total": lambda p, r: -utility[(p, r)],  # lower is better: minus the utility
                             "eval_total": lambda p, r: noise[(p, r)],
                             "ssim_content": lambda p, r: utility[(p, r)]})  # higher is better
    table = human_agreement.agreement_table(manifest, judged, runs).set_index(["scope", "metric"])
    assert table.loc[("all", "final_total"), "accuracy"] == 1.0
    assert table.loc[("all", "ssim_content"), "accuracy"] == 1.0
    assert table.loc[("all", "final_total"), "n_pairs"] == 4 * 15
    assert table.loc[("all", human_agreement.PEOPLE), "accuracy"] == 1.0  # deterministic raters agree
    assert table.loc[("sw", "final_total"), "accuracy"] == 1.0  # the experiment's own scope too
    accuracies, covered = [table.loc[("all", "eval_total"), "accuracy"]], 0
    for seed in range(10):  # a random metric: about 50 %, its interval covering 50 % about 95 % of the time
        noise = dict(zip(utility, np.random.default_rng(100 + seed).random(len(utility))))
        runs = runs_of(utility, {"eval_total": lambda p, r: noise[(p, r)]})
        row = human_agreement.agreement_table(manifest, judged, runs).set_index(["scope", "metric"]).loc[("all", "eval_total")]
        accuracies.append(row["accuracy"])
        covered += int(row["ci_low"] <= 0.5 <= row["ci_high"])
    assert 0.42 < np.mean(accuracies) < 0.58 and covered >= 8


def test_noisy_raters_set_a_ceiling_below_one():
    rng = np.random.default_rng(4)
    manifest, _ = study_of(list(range(5)), PAIRS)
    utility = {(p, f"{p[0]}{p[1]}v{k}"): 0.6 * k for p in PAIRS for k in range(5)}
    judged = simulate(utility, PAIRS, [f"r{k}" for k in range(5)], rng, noise=1.0)
    runs = runs_of(utility, {"final_total": lambda p, r: -utility[(p, r)]})
    table = human_agreement.agreement_table(manifest, judged, runs).set_index(["scope", "metric"])
    people = table.loc[("all", human_agreement.PEOPLE)]
    assert 0.5 < people["accuracy"] < 0.95 and people["n_pairs"] == 40
    assert table.loc[("all", "final_total"), "accuracy"] > people["accuracy"]  # the utility predicts the crowd


def test_the_wilson_interval_is_scipy_s_for_whole_counts():
    for k, n in [(0, 5), (3, 7), (12, 12), (40, 90)]:
        expected = binomtest(k, n).proportion_ci(method="wilson")
        assert human_agreement.wilson(k, n) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_krippendorff_alpha_matches_the_published_example():
    """The reliability data of the krippendorff package's documentation (Krippendorff's own
    example): nominal alpha 0.691, interval alpha 0.811 (cross-checked against that package)."""
    nan = float("nan")
    data = [[nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
            [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
            [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4]]
    units = [[v for v in column if not math.isnan(v)] for column in zip(*data)]
    assert human_agreement.krippendorff_alpha(units, nominal=True) == pytest.approx(0.691358024691358, abs=1e-12)
    assert human_agreement.krippendorff_alpha(units) == pytest.approx(0.8108448928121059, abs=1e-12)
    assert math.isnan(human_agreement.krippendorff_alpha([[1.0, 1.0], [1.0, 1.0]]))  # no variation: undefined


def test_reliability_measures_consistency_position_bias_and_alpha():
    rng = np.random.default_rng(5)
    manifest, _ = study_of(list(range(4)), PAIRS)
    utility = {(p, f"{p[0]}{p[1]}v{k}"): rng.normal() for p in PAIRS for k in range(4)}
    judged = simulate(utility, PAIRS, ["r1", "r2", "r3"], rng, noise=0)
    again = judged.sample(12, random_state=0).assign(repeat=1)
    again["id"] += "-again"
    flipped = again.index[:3]  # three repeats answered the other way
    again.loc[flipped, "chosen"] = again.loc[flipped, "chosen"].map({"a": "b", "b": "a"})
    table = human_agreement.reliability_table(pd.concat([judged, again])).set_index("rater")
    assert table.loc["all", "n_repeats"] == 12 and table.loc["all", "repeat_consistency"] == pytest.approx(9 / 12)
    assert table.loc["all", "alpha_interval"] == 1.0 and table.loc["all", "alpha_units"] == 24
    assert table.loc["all", "agrees_with_others"] == 1.0
    assert 0.3 < table.loc["r1", "left_share"] < 0.7  # sides were random


# --- select.metric: human ------------------------------------------------------------------------
def tuned(values, pairs, metric="human"):
    trials = [Trial("rev", c, s, f"{c}{s}v{k}", {"style_weight": v}, f"style_weight={v:g}")
              for (c, s) in pairs for k, v in enumerate(values)]
    select = plan_select({"metric": metric, "fallback": "eval_total"} if metric == "human" else {"metric": metric},
                         (GATYS,))
    manifest = Manifest({"rev": Experiment("tune", ("style_weight",), "revised", "Revised", "", select)},
                        tuple(trials), None, {"content": {}, "style": {}}, (GATYS,))
    rows = [{"experiment": "rev", "trial": n, "content": t.content, "style": t.style, "run_id": t.run_id,
             "label": t.label, "style_weight": t.values["style_weight"], "status": "ok",
             "eval_total": float(n % len(values)), GATYS.column("style"): 1.0, GATYS.column("content"): 1.0}
            for n, t in enumerate(trials)]
    return manifest, pd.DataFrame(rows)


def test_select_human_picks_people_s_choice_and_falls_back_where_nobody_judged():
    from nst.study.tables.select import select_runs

    manifest, table = tuned([1e4, 1e5, 1e6], PAIRS[:2])
    judged_pair = PAIRS[0]
    utility = {(judged_pair, f"c0s0v{k}"): [0.0, 2.0, 1.0][k] for k in range(3)}
    judged = simulate(utility, [judged_pair], ["r1", "r2"], np.random.default_rng(0), noise=0)
    people = human.people_choice(manifest, judged, "rev")
    assert set(people) == {"c0__s0"} and people["c0__s0"]["judgements"] == 6 and people["c0__s0"]["raters"] == 2
    out = select_runs(table, manifest, "rev", people)
    chosen = out[out["selected"]].set_index("content")
    assert chosen.loc["c0", "run_id"] == "c0s0v1" and chosen.loc["c0", "selected_by"] == "people"
    assert "6 judgements by 2 raters" in chosen.loc["c0", "note"]
    assert chosen.loc["c1", "run_id"] == "c1s1v0" and chosen.loc["c1", "selected_by"] == "fallback"  # min eval_total
    assert chosen.loc["c1", "note"].startswith("no judgements of this pair: selected by the fallback rule")
    assert out.loc[out["content"] == "c0", "people_strength"].notna().all()
    assert out.loc[out["content"] == "c1", "people_strength"].isna().all()
    without = select_runs(table.copy(), manifest, "rev", None)  # no judgements file: every pair falls back
    assert set(without.loc[without["selected"], "selected_by"]) == {"fallback"}


def test_other_rules_keep_their_table_unchanged():
    from nst.study.tables.select import select_runs

    manifest, table = tuned([1e4, 1e5], PAIRS[:1], metric="eval_total")
    out = select_runs(table, manifest, "rev")
    assert "selected_by" not in out and "people_strength" not in out


# --- claims --------------------------------------------------------------------------------------
def write_claims(tmp_path, text: str):
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    return path


AGREEMENT = pd.DataFrame([
    {"scope": "all", "question": "overall", "metric": "people", "accuracy": 0.8, "ci_low": 0.6, "ci_high": 0.9,
     "agree": 16, "n_pairs": 20},
    {"scope": "all", "question": "overall", "metric": "final_total", "accuracy": 0.35, "ci_low": 0.18, "ci_high": 0.57,
     "agree": 7, "n_pairs": 20},
    {"scope": "all", "question": "overall", "metric": "score_gatys_total", "accuracy": 0.75, "ci_low": 0.53,
     "ci_high": 0.89, "agree": 15, "n_pairs": 20},
])


@pytest.mark.parametrize("spec, verdict", [("{metric: final_total, at_most: 60%}", "holds"),
                                           ("{metric: final_total, at_most: 0.5}", "inconclusive"),
                                           ("{metric: final_total, at_least: 60%}", "does not hold"),
                                           ("{metric: total, at_least: 50%}", "holds"),
                                           ("{metric: total, at_most: 50%}", "does not hold")])
def test_agrees_with_people_claims_get_a_verdict_from_the_wilson_interval(tmp_path, spec, verdict):
    path = write_claims(tmp_path, f"claims:\n  - claim: c\n    agrees_with_people: {spec}\n")
    manifest, _ = study_of([1], PAIRS[:1])
    row = findings_table(manifest, load_claims(path), {}, path, AGREEMENT).iloc[0]
    assert row["verdict"] == verdict and row["experiment"] == "all" and row["n_pairs"] == 20
    assert "Wilson" in row["evidence"] and "people agree with each other on 80%" in row["evidence"]


def test_without_judgements_an_agrees_with_people_claim_is_not_run(tmp_path):
    path = write_claims(tmp_path, "claims:\n  - claim: c\n    agrees_with_people: {metric: final_total, at_most: 60%}\n")
    manifest, _ = study_of([1], PAIRS[:1])
    row = findings_table(manifest, load_claims(path), {}, path, None).iloc[0]
    assert row["verdict"] == "not run" and "nst judge" in row["evidence"]


@pytest.mark.parametrize("body, key", [
    ("agrees_with_people: {metric: final_total}", "agrees_with_people"),
    ("agrees_with_people: {metric: final_total, at_most: 160%}", "at_most"),
    ("agrees_with_people: {at_most: 60%}", "metric"),
    ("agrees_with_people: {metric: final_total, at_most: 60%, at_least: 10%}", "agrees_with_people"),
    ("agrees_with_people: {metric: final_total, at_most: 60%}\n    question: beauty", "question"),
    ("agrees_with_people: {metric: final_total, at_most: 60%}\n    margin: 5%", "margin"),
    ("experiment: e\n    better: 1\n    than: 2\n    question: overall", "question"),
])
def test_a_bad_agrees_with_people_claim_is_refused_naming_the_key(tmp_path, body, key):
    path = write_claims(tmp_path, f"claims:\n  - claim: c\n    {body}\n")
    with pytest.raises(ClaimsError, match=key):
        load_claims(path)


def test_an_unknown_metric_is_refused_listing_the_known_ones(tmp_path):
    path = write_claims(tmp_path, "claims:\n  - claim: c\n    agrees_with_people: {metric: beauty, at_most: 60%}\n")
    manifest, _ = study_of([1], PAIRS[:1])
    with pytest.raises(ClaimsError, match="known: final_total, score_gatys_total"):
        findings_table(manifest, load_claims(path), {}, path, AGREEMENT)


# --- planning select.metric: human ----------------------------------------------------------------
def planned_select(root, select: dict) -> dict:
    from kit import small_config
    from nst.study.plan.build import build_plan

    config = small_config(rev={"base": "revised", "tune": {"style_weight": [1.0e+4, 1.0e+5]}, "select": select})
    return build_plan(config, root=root).manifest().experiments["rev"].select


def test_planning_fills_in_the_fallback_of_a_human_selection(root):
    select = planned_select(root, {"metric": "human"})
    assert select["fallback"] == "pareto" and select["evaluator"] == "gatys"
    assert planned_select(root, {"metric": "human", "fallback": "tradeoff"})["style_share"] == 0.5
    assert "fallback" not in planned_select(root, {"metric": "pareto"})  # other rules: manifests as before


@pytest.mark.parametrize("select, key", [({"metric": "human", "fallback": "human"}, "select.fallback"),
                                         ({"metric": "pareto", "fallback": "eval_total"}, "select.fallback"),
                                         ({"metric": "human", "mode": "max"}, "select.mode"),
                                         ({"metric": "human", "fallback": "score_beauty"}, "select.fallback")])
def test_planning_refuses_a_bad_human_selection_naming_the_key(root, select, key):
    from nst.study.plan.build import PlanError

    with pytest.raises(PlanError, match=key):
        planned_select(root, select)
