"""Ingest against moto: everything accepted is stored, throttling is retried, nothing valid is lost."""

from __future__ import annotations

import json
import threading
import time

from iops.dal import metrics
from iops.logic import ingest as ingest_logic
from iops.settings import IngestSettings

NOW = time.time()


def body(n: int, host: str = "web-01", start: float = NOW - 3600) -> str:
    return json.dumps(
        {"metrics": [{"hostname": host, "timestamp": start + 60 * i, "cpuUsage": i % 100} for i in range(n)]}
    )


def stored(ddb, table: str, host: str) -> list[dict]:
    return metrics.query_metrics(ddb, table, host, None, None, 1000, None)["metrics"]


def test_hundred_metrics_round_trip_newest_first(ddb) -> None:
    table = IngestSettings.from_env().metrics_table
    result = ingest_logic.ingest(ddb, table, body(100), 500, 90, time.monotonic() + 5)
    assert result.accepted == 100 and not result.rejected and not result.unstored
    points = stored(ddb, table, "web-01")
    assert len(points) == 100
    assert [p["timestamp"] for p in points] == sorted((p["timestamp"] for p in points), reverse=True)
    assert points[-1]["cpuUsage"] == 0 and points[0]["cpuUsage"] == 99


def test_invalid_sibling_does_not_lose_valid_items(ddb) -> None:
    table = IngestSettings.from_env().metrics_table
    items = [
        {"hostname": "a", "timestamp": NOW - 10, "cpuUsage": 5},
        {"hostname": "a", "timestamp": NOW - 5, "cpuUsage": 500},
        {"hostname": "a", "timestamp": NOW, "cpuUsage": 6},
    ]
    result = ingest_logic.ingest(ddb, table, json.dumps(items), 500, 90, time.monotonic() + 5)
    assert result.accepted == 2
    assert [e.index for e in result.rejected] == [1]
    assert len(stored(ddb, table, "a")) == 2


def test_duplicate_keys_in_one_request_keep_the_last(ddb) -> None:
    table = IngestSettings.from_env().metrics_table
    items = [{"hostname": "d", "timestamp": NOW, "cpuUsage": v} for v in (1, 2, 3)]
    result = ingest_logic.ingest(ddb, table, json.dumps(items), 500, 90, time.monotonic() + 5)
    assert result.accepted == 3
    assert [p["cpuUsage"] for p in stored(ddb, table, "d")] == [3]


class FlakyDynamo:
    """Real moto client behind it; the first ``throttle_rounds`` UpdateItem calls are throttled."""

    def __init__(self, real, throttle_rounds: int = 0) -> None:
        self.real = real
        self.exceptions = real.exceptions
        self.throttle_rounds = throttle_rounds
        self.calls = 0
        self.lock = threading.Lock()  # ingest writes from a few threads

    def update_item(self, **kwargs):
        with self.lock:
            self.calls += 1
            throttled = self.throttle_rounds > 0
            self.throttle_rounds -= throttled
        if throttled:
            raise self.real.exceptions.ProvisionedThroughputExceededException(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "UpdateItem"
            )
        return self.real.update_item(**kwargs)


def test_unprocessed_items_and_throttling_are_retried_until_stored(ddb) -> None:
    table = IngestSettings.from_env().metrics_table
    flaky = FlakyDynamo(ddb, throttle_rounds=40)
    result = ingest_logic.ingest(flaky, table, body(60, "t"), 500, 90, time.monotonic() + 10)
    assert result.accepted == 60 and not result.unstored
    assert flaky.calls == 100  # 60 items, 40 of the calls throttled and retried
    assert len(stored(ddb, table, "t")) == 60


def test_items_not_stored_by_the_deadline_are_reported_not_claimed(ddb) -> None:
    table = IngestSettings.from_env().metrics_table
    flaky = FlakyDynamo(ddb, throttle_rounds=10_000)
    result = ingest_logic.ingest(flaky, table, body(30, "late"), 500, 90, time.monotonic() + 0.3)
    assert result.accepted == 0
    assert len(result.unstored) == 30
    assert stored(ddb, table, "late") == []


def test_one_update_per_host_and_timestamp(ddb) -> None:
    """Metrics of one sample sent as separate objects are merged into one write before storing."""
    keys: list[tuple[str, str]] = []

    class Spy:
        exceptions = ddb.exceptions

        def update_item(self, **kwargs):
            keys.append((kwargs["Key"]["hostname"]["S"], kwargs["Key"]["timestamp"]["N"]))
            return ddb.update_item(**kwargs)

    split = [{**m, "memoryUsage": 50} for m in json.loads(body(40, "c"))["metrics"]]
    split = [{k: v for k, v in m.items() if k != "cpuUsage"} for m in split] + json.loads(body(40, "c"))["metrics"]
    result = ingest_logic.ingest(
        Spy(), IngestSettings.from_env().metrics_table, json.dumps(split), 500, 90, time.monotonic() + 5
    )
    assert result.accepted == 80 and len(keys) == len(set(keys)) == 40
    assert all({"cpuUsage", "memoryUsage"} <= set(p) for p in stored(ddb, IngestSettings.from_env().metrics_table, "c"))
