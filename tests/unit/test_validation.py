"""Metric validation and request parsing: every rule has a case that breaks it."""

from __future__ import annotations

import json
import time

import pytest

from iops.errors import BadRequest
from iops.logic.ingest import parse_body, validate_metric
from iops.models.common import parse_timestamp

NOW = time.time()


def test_iso_and_epoch_timestamps_agree() -> None:
    iso = parse_timestamp("2025-11-05T17:36:00Z")
    assert iso == parse_timestamp(1762364160) == parse_timestamp(1762364160000) == parse_timestamp("1762364160")
    assert parse_timestamp("2025-11-05T17:36:00") == iso  # naive means UTC
    assert parse_timestamp("2025-11-05T18:36:00+01:00") == iso


@pytest.mark.parametrize(
    "bad", ["yesterday", True, None, float("nan"), 100, NOW + 3 * 86_400, [], "2025-13-01T00:00:00Z"]
)
def test_bad_timestamps_are_rejected(bad) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(bad)


def test_valid_metric_keeps_every_numeric_field() -> None:
    m = validate_metric({"hostname": "web-01", "timestamp": NOW, "cpuUsage": 12.5, "ibLatencyUs": 1.9, "diskIO": 0})
    assert m.hostname == "web-01"
    assert m.values == {"cpuUsage": 12.5, "ibLatencyUs": 1.9, "diskIO": 0.0}


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"timestamp": NOW, "cpuUsage": 1}, "hostname is required"),
        ({"hostname": "bad host!", "timestamp": NOW, "cpuUsage": 1}, "hostname \"bad host!\" is not valid"),
        ({"hostname": "h", "cpuUsage": 1}, "timestamp"),
        ({"hostname": "h", "timestamp": NOW}, "at least one numeric metric"),
        ({"hostname": "h", "timestamp": NOW, "cpuUsage": 101}, "percentage"),
        ({"hostname": "h", "timestamp": NOW, "memoryUsage": -1}, "percentage"),
        ({"hostname": "h", "timestamp": NOW, "diskIO": -5}, "negative"),
        ({"hostname": "h", "timestamp": NOW, "cpuUsage": "12"}, "must be a number"),
        ({"hostname": "h", "timestamp": NOW, "cpuUsage": True}, "must be a number"),
        ({"hostname": "h", "timestamp": NOW, "x": 1e300}, "within"),
        ({"hostname": "h", "timestamp": NOW, "ttl": 5}, "not an allowed metric name"),
        ({"hostname": "h", "timestamp": NOW, "bad name": 5}, "not an allowed metric name"),
        ("not an object", "JSON object"),
    ],
)
def test_invalid_metrics_say_what_is_wrong(raw, needle) -> None:
    with pytest.raises(ValueError, match=needle):
        validate_metric(raw)


def test_all_errors_of_an_item_are_reported_together() -> None:
    with pytest.raises(ValueError) as err:
        validate_metric({"hostname": "", "timestamp": "x", "cpuUsage": 500})
    assert str(err.value).count(";") == 2


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (None, 400),
        ("", 400),
        ("{not json", 400),
        ('"str"', 400),
        ('{"metrics": 5}', 400),
        ('{"metrics": []}', 400),
        ("[]", 400),
    ],
)
def test_bad_bodies(body, status) -> None:
    with pytest.raises(BadRequest) as err:
        parse_body(body, max_items=10)
    assert err.value.status == status


def test_body_shapes_and_limits() -> None:
    one = {"hostname": "h", "timestamp": NOW, "cpuUsage": 1}
    assert parse_body(json.dumps(one), 10) == [one]
    assert parse_body(json.dumps([one, one]), 10) == [one, one]
    assert parse_body(json.dumps({"metrics": [one] * 3}), 10) == [one] * 3
    with pytest.raises(BadRequest) as err:
        parse_body(json.dumps({"metrics": [one] * 11}), 10)
    assert err.value.status == 413
    with pytest.raises(BadRequest) as err:
        parse_body(json.dumps({"metrics": [one], "pad": "x" * 1_100_000}), 10)
    assert err.value.status == 413
