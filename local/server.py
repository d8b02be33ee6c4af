"""API Gateway on loopback: routes from `handlers.definitions`, proxy events into the real handlers.

Like the deployed REST API it demands a signed-in user's ID token on every route but the ingest
route and the OpenAPI document (401 otherwise, as the COGNITO_USER_POOLS authorizer answers) and a
writer's API key on write routes (403), answers CORS preflight, turns a handler crash into a 502,
refuses payloads over 10 MB, and serves the built dashboard (with a ``config.json`` that carries this
system's configured URL and user pool) for browser navigations. The dashboard signs in through
``POST /cognito-idp/``, forwarded to the emulator's Cognito, so the browser talks to one origin.

Two layers:

* :class:`ApiApp` (built by :func:`make_app`) is a plain WSGI application. It runs under any WSGI
  server or test client (schemathesis' ``from_wsgi``, ``werkzeug.test.Client``) without a socket.
* :class:`LocalApi` serves it with werkzeug's threaded HTTP server on a socket it binds itself
  (a port in use is an ``OSError``, not werkzeug's ``sys.exit``). The request handler bounds every
  read (a socket timeout), answers malformed requests with a JSON 4xx (400, 408, 413, 414, 431),
  and closes each connection after its response, so no malformed request drops a connection
  without an answer or keeps a thread waiting for bytes that never come.
"""

from __future__ import annotations

import base64
import hmac
import importlib
import json
import logging
import mimetypes
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_input_stream

from handlers.definitions import INGEST_FN, INSIGHTS_FN, QUERY_FN, allowed_methods, match_route
from iops.auth import TokenVerifier, Unauthorized
from local import cognito
from local.lambda_runtime import LocalContext

logger = logging.getLogger(__name__)

