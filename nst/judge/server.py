"""The rating page's HTTP server (the standard library's ThreadingHTTPServer).

Security model (tests/judge/test_judge_server.py checks each point):
- It listens on 127.0.0.1 unless --host names another address; every address it accepts
  requests for is one of its own: the Host header must be the bound host:port (for a loopback
  address also localhost / 127.0.0.1 / [::1] with that port), so a page on another site that
  re-points its own name at 127.0.0.1 (DNS rebinding) is refused.
- Every request but the page's two static files needs a token made at start
  (secrets.token_urlsafe): in the query of the page and image URLs, in the X-NST-Token header
  (or the JSON body) of API calls. Each --rater gets a token of its own, which also fixes the
  rater's name; the main token lets the page ask for a name.
- A judgement is stored only by a POST of a JSON body (a cross-site form cannot send one with a
  custom header, and a GET never changes anything: GET /api/judgement is 405).
- Files are served by ids the catalog made at start (nst/judge/catalog.py): the study's run
  images and its content and style images, and the page's own files from a fixed list; no part
  of a request is ever used as a path, so ../, absolute and encoded paths are all 404.
- Responses forbid framing, caching, sniffing and referrers, and the page's Content-Security-
  Policy allows only its own scripts, styles and images (nothing from the internet).
"""
from __future__ import annotations

import hmac
import json
import mimetypes
import re
import secrets
import socket
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import NSTError
from ..hashes import sha256_file
from ..study.tables.judgements import ANSWERS, QUESTIONS, SIDES, chosen_side, comparison_id
from .catalog import Catalog
from .schedule import Item, Past, plan_round
from .store import ConflictError, Store

PAGE_FILES = {"/": "index.html", "/app.js": "app.js", "/style.css": "style.css"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_BODY = 16 * 1024
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
}


class Refused(Exception):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Judge:
    """What the handler serves: the catalog, the store, the questions and the tokens."""
    catalog: Catalog
    store: Store
    questions: tuple[str, ...] = ("overall",)
    raters: tuple[str, ...] = ()
    tokens: dict[str, str | None] = field(default_factory=dict)  # token -> its rater (None: asks)
    hosts: frozenset[str] = frozenset()  # accepted Host headers, set by serve()
    _hashes: dict[Path, tuple[int, int, str]] = field(default_factory=dict)
    _hash_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        for key in self.questions:
            if key not in QUESTIONS:
                raise NSTError(f"--questions: unknown question {key!r}; allowed: {', '.join(QUESTIONS)}")
        self.main_token = secrets.token_urlsafe(24)
        self.tokens = {self.main_token: None, **{secrets.token_urlsafe(24): rater_name(r) for r in self.raters}}

    def rater_of(self, token: str | None) -> tuple[bool, str | None]:
        """(token valid, the rater it fixes or None)."""
        for known, rater in self.tokens.items():
            if token and hmac.compare_digest(known.encode(), token.encode()):
                return True, rater
        return False, None

    def image_hash(self, path: Path) -> str:
        """sha256 of an image, remembered while its size and mtime stay the same."""
        stat = path.stat()
        with self._hash_lock:
            cached = self._hashes.get(path)
            if cached and cached[:2] == (stat.st_size, stat.st_mtime_ns):
                return cached[2]
        digest = sha256_file(path)
        with self._hash_lock:
            self._hashes[path] = (stat.st_size, stat.st_mtime_ns, digest)
        return digest

    def history(self) -> list[Past]:
        """The stored judgements of the first question, for scheduling."""
        rows = self.store.rows(("rater", "content", "style", "run_a", "run_b", "left", "answer", "question"))
        return [Past(r, comparison_id(c, s, a, b), a, b, chosen_side(left, answer))
                for r, c, s, a, b, left, answer, q in rows if q == self.questions[0]]


def rater_name(value) -> str:
    """A rater's name as given (trimmed); NSTError unless it is 1-64 printable characters."""
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > 64 or not name.isprintable():
        raise NSTError(f"rater name {value!r}: expected 1 to 64 printable characters")
    return name


def page_file(name: str) -> bytes:
    return resources.files("nst.judge").joinpath("page", name).read_bytes()


