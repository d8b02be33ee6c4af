"""CloudWatch Metric Streams through Firehose: deliveries built by hand from the documented formats.

A delivery is Firehose's HTTP endpoint request (``{requestId, timestamp, records: [{data}]}``),
each record base64 of newline-delimited metric-stream JSON (output format ``json``).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from pathlib import Path

import boto3
import pytest
from werkzeug.test import Client

from handlers.definitions import INGEST_FN
from iops.dal import secrets
from iops.dal.metrics import query_metrics
from iops.logic import firehose, samples
from iops.logic.ingest import store_samples
from iops.models.common import iso
from iops.settings import IngestSettings

KEY = "firehose-test-key-0123456789"
REQUEST_ID = "ed4acda5-034f-9f42-bba1-f29aea6d7d8f"
NOW_MS = (int(time.time()) - 120) * 1000
SETTINGS = dataclasses.replace(IngestSettings.from_env(), firehose_access_key=KEY, firehose_key_secret_arn=None)
HEADERS = {
    "content-type": "application/json",
    "x-amz-firehose-protocol-version": "1.0",
    "x-amz-firehose-request-id": REQUEST_ID,
    "x-amz-firehose-source-arn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/iops-dev-metric-stream",
    "x-amz-firehose-access-key": KEY,
}


def point(namespace: str, metric: str, dimensions: dict[str, str], value: dict, unit: str = "Count", **extra) -> dict:
    """One metric-stream JSON object, as CloudWatch writes it (one line in a record)."""
    return {
        "metric_stream_name": "iops-dev-metric-stream",
        "account_id": "123456789012",
        "region": "us-east-1",
        "namespace": namespace,
        "metric_name": metric,
        "dimensions": dimensions,
        "timestamp": NOW_MS,
        "value": value,
        "unit": unit,
        **extra,
    }


def record(*lines: dict | str) -> dict[str, str]:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    return {"data": base64.b64encode(text.encode()).decode()}


def delivery(*records: dict[str, str], request_id: str = REQUEST_ID) -> bytes:
    return json.dumps({"requestId": request_id, "timestamp": NOW_MS + 60_000, "records": list(records)}).encode()


CPU = point(
    "AWS/EC2",
    "CPUUtilization",
    {"InstanceId": "i-0a1b2c3d4e5f67890"},
    {"max": 9.5, "min": 1.5, "sum": 20.0, "count": 4.0},
    "Percent",
)
RDS = point(
    "AWS/RDS",
    "ReadIOPS",
    {"DBInstanceIdentifier": "orders-db"},
    {"max": 120.0, "min": 80.0, "sum": 500.0, "count": 5.0},
)
ALB = point(
    "AWS/ApplicationELB",
    "RequestCount",
    {"LoadBalancer": "app/web/50dc6c495c0c9188", "AvailabilityZone": "us-east-1a"},
    {"max": 1.0, "min": 1.0, "sum": 42.0, "count": 42.0},
)
AGGREGATE = point("AWS/EC2", "CPUUtilization", {"InstanceType": "m5.large"}, {"max": 1, "min": 1, "sum": 1, "count": 1})
"""A per-type aggregate: no host dimension."""


def by_field(decoded: samples.Decoded) -> dict[tuple[str, str], float]:
    assert all(s.timestamp_ms == NOW_MS for s in decoded.samples)
    return {(s.host, s.field): s.value for s in decoded.samples}


def never_store(_decoded: samples.Decoded) -> samples.StoreResult:
    raise AssertionError("stored a delivery it should have refused")


def stored(decoded: samples.Decoded) -> samples.StoreResult:
    return samples.StoreResult(stored=len(decoded.samples), rejected=decoded.rejected, errors=decoded.errors)


# --- the mapping -----------------------------------------------------------------------------------


def test_a_recorded_delivery_maps_hosts_fields_and_statistics() -> None:
    decoded = firehose.decode(delivery(record(CPU, RDS), record(ALB)))
    assert decoded.rejected == 0 and decoded.errors == []
    assert by_field(decoded) == {
        ("i-0a1b2c3d4e5f67890", "AWS_EC2.CPUUtilization.avg"): 5.0,
        ("i-0a1b2c3d4e5f67890", "AWS_EC2.CPUUtilization.max"): 9.5,
        ("i-0a1b2c3d4e5f67890", "AWS_EC2.CPUUtilization.min"): 1.5,
        ("i-0a1b2c3d4e5f67890", "AWS_EC2.CPUUtilization.sum"): 20.0,
        ("i-0a1b2c3d4e5f67890", "AWS_EC2.CPUUtilization.count"): 4.0,
        ("orders-db", "AWS_RDS.ReadIOPS.avg"): 100.0,
        ("orders-db", "AWS_RDS.ReadIOPS.max"): 120.0,
        ("orders-db", "AWS_RDS.ReadIOPS.min"): 80.0,
        ("orders-db", "AWS_RDS.ReadIOPS.sum"): 500.0,
        ("orders-db", "AWS_RDS.ReadIOPS.count"): 5.0,
        # the load balancer's slashes become dashes; the other dimensions name the field
        ("app-web-50dc6c495c0c9188", "AWS_ApplicationELB.RequestCount.avg.AvailabilityZone_us_east_1a"): 1.0,
        ("app-web-50dc6c495c0c9188", "AWS_ApplicationELB.RequestCount.max.AvailabilityZone_us_east_1a"): 1.0,
        ("app-web-50dc6c495c0c9188", "AWS_ApplicationELB.RequestCount.min.AvailabilityZone_us_east_1a"): 1.0,
        ("app-web-50dc6c495c0c9188", "AWS_ApplicationELB.RequestCount.sum.AvailabilityZone_us_east_1a"): 42.0,
        (
            "app-web-50dc6c495c0c9188",
            samples.field_name("AWS/ApplicationELB.RequestCount.count", {"AvailabilityZone": "us-east-1a"}),
        ): 42.0,
    }


def test_instance_id_wins_over_other_host_dimensions() -> None:
    both = point(
        "CWAgent",
        "mem_used_percent",
        {"AutoScalingGroupName": "web", "InstanceId": "i-1"},
        {"max": 3, "min": 3, "sum": 3, "count": 1},
    )
    assert {(s.host, s.field) for s in firehose.decode(delivery(record(both))).samples} >= {
        ("i-1", "CWAgent.mem_used_percent.max.AutoScalingGroupName_web")
    }


def test_count_zero_has_no_average_and_non_finite_statistics_are_left_out() -> None:
    idle = point("AWS/EC2", "NetworkIn", {"InstanceId": "i-1"}, {"max": 0.0, "min": 0.0, "sum": 0.0, "count": 0.0})
    text = json.dumps(point("AWS/EC2", "DiskReadOps", {"InstanceId": "i-1"}, {"sum": 4.0, "count": 2.0})).replace(
        '"sum": 4.0', '"max": NaN, "sum": 4.0'
    )
    fields = {s.field for s in firehose.decode(delivery(record(idle, text))).samples}
    assert "AWS_EC2.NetworkIn.avg" not in fields and "AWS_EC2.NetworkIn.count" in fields
    assert {f for f in fields if f.startswith("AWS_EC2.DiskReadOps")} == {
        "AWS_EC2.DiskReadOps.avg",
        "AWS_EC2.DiskReadOps.sum",
        "AWS_EC2.DiskReadOps.count",
    }


# --- bad records and lines ---------------------------------------------------------------------------


def test_one_bad_line_loses_nothing_valid_beside_it() -> None:
    broken = {"data": "not base64!"}
    decoded = firehose.decode(
        delivery(
            record(CPU, "{truncated", AGGREGATE, '["a list"]', RDS),
            broken,
            record(point("AWS/EC2", "CPUUtilization", {"InstanceId": "i-2"}, "high")),
            record(ALB),
        )
    )
    assert {host for host, _ in by_field(decoded)} == {"i-0a1b2c3d4e5f67890", "orders-db", "app-web-50dc6c495c0c9188"}
    assert len(decoded.samples) == 15
    assert decoded.rejected == 5
    assert decoded.errors == [
        "record 0 line 1: not a JSON object",
        "AWS/EC2.CPUUtilization: no host dimension ("
        + ", ".join(firehose.HOST_DIMENSIONS)
        + ") that is a valid hostname",
        "record 0 line 3: not a JSON object",
        "record 1: data is not base64 of UTF-8 text",
        "AWS/EC2.CPUUtilization: timestamp (epoch ms), dimensions {...} and value {...} are required",
    ]


def test_a_delivery_without_any_host_dimension_is_400_with_the_reason() -> None:
    reply = firehose.handle(delivery(record(AGGREGATE, AGGREGATE)), HEADERS, never_store, settings=SETTINGS)
    assert reply.status == 400
    assert reply.body["requestId"] == REQUEST_ID
    assert "no host dimension" in reply.body["errorMessage"] and "InstanceId" in reply.body["errorMessage"]


def test_the_guard_caps_fields_per_host() -> None:
    many = [
        point("AWS/EC2", f"M{i}", {"InstanceId": "i-1"}, {"max": 1, "min": 1, "sum": 1, "count": 1}) for i in range(50)
    ]
    decoded = firehose.decode(delivery(record(*many)))
    assert len(decoded.samples) == samples.MAX_FIELDS_PER_HOST
    assert decoded.rejected == 50 * 5 - samples.MAX_FIELDS_PER_HOST


# --- the envelope and the answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{oops",
        b"\xff\xfe",
        b"[]",
        json.dumps({"timestamp": 1, "records": []}).encode(),
        json.dumps({"requestId": REQUEST_ID, "records": {"data": "x"}}).encode(),
        json.dumps({"requestId": REQUEST_ID, "records": [{"data": 1}]}).encode(),
    ],
)
def test_a_malformed_delivery_is_400_echoing_the_request_id(body: bytes) -> None:
    reply = firehose.handle(body, HEADERS, never_store, settings=SETTINGS)
    assert reply.status == 400 and reply.content_type == "application/json"
    assert reply.body["requestId"] == REQUEST_ID and reply.body["errorMessage"]


def test_a_delivery_over_the_limit_is_413() -> None:
    big = delivery(record(CPU)) + b" " * firehose.MAX_BODY_BYTES
    reply = firehose.handle(big, HEADERS, never_store, settings=SETTINGS)
    assert reply.status == 413 and reply.body["requestId"] == REQUEST_ID


def test_a_stored_delivery_is_200_with_the_request_id_and_a_timestamp_in_ms() -> None:
    seen: list[samples.Decoded] = []

    def store(decoded: samples.Decoded) -> samples.StoreResult:
        seen.append(decoded)
        return stored(decoded)

    before = int(time.time() * 1000)
    reply = firehose.handle(delivery(record(CPU)), HEADERS, store, settings=SETTINGS)
    assert reply.status == 200
    assert set(reply.body) == {"requestId", "timestamp"} and reply.body["requestId"] == REQUEST_ID
    assert before <= reply.body["timestamp"] <= int(time.time() * 1000)
    assert len(seen) == 1 and len(seen[0].samples) == 5
    # without the header, the body's requestId is echoed
    headers = {k: v for k, v in HEADERS.items() if k != firehose.REQUEST_ID_HEADER}
    assert (
        firehose.handle(delivery(record(CPU), request_id="r-2"), headers, store, settings=SETTINGS).body["requestId"]
        == "r-2"
    )


def test_points_not_stored_are_503_so_firehose_retries() -> None:
    def busy(decoded: samples.Decoded) -> samples.StoreResult:
        return samples.StoreResult(stored=2, unstored=len(decoded.samples) - 2)

    reply = firehose.handle(delivery(record(CPU)), HEADERS, busy, settings=SETTINGS)
    assert reply.status == 503 and reply.body["requestId"] == REQUEST_ID
    assert reply.body["errorMessage"] == "3 data points not stored: the database is busy, retry"


# --- the access key --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "wrong-key", KEY + "x", KEY[:-1]])
def test_a_missing_or_wrong_key_is_401_before_anything_is_read(key: str | None) -> None:
    headers = {k: v for k, v in HEADERS.items() if k != firehose.ACCESS_KEY_HEADER}
    if key is not None:
        headers[firehose.ACCESS_KEY_HEADER] = key
    reply = firehose.handle(b"{not even json", headers, never_store, settings=SETTINGS)
    assert reply.status == 401
    assert reply.body["requestId"] == REQUEST_ID and "X-Amz-Firehose-Access-Key".lower() in reply.body["errorMessage"]


def test_without_a_configured_key_every_delivery_is_refused() -> None:
    bare = dataclasses.replace(SETTINGS, firehose_access_key=None)
    assert firehose.handle(delivery(record(CPU)), HEADERS, never_store, settings=bare).status == 401


def test_the_cached_secret_is_read_once_and_again_only_when_stale() -> None:
    values, calls, now = ["old"], [], [0.0]

    def fetch(secret_id: str) -> str:
        calls.append(secret_id)
        return values[-1]

    cache = secrets.CachedSecret("arn:s", fetch, min_refresh_s=60, clock=lambda: now[0])
    assert [cache.value(), cache.value()] == ["old", "old"] and calls == ["arn:s"]
    values.append("new")
    now[0] = 30.0
    assert cache.refreshed() is None and cache.value() == "old"  # too soon: no second read
    now[0] = 61.0
    assert cache.refreshed() == "new" and cache.value() == "new" and len(calls) == 2


@pytest.fixture
def secret(aws):
    """A Firehose access key secret in moto, in the JSON format Firehose's integration reads."""
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name="iops-dev-firehose-key", SecretString=json.dumps({"api_key": KEY}))["ARN"]
    secrets.cached.cache_clear()
    yield client, arn
    secrets.cached.cache_clear()


