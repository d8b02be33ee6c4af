"""Throughput of the InfiniBand aggregation: events/s through `handlers.ib_process.handler`.

Two figures: the pure fold (parse + aggregate, no I/O) and the whole handler on Kinesis-shaped
batches of 100 against in-process moto (so DynamoDB/SQS calls cost moto's time, not AWS's).
Events come from the simulator's generator, in order, partition key = stream.

Usage: python benchmarks/ib_aggregation.py [--streams 8] [--minutes 30] [--events-per-minute 60]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from local.offline import OFFLINE_AWS  # noqa: E402 - after sys.path

os.environ.update(
    {
        **OFFLINE_AWS,
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "METRICS_TABLE": "bench-metrics",
        "IB_STATE_TABLE": "bench-ib-windows",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)


def records(events: list[dict]) -> list[dict]:
    now = time.time()
    return [
        {
            "kinesis": {
                "partitionKey": e["stream"],
                "sequenceNumber": str(i + 1),
                "data": base64.b64encode(json.dumps(e).encode()).decode(),
                "approximateArrivalTimestamp": now,
            },
            "eventSource": "aws:kinesis",
            "eventID": f"shardId-000000000000:{i + 1}",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/bench",
        }
        for i, e in enumerate(events)
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--minutes", type=int, default=30)
    ap.add_argument("--events-per-minute", type=float, default=60)
    args = ap.parse_args()

    from moto import mock_aws

    from handlers import ib_process
    from handlers.definitions import IB_WINDOWS, METRICS
    from iops.dal import aws
    from iops.logic.ib_events import StreamState, fold
    from iops.logic.ib_process import decode
    from iops.logic.ib_simulator import IbGenerator
    from local.lambda_runtime import LocalContext

    gen = IbGenerator(streams=args.streams, events_per_minute=args.events_per_minute, seed=1)
    events = gen.events(time.time() - args.minutes * 60, time.time())
    recs = records(events)
    print(f"{len(events)} events, {args.streams} streams, {args.minutes} minutes")

    started = time.perf_counter()
    states: dict[str, StreamState] = {}
    closed = 0
    for r in recs:
        d = decode(r, 300_000)
        closed += len(
            fold(states.setdefault(d.event.stream, StreamState()), d.shard, d.sequence, d.event, 30_000).closed
        )
    secs = time.perf_counter() - started
    print(f"fold only (decode + validate + aggregate): {len(recs) / secs:,.0f} events/s ({closed} minutes closed)")

    with mock_aws():
        aws.reset()
        ddb = aws.client("dynamodb")
        ddb.create_table(**METRICS.create_table_kwargs("bench-metrics"))
        ddb.create_table(**IB_WINDOWS.create_table_kwargs("bench-ib-windows"))
        os.environ["IB_DLQ_URL"] = aws.client("sqs").create_queue(QueueName="bench-dlq")["QueueUrl"]
        ib_process.reset()
        batches = [recs[i : i + 100] for i in range(0, len(recs), 100)]
        started = time.perf_counter()
        for batch in batches:
            resp = ib_process.handler({"Records": batch}, LocalContext("bench-ib-process", 60))
            assert not resp["batchItemFailures"], resp
        secs = time.perf_counter() - started
        written = ddb.scan(TableName="bench-metrics", Select="COUNT")["Count"]
    print(
        f"handler, batches of 100 on in-process moto: {len(recs) / secs:,.0f} events/s, "
        f"{secs / len(batches) * 1000:.1f} ms/batch, {written} metric items"
    )


if __name__ == "__main__":
    main()