class Handler(BaseHTTPRequestHandler):
    server_version = "nst-judge"
    sys_version = ""
    timeout = 60
    judge: Judge  # set on the subclass made by serve()

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass  # the terminal shows the URL; requests are not news

    # --- responses ---
    def _send(self, status: HTTPStatus, body: bytes, content_type: str, extra: dict | None = None) -> None:
        self.send_response(status)
        for key, value in {**HEADERS, **(extra or {}), "Content-Type": content_type,
                           "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: HTTPStatus, data: dict) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _refuse(self, refused: Refused) -> None:
        extra = {"Allow": "POST"} if refused.status == HTTPStatus.METHOD_NOT_ALLOWED else None
        self._send(refused.status, json.dumps({"error": str(refused)}).encode(), "application/json", extra)

    # --- checks ---
    def _check_host(self) -> None:
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.judge.hosts:
            raise Refused(HTTPStatus.FORBIDDEN, "this server answers only to the address it printed (Host header)")

    def _token(self, query: dict, body: dict | None = None) -> str | None:
        """The rater this request's token fixes (None: the page names one); Refused if invalid."""
        token = self.headers.get("X-NST-Token") or (query.get("token") or [None])[0]
        if token is None and body:
            token = body.get("token")
        valid, rater = self.judge.rater_of(token if isinstance(token, str) else None)
        if not valid:
            raise Refused(HTTPStatus.FORBIDDEN, "missing or wrong token: open the URL nst judge printed")
        return rater

    # --- methods ---
    def do_GET(self):  # noqa: N802 (http.server's name)
        try:
            self._check_host()
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path in ("/app.js", "/style.css"):
                name = PAGE_FILES[url.path]
                self._send(HTTPStatus.OK, page_file(name), mimetypes.guess_type(name)[0] + "; charset=utf-8")
            elif url.path == "/":
                self._token(query)
                self._send(HTTPStatus.OK, page_file("index.html"), "text/html; charset=utf-8")
            elif url.path == "/api/round":
                self._json(HTTPStatus.OK, self._round(self._token(query), query))
            elif url.path.startswith("/img/"):
                self._token(query)
                self._image(url.path[len("/img/"):])
            elif url.path == "/api/judgement":
                raise Refused(HTTPStatus.METHOD_NOT_ALLOWED, "judgements are stored only by POST")
            else:
                raise Refused(HTTPStatus.NOT_FOUND, "not found")
        except Refused as refused:
            self._refuse(refused)

    do_HEAD = do_GET

    def do_POST(self):  # noqa: N802
        try:
            self._check_host()
            url = urlsplit(self.path)
            if url.path != "/api/judgement":
                raise Refused(HTTPStatus.NOT_FOUND, "not found")
            body = self._body()
            rater = self._token(parse_qs(url.query), body)
            new = self.judge.store.add(self._judgement(body, rater))
            self._json(HTTPStatus.OK, {"stored": True, "new": new})
        except Refused as refused:
            self._refuse(refused)
        except ConflictError as err:
            self._refuse(Refused(HTTPStatus.CONFLICT, str(err)))

    def _body(self) -> dict:
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "a judgement is a JSON body (Content-Type: application/json)")
        try:
            length = int(self.headers.get("Content-Length") or -1)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            raise Refused(HTTPStatus.BAD_REQUEST, f"the body needs a Content-Length of at most {MAX_BODY} bytes")
        try:
            body = json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError):
            raise Refused(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise Refused(HTTPStatus.BAD_REQUEST, "the body is not a JSON object")
        return body

    # --- the API ---
    def _round(self, bound: str | None, query: dict) -> dict:
        rater = bound or self._rater((query.get("rater") or [""])[0])
        token = self.headers.get("X-NST-Token") or query["token"][0]
        items = plan_round(self.judge.catalog, self.judge.history(), rater)
        return {"rater": rater, "bound": bound is not None, "round": secrets.token_hex(8),
                "questions": [{"key": k, "text": QUESTIONS[k]} for k in self.judge.questions],
                "items": [self._item(item, token) for item in items]}

    def _item(self, item: Item, token: str) -> dict:
        c, catalog = item.comparison, self.judge.catalog
        content, styles = catalog.pair_images[(c.content, c.style)]
        left, right = (c.run_a, c.run_b) if item.left == "a" else (c.run_b, c.run_a)

        def url(image_id: str) -> str:
            return f"/img/{image_id}?token={token}"

        return {"item": item.id, "repeat": item.repeat, "content": url(content), "styles": [url(s) for s in styles],
                "left": url(catalog.run_images[(c.content, c.style, left)]),
                "right": url(catalog.run_images[(c.content, c.style, right)])}

    def _rater(self, value) -> str:
        try:
            return rater_name(value)
        except NSTError as err:
            raise Refused(HTTPStatus.BAD_REQUEST, str(err)) from None

    def _judgement(self, body: dict, bound: str | None) -> dict:
        def field(name, check, message):
            value = body.get(name)
            if not check(value):
                raise Refused(HTTPStatus.BAD_REQUEST, f"field {name!r}: {message}")
            return value

        judgement_id = field("id", lambda v: isinstance(v, str) and ID_PATTERN.match(v), "8 to 64 of A-Z a-z 0-9 _ -")
        rater = bound or self._rater(body.get("rater"))
        item = field("item", lambda v: isinstance(v, str) and v.count(".") == 1, "an item of the round")
        comparison_id, left = item.split(".")
        comparison = self.judge.catalog.comparisons.get(comparison_id)
        if comparison is None or left not in SIDES:
            raise Refused(HTTPStatus.BAD_REQUEST, "field 'item': not an item of this study's rounds")
        question = field("question", lambda v: v in self.judge.questions, f"one of {', '.join(self.judge.questions)}")
        answer = field("answer", lambda v: v in ANSWERS, f"one of {', '.join(ANSWERS)}")
        repeat = field("repeat", lambda v: isinstance(v, bool), "true or false")
        round_id = field("round", lambda v: isinstance(v, str) and len(v) <= 64, "the round's id")
        response_ms = field("response_ms", lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)
                                                                   and 0 <= v < 2**31), "milliseconds or null")
        catalog, c = self.judge.catalog, comparison
        return {"id": judgement_id, "rater": rater, "content": c.content, "style": c.style,
                "run_a": c.run_a, "run_b": c.run_b,
                "sha256_a": self.judge.image_hash(catalog.run_image_path(c.content, c.style, c.run_a)),
                "sha256_b": self.judge.image_hash(catalog.run_image_path(c.content, c.style, c.run_b)),
                "left": left, "answer": answer, "question": question, "repeat": int(repeat),
                "round": round_id, "response_ms": response_ms}

    def _image(self, image_id: str) -> None:
        path = self.judge.catalog.images.get(image_id)
        if path is None:
            raise Refused(HTTPStatus.NOT_FOUND, "not found")
        try:
            data = path.read_bytes()
        except OSError:
            raise Refused(HTTPStatus.NOT_FOUND, "the image is gone (was its run recomputed? restart nst judge)") from None
        self._send(HTTPStatus.OK, data, mimetypes.guess_type(path.name)[0] or "application/octet-stream")


