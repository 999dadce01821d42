"""Helpers of the rating-page tests (tests/test_judge_*.py): a fabricated finished study in a
results folder (study_kit's runs, no optimisation), the server in a thread or as the real `nst
judge` process, and raw HTTP requests (http.client, so that Host and paths are sent as given)."""
from __future__ import annotations

import contextlib
import http.client
import json
import secrets
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from kit import nst_command
from nst.judge.catalog import build_catalog
from nst.judge.server import Judge, page_url, serve
from nst.judge.store import Store
from nst.contracts import layout
from study_kit import GATYS, Study, scored_study


def fabricated_results(root: Path) -> tuple[Path, Study]:
    """A finished study under root/results (every experiment kind; scored by GATYS) with its
    manifest where the workflow writes it; returns (results folder, study)."""
    results = Path(root) / "results"
    study = scored_study(results)
    manifest = Path(layout.manifest_file(results))
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(study.manifest([GATYS]).to_json())
    return results, study


@contextlib.contextmanager
def running(results: Path, questions=("overall",), raters=(), **catalog):
    """The rating page of `results` served from a thread on a free port: (judge, base URL)."""
    store = Store(layout.judgements(results))
    judge = Judge(build_catalog(results, **catalog), store, tuple(questions), tuple(raters))
    server = serve(judge, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield judge, page_url(server, "127.0.0.1", judge.main_token).split("/?")[0]
    finally:
        server.shutdown()
        server.server_close()
        store.close()


def request(base: str, method: str, path: str, body=None, headers: dict | None = None, timeout: float = 10):
    """(status, parsed JSON or bytes) of one request to `base` (http://host:port), `path` sent
    exactly as given; a dict body is sent as JSON."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    headers = {"Host": url.netloc, **(headers or {})}
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    kind = response.getheader("Content-Type") or ""
    return response.status, json.loads(data) if kind.startswith("application/json") else data


def new_round(base: str, token: str, rater: str = "tester") -> dict:
    status, data = request(base, "GET", f"/api/round?rater={rater}", headers={"X-NST-Token": token})
    assert status == 200, data
    return data


def vote(item: dict, round_id: str, answer: str = "left", rater: str = "tester", question: str = "overall",
         judgement_id: str | None = None) -> dict:
    """The JSON body the page posts for one answer."""
    return {"id": judgement_id or secrets.token_hex(12), "rater": rater, "item": item["item"], "question": question,
            "answer": answer, "repeat": item["repeat"], "round": round_id, "response_ms": 800}


def post(base: str, token: str, body: dict, timeout: float = 10):
    return request(base, "POST", "/api/judgement", body, {"X-NST-Token": token}, timeout)


def start_nst_judge(results: Path, *args: str, timeout: float = 60) -> tuple[subprocess.Popen, str]:
    """The real `nst judge --results RESULTS --port 0 ARGS` process and the URL of its first line."""
    proc = subprocess.Popen(nst_command() + ["judge", "--results", str(results), "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    line = proc.stdout.readline()
    if not line.startswith("http://"):
        proc.kill()
        raise AssertionError(f"nst judge printed {line!r} first (stderr: {proc.stderr.read()[-2000:]})")
    assert time.monotonic() < deadline
    return proc, line.strip()


def split_url(url: str) -> tuple[str, str]:
    """(base http://host:port, token) of a page URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parts.query.split("token=", 1)[1]
