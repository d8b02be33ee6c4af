"""Property-based fuzzing of the API served by `iops local`, generated from its own `/openapi.json`.

Schemathesis turns the document into Hypothesis strategies, valid (positive) and invalid
(negative) requests to every operation; each response must not be a 5xx, must conform to the
document (status, content type, body schema, headers) and, for errors, be a JSON ``{"message"}``.
Derandomized, so CI is reproducible; ``IOPS_FUZZ_EXAMPLES`` raises the count for a longer hunt.

Excluded for ``POST /metrics`` negative cases: ``negative_data_rejection``. A batch whose invalid
metrics sit beside valid ones answers the documented 207 (the valid ones stored, the others listed);
the test asserts instead that no invalid request is ever a 200 and every 207 rejects something.

Excluded check: ``positive_data_acceptance`` (a schema-valid request must not get a 400): JSON
Schema cannot say "an opaque nextToken this API issued" or "a timestamp no later than tomorrow",
so valid-looking tokens and far-future times are rightly refused with a documented 400.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from handlers.definitions import match_route
from iops.dal.metrics import DYNAMODB_MIN_MAGNITUDE
from iops.models.common import MAX_ABS_VALUE, MIN_EPOCH_S, RESERVED, iso
from tests.local.iops_process import IopsLocal, http

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("IOPS_FUZZ_EXAMPLES", "1000"))
"""Per generated case: 9 schema cases, raw bodies, any path, tokens and deep JSON make > 10,000 requests."""
OPERATIONS = [
    ("POST", "/metrics"),
    ("POST", "/v1/metrics"),
    ("POST", "/api/v1/write"),
    ("POST", "/firehose/cloudwatch"),
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
    ("DELETE", "/silences/{id}"),  # GET /silences takes no input: nothing to generate
]
INGEST_ROUTES = ("/v1/metrics", "/api/v1/write", "/firehose/cloudwatch")
"""The standard formats: binary or foreign bodies, each answered the way its own clients expect."""
FIREHOSE_KEY = "fuzz-firehose-key"
FIREHOSE_KEY_HEADER = "X-Amz-Firehose-Access-Key"
schemathesis.serializer.alias("application/x-protobuf", "application/octet-stream")  # protobuf bodies: raw bytes
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def server() -> Iterator[IopsLocal]:
    """`iops local` holding real insights, so insight responses are checked against the schema too."""
    with IopsLocal(api_key="fuzz-key", env={"FIREHOSE_ACCESS_KEY": FIREHOSE_KEY}) as srv:
        start = time.time() - 300 * 60
        series = [
            {"hostname": "seed-01", "timestamp": start + 60 * i, "cpuUsage": 95.0 if i == 250 else 30 + (i % 7) * 0.5}
            for i in range(300)
        ]
        assert http("POST", f"{srv.url}/metrics", {"metrics": series}, key=srv.api_key)[0] == 200
        deadline = time.monotonic() + 60
        while not http("GET", f"{srv.url}/insights/recent", token=srv.token)[1] and time.monotonic() < deadline:
            time.sleep(0.5)
        yield srv


def test_seeded_insights_conform(server: IopsLocal, api: schemathesis.BaseSchema) -> None:
    """Every insight the AI tier made, listed and fetched by id, matches the document."""
    status, recent = http("GET", f"{server.url}/insights/recent?limit=100", token=server.token)
    assert status == 200 and recent, "the seeded spike produced no insight"
    for insight in recent:
        case = api["/insights/{id}"]["GET"].Case(path_parameters={"id": insight["alert_id"]})
        response = case.call(timeout=30, headers={"Authorization": server.token})
        assert response.status_code == 200
        case.validate_response(response)
        assert json.loads(response.content) == insight


@pytest.fixture(scope="module")
def api(server: IopsLocal) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    schema.config.update(
        base_url=server.url,
        headers={"x-api-key": server.api_key, "Authorization": server.token, FIREHOSE_KEY_HEADER: FIREHOSE_KEY},
    )
    return schema


def assert_json_error(status: int, content_type: str, body: bytes, key: str = "message") -> None:
    """No 5xx; a 4xx is JSON whose ``key`` says what is wrong (Firehose reads ``errorMessage``)."""
    assert status < 500, f"server error {status}: {body[:300]!r}"
    if status >= 400:
        assert content_type.startswith("application/json"), content_type
        payload = json.loads(body)
        assert isinstance(payload, dict) and isinstance(payload.get(key), str), payload


def assert_otlp_answer(request_type: str, content_type: str, body: bytes) -> None:
    """OTLP's 200 comes in the request's encoding: an ExportMetricsServiceResponse, protobuf or JSON."""
    if request_type.startswith("application/x-protobuf"):
        assert content_type.startswith("application/x-protobuf"), content_type
        ExportMetricsServiceResponse.FromString(body)
    else:
        assert content_type.startswith("application/json"), content_type
        assert set(json.loads(body)) <= {"partialSuccess"}


def error_key(path: str) -> str:
    return "errorMessage" if path == "/firehose/cloudwatch" else "message"


def test_document_lists_every_route(api: schemathesis.BaseSchema) -> None:
    listed = {(op.ok().method.upper(), op.ok().path) for op in api.get_all_operations()}
    assert set(OPERATIONS) <= listed


CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # any string is a valid id, any bytes a binary body: nothing invalid to make
    if (path, mode)
    not in {
        ("/insights/{id}", GenerationMode.NEGATIVE),
        ("/api/v1/write", GenerationMode.NEGATIVE),
        ("/incidents/{id}", GenerationMode.NEGATIVE),
        ("/silences/{id}", GenerationMode.NEGATIVE),
    }
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_generated_requests(api: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode) -> None:
    operation = api[path][method]
    sent: list[int] = []
    excluded = [openapi_checks.positive_data_acceptance]
    partial = path == "/metrics" and method == "POST" and mode is GenerationMode.NEGATIVE
    if partial:  # a batch with some invalid metrics stores the valid ones: a documented 207, checked below
        excluded.append(openapi_checks.negative_data_rejection)
    if path in INGEST_ROUTES:
        # The wire formats accept what the schema calls invalid: protobuf and OTLP JSON skip unknown
        # fields, an empty message is an empty request (OTLP: 200), a delivery of nothing is delivered.
        excluded.append(openapi_checks.negative_data_rejection)

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        response = case.call(timeout=30)
        sent.append(response.status_code)
        case.validate_response(response, excluded_checks=excluded)
        content_type = response.headers.get("content-type", [""])[0]
        assert_json_error(response.status_code, content_type, response.content, error_key(path))
        if path == "/v1/metrics" and response.status_code == 200:
            assert_otlp_answer(case.media_type or "", content_type, response.content)
        if partial:
            assert response.status_code != 200, "an invalid request was stored whole"
            if response.status_code == 207:
                assert json.loads(response.content)["rejected"] >= 1

    run()
    print(f"{method} {path} {mode.value}: {len(sent)} requests, statuses {dict(sorted(Counter(sent).items()))}")
    assert len(sent) >= min(EXAMPLES, 20), f"only {len(sent)} requests generated"
    if path in ("/metrics", "/v1/metrics") and mode is GenerationMode.POSITIVE:
        assert any(s in (200, 207) for s in sent), f"no generated metric was ever stored: {sorted(set(sent))}"
    if method == "GET" and mode is GenerationMode.POSITIVE:
        assert 401 not in sent, "the signed-in user's token was not sent"
        assert any(s in (200, 404) for s in sent), f"no generated read was answered: {sorted(set(sent))}"


METRIC_NAMES = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_.]{0,20}\Z").filter(lambda n: n not in RESERVED)
VALUES = st.floats(min_value=-MAX_ABS_VALUE, max_value=MAX_ABS_VALUE, allow_nan=False) | st.integers(-(10**12), 10**12)
NOW = time.time()
HOSTS = itertools.count()


@st.composite
def valid_batches(draw: st.DrawFn) -> list[dict]:
    """Valid metrics of one fresh host, distinct timestamps in the accepted window."""
    stamps = draw(st.lists(st.integers(int(MIN_EPOCH_S), int(NOW)), min_size=1, max_size=40, unique=True))
    host = f"roundtrip-{next(HOSTS)}"  # fresh per example (derandomized draws would repeat)
    out = []
    for ts in stamps:
        extra = draw(st.dictionaries(METRIC_NAMES, VALUES, max_size=5))
        extra = {k: v for k, v in extra.items() if k not in {"cpuUsage", "memoryUsage", "diskIO", "networkIO"}}
        cpu = draw(st.floats(0, 100))
        out.append({"hostname": host, "timestamp": ts, "cpuUsage": cpu, **extra})
    return out


def stored_value(value: float) -> float:
    return 0 if abs(value) < DYNAMODB_MIN_MAGNITUDE else value


@settings(FUZZ, max_examples=max(20, EXAMPLES // 2))
@given(batch=valid_batches())
def test_generated_valid_metrics_round_trip(server: IopsLocal, batch: list[dict]) -> None:
    """Whatever valid metrics are acknowledged read back exactly: values, names and times."""
    status, body = http("POST", f"{server.url}/metrics", {"metrics": batch}, key=server.api_key)
    assert status == 200 and body["accepted"] == len(batch), body
    status, page = http("GET", f"{server.url}/metrics?hostname={batch[0]['hostname']}&limit=1000", token=server.token)
    assert status == 200
    got = {p["timestamp"]: p for p in page["metrics"]}
    assert len(got) == len(batch)
    for m in batch:
        point = got[iso(m["timestamp"] * 1000)]
        assert {k: v for k, v in point.items() if k not in ("hostname", "timestamp")} == {
            k: stored_value(v) for k, v in m.items() if k not in ("hostname", "timestamp")
        }


@FUZZ
@given(body=st.binary(max_size=2048) | st.text(max_size=512).map(str.encode))
def test_raw_bodies_to_ingest_are_json_4xx(server: IopsLocal, body: bytes) -> None:
    """Bytes the schema would never produce: truncated JSON, invalid UTF-8, nothing at all."""
    resp = requests.post(
        f"{server.url}/metrics",
        data=body,
        headers={"x-api-key": server.api_key, "Content-Type": "application/json"},
        timeout=30,
    )
    assert_json_error(resp.status_code, resp.headers.get("Content-Type", ""), resp.content)
    assert resp.status_code < 500


def _gzip(body: bytes) -> bytes:
    return gzip.compress(body, mtime=0)


RAW_INGEST = st.tuples(
    st.sampled_from(INGEST_ROUTES),
    st.sampled_from(["application/x-protobuf", "application/json", "text/plain", "application/octet-stream", None]),
    st.sampled_from([None, "gzip", "snappy", "deflate", "identity, gzip"]),
    st.binary(max_size=4096) | st.text(max_size=512).map(str.encode) | st.binary(max_size=4096).map(_gzip),
    st.sampled_from([None, "wrong", "fuzz-key"]),
)
"""Any bytes to each standard-format route, under any content type and encoding, with and without keys."""


@FUZZ
@given(request=RAW_INGEST)
def test_raw_bodies_to_standard_formats_never_5xx(
    server: IopsLocal, request: tuple[str, str | None, str | None, bytes, str | None]
) -> None:
    """Bytes the schema would never produce, to OTLP, remote write and Firehose: an answer their clients read, never a 5xx."""
    path, content_type, encoding, body, key = request
    headers = {FIREHOSE_KEY_HEADER: FIREHOSE_KEY if key == "fuzz-key" else (key or "")}
    headers |= {"x-api-key": key} if key else {}
    headers |= {"Content-Type": content_type} if content_type else {}
    headers |= {"Content-Encoding": encoding} if encoding else {}
    resp = requests.post(f"{server.url}{path}", data=body, headers=headers, timeout=30)
    assert resp.status_code < 500, (path, content_type, encoding, resp.status_code, resp.text[:200])
    if key != "fuzz-key":
        assert resp.status_code in (401, 403), (path, key, resp.status_code)
    assert_json_error(resp.status_code, resp.headers.get("Content-Type", ""), resp.content, error_key(path))
    if path == "/v1/metrics" and resp.status_code == 200:
        assert_otlp_answer(content_type or "", resp.headers.get("Content-Type", ""), resp.content)


METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "TRACE", "QUERY"])
SEGMENTS = st.lists(
    st.sampled_from(["metrics", "insights", "recent", "openapi.json", "config.json", "x"])
    | st.text(min_size=1, max_size=12),
    max_size=4,
)


@FUZZ
@given(
    method=METHODS,
    segments=SEGMENTS,
    key=st.sampled_from([None, "wrong", "fuzz-key"]),
    auth=st.sampled_from([None, "garbage", "valid"]),
)
def test_any_method_and_path_gets_a_json_answer(
    server: IopsLocal, method: str, segments: list[str], key: str | None, auth: str | None
) -> None:
    """Outside the document too: unknown paths and methods, missing or wrong keys and tokens; never a 5xx."""
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    headers = {"Accept": "application/json", **({"x-api-key": key} if key else {})}
    if auth:
        headers["Authorization"] = server.token if auth == "valid" else "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
    resp = requests.request(method, f"{server.url}{path}", headers=headers, timeout=30)
    assert resp.status_code < 500, (method, path, resp.status_code, resp.text[:200])
    if method != "HEAD" and resp.status_code >= 400:
        assert_json_error(resp.status_code, resp.headers.get("Content-Type", ""), resp.content)
    if method == "POST" and path == "/metrics" and key != "fuzz-key":
        assert resp.status_code == 403
    found = match_route(method, path)
    if found is not None and found[0].signed_in and auth != "valid":
        assert resp.status_code == 401, (method, path, resp.status_code)


JWT_PART = st.binary(max_size=300).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("="))
PRINTABLE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=400)
AUTHORIZATION = (
    st.tuples(JWT_PART, JWT_PART, JWT_PART).map(".".join)
    | st.tuples(st.just('{"alg":"none","typ":"JWT"}'), JWT_PART).map(
        lambda p: base64.urlsafe_b64encode(p[0].encode()).decode().rstrip("=") + "." + p[1] + "."
    )
    | PRINTABLE
    | PRINTABLE.map(lambda t: "Bearer " + t)
)
"""What an attacker might put in Authorization: three base64 parts, ``alg: none``, any printable text."""
SIGNED_IN_GETS = ["/metrics?hostname=seed-01", "/insights", "/insights/recent", "/insights/any-id"]


@FUZZ
@given(authorization=AUTHORIZATION, path=st.sampled_from(SIGNED_IN_GETS))
def test_garbage_tokens_are_json_401(server: IopsLocal, authorization: str, path: str) -> None:
    """A signed-in route refuses anything but the pool's own ID token with a JSON 401, never a 5xx."""
    resp = requests.get(f"{server.url}{path}", headers={"Authorization": authorization}, timeout=30)
    assert resp.status_code == 401, (authorization[:80], resp.status_code, resp.text[:200])
    assert_json_error(resp.status_code, resp.headers.get("Content-Type", ""), resp.content)


