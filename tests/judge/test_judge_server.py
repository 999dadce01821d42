"""The rating page's server: what it serves, what it stores, and what it refuses (its security
model, nst/judge/server.py): a wrong or missing token, a foreign Host header, a GET that tries
to vote, and every path that is not one of its own ids."""
from __future__ import annotations

import sqlite3

import pytest

from judge_kit import fabricated_results, new_round, post, request, running, split_url, start_nst_judge, vote
from nst.contracts import layout
from nst.study.tables.judgements import read_judgements


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return fabricated_results(tmp_path_factory.mktemp("judge"))[0]


@pytest.fixture(scope="module")
def page(results):
    with running(results, questions=("overall", "style"), raters=("alice",)) as (judge, base):
        yield judge, base


def stored(results) -> list[dict]:
    return read_judgements(layout.judgements(results)).to_dict("records")


def test_a_round_shows_two_outputs_of_one_pair_and_nothing_about_the_runs(page, results):
    judge, base = page
    data = new_round(base, judge.main_token)
    assert data["questions"] == [{"key": "overall", "text": "Which is the better style transfer?"},
                                 {"key": "style", "text": "Which has more of the style?"}]
    catalog = judge.catalog
    by_id = {image_id: path for image_id, path in catalog.images.items()}
    text = str(data)
    for (content, style, run_id) in catalog.run_images:
        assert run_id not in text and "run.json" not in text
    for item in data["items"]:
        left, right = (by_id[u.split("/img/")[1].split("?")[0]] for u in (item["left"], item["right"]))
        assert left != right and left.parent.parent == right.parent.parent  # two runs of one pair
        assert left.name == right.name == "image.png"