FUNCTION_MODULES = {INGEST_FN: "handlers.ingest", QUERY_FN: "handlers.query", INSIGHTS_FN: "handlers.insights_api"}
FUNCTION_TIMEOUTS = {INGEST_FN: 30.0, QUERY_FN: 30.0, INSIGHTS_FN: 30.0}
MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway's request limit
MAX_HEADER_BYTES = 10_240
"""API Gateway's limit on the request line and headers together. ``Cookie`` is not counted: on
localhost a browser sends the cookies of every local app on any port, which the deployed API (its
own domain) never receives. Beyond this, http.server caps each line at 64 KiB and 100 headers."""
SOCKET_TIMEOUT_S = 30.0
"""Longest wait for the next bytes of a request (request line, headers or body)."""
DRAIN_TIMEOUT_S = 1.0
"""After the response, werkzeug reads and discards what is left of the request body (so a client
still sending sees the 413 and not a reset); this long a silence ends that."""
REPO_ROOT = Path(__file__).resolve().parents[1]
DASHBOARD_DIST = REPO_ROOT / "dashboard" / "dist"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET,POST,OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type,X-Api-Key,Authorization",
    "Access-Control-Max-Age": "600",
}
HOP_BY_HOP = {"content-length", "connection", "transfer-encoding", "keep-alive"}
NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>IOps Dashboard (local)</title>
<h1>IOps Dashboard: local API is running</h1>
<p>The web dashboard is not built yet: run <code>make dashboard</code> (or <code>make demo</code>).</p>
<p>API: <a href="/insights/recent">/insights/recent</a>, <a href="/openapi.json">/openapi.json</a></p>"""
RAW_TARGET = "iops.raw_target"
"""Environ key: the request target exactly as sent (percent-encoded), set by our request handler."""
RAW_HEADERS = "iops.raw_headers"
"""Environ key: the request headers as sent (names in the client's case, duplicates kept)."""
DIGITS = re.compile(r"[0-9]+")
MAX_FILE_NAME = 255
COGNITO_PATH = "/cognito-idp/"
"""Where the dashboard calls Cognito's JSON API (config.json's ``auth.endpoint``), forwarded to the emulator."""
TIME_CLAIMS = ("exp", "iat", "auth_time")

Handler = Callable[[dict, Any], dict]


def gateway_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """The token's claims as API Gateway hands them to the Lambda: every value a string, times as dates."""
    out = {}
    for name, value in claims.items():
        if name in TIME_CLAIMS and isinstance(value, int | float):
            out[name] = datetime.fromtimestamp(value, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
        else:
            out[name] = value if isinstance(value, str) else json.dumps(value)
    return out


def proxy_event(
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    route: Any,
    params: dict,
    claims: Mapping[str, Any] | None = None,
) -> dict:
    """The REST API (v1) Lambda proxy event API Gateway would send (with the authorizer's claims when signed in)."""
    qs = parse_qs(query, keep_blank_values=True)
    try:
        text, b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, b64 = base64.b64encode(body).decode(), True
    context: dict[str, Any] = {
        "requestId": str(uuid.uuid4()),
        "stage": "local",
        "resourcePath": route.path,
        "httpMethod": method,
        "path": path,
        "requestTimeEpoch": int(time.time() * 1000),
        "identity": {"sourceIp": headers.get("X-Forwarded-For", "127.0.0.1")},
    }
    if claims is not None:
        context["authorizer"] = {"claims": gateway_claims(claims)}
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
        "requestContext": context,
        "body": text if body else None,
        "isBase64Encoded": b64,
    }


class _Raw(Response):
    """A response that adds no Content-Type of its own (the handler's headers are the headers)."""

    default_mimetype = None


def json_response(status: int, body: Any, extra_headers: dict[str, str] | None = None) -> Response:
    headers = {"Content-Type": "application/json", **CORS_HEADERS, **(extra_headers or {})}
    return _Raw(json.dumps(body), status=status, headers=headers)


def _close(response: Response) -> Response:
    """The request's body may be unread: this connection carries no further request."""
    response.headers["Connection"] = "close"
    return response


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Request:
    """What the app needs of one request, from the environ (with our handler's raw values when present)."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method: str = environ.get("REQUEST_METHOD", "GET")
        self.target = self._target(environ)
        self.header_items: list[tuple[str, str]] = list(environ.get(RAW_HEADERS) or self._environ_headers(environ))
        self.headers = {k: v for k, v in self.header_items}
        self._lower = {k.lower(): v for k, v in self.header_items}

    @staticmethod
    def _target(environ: dict[str, Any]) -> str:
        raw = environ.get(RAW_TARGET)
        if raw is not None:
            return raw
        uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if uri is not None:  # WSGI strings are latin-1 text of the UTF-8 bytes
            return uri.encode("latin-1", "replace").decode("utf-8", "replace")
        path = quote(environ.get("PATH_INFO", "/").encode("latin-1", "replace"), safe="/:@!$&'()*+,;=-._~")
        query = environ.get("QUERY_STRING", "")
        return f"{environ.get('SCRIPT_NAME', '')}{path}" + (f"?{query}" if query else "")

    @staticmethod
    def _environ_headers(environ: dict[str, Any]) -> Iterable[tuple[str, str]]:
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                yield key[5:].replace("_", "-").title(), value
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value != "":
                yield key.replace("_", "-").title(), value

    def get(self, name: str, default: str = "") -> str:
        return self._lower.get(name.lower(), default)

    def has(self, name: str, value: str) -> bool:
        return self._lower.get(name.lower()) == value

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.header_items if k.lower() == name.lower()]


class ApiApp:
    """The local API Gateway as a WSGI application: ``app(environ, start_response)``."""

    def __init__(
        self,
        writers: Mapping[str, str],
        pool: cognito.UserPool,
        verifier: TokenVerifier,
        public_url: str,
        dashboard_dir: Path = DASHBOARD_DIST,
        handlers: dict[str, Handler] | None = None,
        max_payload: int = MAX_PAYLOAD,
        max_header_bytes: int = MAX_HEADER_BYTES,
    ) -> None:
        self.writers = dict(writers)
        """Each writer's API key, by writer name: only these keys may write."""
        self.pool = pool
        self.verifier = verifier
        self.public_url = public_url.rstrip("/")
        """What ``config.json`` tells the dashboard: the URL ``iops local`` prints, never the ``Host``."""
        self.dashboard_dir = Path(dashboard_dir)
        self.max_payload = max_payload
        self.max_header_bytes = max_header_bytes
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self._lock = threading.Lock()
        self.invoking = threading.Lock()
        """One handler call at a time: Powertools keeps the current event on a class attribute shared by
        every resolver in the process (``BaseRouter.current_event``), so concurrent calls would read each
        other's requests (a POST seen with a GET's empty body). In Lambda each call has its own process."""

    def lambda_handler(self, function: str) -> Handler:
        """Import a function's module on first use, as a cold start would."""
        with self._lock:
            if function not in self._handlers:
                self._handlers[function] = importlib.import_module(FUNCTION_MODULES[function]).handler
            return self._handlers[function]

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        try:
            response = self.respond(_Request(environ))
        except Exception:  # noqa: BLE001 - a bug here must still be a JSON answer, not a dropped connection
            logger.exception("local API failed on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            response = _close(json_response(500, {"message": "Internal server error"}))
        return response(environ, start_response)

    # --- one request -----------------------------------------------------------------------

    def respond(self, req: _Request) -> Response:
        refused = self._check_framing(req)
        if refused is not None:
            return refused
        try:
            url = urlsplit(req.target)
        except ValueError:
            return _close(json_response(400, {"message": "malformed request target"}))
        path = f"//{url.netloc}{url.path}" if url.netloc and not url.scheme else url.path
        body = self._read_body(req)
        if isinstance(body, Response):
            return body
        if req.method == "OPTIONS":
            return self._preflight(path)
        if req.method == "POST" and path == COGNITO_PATH:
            return self._cognito(req, body)
        if req.method == "GET" and self._wants_page(req, path):
            return self._serve_dashboard(req, path)
        found = match_route(req.method, path)
        if found is None:
            if allowed_methods(path):
                allow = ",".join(sorted(allowed_methods(path) | {"OPTIONS"}))
                return json_response(405, {"message": f"{req.method} not allowed on {path}"}, {"Allow": allow})
            if req.method in ("GET", "HEAD") and (path == "/" or "." in path.rsplit("/", 1)[-1]):
                return self._serve_dashboard(req, path)  # the app's own files: /, /config.json, /assets/...
            return json_response(404, {"message": f"no route for {req.method} {path}"})
        route, params = found
        claims = None
        if route.signed_in:
            try:
                claims = self.verifier.verify_header(req.get("Authorization"))
            except Unauthorized as exc:
                logger.info("401 for %s %s: %s", req.method, path, exc)
                return json_response(401, {"message": "Unauthorized"})
        if route.api_key and self.writer(req.get("x-api-key")) is None:
            return json_response(403, {"message": "Forbidden"})
        return self._invoke(route, params, req, path, url.query, body, claims)

    def writer(self, key: str) -> str | None:
        """The name of the writer whose API key is ``key`` (compared in constant time), if any."""
        given = key.encode()
        found = None
        for name, known in self.writers.items():
            if hmac.compare_digest(given, known.encode()):
                found = name
        return found

    def _check_framing(self, req: _Request) -> Response | None:
        """Limits API Gateway enforces before any Lambda runs: header size, a well-formed Content-Length."""
        size = len(req.target) + sum(len(k) + len(v) + 4 for k, v in req.header_items if k.lower() != "cookie")
        if size > self.max_header_bytes:
            if len(req.target) > self.max_header_bytes // 2:
                return _close(json_response(414, {"message": "Request-URI Too Long"}))
            return _close(json_response(431, {"message": "Request Header Fields Too Large"}))
        lengths = req.all("Content-Length")
        if lengths and (len(set(lengths)) > 1 or not all(DIGITS.fullmatch(v.strip()) for v in lengths)):
            return _close(json_response(400, {"message": "invalid Content-Length header"}))
        return None

    def _read_body(self, req: _Request) -> bytes | Response:
        try:
            stream = get_input_stream(req.environ, max_content_length=self.max_payload)  # 413 if declared too long
            if not req.environ.get("wsgi.input_terminated"):
                return stream.read()  # exactly Content-Length bytes (none without one)
            # A chunked body: werkzeug's maximum would silently truncate it, so count it ourselves.
            raw, body = req.environ["wsgi.input"], bytearray()
            while len(body) <= self.max_payload:
                chunk = raw.read(min(65_536, self.max_payload + 1 - len(body)))
                if not chunk:
                    return bytes(body)
                body += chunk
            raise RequestEntityTooLarge()
        except RequestEntityTooLarge:
            return _close(json_response(413, {"message": "Request Too Long"}))
        except HTTPException as exc:  # ClientDisconnected: the body ended (or stalled) before its Content-Length
            if isinstance(exc.__context__, TimeoutError):
                return _close(json_response(408, {"message": "Request Timeout: the body stopped arriving"}))
            return _close(json_response(exc.code or 400, {"message": "incomplete request body"}))
        except TimeoutError:
            return _close(json_response(408, {"message": "Request Timeout: the body stopped arriving"}))
        except (OSError, ValueError):  # a malformed chunked body
            return _close(json_response(400, {"message": "malformed request body"}))

    def _preflight(self, path: str) -> Response:
        methods = allowed_methods(path)
        if not methods:
            return json_response(404, {"message": f"no route for {path}"})
        allow = ",".join(sorted(methods | {"OPTIONS"}))
        return _Raw(b"", status=204, headers={**CORS_HEADERS, "Access-Control-Allow-Methods": allow})

    def _cognito(self, req: _Request, body: bytes) -> Response:
        """The browser's call of Cognito's JSON API, forwarded to the emulator's Cognito."""
        try:
            answer = cognito.forward(self.pool.endpoint, req.get("X-Amz-Target"), req.get("Content-Type"), body)
        except OSError as exc:
            logger.warning("the emulator's Cognito did not answer: %s", exc)
            return json_response(502, {"message": "sign-in service unavailable"})
        return _Raw(answer.body, status=answer.status, headers={**CORS_HEADERS, **answer.headers})

    def _invoke(
        self, route: Any, params: dict, req: _Request, path: str, query: str, body: bytes, claims: dict | None
    ) -> Response:
        event = proxy_event(req.method, path, query, dict(req.headers), body, route, params, claims)
        try:
            handler = self.lambda_handler(route.function)
            with self.invoking:  # the timeout starts when the invocation does
                context = LocalContext(
                    function_name=f"iops-local-{route.function}", timeout_s=FUNCTION_TIMEOUTS.get(route.function, 30.0)
                )
                resp = handler(event, context)
            return self._from_lambda(resp)
        except Exception:  # noqa: BLE001 - API Gateway answers 502 when the Lambda fails or answers nonsense
            logger.exception("handler %s failed", route.function)
            return json_response(502, {"message": "Internal server error"})

    @staticmethod
    def _from_lambda(resp: dict) -> Response:
        headers = Headers()
        for k, v in (resp.get("headers") or {}).items():
            if k.lower() not in HOP_BY_HOP:
                headers[k] = str(v)
        for k, values in (resp.get("multiValueHeaders") or {}).items():
            if k.lower() not in HOP_BY_HOP:
                headers.setlist(k, [str(v) for v in values])
        raw = resp.get("body") or ""
        payload = base64.b64decode(raw) if resp.get("isBase64Encoded") else raw.encode()
        return _Raw(payload, status=int(resp.get("statusCode", 200)), headers=headers)

    # --- the dashboard ---------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The dashboard's ``config.json``: where the API is and how to sign in (the stack writes the same shape)."""
        return {
            "apiUrl": self.public_url,
            "auth": {
                "region": self.pool.region,
                "userPoolId": self.pool.user_pool_id,
                "clientId": self.pool.client_id,
                "endpoint": self.public_url + COGNITO_PATH,
                "flow": cognito.LOCAL_FLOW,
            },
        }

    @staticmethod
    def _wants_page(req: _Request, path: str) -> bool:
        """A browser navigation (HTML, not JSON) to an app route gets the single-page app."""
        accept = req.get("Accept")
        return "text/html" in accept and "application/json" not in accept and not path.endswith(".json")

    def _static_file(self, path: str) -> Path | None:
        """The dashboard file ``path`` names, if it is one inside the dashboard directory."""
        rel = path.lstrip("/")
        if not rel or "\x00" in rel or any(len(part) > MAX_FILE_NAME for part in rel.split("/")):
            return None
        root = self.dashboard_dir.resolve()
        try:
            candidate = (root / rel).resolve()
            return candidate if root in candidate.parents and candidate.is_file() else None
        except (OSError, ValueError):  # a name the file system refuses (too long, ...) names no file
            return None

    def _serve_dashboard(self, req: _Request, path: str) -> Response:
        if path == "/config.json":
            return json_response(200, self.config())
        root = self.dashboard_dir
        if not (root / "index.html").is_file():
            if path in ("/", "/index.html") or "text/html" in req.get("Accept"):
                return _Raw(NOT_BUILT.encode(), status=200, headers={"Content-Type": "text/html; charset=utf-8"})
            return json_response(404, {"message": f"no route for GET {path}"})
        candidate = self._static_file(path)
        if candidate is not None:
            try:
                data = candidate.read_bytes()
            except OSError:
                return json_response(404, {"message": f"no route for GET {path}"})
            ctype = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
            cache = "public, max-age=31536000, immutable" if "/assets/" in path else "no-cache"
            return _Raw(data, status=200, headers={"Content-Type": ctype, "Cache-Control": cache})
        if "." in path.rsplit("/", 1)[-1] and not self._wants_page(req, path):
            return json_response(404, {"message": f"no route for GET {path}"})
        return _Raw(
            (root / "index.html").read_bytes(),
            status=200,
            headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"},
        )


def make_app(
    writers: Mapping[str, str],
    pool: cognito.UserPool,
    verifier: TokenVerifier,
    public_url: str = "http://127.0.0.1:8000",
    dashboard_dir: Path = DASHBOARD_DIST,
    handlers: dict[str, Handler] | None = None,
) -> ApiApp:
    """The local API as a WSGI callable, for a WSGI server or an in-process client (no socket).

    ``writers`` maps each writer's name to its API key; ``pool`` is the user pool readers sign in to,
    whose tokens ``verifier`` checks. ``handlers`` maps a function name (``handlers.definitions.INGEST_FN``...) to a handler to call
    instead of importing the real one; the real ones read the AWS endpoint from the environment.
    """
    return ApiApp(writers, pool, verifier, public_url, dashboard_dir, handlers)


class _RequestHandler(WSGIRequestHandler):
    """werkzeug's handler with bounded reads, JSON errors for malformed requests, and quiet logs."""

    server: BaseWSGIServer

    def setup(self) -> None:
        self.timeout = getattr(self.server, "socket_timeout", SOCKET_TIMEOUT_S)
        super().setup()

    def run_wsgi(self) -> None:
        try:
            urlsplit(self.path)  # werkzeug's make_environ would raise on e.g. "//[x" (not a valid netloc)
        except ValueError:
            self.send_error(400, "Bad request target")
            return
        if self.headers.defects:  # a line that is no "Name: value" (what follows it would be lost)
            self.send_error(400, "Malformed header line")
            return
        super().run_wsgi()

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[RAW_TARGET] = self.path  # API Gateway routes the encoded path, as the old server did
        environ[RAW_HEADERS] = list(self.headers.items())  # werkzeug drops names with "_" and the case
        return environ

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, 414, 431...) as JSON like every other error."""
        short = self.responses.get(code, ("Error", ""))[0]
        self.log_error("code %d, message %s", code, message)
        body = json.dumps({"message": message or short}).encode()
        self.close_connection = True
        self.send_response(code, short)
        for key, value in {"Content-Type": "application/json", **CORS_HEADERS}.items():
            self.send_header(key, value)
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if getattr(self, "command", None) != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """werkzeug's version parses the target again (and raises on one like ``http://[x``)."""
        logger.debug("%s %r %s %s", self.address_string(), getattr(self, "requestline", ""), code, size)

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's signature
        logger.debug("%s " + message.rstrip(), self.address_string(), *args)


def _drain_briefly(app: ApiApp) -> Callable:
    """``app``, but once its response is written the socket waits at most ``DRAIN_TIMEOUT_S`` for more."""

    def served(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        chunks = app(environ, start_response)
        try:
            yield from chunks
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            sock.settimeout(DRAIN_TIMEOUT_S)

    return served


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=128)


class LocalApi:
    """The local API on ``host:port``: ``serve_forever()`` in a thread, ``shutdown()``, ``server_close()``."""

    def __init__(
        self,
        port: int,
        writers: Mapping[str, str],
        pool: cognito.UserPool,
        verifier: TokenVerifier,
        host: str = "127.0.0.1",
        dashboard_dir: Path = DASHBOARD_DIST,
        public_url: str | None = None,
        handlers: dict[str, Handler] | None = None,
        socket_timeout: float = SOCKET_TIMEOUT_S,
    ) -> None:
        sock = _listen(host, port)  # raises OSError (port in use...) instead of werkzeug's sys.exit
        try:
            bound_port = sock.getsockname()[1]
            self.base_url = _url(host, bound_port)
            """The address this server listens on."""
            self.wsgi_app = make_app(writers, pool, verifier, public_url or self.base_url, dashboard_dir, handlers)
            self.server = make_server(
                host,
                bound_port,
                _drain_briefly(self.wsgi_app),
                threaded=True,
                request_handler=_RequestHandler,
                fd=sock.fileno(),
            )
        finally:
            sock.close()  # the server holds its own duplicate of the listening socket
        self.server.socket_timeout = socket_timeout  # type: ignore[attr-defined]

    @property
    def public_url(self) -> str:
        """The URL users are told (and ``config.json`` carries): ``base_url`` unless configured."""
        return self.wsgi_app.public_url

    @property
    def server_address(self) -> tuple:
        return self.server.server_address

    @property
    def dashboard_dir(self) -> Path:
        return self.wsgi_app.dashboard_dir

    def lambda_handler(self, function: str) -> Handler:
        return self.wsgi_app.lambda_handler(function)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self.server.serve_forever(poll_interval)

    def shutdown(self) -> None:
        self.server.shutdown()

    def server_close(self) -> None:
        self.server.server_close()
