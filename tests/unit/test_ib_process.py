"""The process Lambda on Kinesis batches against in-process moto: stored aggregates, idempotency, poison records."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import pytest
from iops_detector_sdk.contract import STREAM_PREFIX

from handlers.definitions import IB_WINDOWS, METRICS
from iops.logic.ib_events import MINUTE_MS
from local.lambda_runtime import LocalContext

NOW = time.time()
M0 = int(NOW * 1000) - int(NOW * 1000) % MINUTE_MS - 30 * MINUTE_MS
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/iops-test-ib-events"
METRICS_TABLE, STATE_TABLE = "iops-test-metrics", "iops-test-ib-windows"


@pytest.fixture
def env(monkeypatch) -> Iterator[dict]:
    """moto with the metrics table, the window-state table and the failure queue; the handler's env."""
    from moto import mock_aws

    from handlers import ib_process
    from iops.dal import aws

    with mock_aws():
        aws.reset()
        ib_process.reset()
        ddb, sqs = aws.client("dynamodb"), aws.client("sqs")
        ddb.create_table(**METRICS.create_table_kwargs(METRICS_TABLE))
        ddb.create_table(**IB_WINDOWS.create_table_kwargs(STATE_TABLE))
        url = sqs.create_queue(QueueName="ib-dlq")["QueueUrl"]
        monkeypatch.setenv(METRICS.env_var, METRICS_TABLE)
        monkeypatch.setenv(IB_WINDOWS.env_var, STATE_TABLE)
        monkeypatch.setenv("IB_DLQ_URL", url)
        yield {"ddb": ddb, "sqs": sqs, "dlq": url}
        ib_process.reset()
        aws.reset()


def record(seq: int, data: bytes | dict, shard: str = "shardId-000000000000") -> dict:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": data.get("stream", "x") if isinstance(data, dict) else "x",
            "sequenceNumber": str(seq),
            "data": base64.b64encode(raw).decode(),
            "approximateArrivalTimestamp": NOW,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard}:{seq}",
        "eventName": "aws:kinesis:record",
        "awsRegion": "us-east-1",
        "eventSourceARN": STREAM_ARN,
    }


def event(stream: str, t_ms: int, lat: float, errs: int = 0) -> dict:
    return {"stream": stream, "timestamp": t_ms / 1000, "latencyUs": lat, "bandwidthGbps": 180.0, "packetErrors": errs}


def invoke(records: list[dict]) -> dict:
    from handlers.ib_process import handler

    return handler({"Records": records}, LocalContext("iops-test-ib-process", 30))


def points(ddb, stream: str) -> list[dict]:
    items = ddb.query(
        TableName=METRICS_TABLE,
        KeyConditionExpression="hostname = :h",
        ExpressionAttributeValues={":h": {"S": STREAM_PREFIX + stream}},
    )["Items"]
    return [{k: float(v["N"]) for k, v in i.items() if "N" in v} for i in items]


def three_minutes(stream: str = "ib_stream_1", first_seq: int = 1) -> list[dict]:
    """Minute 0: latencies 1..10 with 1 error each; minute 1: 20, 30; then one event closing both."""
    evs = [event(stream, M0 + i * 5000, float(i + 1), errs=1) for i in range(10)]
    evs += [event(stream, M0 + MINUTE_MS + 1000, 20.0), event(stream, M0 + MINUTE_MS + 2000, 30.0)]
    evs.append(event(stream, M0 + 2 * MINUTE_MS + 31_000, 2.0))
    return [record(first_seq + i, e) for i, e in enumerate(evs)]


def test_closed_minutes_become_metric_items(env) -> None:
    assert invoke(three_minutes()) == {"batchItemFailures": []}
    got = sorted(points(env["ddb"], "ib_stream_1"), key=lambda p: p["timestamp"])
    assert [p["timestamp"] for p in got] == [M0, M0 + MINUTE_MS]
    first, second = got
    assert first["eventCount"] == 10 and first["ibPacketErrors"] == 10 and first["ibLinkFlaps"] == 0
    assert first["ibLatencyUsMean"] == 5.5 and first["ibLatencyUsMax"] == 10.0
    assert first["ibLatencyUsP95"] == pytest.approx(10.0, rel=0.01)
    assert second["eventCount"] == 2 and second["ibLatencyUsMean"] == 25.0 and second["ibBandwidthGbps"] == 180.0


def test_retried_and_split_batches_do_not_double_count(env) -> None:
    recs = three_minutes()
    invoke(recs[:5])
    invoke(recs[:8])  # a retry from the start, overlapping what was already committed
    invoke(recs)  # and the whole batch again
    invoke(recs[10:])
    got = {p["timestamp"]: p for p in points(env["ddb"], "ib_stream_1")}
    assert got[M0]["eventCount"] == 10 and got[M0]["ibPacketErrors"] == 10
    assert got[M0 + MINUTE_MS]["eventCount"] == 2


