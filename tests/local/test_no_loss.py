"""Issue "Nothing acknowledged is lost": each finding of the hostile review, reproduced against moto.

1 merged writes, 2 forged tokens, 3 bounded error bodies, 4 names matched in full, 5 one deadline
for the AI batch, 6 idempotent alerting and throttled state reads, 7 replay from the Metrics table.
(8, the local server, is tests/local/test_local_server.py; 9, the ops topic, tests/infra.)
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Sequence

import pytest
from iops_detector_sdk.contract import Point, SeriesKey, State

from detectors.statistical import StatisticalDetector
from handlers.definitions import METRICS
from iops.dal import metrics
from iops.logic import incidents, replay
from iops.logic import ingest as ingest_logic
from iops.logic.ai import Processor, parse_record, process_batch
from iops.models import common
from iops.settings import AiSettings, IngestSettings
from tests.local.test_api_handlers import call
from tests.local.test_stream_processing import all_insights, record

NOW = time.time()


def stored(ddb, host: str) -> list[dict]:
    items = ddb.query(
        TableName=IngestSettings.from_env().metrics_table,
        KeyConditionExpression="hostname = :h",
        ExpressionAttributeValues={":h": {"S": host}},
    )["Items"]
    return [metrics.from_item(i) for i in items]


# 1. Acknowledged metrics are never overwritten


def test_metrics_of_one_sample_sent_in_two_requests_both_survive(aws, ddb) -> None:
    ts = int(NOW - 60)
    assert call("POST", "/metrics", body={"hostname": "web-01", "timestamp": ts, "cpuUsage": 42})[0] == 200
    assert call("POST", "/metrics", body={"hostname": "web-01", "timestamp": ts, "memoryUsage": 61})[0] == 200
    (point,) = stored(ddb, "web-01")
    assert point["cpuUsage"] == 42 and point["memoryUsage"] == 61


def test_metrics_of_one_sample_in_one_request_both_survive(aws, ddb) -> None:
    ts = int(NOW - 60)
    sample = [
        {"hostname": "web-02", "timestamp": ts, "cpuUsage": 42},
        {"hostname": "web-02", "timestamp": ts, "diskIO": 7},
    ]
    status, body = call("POST", "/metrics", body=sample)
    assert status == 200 and body["accepted"] == 2
    (point,) = stored(ddb, "web-02")
    assert point["cpuUsage"] == 42 and point["diskIO"] == 7


def test_a_merged_write_scores_only_the_metric_it_added() -> None:
    """The stream's MODIFY record carries the whole item; only what changed is a new point."""
    old = metrics.to_item(common.Metric("h", 1_700_000_000_000, {"cpuUsage": 42.0}), NOW, 90)
    new = metrics.to_item(common.Metric("h", 1_700_000_000_000, {"cpuUsage": 42.0, "memoryUsage": 61.0}), NOW, 90)
    rec = {"eventName": "MODIFY", "dynamodb": {"OldImage": old, "NewImage": new, "SequenceNumber": "1"}}
    assert [(s.metric, p.value) for s, p in parse_record(rec)] == [("memoryUsage", 61.0)]


def test_infiniband_minutes_have_a_key_space_no_host_can_take() -> None:
    from iops.logic.ib_events import Window, to_metric

    window = Window(count=1, latency_sum=5.0, latency_min=5.0, latency_max=5.0, buckets={0: 1})
    metric = to_metric("web-01", 1_700_000_000_000, window)
    assert metric.hostname == "ib/web-01"
    with pytest.raises(common.InvalidMetric):
        ingest_logic.validate_metric({"hostname": "ib/web-01", "timestamp": NOW, "cpuUsage": 1})


# 2. Pagination tokens are bounded and signed


@pytest.mark.parametrize("path", ["/metrics", "/insights"])
def test_forged_tokens_are_400_not_5xx(aws, path: str) -> None:
    deep = base64.urlsafe_b64encode(b"[" * 1300).decode()
    forged = base64.urlsafe_b64encode(json.dumps({"hostname": {"S": "x"}}).encode()).decode()
    for token in (deep, forged, forged + ".AAAA", "x" * 5000, "a.b.c", "%00"):
        status, body = call("GET", path, f"nextToken={token}")
        assert status == 400 and "nextToken" in body["message"], (token[:20], status, body)


