"""The local API's HTTP server (`local.server`): finding 8 of issue 14, and what it must keep doing.

Finding 8: the hand-written ``http.server`` handler dropped the connection on a path segment over
about 300 characters (ENAMETOOLONG), on ``Content-Length: abc``; ``Content-Length: -1`` left a
thread blocked reading to EOF; ``config.json`` echoed the ``Host`` header. Each is reproduced here
over a raw socket, against the server in this process (fake handlers, a temporary dashboard) and
against a real ``iops local`` subprocess: each must get a JSON 4xx, the connection must end (the
request's thread is done), and the server must still answer afterwards.

The rest pins the behaviour the rewrite on werkzeug keeps: the API key on write routes, CORS,
404/405 JSON, a crashing handler as a 502, the 10 MB limit, the dashboard with its SPA fallback;
and, in process with tokens of a test key, the sign-in check (401) and the authorizer's claims in
the event (tests/local/test_auth_local.py checks sign-in against the emulator's real user pool).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from werkzeug.test import Client

from handlers.definitions import INGEST_FN, INSIGHTS_FN, QUERY_FN, ROUTES
from iops.auth import TokenVerifier
from local.cognito import UserPool
from local.server import MAX_PAYLOAD, NOT_BUILT, LocalApi, make_app
from tests.local.iops_process import IopsLocal
from tests.local.tokens import CLIENT_ID, POOL_ID, REGION, Signer

KEY = "server-test-key"
WRITERS = {"test-writer": KEY}
A400 = "a" * 400
SIGNER = Signer()
POOL = UserPool(REGION, POOL_ID, CLIENT_ID, endpoint="http://127.0.0.1:9")
"""The in-process servers' pool: tokens of `SIGNER`; its Cognito endpoint is never called here."""
TOKEN = SIGNER.token()
AUTH = {"Authorization": TOKEN}


def verifier() -> TokenVerifier:
    return TokenVerifier(REGION, POOL_ID, CLIENT_ID, SIGNER.jwks())


def local_api(dashboard_dir: Path, **kwargs: object) -> LocalApi:
    """The API in this process on a free port, its users signed in with `SIGNER`'s tokens."""
    return LocalApi(0, WRITERS, POOL, verifier(), dashboard_dir=dashboard_dir, **kwargs)  # type: ignore[arg-type]


@dataclass
class Reply:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    seconds: float
    """From sending the request to the end of the response."""
    closed: bool
    """The server closed the connection after the response (its thread is done with it)."""

    def json(self) -> object:
        return json.loads(self.body)


def exchange(port: int, data: bytes, timeout: float = 10.0) -> Reply:
    """Send ``data`` on a fresh connection and read one response; our side stays open throughout.

    No response within ``timeout`` (the request dropped, or its thread waiting for bytes that
    never come) fails here.
    """
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        raw, eof = b"", False

        def more() -> None:
            nonlocal raw, eof
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""  # the server discarded what it did not read, after its response
            eof = not chunk
            raw += chunk

        while b"\r\n\r\n" not in raw and not eof:
            more()
        assert raw, f"connection closed without a response to {data[:120]!r}"
        head, _, body = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        match = re.fullmatch(r"HTTP/1\.[01] (\d{3}) ?(.*)", status_line)
        assert match, f"not an HTTP response: {raw[:200]!r}"
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(raw) - len(head) - 4 < length and not eof:
            more()
        body = raw[len(head) + 4 :]
        seconds = time.monotonic() - start
        if not eof:
            sock.settimeout(3.0)
            with contextlib.suppress(TimeoutError):
                more()
        return Reply(int(match[1]), match[2], headers, body, seconds, eof)


def request(path: str, *headers: str, method: str = "GET", host: str = "127.0.0.1") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def post(path: str, *headers: str) -> bytes:
    return request(path, *headers, method="POST")


def assert_json_4xx(reply: Reply, status: int | None = None) -> None:
    assert 400 <= reply.status < 500, (reply.status, reply.body[:200])
    if status is not None:
        assert reply.status == status, (reply.status, reply.body[:200])
    assert reply.headers.get("content-type", "").startswith("application/json"), reply.headers
    assert isinstance(reply.json()["message"], str)  # type: ignore[index]