def test_a_poison_record_goes_to_the_failure_queue_and_the_rest_is_stored(env) -> None:
    recs = three_minutes()
    recs.insert(3, record(100, b"{not json"))
    recs.insert(5, record(101, {"stream": "ib_stream_1", "timestamp": M0 / 1000, "latencyUs": "slow"}))
    for i, r in enumerate(recs):  # keep sequence order
        r["kinesis"]["sequenceNumber"] = str(i + 1)
        r["eventID"] = f"shardId-000000000000:{i + 1}"
    assert invoke(recs) == {"batchItemFailures": []}
    msgs = env["sqs"].receive_message(QueueUrl=env["dlq"], MaxNumberOfMessages=10)["Messages"]
    bodies = sorted((json.loads(m["Body"]) for m in msgs), key=lambda b: int(b["sequenceNumber"]))
    assert [b["sequenceNumber"] for b in bodies] == ["4", "6"]
    assert "not JSON" in bodies[0]["reason"] and "latencyUs" in bodies[1]["reason"]
    assert base64.b64decode(bodies[0]["data"]) == b"{not json" and bodies[0]["eventSourceARN"] == STREAM_ARN
    assert {p["timestamp"]: p["eventCount"] for p in points(env["ddb"], "ib_stream_1")} == {M0: 10, M0 + MINUTE_MS: 2}


def test_poison_record_is_reported_as_failure_when_the_queue_is_unreachable(env, monkeypatch) -> None:
    monkeypatch.setenv("IB_DLQ_URL", env["dlq"] + "-missing")
    from handlers import ib_process

    ib_process.reset()
    recs = [record(1, b"\x00garbage"), *three_minutes(first_seq=2)]
    assert invoke(recs) == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert len(points(env["ddb"], "ib_stream_1")) == 2  # valid siblings were still stored


class ConflictOn:
    """The real client, except that commits of one stream fail as if another writer got there first."""

    def __init__(self, ddb, stream: str) -> None:
        self.ddb, self.stream, self.calls = ddb, stream, 0

    def __getattr__(self, name: str):
        return getattr(self.ddb, name)

    def transact_write_items(self, TransactItems: list[dict]) -> dict:
        self.calls += 1
        if any("Put" in i and i["Put"]["Item"].get("stream", {}).get("S") == self.stream for i in TransactItems):
            raise self.ddb.exceptions.TransactionCanceledException(
                {"Error": {"Code": "TransactionCanceledException", "Message": "ConditionalCheckFailed"}},
                "TransactWriteItems",
            )
        return self.ddb.transact_write_items(TransactItems=TransactItems)


def test_a_failed_commit_reports_only_that_streams_records(env) -> None:
    from handlers import ib_process

    agg = ib_process.get_aggregator()
    agg.ddb = ConflictOn(agg.ddb, "ib_stream_3")
    good = three_minutes("ib_stream_2", first_seq=1)
    bad = [record(50 + i, event("ib_stream_3", M0 + i * MINUTE_MS, 1.0)) for i in range(3)]
    resp = invoke(good + bad)
    assert {f["itemIdentifier"] for f in resp["batchItemFailures"]} == {"50", "51", "52"}
    assert len(points(env["ddb"], "ib_stream_2")) == 2 and points(env["ddb"], "ib_stream_3") == []
    assert agg.ddb.calls == 3  # both streams in one refused transaction, then one by one
    agg.ddb = agg.ddb.ddb  # the retry succeeds and counts each event once
    assert invoke(bad) == {"batchItemFailures": []}
    assert [p["eventCount"] for p in points(env["ddb"], "ib_stream_3")] == [1]


def test_streams_interleaved_in_one_batch_are_kept_apart(env) -> None:
    a, b = three_minutes("ib_stream_1"), three_minutes("ib_stream_2")
    mixed = [r for pair in zip(a, b, strict=True) for r in pair]
    for i, r in enumerate(mixed):
        r["kinesis"]["sequenceNumber"] = str(i + 1)
        r["eventID"] = f"shardId-000000000000:{i + 1}"
    from handlers import ib_process

    agg = ib_process.get_aggregator()
    agg.ddb = ConflictOn(agg.ddb, "no-such-stream")
    assert invoke(mixed) == {"batchItemFailures": []}
    assert agg.ddb.calls == 1  # both streams' minutes and states in one transaction
    for s in ("ib_stream_1", "ib_stream_2"):
        assert sorted(p["eventCount"] for p in points(env["ddb"], s)) == [2, 10]