def test_a_token_the_api_issued_still_pages(aws) -> None:
    call("POST", "/metrics", body=[{"hostname": "p", "timestamp": NOW - 600 + i, "cpuUsage": 1} for i in range(5)])
    status, page = call("GET", "/metrics", "hostname=p&limit=2")
    assert status == 200 and page["nextToken"]
    altered = page["nextToken"][:-2] + ("AA" if not page["nextToken"].endswith("AA") else "BB")
    assert call("GET", "/metrics", f"hostname=p&limit=2&nextToken={altered}")[0] == 400
    status, second = call("GET", "/metrics", f"hostname=p&limit=2&nextToken={page['nextToken']}")
    assert status == 200 and len(second["metrics"]) == 2


# 3. Error bodies are bounded


def test_a_megabyte_of_bad_names_answers_with_a_small_body(aws) -> None:
    one = json.dumps({"hostname": "h", "timestamp": NOW, **{f"-{i}": 1 for i in range(80_000)}})
    many = json.dumps([{"hostname": "h", "timestamp": NOW, f"bad-{i}": 1} for i in range(500)])
    assert len(one) < ingest_logic.MAX_BODY_BYTES
    for raw in (one, many):
        status, out = call("POST", "/metrics", raw=raw.encode())
        assert status == 400
        assert len(json.dumps(out)) < 64_000, len(json.dumps(out))
    assert len(out["errors"]) == common.MAX_LISTED_ITEMS and out["errorsNotListed"] == 500 - common.MAX_LISTED_ITEMS


# 4. Names are matched in full


@pytest.mark.parametrize("bad", [{"hostname": "web-01\n", "cpuUsage": 1}, {"hostname": "web-01", "cpuUsage\n": 1e9}])
def test_a_trailing_newline_is_not_a_valid_name(aws, bad: dict) -> None:
    status, body = call("POST", "/metrics", body={"timestamp": NOW, **bad})
    assert status == 400, body
    assert call("GET", "/metrics", "hostname=web-01%0A")[0] == 400


# 5. One deadline for the AI batch: a hanging plugin does not stop detection


class Spike:
    """Flags any value above 90."""

    remote = False
    calibrated = True  # scores as they are: the runtime does not calibrate them

    def __init__(self, name: str) -> None:
        self.name = name

    def new_state(self, series: SeriesKey) -> State:
        return {}

    def score(self, series: SeriesKey, state: State, points: Sequence[Point]) -> list[float]:
        return [1.0 if p.value > 90 else 0.0 for p in points]


class HangsForever(Spike):
    def __init__(self, release: threading.Event) -> None:
        super().__init__("hangs-forever")
        self.release = release

    def score(self, series, state, points):
        self.release.wait()  # forever, as far as the batch can tell; the test releases it at the end
        return [0.0] * len(points)


def processor(ddb, detectors, events=None) -> Processor:
    settings = AiSettings.from_env()
    if events is not None:
        from dataclasses import replace

        settings = replace(settings, event_bus="bus")
    return Processor(ddb=ddb, events=events, settings=settings, detectors=detectors, enrichers={})