# --- the servers -----------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    port: int
    url: str
    """The URL the system was configured with (the one `iops local` prints)."""
    socket_timeout: float
    token: str
    """An ID token the server accepts."""

    def still_serving(self) -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/config.json", timeout=10) as resp:
            assert resp.status == 200
            config = json.loads(resp.read())
            assert config["apiUrl"] == self.url and config["auth"]["endpoint"] == self.url + "/cognito-idp/"


class FakeLambdas:
    """Stand-ins for the three API functions: record each proxy event, answer like API Gateway's Lambdas."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def ingest(self, event: dict, _context: object) -> dict:
        self.events.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"accepted": 1}'}

    def query(self, event: dict, _context: object) -> dict:
        self.events.append(event)
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json", "Content-Length": "999", "X-One": "1"},
            "multiValueHeaders": {"X-Many": ["a", "b"]},
            "body": json.dumps({"echo": event["path"]}),
        }

    def insights(self, event: dict, _context: object) -> dict:
        self.events.append(event)
        ident = (event.get("pathParameters") or {}).get("id")
        if ident == "crash":
            raise RuntimeError("the Lambda failed")
        if ident == "nonsense":
            return {"statusCode": "not a status"}
        if ident is not None:
            return {"statusCode": 404, "headers": {"Content-Type": "application/json"}, "body": '{"message": "no"}'}
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "[]"}

    def table(self) -> dict:
        return {INGEST_FN: self.ingest, QUERY_FN: self.query, INSIGHTS_FN: self.insights}


def built_dashboard(root: Path) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>app</title>")
    (root / "assets" / "app-123.js").write_text("console.log(1)")
    (root / "favicon.svg").write_text("<svg/>")
    return root


@contextlib.contextmanager
def serving(api: LocalApi) -> Iterator[LocalApi]:
    thread = threading.Thread(target=api.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        api.shutdown()
        api.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def fakes() -> FakeLambdas:
    return FakeLambdas()


@pytest.fixture(scope="module")
def inproc(tmp_path_factory: pytest.TempPathFactory, fakes: FakeLambdas) -> Iterator[LocalApi]:
    """The server in this process: fake Lambdas, a built dashboard, a 1 s socket timeout."""
    dist = built_dashboard(tmp_path_factory.mktemp("dist"))
    with serving(local_api(dist, handlers=fakes.table(), socket_timeout=1.0)) as api:
        yield api


@pytest.fixture(scope="module")
def iops_local() -> Iterator[IopsLocal]:
    with IopsLocal(api_key=KEY) as srv:
        yield srv


@pytest.fixture(scope="module", params=["in-process", "iops-local"])
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "in-process":
        api: LocalApi = request.getfixturevalue("inproc")
        return Target("in-process", api.server_address[1], api.public_url, 1.0, TOKEN)
    srv: IopsLocal = request.getfixturevalue("iops_local")
    banner = next(line for line in srv.output if "IOps Dashboard (local) at" in line)
    printed = banner.split(" at ", 1)[1].strip()
    return Target("iops-local", srv.port, printed, 30.0, srv.token)


# --- finding 8, against both servers ---------------------------------------------------------

LONG_PATHS = [
    f"/{A400}",  # no route
    f"/assets/{A400}.js",  # a dashboard file the file system cannot name (ENAMETOOLONG before)
    f"/{A400}/{A400}.png",
    f"/insights/{A400}",  # a route: the handler answers (404, no such insight)
    f"/metrics/{A400}",
    f"/{A400}.json",
]


@pytest.mark.parametrize("path", LONG_PATHS, ids=["root", "asset", "nested", "insight-id", "metrics-sub", "json"])
def test_a_400_character_path_segment_is_a_json_4xx(target: Target, path: str) -> None:
    signed_in = f"Authorization: {target.token}"
    reply = exchange(target.port, request(path, "Accept: application/json", signed_in))
    assert_json_4xx(reply)
    if path.startswith("/insights/"):
        assert reply.status == 404  # the route's handler answered: no such insight
    reply = exchange(target.port, request(path, signed_in))  # no Accept at all, as curl sends it
    assert_json_4xx(reply)
    assert_json_4xx(exchange(target.port, request(path)))  # nor a token
    target.still_serving()


@pytest.mark.parametrize("path", [f"/{A400}", f"/hosts/{A400}", f"/{A400}/{A400}"], ids=["root", "host", "nested"])
def test_a_browser_navigation_to_a_400_character_path_gets_the_app(target: Target, path: str) -> None:
    """The single-page app answers every navigation (it shows its own "not found")."""
    reply = exchange(target.port, request(path, "Accept: text/html,application/xhtml+xml"))
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/html")
    target.still_serving()


@pytest.mark.parametrize("value", ["abc", "-1", "+2", "1e3", "0x10", "", "2 2"])
def test_a_content_length_that_is_not_a_number_is_400_at_once(target: Target, value: str) -> None:
    """``-1`` made the old server read to EOF: the client waited for an answer that never came."""
    data = post("/metrics", f"x-api-key: {KEY}", "Content-Type: application/json", f"Content-Length: {value}")
    reply = exchange(target.port, data + b"{}")  # our side stays open, as a waiting client's does
    assert_json_4xx(reply, 400)
    assert reply.seconds < 2, "the server waited for the body"
    assert reply.closed, "the connection (and its thread) still waits for the body"
    target.still_serving()


def test_two_different_content_lengths_are_400(target: Target) -> None:
    data = post("/metrics", f"x-api-key: {KEY}", "Content-Length: 2", "Content-Length: 3")
    assert_json_4xx(exchange(target.port, data + b"{}"), 400)
    target.still_serving()


def test_config_json_carries_the_configured_url_never_the_host_header(target: Target) -> None:
    forged = [
        request("/config.json", host="evil.example:666"),
        request("/config.json", "X-Forwarded-Host: evil.example", "X-Forwarded-Proto: https"),
        request("http://evil.example/config.json", host="evil.example"),  # the absolute form names a host too
        request("/config.json", "Accept: text/html", host="evil.example"),
    ]
    for data in forged:
        reply = exchange(target.port, data)
        assert reply.status == 200
        config = reply.json()
        assert config["apiUrl"] == target.url and config["auth"]["endpoint"] == target.url + "/cognito-idp/"  # type: ignore[index]
        assert b"evil" not in reply.body
    assert target.url == f"http://127.0.0.1:{target.port}"
    target.still_serving()


HUGE_HEADERS = {
    "one-70k-header": [f"X-Big: {'v' * 70_000}"],
    "101-headers": [f"X-H{i}: v" for i in range(101)],
    "12k-of-headers": [f"X-H{i}: {'v' * 1000}" for i in range(12)],
}


@pytest.mark.parametrize("headers", HUGE_HEADERS.values(), ids=HUGE_HEADERS.keys())
def test_oversized_headers_are_431(target: Target, headers: list[str]) -> None:
    assert_json_4xx(exchange(target.port, request("/insights/recent", *headers)), 431)
    target.still_serving()


@pytest.mark.parametrize("path", ["/" + "a" * 70_000, "/insights?host=" + "a" * 12_000], ids=["70k-path", "12k-query"])
def test_an_oversized_request_target_is_414(target: Target, path: str) -> None:
    assert_json_4xx(exchange(target.port, request(path)), 414)
    target.still_serving()


def test_a_body_over_10_mb_is_413_before_it_is_read(target: Target) -> None:
    data = post("/metrics", f"x-api-key: {KEY}", f"Content-Length: {MAX_PAYLOAD + 1}")
    reply = exchange(target.port, data)  # announced, never sent
    assert_json_4xx(reply, 413)
    assert reply.json() == {"message": "Request Too Long"}
    assert reply.seconds < 5
    target.still_serving()


def test_a_body_over_10_mb_sent_in_full_is_413_not_a_reset(target: Target) -> None:
    resp = requests.post(
        f"http://127.0.0.1:{target.port}/metrics", data=b"x" * (MAX_PAYLOAD + 1), headers={"x-api-key": KEY}, timeout=30
    )
    assert resp.status_code == 413 and resp.json() == {"message": "Request Too Long"}
    target.still_serving()


def test_a_chunked_body_over_10_mb_is_413(target: Target) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    resp = requests.post(
        f"http://127.0.0.1:{target.port}/metrics", data=chunks(), headers={"x-api-key": KEY}, timeout=30
    )
    assert resp.status_code == 413
    target.still_serving()


@pytest.mark.parametrize(
    "data",
    [
        post("/metrics", f"x-api-key: {KEY}", "Transfer-Encoding: chunked") + b"zz\r\n{}\r\n0\r\n\r\n",
        request("http://[bad/metrics"),
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n",
    ],
    ids=["bad-chunk", "bad-absolute-target", "header-without-colon"],
)
def test_malformed_requests_get_a_4xx(target: Target, data: bytes) -> None:
    reply = exchange(target.port, data)
    assert 400 <= reply.status < 500, (reply.status, reply.body[:200])
    target.still_serving()


# --- bounded waits (in-process: a 1 s socket timeout) ------------------------------------------


def test_a_body_that_stops_arriving_is_408_and_frees_the_thread(inproc: LocalApi) -> None:
    port = inproc.server_address[1]
    data = post("/metrics", f"x-api-key: {KEY}", "Content-Length: 100") + b'{"hostname": '
    reply = exchange(port, data)
    assert_json_4xx(reply, 408)
    assert reply.seconds < 4 and reply.closed


def test_idle_connections_are_closed_and_do_not_block_others(inproc: LocalApi) -> None:
    port = inproc.server_address[1]
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(8)]
    try:
        assert exchange(port, request("/config.json")).status == 200  # answered while 8 connections idle
        start = time.monotonic()
        for sock in idle:
            assert sock.recv(1) == b""  # the server closed it: nothing was sent within its timeout
        assert time.monotonic() - start < 5
    finally:
        for sock in idle:
            sock.close()


def test_no_request_thread_outlives_its_malformed_request(inproc: LocalApi) -> None:
    port = inproc.server_address[1]
    baseline = threading.active_count()
    for value in ("abc", "-1"):
        exchange(port, post("/metrics", f"x-api-key: {KEY}", f"Content-Length: {value}") + b"{}")
    exchange(port, request(f"/assets/{A400}.js"))
    exchange(port, post("/metrics", f"x-api-key: {KEY}", "Content-Length: 50") + b"{")
    deadline = time.monotonic() + 5
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= baseline, [t.name for t in threading.enumerate()]


# --- behaviour kept from the old server (in-process, fake Lambdas) ----------------------------


def url(api: LocalApi, path: str) -> str:
    return f"http://127.0.0.1:{api.server_address[1]}{path}"


def test_write_routes_need_the_api_key_like_api_gateway(inproc: LocalApi, fakes: FakeLambdas) -> None:
    body = b'{"hostname": "h", "timestamp": 1, "cpuUsage": 1}'
    for headers in ({}, {"x-api-key": "wrong"}, {"X-Api-Key": KEY + "x"}):
        resp = requests.post(url(inproc, "/metrics"), data=body, headers=headers, timeout=10)
        assert resp.status_code == 403 and resp.json() == {"message": "Forbidden"}
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
    before = len(fakes.events)
    resp = requests.post(url(inproc, "/metrics"), data=body, headers={"X-API-KEY": KEY}, timeout=10)
    assert resp.status_code == 200 and resp.json() == {"accepted": 1}
    assert len(fakes.events) == before + 1
    assert requests.post(url(inproc, "/metrics"), data=body, headers=AUTH, timeout=10).status_code == 403
    assert requests.get(url(inproc, "/insights/recent"), headers=AUTH, timeout=10).status_code == 200  # no key


def test_the_handler_gets_api_gateways_proxy_event(inproc: LocalApi, fakes: FakeLambdas) -> None:
    resp = requests.get(
        url(inproc, "/metrics?hostname=web-01&limit=5&limit=7&empty="),
        headers={"X-Custom_Header": "kept", "Accept": "application/json", **AUTH},
        timeout=10,
    )
    assert resp.status_code == 200
    event = fakes.events[-1]
    assert event["httpMethod"] == "GET" and event["path"] == "/metrics" and event["resource"] == "/metrics"
    assert event["queryStringParameters"] == {"hostname": "web-01", "limit": "7", "empty": ""}
    assert event["multiValueQueryStringParameters"]["limit"] == ["5", "7"]
    assert event["headers"]["X-Custom_Header"] == "kept"  # names as sent, underscores too
    assert event["body"] is None and event["isBase64Encoded"] is False
    requests.post(url(inproc, "/metrics"), data=b"\xff\xfe", headers={"x-api-key": KEY}, timeout=10)
    assert fakes.events[-1]["isBase64Encoded"] is True and fakes.events[-1]["body"] == "//4="
    assert "authorizer" not in fakes.events[-1]["requestContext"]  # the ingest route has no authorizer
    requests.get(url(inproc, "/insights/a%2Fb"), headers=AUTH, timeout=10)
    assert fakes.events[-1]["pathParameters"] == {"id": "a%2Fb"}  # the encoded path, as before


def test_the_handlers_response_is_passed_through(inproc: LocalApi) -> None:
    resp = requests.get(url(inproc, "/metrics?hostname=x"), headers=AUTH, timeout=10)
    assert resp.json() == {"echo": "/metrics"}
    assert resp.headers["X-One"] == "1" and resp.headers["X-Many"] == "a, b"
    assert resp.headers["Content-Length"] == str(len(resp.content))  # the handler's wrong length is not sent


def test_a_failing_handler_is_a_502_like_api_gateway(inproc: LocalApi) -> None:
    for ident in ("crash", "nonsense"):
        resp = requests.get(url(inproc, f"/insights/{ident}"), headers=AUTH, timeout=10)
        assert resp.status_code == 502 and resp.json() == {"message": "Internal server error"}
    assert requests.get(url(inproc, "/insights/recent"), headers=AUTH, timeout=10).status_code == 200


def test_unknown_routes_and_methods_are_json_404_and_405(inproc: LocalApi) -> None:
    resp = requests.get(url(inproc, "/nowhere"), timeout=10)
    assert resp.status_code == 404 and "no route" in resp.json()["message"]
    for method in ("DELETE", "PUT", "PATCH", "TRACE", "QUERY"):
        resp = requests.request(method, url(inproc, "/metrics"), timeout=10)
        assert resp.status_code == 405, method
        assert resp.headers["Allow"] == "GET,OPTIONS,POST" and resp.json()["message"]
    assert requests.head(url(inproc, "/metrics"), timeout=10).status_code == 405


def test_cors_preflight(inproc: LocalApi) -> None:
    resp = requests.options(url(inproc, "/metrics"), timeout=10)
    assert resp.status_code == 204 and resp.content == b""
    assert resp.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS,POST"
    assert resp.headers["Access-Control-Allow-Headers"] == "Content-Type,X-Api-Key,Authorization"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert requests.options(url(inproc, "/insights/abc"), timeout=10).headers["Access-Control-Allow-Methods"] == (
        "GET,OPTIONS"
    )
    resp = requests.options(url(inproc, "/nowhere"), timeout=10)
    assert resp.status_code == 404 and resp.json()["message"]


def test_the_dashboard_and_its_spa_fallback(inproc: LocalApi) -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    index = requests.get(url(inproc, "/"), timeout=10)
    assert index.status_code == 200 and "<title>app</title>" in index.text
    assert index.headers["Cache-Control"] == "no-cache"
    nav = requests.get(url(inproc, "/hosts/web-01"), headers=html, timeout=10)
    assert nav.status_code == 200 and nav.text == index.text and nav.headers["Content-Type"].startswith("text/html")
    insights_nav = requests.get(url(inproc, "/insights"), headers=html, timeout=10)
    assert insights_nav.text == index.text  # a browser navigation to an API path gets the app
    asset = requests.get(url(inproc, "/assets/app-123.js"), timeout=10)
    assert asset.status_code == 200 and asset.text == "console.log(1)"
    assert "immutable" in asset.headers["Cache-Control"] and "javascript" in asset.headers["Content-Type"]
    assert requests.get(url(inproc, "/favicon.svg"), timeout=10).headers["Content-Type"] == "image/svg+xml"
    missing = requests.get(url(inproc, "/assets/gone.js"), timeout=10)
    assert missing.status_code == 404 and missing.json()["message"]
    head = requests.head(url(inproc, "/"), timeout=10)
    assert head.status_code == 200 and head.content == b""
    for escape in ("/..%2f..%2fetc/passwd", "/assets/../../../../etc/passwd", "/%00.js"):
        resp = requests.get(url(inproc, escape), timeout=10)
        assert "root:" not in resp.text and resp.status_code in (200, 404), escape


def test_a_dashboard_not_built_says_how_to_build_it(tmp_path: Path) -> None:
    with serving(local_api(tmp_path)) as api:
        resp = requests.get(url(api, "/"), timeout=10)
        assert resp.status_code == 200 and resp.text == NOT_BUILT
        assert requests.get(url(api, "/app.js"), timeout=10).status_code == 404
        assert requests.get(url(api, f"/assets/{A400}.js"), timeout=10).status_code == 404
        assert requests.get(url(api, "/config.json"), timeout=10).json()["apiUrl"] == api.base_url


def test_a_configured_public_url_is_what_config_json_says(tmp_path: Path) -> None:
    with serving(local_api(tmp_path, public_url="https://iops.example:9443/")) as api:
        assert api.public_url == "https://iops.example:9443"
        resp = requests.get(url(api, "/config.json"), headers={"Host": "other.example"}, timeout=10)
        assert resp.json() == {
            "apiUrl": "https://iops.example:9443",
            "auth": {
                "region": REGION,
                "userPoolId": POOL_ID,
                "clientId": CLIENT_ID,
                "endpoint": "https://iops.example:9443/cognito-idp/",
                "flow": "USER_PASSWORD_AUTH",
            },
        }


def test_a_port_in_use_is_an_os_error(inproc: LocalApi) -> None:
    with pytest.raises(OSError):
        LocalApi(inproc.server_address[1], WRITERS, POOL, verifier())


def test_the_wsgi_app_runs_in_process_without_a_socket(tmp_path: Path, fakes: FakeLambdas) -> None:
    """What an in-process client (schemathesis ``from_wsgi``, werkzeug's test client) calls."""
    client = Client(
        make_app(WRITERS, POOL, verifier(), "http://127.0.0.1:8000", built_dashboard(tmp_path), fakes.table())
    )
    assert client.get("/config.json", headers={"Host": "evil.example"}).json["apiUrl"] == "http://127.0.0.1:8000"
    assert client.post("/metrics", data=b"{}").status_code == 403
    resp = client.post("/metrics", data=b"{}", headers={"x-api-key": KEY})
    assert resp.status_code == 200 and fakes.events[-1]["body"] == "{}"
    assert client.get("/insights/a%2Fb").status_code == 401
    resp = client.get("/insights/a%2Fb", headers=AUTH)
    assert resp.status_code == 404 and fakes.events[-1]["pathParameters"] == {"id": "a%2Fb"}
    assert client.get("/insights/crash", headers=AUTH).status_code == 502
    assert client.get(f"/assets/{A400}.js").status_code == 404
    assert client.post("/metrics", data=b"x" * (MAX_PAYLOAD + 1), headers={"x-api-key": KEY}).status_code == 413


# --- signing in (in-process, tokens of a test key) ---------------------------------------------

SIGNED_IN = [r for r in ROUTES if r.signed_in]


def concrete(path: str) -> str:
    return path.replace("{id}", "some-id")


def refused_tokens() -> dict[str, str | None]:
    """Every way a request can lack a valid token of `POOL` for its client."""
    return {
        "none": None,
        "garbage": "not-a-token",
        "forged": Signer(kid=SIGNER.kid).token(),  # another RSA key under the pool's key id
        "expired": SIGNER.token(expires_in=-3600),
        "other-pool": SIGNER.token(pool_id="us-east-1_otherpool"),
        "other-client": SIGNER.token(client_id="another-client"),
        "access-token": SIGNER.token(token_use="access"),
    }


def test_the_route_table_says_which_routes_need_a_user() -> None:
    writers = {("POST", "/metrics"), ("POST", "/v1/metrics"), ("POST", "/api/v1/write"), ("POST", "/firehose/cloudwatch")}
    assert {(r.method, r.path) for r in ROUTES if not r.signed_in} == writers | {("GET", "/openapi.json")}
    assert {(r.method, r.path) for r in SIGNED_IN} == {
        ("GET", "/metrics"),
        ("GET", "/insights"),
        ("GET", "/insights/recent"),
        ("GET", "/insights/{id}"),
        ("POST", "/insights/{id}/feedback"),
        ("GET", "/incidents"),
        ("GET", "/incidents/{id}"),
        ("POST", "/incidents/{id}/ack"),
        ("POST", "/incidents/{id}/resolve"),
        ("POST", "/silences"),
        ("GET", "/silences"),
        ("DELETE", "/silences/{id}"),
    }


@pytest.mark.parametrize("route", SIGNED_IN, ids=[r.path for r in SIGNED_IN])
@pytest.mark.parametrize("kind", list(refused_tokens()))
def test_signed_in_routes_refuse_a_missing_or_invalid_token(
    inproc: LocalApi, fakes: FakeLambdas, route: object, kind: str
) -> None:
    token = refused_tokens()[kind]
    before = len(fakes.events)
    target = url(inproc, concrete(route.path))  # type: ignore[attr-defined]
    body = b"{}" if route.method != "GET" else None  # type: ignore[attr-defined]
    resp = requests.request(
        route.method,  # type: ignore[attr-defined]
        target,
        data=body,
        headers={"Authorization": token} if token else {},
        timeout=10,
    )
    assert resp.status_code == 401 and resp.json() == {"message": "Unauthorized"}
    assert resp.headers["Content-Type"] == "application/json" and resp.headers["Access-Control-Allow-Origin"] == "*"
    assert len(fakes.events) == before, "the handler ran for a request API Gateway would refuse"
    ok = requests.request(
        route.method,  # type: ignore[attr-defined]
        target,
        data=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert ok.status_code in (200, 201, 204, 400, 404) and len(fakes.events) == before + 1


def test_public_routes_and_preflight_need_no_token(inproc: LocalApi) -> None:
    assert requests.get(url(inproc, "/openapi.json"), timeout=10).status_code == 200
    resp = requests.options(
        url(inproc, "/insights/recent"), headers={"Access-Control-Request-Headers": "authorization"}, timeout=10
    )
    assert resp.status_code == 204 and "Authorization" in resp.headers["Access-Control-Allow-Headers"].split(",")


def test_the_handler_gets_the_authorizers_claims(inproc: LocalApi, fakes: FakeLambdas) -> None:
    token = SIGNER.token(**{"cognito:username": "alice", "email_verified": True})
    assert (
        requests.get(url(inproc, "/insights/recent"), headers={"Authorization": token}, timeout=10).status_code == 200
    )
    claims = fakes.events[-1]["requestContext"]["authorizer"]["claims"]
    assert claims["cognito:username"] == "alice" and claims["aud"] == CLIENT_ID and claims["token_use"] == "id"
    assert claims["iss"] == f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"
    assert all(isinstance(v, str) for v in claims.values())  # API Gateway passes every claim as a string
    assert claims["email_verified"] == "true"
    assert re.fullmatch(r"\w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4}", claims["exp"]), claims["exp"]


def test_only_the_configured_writers_keys_write(tmp_path: Path, fakes: FakeLambdas) -> None:
    app = make_app({"a": "key-of-a", "b": "key-of-b"}, POOL, verifier(), handlers=fakes.table())
    client = Client(app)
    for key, status in (("key-of-a", 200), ("key-of-b", 200), ("key-of-c", 403), ("key-of-", 403), ("", 403)):
        assert client.post("/metrics", data=b"{}", headers={"x-api-key": key}).status_code == status, key
    assert app.writer("key-of-b") == "b" and app.writer("key-of-c") is None
