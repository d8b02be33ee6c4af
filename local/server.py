"""API Gateway on loopback: routes from `handlers.definitions`, proxy events into the real handlers.

Like the deployed REST API it enforces the API key on write routes, answers CORS preflight,
turns a handler crash into a 502, and serves the built dashboard (with a ``config.json``
pointing at itself) for browser navigations.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import mimetypes
import threading
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from handlers.definitions import INGEST_FN, INSIGHTS_FN, QUERY_FN, allowed_methods, match_route
from local.lambda_runtime import LocalContext

log = logging.getLogger(__name__)

FUNCTION_MODULES = {INGEST_FN: "handlers.ingest", QUERY_FN: "handlers.query", INSIGHTS_FN: "handlers.insights_api"}
FUNCTION_TIMEOUTS = {INGEST_FN: 30.0, QUERY_FN: 30.0, INSIGHTS_FN: 30.0}
MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway's request limit
REPO_ROOT = Path(__file__).resolve().parents[1]
DASHBOARD_DIST = REPO_ROOT / "dashboard" / "dist"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET,POST,OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type,X-Api-Key,Authorization",
    "Access-Control-Max-Age": "600",
}
NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>IOps Dashboard (local)</title>
<h1>IOps Dashboard: local API is running</h1>
<p>The web dashboard is not built yet: run <code>make dashboard</code> (or <code>make demo</code>).</p>
<p>API: <a href="/insights/recent">/insights/recent</a>, <a href="/openapi.json">/openapi.json</a></p>"""


def proxy_event(
    method: str, path: str, query: str, headers: dict[str, str], body: bytes, route: Any, params: dict
) -> dict:
    """The REST API (v1) Lambda proxy event API Gateway would send."""
    qs = parse_qs(query, keep_blank_values=True)
    try:
        text, b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, b64 = base64.b64encode(body).decode(), True
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in qs.items()} or None,
        "multiValueQueryStringParameters": qs or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "stage": "local",
            "resourcePath": route.path,
            "httpMethod": method,
            "path": path,
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": headers.get("X-Forwarded-For", "127.0.0.1")},
        },
        "body": text if body else None,
        "isBase64Encoded": b64,
    }


class LocalApi(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, api_key: str, host: str = "127.0.0.1", dashboard_dir: Path = DASHBOARD_DIST):
        self.api_key = api_key
        self.dashboard_dir = dashboard_dir
        self._handlers: dict[str, Callable] = {}
        self._lock = threading.Lock()
        self.invoking = threading.Lock()
        """One handler call at a time: Powertools keeps the current event on a class attribute shared by
        every resolver in the process (``BaseRouter.current_event``), so concurrent calls would read each
        other's requests (a POST seen with a GET's empty body). In Lambda each call has its own process."""
        super().__init__((host, port), _RequestHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def lambda_handler(self, function: str) -> Callable:
        """Import a function's module on first use, as a cold start would."""
        with self._lock:
            if function not in self._handlers:
                self._handlers[function] = importlib.import_module(FUNCTION_MODULES[function]).handler
            return self._handlers[function]


class _RequestHandler(BaseHTTPRequestHandler):
    server: LocalApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def __getattr__(self, name: str) -> Any:
        """Any other method (TRACE, QUERY...) gets a JSON 405 or 404 like API Gateway, not http.server's 501 HTML."""
        if name.startswith("do_"):
            return lambda: self._dispatch(name[3:])
        raise AttributeError(name)

    def do_OPTIONS(self) -> None:
        path = urlsplit(self.path).path
        if allowed_methods(path):
            self._send(
                204,
                b"",
                {**CORS_HEADERS, "Access-Control-Allow-Methods": ",".join(sorted(allowed_methods(path) | {"OPTIONS"}))},
            )
        else:
            self._json(404, {"message": f"no route for {path}"})

    def _read_body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD:
            self._json(413, {"message": "Request Too Long"})
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        if body is None:
            return
        if method == "GET" and self._wants_page(url.path):
            self._serve_dashboard(url.path)
            return
        found = match_route(method, url.path)
        if found is None:
            if allowed_methods(url.path):
                allow = ",".join(sorted(allowed_methods(url.path) | {"OPTIONS"}))
                self._json(405, {"message": f"{method} not allowed on {url.path}"}, {"Allow": allow})
            elif method in ("GET", "HEAD") and (url.path == "/" or "." in url.path.rsplit("/", 1)[-1]):
                self._serve_dashboard(url.path)  # the app's own files: /, /config.json, /assets/...
            else:
                self._json(404, {"message": f"no route for {method} {url.path}"})
            return
        route, params = found
        headers = {k: v for k, v in self.headers.items()}
        if route.api_key and self.headers.get("x-api-key") != self.server.api_key:
            self._json(403, {"message": "Forbidden"})
            return
        event = proxy_event(method, url.path, url.query, headers, body, route, params)
        try:
            handler = self.server.lambda_handler(route.function)
            with self.server.invoking:  # the timeout starts when the invocation does
                context = LocalContext(
                    function_name=f"iops-local-{route.function}", timeout_s=FUNCTION_TIMEOUTS[route.function]
                )
                resp = handler(event, context)
        except Exception:  # noqa: BLE001 - API Gateway answers 502 when the Lambda fails
            log.exception("handler %s failed", route.function)
            self._json(502, {"message": "Internal server error"})
            return
        out_headers = dict(resp.get("headers") or {})
        for k, values in (resp.get("multiValueHeaders") or {}).items():
            out_headers[k] = ",".join(values)
        raw = resp.get("body") or ""
        payload = base64.b64decode(raw) if resp.get("isBase64Encoded") else raw.encode()
        self._send(int(resp.get("statusCode", 200)), payload, out_headers)

    def _wants_page(self, path: str) -> bool:
        """A browser navigation (HTML, not JSON) to an app route gets the single-page app."""
        accept = self.headers.get("Accept", "")
        return "text/html" in accept and "application/json" not in accept and not path.endswith(".json")

    def _serve_dashboard(self, path: str) -> None:
        if path == "/config.json":
            self._json(200, {"apiUrl": self._public_base()})
            return
        root = self.server.dashboard_dir
        if not (root / "index.html").is_file():
            if path in ("/", "/index.html") or "text/html" in self.headers.get("Accept", ""):
                self._send(200, NOT_BUILT.encode(), {"Content-Type": "text/html; charset=utf-8"})
            else:
                self._json(404, {"message": f"no route for GET {path}"})
            return
        candidate = (root / path.lstrip("/")).resolve()
        if candidate.is_file() and root.resolve() in candidate.parents:
            ctype = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
            cache = "public, max-age=31536000, immutable" if "/assets/" in path else "no-cache"
            self._send(200, candidate.read_bytes(), {"Content-Type": ctype, "Cache-Control": cache})
        elif "." in path.rsplit("/", 1)[-1] and not self._wants_page(path):
            self._json(404, {"message": f"no route for GET {path}"})
        else:
            self._send(
                200,
                (root / "index.html").read_bytes(),
                {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"},
            )

    def _public_base(self) -> str:
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.server.base_url

    def _json(self, status: int, body: Any, extra_headers: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": "application/json", **CORS_HEADERS, **(extra_headers or {})}
        self._send(status, json.dumps(body).encode(), headers)

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status, HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "")
            for k, v in headers.items():
                if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