def test_the_stacks_key_comes_from_the_secret_fetched_once_per_container(secret) -> None:
    client, arn = secret
    settings = dataclasses.replace(SETTINGS, firehose_access_key=None, firehose_key_secret_arn=arn)
    assert firehose.handle(delivery(record(CPU)), HEADERS, stored, settings=settings).status == 200
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"api_key": "rotated"}))
    # the cached key still admits the old one (no read per request) ...
    assert firehose.handle(delivery(record(CPU)), HEADERS, stored, settings=settings).status == 200
    # ... a key that does not match reads the secret again, but not within a minute of the last read ...
    rotated = {**HEADERS, firehose.ACCESS_KEY_HEADER: "rotated"}
    assert firehose.handle(delivery(record(CPU)), rotated, never_store, settings=settings).status == 401
    # ... after which the rotated key is read and admitted, and a wrong one still refused
    secrets.cached(arn).min_refresh_s = 0
    assert firehose.handle(delivery(record(CPU)), rotated, stored, settings=settings).status == 200
    wrong = {**HEADERS, firehose.ACCESS_KEY_HEADER: "wrong"}
    assert firehose.handle(delivery(record(CPU)), wrong, never_store, settings=settings).status == 401


def test_an_unreadable_secret_is_503_so_firehose_retries(aws) -> None:
    secrets.cached.cache_clear()
    settings = dataclasses.replace(
        SETTINGS,
        firehose_access_key=None,
        firehose_key_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:missing",
    )
    reply = firehose.handle(delivery(record(CPU)), HEADERS, never_store, settings=settings)
    secrets.cached.cache_clear()
    assert reply.status == 503 and reply.body["requestId"] == REQUEST_ID


