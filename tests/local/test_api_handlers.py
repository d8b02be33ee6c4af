"""The API Lambdas called with API Gateway proxy events, against moto."""

from __future__ import annotations

import json
import time

import pytest

from handlers.definitions import ROUTES, match_route
from iops.models.common import INSIGHTS_MAX_LIMIT, METRICS_MAX_LIMIT
from local.lambda_runtime import LocalContext
from local.server import proxy_event

NOW = time.time()


def call(
    method: str, path: str, query: str = "", body: object | None = None, raw: bytes | None = None
) -> tuple[int, object]:
    from local.server import FUNCTION_MODULES

    route, params = match_route(method, path)
    payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    event = proxy_event(method, path, query, {"Content-Type": "application/json"}, payload, route, params)
    module = __import__(FUNCTION_MODULES[route.function], fromlist=["handler"])
    resp = module.handler(event, LocalContext(function_name=route.function, timeout_s=30))
    return resp["statusCode"], json.loads(resp["body"]) if resp.get("body") else None


def test_every_route_has_a_handler(aws) -> None:
    for route in ROUTES:
        path = route.path.replace("{id}", "x")
        status, _ = call(
            route.method,
            path,
            body={"hostname": "h", "timestamp": NOW, "cpuUsage": 1} if route.method == "POST" else None,
        )
        # the route's own handler answered: whatever it thinks of this body, never "no route" or a crash
        assert status < 500 and (status != 404 or "{id}" in route.path), (route, status)


def test_post_then_get_returns_all_hundred(aws) -> None:
    metrics = [{"hostname": "web-07", "timestamp": NOW - 6000 + 60 * i, "cpuUsage": 20 + i % 5} for i in range(100)]
    status, body = call("POST", "/metrics", body={"metrics": metrics})
    assert status == 200 and body["accepted"] == 100 and body["rejected"] == 0
    status, page = call("GET", "/metrics", "hostname=web-07")
    assert status == 200 and len(page["metrics"]) == 100
    status, page = call("GET", "/metrics")  # no host: every host
    assert status == 200 and len(page["metrics"]) == 100


def test_pagination_walks_every_point_once(aws) -> None:
    metrics = [{"hostname": "p", "timestamp": NOW - 6000 + 60 * i, "cpuUsage": 1} for i in range(45)]
    call("POST", "/metrics", body=metrics)
    seen, token = [], None
    while True:
        status, page = call("GET", "/metrics", "hostname=p&limit=20" + (f"&nextToken={token}" if token else ""))
        assert status == 200
        seen += [m["timestamp"] for m in page["metrics"]]
        token = page["nextToken"]
        if not token:
            break
    assert len(seen) == len(set(seen)) == 45


def test_partial_batch_is_207_with_per_item_errors(aws) -> None:
    status, body = call(
        "POST", "/metrics", body=[{"hostname": "h", "timestamp": NOW, "cpuUsage": 1}, {"hostname": "h"}]
    )
    assert status == 207
    assert body["accepted"] == 1 and body["rejected"] == 1
    assert body["errors"][0]["index"] == 1 and any("timestamp" in e for e in body["errors"][0]["errors"])


@pytest.mark.parametrize(
    ("method", "path", "query", "raw", "status"),
    [
        ("POST", "/metrics", "", b"{oops", 400),
        ("POST", "/metrics", "", b"\xff\xfe\x00", 400),
        ("POST", "/metrics", "", b"", 400),
        ("POST", "/metrics", "", json.dumps([{"hostname": "h"}]).encode(), 400),
        ("GET", "/metrics", "hostname=h&limit=0", b"", 400),
        ("GET", "/metrics", "hostname=h&limit=abc", b"", 400),
        ("GET", "/metrics", "hostname=h&from=tomorrow", b"", 400),
        ("GET", "/metrics", "hostname=h&nextToken=%%%", b"", 400),
        ("GET", "/metrics", "hostname=bad%20host", b"", 400),
        ("GET", "/insights", "severity=URGENT", b"", 400),
        ("GET", "/insights", "type=guess", b"", 400),
        ("GET", "/insights/recent", "limit=1000", b"", 400),
        ("GET", "/insights/nope", "", b"", 404),
    ],
)
def test_bad_input_is_a_json_4xx(aws, method, path, query, raw, status) -> None:
    got, body = call(method, path, query, raw=raw)
    assert got == status
    assert isinstance(body, dict) and body.get("message")


@pytest.mark.parametrize(
    ("path", "query", "maximum"),
    [
        ("/metrics", "hostname=h&", METRICS_MAX_LIMIT),
        ("/insights", "", INSIGHTS_MAX_LIMIT),
        ("/insights/recent", "", INSIGHTS_MAX_LIMIT),
    ],
)
def test_page_size_is_bounded_by_the_documented_maximum(aws, path: str, query: str, maximum: int) -> None:
    assert call("GET", path, f"{query}limit={maximum}")[0] == 200
    assert call("GET", path, f"{query}limit={maximum + 1}")[0] == 400


def test_openapi_document_covers_every_route(aws) -> None:
    status, doc = call("GET", "/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    for route in ROUTES:
        assert route.method.lower() in doc["paths"][route.path]