# --- starting it -----------------------------------------------------------------------------------
def _server_class(host: str):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 128  # socketserver's 5 refuses connections when a lab's raters post at once

    return Server


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(judge: Judge, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server for `judge` bound to host:port (port 0: a free one), not yet serving
    (call serve_forever). NSTError for an address that cannot be used."""
    if host in ("0.0.0.0", "::", ""):
        raise NSTError(f"--host {host!r}: name the address raters will use (this machine's name or IP "
                       "on the lab's network): the server checks that requests are meant for it")
    handler = type("JudgeHandler", (Handler,), {"judge": judge})
    try:
        server = _server_class(host)((host, port), handler)
    except OSError as err:
        hint = "; --port 0 picks a free port" if port else ""
        raise NSTError(f"cannot listen on {url_host(host)}:{port}: {err.strerror or err}{hint}") from None
    real = server.server_address[1]
    names = {host.lower(), url_host(host).lower()} | (set(LOOPBACK) | {"[::1]"} if host in LOOPBACK else set())
    judge.hosts = frozenset(f"{name}:{real}" for name in names if not name.startswith("::"))
    return server


def page_url(server: ThreadingHTTPServer, host: str, token: str) -> str:
    return f"http://{url_host(host)}:{server.server_address[1]}/?token={token}"