def _deep(depth: int, opener: str) -> str:
    """JSON nested ``depth`` deep: ``[[[1]]]`` or ``{"a":{"a":1}}``."""
    inner, closer = ("[", "]") if opener == "[" else ('{"a":', "}")
    return inner * depth + "1" + closer * depth


TOKENS = (
    st.integers(1, 20_000).map(lambda d: base64.urlsafe_b64encode(_deep(d, "[").encode()).decode())
    | st.integers(1, 20_000).map(lambda d: base64.urlsafe_b64encode(_deep(d, "{").encode()).decode())
    | st.binary(max_size=3000).map(lambda b: base64.urlsafe_b64encode(b).decode())
    | st.text(max_size=300)
    | st.tuples(st.binary(max_size=200), st.binary(max_size=30)).map(
        lambda p: ".".join(base64.urlsafe_b64encode(x).decode() for x in p)
    )
).filter(bool)  # an empty nextToken means none, like the other parameters


@FUZZ
@given(
    token=TOKENS, path=st.sampled_from(["/metrics", "/metrics?hostname=seed-01", "/insights", "/insights?host=seed-01"])
)
def test_forged_tokens_are_json_400(server: IopsLocal, token: str, path: str) -> None:
    """Any nextToken this API did not issue (deep JSON, random bytes, a fake signature) is a 400."""
    sep = "&" if "?" in path else "?"
    url = f"{server.url}{path}{sep}nextToken={quote(token, safe='')}"
    resp = requests.get(url, headers={"Authorization": server.token}, timeout=30)
    assert resp.status_code in (400, 414), (resp.status_code, resp.text[:200])
    if resp.status_code == 400:
        assert_json_error(resp.status_code, resp.headers.get("Content-Type", ""), resp.content)