def test_a_plugin_that_hangs_forever_is_skipped_at_the_deadline(ddb) -> None:
    release = threading.Event()
    detectors = {"a": Spike("a"), "hangs-forever": HangsForever(release), "b": Spike("b")}
    # 100 records over 20 series (10 hosts x 2 metrics), one spike per host
    recs = [
        record(
            i + 1, f"h{i % 10}", NOW - 3600 + 60 * (i // 10), cpuUsage=99.0 if i // 10 == 5 else 20.0, memoryUsage=30.0
        )
        for i in range(100)
    ]
    try:
        started = time.monotonic()
        out = process_batch(processor(ddb, detectors), recs, started + 4.0)
        elapsed = time.monotonic() - started
        assert elapsed < 4.0, elapsed
        assert not out.failed
        assert out.detector_timeouts == {"hangs-forever": 20}
        anomalies = [i for i in all_insights(ddb) if i["type"] == "anomaly"]
        assert {(i["entity_id"], i["metric"]) for i in anomalies} == {(f"h{h}", "cpuUsage") for h in range(10)}
        assert all(i["scores"] == {"a": 1.0, "b": 1.0} for i in anomalies)
        # the next batch does not start a second thread for the hung plugin: it is skipped and counted
        threads = threading.active_count()
        out = process_batch(
            processor(ddb, detectors), [record(500, "h0", NOW - 60, cpuUsage=20.0)], time.monotonic() + 4
        )
        assert out.detector_timeouts == {"hangs-forever": 1} and threading.active_count() == threads
        # once it returns, the plugin scores again, on the thread it already has
        release.set()
        deadline = time.monotonic() + 5
        for attempt in range(1000):  # a new point each time, until its hung run has ended
            point = record(600 + attempt, "h1", NOW - 30 + attempt, cpuUsage=20.0)
            out = process_batch(processor(ddb, detectors), [point], time.monotonic() + 4)
            if not out.detector_timeouts or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert out.detector_timeouts == {} and "hangs-forever" in out.detector_seconds
        assert threading.active_count() == threads
    finally:
        release.set()


# 6. Alerting is idempotent (one notification per incident); throttled state reads retry and fail only their series


class Events:
    def __init__(self, fail: int = 0) -> None:
        self.sent: list[str] = []
        self.fail = fail

    def put_events(self, Entries: list[dict]) -> dict:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("EventBridge unavailable")
        details = [json.loads(e["Detail"]) for e in Entries]
        self.sent += [f"{d['incident_id']}:{d['notification']}" for d in details]
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "x"} for _ in Entries]}


def critical_batch() -> list[dict]:
    return [record(i + 1, "db-01", NOW - 3600 + 60 * i, cpuUsage=100.0 if i == 40 else 20.0) for i in range(50)]


def test_a_retried_batch_publishes_nothing_twice(ddb, monkeypatch) -> None:
    events = Events()
    proc = processor(ddb, {"a": Spike("a")}, events)
    monkeypatch.setattr("iops.logic.ai.save_states", lambda *a: {SeriesKey("db-01", "cpuUsage")})  # forces a retry
    out = process_batch(proc, critical_batch(), time.monotonic() + 30)
    assert out.failed and len(events.sent) == 1
    out = process_batch(proc, critical_batch(), time.monotonic() + 30)  # Lambda's retry of the same records
    assert len(events.sent) == 1 and out.published == 0


def test_a_failed_publish_is_not_lost_the_sweeper_sends_it_once(ddb) -> None:
    events = Events(fail=1)
    proc = processor(ddb, {"a": Spike("a")}, events)
    out = process_batch(proc, critical_batch(), time.monotonic() + 30)
    # The insight and its incident are stored; the claimed notification was released for the sweeper.
    assert not out.failed and events.sent == [] and out.incidents == 1

    def sweep() -> dict:
        now_ms = int(time.time() * 1000)
        return incidents.sweep(ddb, events, proc.settings.event_bus, None, proc.settings.incidents, now_ms)

    assert sweep()["notified"] == 1 and len(events.sent) == 1 and events.sent[0].endswith(":opened")
    assert sweep()["notified"] == 0
    process_batch(proc, critical_batch(), time.monotonic() + 30)  # a replay of the batch
    assert len(events.sent) == 1


class Throttled:
    """The real client, whose batch_get_item is throttled for some keys (or all of them) a while."""

    def __init__(self, real, throttled_calls: int, stuck: set[str] = frozenset()) -> None:
        self.real, self.left, self.stuck, self.exceptions = real, throttled_calls, stuck, real.exceptions

    def __getattr__(self, name):
        return getattr(self.real, name)

    def batch_get_item(self, RequestItems: dict) -> dict:
        from botocore.exceptions import ClientError

        if self.left:
            self.left -= 1
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "BatchGetItem")
        ((table, spec),) = RequestItems.items()
        keys = [k for k in spec["Keys"] if k["seriesKey"]["S"] not in self.stuck]
        resp = self.real.batch_get_item(RequestItems={table: {"Keys": keys}}) if keys else {"Responses": {}}
        held = [k for k in spec["Keys"] if k["seriesKey"]["S"] in self.stuck]
        resp["UnprocessedKeys"] = {table: {"Keys": held}} if held else {}
        return resp