def test_an_answer_is_stored_with_its_runs_hashes_and_the_side_shown(page, results):
    judge, base = page
    data = new_round(base, judge.main_token, rater="carol")
    item = data["items"][0]
    status, reply = post(base, judge.main_token, vote(item, data["round"], "right", rater="carol"))
    assert status == 200 and reply == {"stored": True, "new": True}
    row = [r for r in stored(results) if r["rater"] == "carol"][-1]
    comparison = judge.catalog.comparisons[item["item"].split(".")[0]]
    assert (row["content"], row["style"], row["run_a"], row["run_b"]) == (
        comparison.content, comparison.style, comparison.run_a, comparison.run_b)
    left_run = comparison.run_a if row["left"] == "a" else comparison.run_b
    left_id = item["left"].split("/img/")[1].split("?")[0]
    assert judge.catalog.images[left_id] == judge.catalog.run_image_path(comparison.content, comparison.style, left_run)
    assert row["answer"] == "right" and row["chosen"] == ("b" if row["left"] == "a" else "a")
    import hashlib
    for side, run in (("a", comparison.run_a), ("b", comparison.run_b)):
        path = judge.catalog.run_image_path(comparison.content, comparison.style, run)
        assert row[f"sha256_{side}"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_rater_link_fixes_the_name(page, results):
    judge, base = page
    token = next(t for t, r in judge.tokens.items() if r == "alice")
    data = new_round(base, token, rater="mallory")
    assert data["rater"] == "alice" and data["bound"]
    status, _ = post(base, token, vote(data["items"][0], data["round"], rater="mallory"))
    assert status == 200
    assert stored(results)[-1]["rater"] == "alice"


@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789abcdef"])
def test_a_wrong_or_missing_token_is_refused_everywhere(page, results, token):
    judge, base = page
    item = new_round(base, judge.main_token)["items"][0]
    before = len(stored(results))
    headers = {} if token is None else {"X-NST-Token": token}
    image = item["left"].split("?")[0]
    suffix = "" if token is None else f"?token={token}"
    for method, path, body in [("GET", "/" + suffix, None), ("GET", "/api/round?rater=x", None),
                               ("GET", image + suffix, None),
                               ("POST", "/api/judgement", vote(item, "r"))]:
        status, data = request(base, method, path, body, headers)
        assert status == 403, (method, path, status)
        assert "token" in data["error"]
    assert len(stored(results)) == before


@pytest.mark.parametrize("host", ["evil.example:80", "evil.example", "127.0.0.1:1", "localhost", ""])
def test_a_foreign_host_header_is_refused(page, results, host):
    """DNS rebinding: a page of another site whose name now points at 127.0.0.1 sends its own Host."""
    judge, base = page
    item = new_round(base, judge.main_token)["items"][0]
    before = len(stored(results))
    port = base.rsplit(":", 1)[1]
    for method, path, body in [("GET", f"/?token={judge.main_token}", None), ("GET", "/app.js", None),
                               ("POST", "/api/judgement", vote(item, "r"))]:
        status, data = request(base, method, path, body, {"Host": host, "X-NST-Token": judge.main_token})
        assert status == 403, (host, method, path)
        assert "Host" in data["error"]
    assert len(stored(results)) == before
    for alias in (f"localhost:{port}", f"127.0.0.1:{port}"):  # the loopback names of its own port are fine
        assert request(base, "GET", "/app.js", headers={"Host": alias})[0] == 200


def test_a_get_that_tries_to_vote_is_refused(page, results):
    judge, base = page
    item = new_round(base, judge.main_token)["items"][0]
    before = len(stored(results))
    query = f"token={judge.main_token}&id=abcdefgh12&rater=x&item={item['item']}&question=overall&answer=left"
    status, data = request(base, "GET", f"/api/judgement?{query}", headers={"X-NST-Token": judge.main_token})
    assert status == 405 and "POST" in data["error"]
    status, _ = request(base, "GET", f"/api/round?{query}", headers={"X-NST-Token": judge.main_token})
    assert status == 200  # a round is only read
    # a form post (what another site could make a browser send) is not JSON
    status, _ = request(base, "POST", "/api/judgement", query.encode(),
                        {"X-NST-Token": judge.main_token, "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415
    assert len(stored(results)) == before


ESCAPES = ["/img/../../../../etc/passwd", "/img/..%2f..%2f..%2fetc%2fpasswd", "/img/%2e%2e/%2e%2e/etc/passwd",
           "/img/%252e%252e%252fetc%252fpasswd", "/img//etc/passwd", "/img/%2Fetc%2Fpasswd", "/../../etc/passwd",
           "/etc/passwd", "/img/", "/img/runs", "/results/judgements.sqlite", "/judgements.sqlite",
           "/img/image.png", "/static/../../nst/judge/server.py", "/page/index.html", "/app.js/../server.py",
           "//etc/passwd", "/%2e%2e/%2e%2e/etc/passwd"]


@pytest.mark.parametrize("path", ESCAPES)
def test_no_path_outside_its_own_ids_is_served(page, path):
    judge, base = page
    status, data = request(base, "GET", f"{path}?token={judge.main_token}", headers={"X-NST-Token": judge.main_token})
    assert status == 404, (path, status)
    assert b"root:" not in (data if isinstance(data, bytes) else b"")


def test_the_images_it_serves_are_its_catalog_s(page):
    judge, base = page
    for image_id, path in list(judge.catalog.images.items())[:5]:
        status, data = request(base, "GET", f"/img/{image_id}?token={judge.main_token}")
        assert status == 200 and data == path.read_bytes()


@pytest.mark.parametrize("change, field", [({"answer": "maybe"}, "answer"), ({"question": "content"}, "question"),
                                           ({"item": "0123456789abcdef.a"}, "item"), ({"id": "x"}, "id"),
                                           ({"repeat": "no"}, "repeat"), ({"rater": ""}, "rater")])
def test_a_bad_judgement_is_refused_naming_its_field(page, results, change, field):
    judge, base = page
    data = new_round(base, judge.main_token)
    before = len(stored(results))
    status, reply = post(base, judge.main_token, {**vote(data["items"][0], data["round"]), **change})
    assert status == 400 and field in reply["error"]
    assert len(stored(results)) == before


def test_a_retry_is_stored_once_and_a_reused_id_with_other_contents_is_refused(page, results):
    judge, base = page
    data = new_round(base, judge.main_token)
    body = vote(data["items"][0], data["round"], "left", judgement_id="retry-0123456789")
    assert post(base, judge.main_token, body) == (200, {"stored": True, "new": True})
    assert post(base, judge.main_token, body) == (200, {"stored": True, "new": False})
    status, reply = post(base, judge.main_token, {**body, "answer": "right"})
    assert status == 409
    rows = [r for r in stored(results) if r["id"] == "retry-0123456789"]
    assert len(rows) == 1 and rows[0]["answer"] == "left"


def test_responses_forbid_framing_sniffing_and_outside_resources(page):
    judge, base = page
    import http.client
    from urllib.parse import urlsplit
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port)
    conn.request("GET", f"/?token={judge.main_token}")
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert "default-src 'none'" in response.getheader("Content-Security-Policy")
    assert "http://" not in body and "https://" not in body  # nothing from the internet


def test_nst_judge_prints_its_url_first_with_the_real_port_and_rater_links(tmp_path):
    results, _ = fabricated_results(tmp_path)
    proc, url = start_nst_judge(results, "--rater", "ann", "--rater", "ben")
    try:
        base, token = split_url(url)
        assert url.startswith("http://127.0.0.1:") and not base.endswith(":0")
        links = [proc.stdout.readline().strip() for _ in range(2)]
        assert [line.split(":", 1)[0] for line in links] == ["rater ann", "rater ben"]
        status, page_html = request(base, "GET", f"/?token={token}")
        assert status == 200 and b"app.js" in page_html
        ann = split_url(links[0].split(": ", 1)[1])[1]
        assert new_round(base, ann)["rater"] == "ann"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0
    with sqlite3.connect(layout.judgements(results)) as conn:  # stopped cleanly: WAL mode, file kept
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("args, message", [(["--host", "0.0.0.0"], "name the address"),
                                           (["--questions", "overall,beauty"], "unknown question"),
                                           (["--experiment", "nope"], "unknown experiment"),
                                           (["--rater", " "], "rater name")])
def test_nst_judge_refuses_bad_options_in_one_line(tmp_path, args, message):
    from kit import run_nst
    results, _ = fabricated_results(tmp_path)
    proc = run_nst(["judge", "--results", results, "--port", "0", *args])
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_nst_judge_without_a_planned_study_says_what_to_do(tmp_path):
    from kit import run_nst
    proc = run_nst(["judge", "--results", tmp_path / "results", "--port", "0"])
    assert proc.returncode == 2 and "run snakemake" in proc.stderr