@FUZZ
@given(depth=st.integers(1, 200_000), opener=st.sampled_from(["[", "{"]), wrap=st.booleans())
def test_deep_json_bodies_are_json_4xx(server: IopsLocal, depth: int, opener: str, wrap: bool) -> None:
    """Nesting up to the 1 MB body limit and past it: a 400 (or 413), never a crash."""
    body = _deep(depth, opener)
    if wrap:
        body = '{"metrics": ' + body + "}"
    resp = requests.post(
        f"{server.url}/metrics",
        data=body.encode(),
        headers={"x-api-key": server.api_key, "Content-Type": "application/json"},
        timeout=30,
    )
    assert resp.status_code in (400, 413), (resp.status_code, resp.text[:200])
    assert_json_error(resp.status_code, resp.headers.get("Content-Type", ""), resp.content)


def test_stored_metrics_read_back_after_fuzzing(server: IopsLocal) -> None:
    """The fuzzed server still works: a metric written now reads back exactly."""
    status, body = http(
        "POST",
        f"{server.url}/metrics",
        {"hostname": "after-fuzz", "timestamp": "2026-01-01T00:00:00Z", "cpuUsage": 12.5},
        key=server.api_key,
    )
    assert status == 200 and body["accepted"] == 1
    status, page = http("GET", f"{server.url}/metrics?hostname=after-fuzz", token=server.token)
    assert status == 200 and page["metrics"] == [
        {"hostname": "after-fuzz", "timestamp": "2026-01-01T00:00:00.000Z", "cpuUsage": 12.5}
    ]
