"""The rating server under load, as the real `nst judge` process on loopback: 20 scripted raters
at once post 2,000 judgements (threads + urllib), each stored exactly once however often it is
retried; and `kill -9` of the server in the middle of such a load loses no judgement it had
acknowledged. Timings are not checked here (benchmarks/ measures them)."""
from __future__ import annotations

import http.client
import json
import random
import signal
import sqlite3
import threading
import urllib.error
import urllib.request

import pytest

from judge_kit import fabricated_results, split_url, start_nst_judge
from nst.contracts import layout
from nst.study.tables.judgements import read_judgements

RATERS = 20
PER_RATER = 100
QUESTIONS = "overall,content,style"


def rater_session(base: str, token: str, name: str, count: int, acked: list, retried: list, stop: threading.Event,
                  seed: int, errors: list) -> None:
    """One scripted rater: fetch a round, post `count` answers over its items and questions (a
    tenth of them sent twice, as a page does after a lost reply), recording each acknowledged id."""
    rng = random.Random(seed)
    headers = {"X-NST-Token": token}
    with urllib.request.urlopen(urllib.request.Request(f"{base}/api/round?rater={name}", headers=headers), timeout=30) as r:
        data = json.load(r)
    answers = [(item, q["key"]) for item in data["items"] for q in data["questions"]]
    for n in range(count):
        if stop.is_set():
            return
        item, question = answers[n % len(answers)]
        body = json.dumps({"id": f"{name}-{n:05d}-{rng.getrandbits(32):08x}", "rater": name, "item": item["item"],
                           "question": question, "answer": rng.choice(["left", "right", "same"]),
                           "repeat": item["repeat"], "round": data["round"], "response_ms": rng.randint(200, 4000)})
        for attempt in range(2 if rng.random() < 0.1 else 1):
            request = urllib.request.Request(f"{base}/api/judgement", data=body.encode(), method="POST",
                                             headers={**headers, "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as r:
                    reply = json.load(r)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
                # the server is gone (the kill test); a reply cut off mid-body (IncompleteRead) is no acknowledgement
                errors.append(err)
                return
            assert reply["stored"] is True
            if attempt == 0:
                acked.append(json.loads(body)["id"])
            else:
                retried.append(reply["new"])


def run_raters(base, token, count, stop=None, acked=None):
    acked, retried, stop, errors = acked if acked is not None else [], [], stop or threading.Event(), []
    threads = [threading.Thread(target=rater_session,
                                args=(base, token, f"rater{k:02d}", count, acked, retried, stop, k, errors))
               for k in range(RATERS)]
    for t in threads:
        t.start()
    return threads, acked, retried, errors


@pytest.fixture
def results(tmp_path):
    return fabricated_results(tmp_path)[0]


def test_twenty_raters_post_two_thousand_judgements_each_stored_once(results):
    proc, url = start_nst_judge(results, "--questions", QUESTIONS)
    try:
        base, token = split_url(url)
        threads, acked, retried, errors = run_raters(base, token, PER_RATER)
        for t in threads:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in threads) and not errors, errors[:3]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert len(acked) == RATERS * PER_RATER == 2000
    assert retried and not any(retried)  # every retry was recognised as the judgement already stored
    frame = read_judgements(layout.judgements(results))
    assert len(frame) == 2000 and frame["id"].is_unique and set(frame["id"]) == set(acked)
    assert frame.groupby("rater").size().to_dict() == {f"rater{k:02d}": PER_RATER for k in range(RATERS)}


def test_kill_9_in_the_middle_of_a_load_loses_no_acknowledged_judgement(results):
    proc, url = start_nst_judge(results, "--questions", QUESTIONS)
    base, token = split_url(url)
    stop = threading.Event()
    acked: list[str] = []
    threads, acked, _, _ = run_raters(base, token, PER_RATER * 10, stop, acked)
    while len(acked) < 400 and proc.poll() is None:
        threading.Event().wait(0.01)
    proc.send_signal(signal.SIGKILL)  # mid-load: raters are posting
    proc.wait(timeout=30)
    seen = list(acked)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert len(seen) >= 400 and proc.returncode == -signal.SIGKILL
    path = layout.judgements(results)
    with sqlite3.connect(path) as conn:  # as the next `nst judge` opens it (recovering the WAL)
        stored = {row[0] for row in conn.execute("SELECT id FROM judgements")}
    assert set(acked) <= stored  # every acknowledged judgement survived (acked: all acks, the last included)
    assert len(stored) - len(acked) <= RATERS  # at most one unacknowledged commit per rater in flight
    assert set(read_judgements(path)["id"]) == stored  # and the workflow's read-only reader sees them
