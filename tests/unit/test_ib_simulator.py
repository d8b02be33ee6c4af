"""The simulator Lambda against in-process moto Kinesis: one scheduled run fills its window."""

from __future__ import annotations

import json

from handlers.ib_simulator import handler, window_end
from iops.logic.ib_simulator import IbGenerator


def test_scheduled_run_puts_one_window_of_events_partitioned_by_stream(monkeypatch) -> None:
    from moto import mock_aws

    from iops.dal import aws

    with mock_aws():
        aws.reset()
        kin = aws.client("kinesis")
        kin.create_stream(StreamName="sim-test", ShardCount=2)
        monkeypatch.setenv("IB_EVENTS_STREAM", "sim-test")
        monkeypatch.setenv("SIM_STREAMS", "4")
        monkeypatch.setenv("SIM_EVENTS_PER_MINUTE", "120")
        scheduled = {"time": "2026-11-24T12:00:00Z", "detail-type": "Scheduled Event"}
        out = handler(scheduled, None)
        got = []
        for shard in kin.list_shards(StreamName="sim-test")["Shards"]:
            it = kin.get_shard_iterator(
                StreamName="sim-test", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )
            got += kin.get_records(ShardIterator=it["ShardIterator"], Limit=10_000)["Records"]
        aws.reset()
    events = [json.loads(r["Data"]) for r in got]
    assert len(events) == out["events"] and 4 * 120 * 0.8 < len(events) < 4 * 120 * 1.2
    assert all(r["PartitionKey"] == json.loads(r["Data"])["stream"] for r in got)
    end = window_end(scheduled)
    assert all(end - 60 <= e["timestamp"] < end for e in events)
    assert {e["stream"] for e in events} == {f"ib_stream_{i}" for i in range(1, 5)}


def test_put_records_retries_only_the_throttled_entries() -> None:
    from iops.logic.ib_simulator import put_events

    class Throttling:
        def __init__(self) -> None:
            self.calls: list[int] = []

        def put_records(self, StreamName: str, Records: list[dict]) -> dict:
            self.calls.append(len(Records))
            if len(self.calls) == 1:
                return {"FailedRecordCount": 2, "Records": [{"ErrorCode": "X"}] * 2 + [{}] * (len(Records) - 2)}
            return {"FailedRecordCount": 0, "Records": [{}] * len(Records)}

    fake = Throttling()
    events = IbGenerator(streams=2, seed=3).events(1_764_000_000, 1_764_000_300)
    assert put_events(fake, "s", events) == len(events)
    assert fake.calls[:2] == [500, 2] and sum(fake.calls) == len(events) + 2