def test_a_throttled_state_read_retries_and_fails_only_its_series(ddb, monkeypatch) -> None:
    monkeypatch.setattr("iops.logic.ai.time.sleep", lambda s: None)
    recs = [record(i + 1, f"h{i % 2}", NOW - 3600 + 60 * (i // 2), cpuUsage=20.0) for i in range(20)]
    out = process_batch(processor(Throttled(ddb, 2), {"a": Spike("a")}), recs, time.monotonic() + 30)
    assert not out.failed and out.points == 20
    more = [record(100 + i, f"h{i % 2}", NOW - 1800 + 60 * (i // 2), cpuUsage=20.0) for i in range(20)]
    out = process_batch(processor(Throttled(ddb, 0, {"h1#cpuUsage"}), {"a": Spike("a")}), more, time.monotonic() + 30)
    assert out.failed == {
        r["dynamodb"]["SequenceNumber"] for r in more if r["dynamodb"]["NewImage"]["hostname"]["S"] == "h1"
    }


# 7. Replay from the Metrics table; late points counted


def test_late_points_are_counted_and_a_replay_scores_them(aws, ddb) -> None:
    proc = processor(ddb, {"a": Spike("a")})
    newer = [record(i + 1, "r-01", NOW - 1800 + 60 * i, cpuUsage=20.0) for i in range(10)]
    assert not process_batch(proc, newer, time.monotonic() + 30).failed
    late_spike = {"hostname": "r-01", "timestamp": int(NOW) - 3600, "cpuUsage": 99.0}
    assert call("POST", "/metrics", body=late_spike)[0] == 200
    (item,) = ddb.query(
        TableName=IngestSettings.from_env().metrics_table,
        KeyConditionExpression="hostname = :h AND #ts = :t",
        ExpressionAttributeNames={"#ts": METRICS.range_key},
        ExpressionAttributeValues={":h": {"S": "r-01"}, ":t": {"N": str(int(late_spike["timestamp"] * 1000))}},
    )["Items"]
    out = process_batch(
        proc, [{"eventName": "INSERT", "dynamodb": {"NewImage": item, "SequenceNumber": "99"}}], time.monotonic() + 30
    )
    assert out.late == 1 and not out.insights  # the stream path skips it, and says so
    items = replay.stored_items(
        ddb, IngestSettings.from_env().metrics_table, int((NOW - 4000) * 1000), int(NOW * 1000), "r-01"
    )
    assert len(items) == 1
    (event,) = replay.replay_events(items)
    out = process_batch(proc, event["Records"], time.monotonic() + 30, replay=True)
    assert out.late == 1 and [i.observed for i in out.insights] == [99.0]
    state = ddb.get_item(TableName=AiSettings.from_env().state_table, Key={"seriesKey": {"S": "r-01#cpuUsage"}})
    from iops.dal.detector_state import decode_state

    assert decode_state(state["Item"]["state"]).last_timestamp == pytest.approx(NOW - 1800 + 540, abs=1)  # unchanged


def test_replay_of_a_failed_batch_rescores_it(aws, ddb) -> None:
    """What failed (state never saved) is scored from the table; what succeeded replays as a no-op."""
    spike = [
        {"hostname": "f-01", "timestamp": NOW - 3000 + 60 * i, "cpuUsage": 99.0 if i == 7 else 20.0} for i in range(10)
    ]
    assert call("POST", "/metrics", body=spike)[0] == 200
    items = replay.stored_items(
        ddb, IngestSettings.from_env().metrics_table, int((NOW - 4000) * 1000), int(NOW * 1000), None
    )
    proc = processor(ddb, {"a": Spike("a"), "stat": StatisticalDetector()})
    for event in replay.replay_events(items):
        assert not process_batch(proc, event["Records"], time.monotonic() + 30, replay=True).failed
    first = all_insights(ddb)
    assert [i["observed"] for i in first] == [99.0]
    for event in replay.replay_events(items):
        process_batch(proc, event["Records"], time.monotonic() + 30, replay=True)
    assert all_insights(ddb) == first


@pytest.mark.parametrize(
    "raw", [b"[[1]]", b'{"metrics": [[[[1]]]]}', b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000]
)
def test_nested_json_is_a_400(aws, raw: bytes) -> None:
    status, body = call("POST", "/metrics", raw=raw)
    assert status == 400 and body["message"], body