# --- storage and the local route ----------------------------------------------------------------------


def test_a_delivery_is_stored_like_post_metrics(ddb) -> None:
    def store(decoded: samples.Decoded) -> samples.StoreResult:
        return store_samples(ddb, SETTINGS.metrics_table, SETTINGS.counters_table, decoded, 1, time.monotonic() + 10)

    assert firehose.handle(delivery(record(CPU, AGGREGATE)), HEADERS, store, settings=SETTINGS).status == 200
    page = query_metrics(ddb, SETTINGS.metrics_table, "i-0a1b2c3d4e5f67890", None, None, 10, None)
    assert [
        (p["timestamp"], p["AWS_EC2.CPUUtilization.avg"], p["AWS_EC2.CPUUtilization.max"]) for p in page["metrics"]
    ] == [(iso(NOW_MS), 5, 9.5)]


def test_the_local_api_serves_the_route_with_the_local_key(
    aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`iops local`: the route has no gateway auth, the handler checks the key from the local function settings."""
    import handlers.ingest
    from iops.auth import TokenVerifier
    from local.cognito import UserPool
    from local.emulator import function_settings
    from local.server import make_app
    from tests.local.tokens import CLIENT_ID, POOL_ID, REGION, Signer

    local = function_settings("iops-dev", firehose_key=KEY)[INGEST_FN]
    assert isinstance(local, IngestSettings) and local.firehose_access_key == KEY
    monkeypatch.setattr(handlers.ingest, "settings", local)
    signer = Signer()
    app = make_app(
        {"w": "writer-key"},
        UserPool(REGION, POOL_ID, CLIENT_ID, endpoint="http://127.0.0.1:9"),
        TokenVerifier(REGION, POOL_ID, CLIENT_ID, signer.jwks()),
        dashboard_dir=tmp_path,
    )
    client = Client(app)
    wire = {"Content-Type": "application/json", "X-Amz-Firehose-Request-Id": REQUEST_ID}
    refused = client.post(
        "/firehose/cloudwatch", data=delivery(record(CPU)), headers={**wire, "X-Amz-Firehose-Access-Key": "no"}
    )
    assert refused.status_code == 401 and refused.json["requestId"] == REQUEST_ID
    resp = client.post(
        "/firehose/cloudwatch", data=delivery(record(CPU)), headers={**wire, "X-Amz-Firehose-Access-Key": KEY}
    )
    assert resp.status_code == 200 and resp.json["requestId"] == REQUEST_ID
    ddb = boto3.client("dynamodb")
    page = query_metrics(ddb, local.metrics_table, "i-0a1b2c3d4e5f67890", None, None, 10, None)
    assert page["metrics"][0]["AWS_EC2.CPUUtilization.sum"] == 20
