"""A switchable HTTP proxy for the connection-status test.

It forwards every request to the real ``iops local``, except ``/config.json``: that one it answers
itself, ``iops local``'s own with the API and Cognito URLs pointed at the proxy, so the app and its
sign-in talk to the proxy (``iops local``'s config.json names ``iops local``'s configured URL, never
the request's ``Host``). Switched to
``failing``, it stops answering: it accepts the connection and closes it without a response,
which the browser sees as a network error, like a server that went away.
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailers", "transfer-encoding", "upgrade", "content-length",
}  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    server: SwitchableProxy

    def log_message(self, *_args: object) -> None:  # keep the test output quiet
        pass

    def _forward(self) -> None:
        proxy = self.server
        is_poll = self.path.startswith("/insights/recent")
        with proxy.lock:
            if is_poll:
                proxy.polls["failed" if proxy.failing else "answered"] += 1
            failing = proxy.failing
        if failing:
            self.close_connection = True  # no status line, no body: "the server stopped answering"
            return
        if self.path == "/config.json":
            self._answer(200, json.dumps(proxy.config()).encode(), {"Content-Type": "application/json"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        conn = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port, timeout=30)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in HOP_BY_HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        finally:
            conn.close()

    def _answer(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_OPTIONS = do_PUT = do_DELETE = _forward


class SwitchableProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, target: str, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.target = urlsplit(target)
        self.failing = False
        self.polls = {"answered": 0, "failed": 0}
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, name="e2e-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def config(self) -> dict[str, Any]:
        """The target's config.json with every URL on the target moved to the proxy."""
        conn = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=30)
        try:
            conn.request("GET", "/config.json", headers={"Accept": "application/json"})
            config = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        config["apiUrl"] = self.url
        endpoint = config["auth"].get("endpoint")
        if endpoint:
            config["auth"]["endpoint"] = self.url + urlsplit(endpoint).path
        return config

    def set_failing(self, failing: bool) -> None:
        with self.lock:
            self.failing = failing

    def poll_count(self, kind: str) -> int:
        with self.lock:
            return self.polls[kind]

    def __enter__(self) -> SwitchableProxy:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()
        self.server_close()
