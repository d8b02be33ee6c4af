"""The Kinesis event source mapping, locally: stream -> process handler, with the mapping's semantics.

moto stores Kinesis records but runs no event source mapping, so this thread does what
Lambda's poller does: per shard, batches of up to 100 records in Lambda's event shape; a
response's ``batchItemFailures`` (or an exception) retries from the first failed record, up to
``max_retries`` times; then the failed range goes to the failure queue (the on-failure
destination's message) and the shard moves on.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from handlers.definitions import IB_EVENTS, IB_WINDOWS
from local.emulator import REGION, Emulator
from local.lambda_runtime import LocalContext

log = logging.getLogger(__name__)

FUNCTION_NAME = "iops-local-ib-process"


def create_resources(emu: Emulator) -> dict[str, str]:
    """The streaming tier in the emulator (from `handlers.definitions`); returns the handlers' env."""
    kinesis, ddb, sqs = emu.client("kinesis"), emu.client("dynamodb"), emu.client("sqs")
    stream = IB_EVENTS.physical_name(emu.prefix)
    if stream not in kinesis.list_streams().get("StreamNames", []):
        kinesis.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    table = emu.table_name(IB_WINDOWS.logical)
    if table not in ddb.list_tables().get("TableNames", []):
        ddb.create_table(**IB_WINDOWS.create_table_kwargs(table))
    dlq = sqs.create_queue(QueueName=f"{emu.prefix}-ib-dlq")["QueueUrl"]
    return {IB_EVENTS.env_var: stream, IB_WINDOWS.env_var: table, "IB_DLQ_URL": dlq}


def lambda_record(record: dict, shard: str, stream_arn: str) -> dict:
    """moto's GetRecords record -> the record Lambda hands a Kinesis-triggered function."""
    arrival = record["ApproximateArrivalTimestamp"]
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": arrival.timestamp() if isinstance(arrival, datetime) else float(arrival),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::123456789012:role/{FUNCTION_NAME}",
        "awsRegion": REGION,
        "eventSourceARN": stream_arn,
    }


class KinesisPoller(threading.Thread):
    """Polls every shard of a Kinesis stream and invokes ``handler`` like Lambda's poller."""

    def __init__(
        self,
        kinesis: Any,
        sqs: Any,
        stream: str,
        handler: Callable[[dict, Any], dict],
        dlq_url: str,
        batch_size: int = 100,
        max_retries: int = 3,
        poll_interval: float = 0.2,
        timeout_s: float = 60.0,
    ) -> None:
        super().__init__(name=f"kinesis-poller-{stream}", daemon=True)
        self.kinesis, self.sqs, self.stream = kinesis, sqs, stream
        self.handler, self.dlq_url = handler, dlq_url
        self.batch_size, self.max_retries = batch_size, max_retries
        self.poll_interval, self.timeout_s = poll_interval, timeout_s
        self.stop_event = threading.Event()
        self.invocations = 0
        self.records = 0
        self.dead_lettered = 0
        self.idle = threading.Event()
        """Set whenever every shard was read to its end with nothing pending."""

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        arn = self.kinesis.describe_stream_summary(StreamName=self.stream)["StreamDescriptionSummary"]["StreamARN"]
        iterators: dict[str, str | None] = {}
        last_refresh = 0.0
        while not self.stop_event.is_set():
            try:
                if time.monotonic() - last_refresh > 5 or not iterators:
                    for shard in self.kinesis.list_shards(StreamName=self.stream)["Shards"]:
                        sid = shard["ShardId"]
                        if sid not in iterators:
                            iterators[sid] = self.kinesis.get_shard_iterator(
                                StreamName=self.stream, ShardId=sid, ShardIteratorType="TRIM_HORIZON"
                            )["ShardIterator"]
                    last_refresh = time.monotonic()
                busy = False
                for sid, iterator in list(iterators.items()):
                    if iterator is None:
                        continue
                    resp = self.kinesis.get_records(ShardIterator=iterator, Limit=self.batch_size)
                    iterators[sid] = resp.get("NextShardIterator")
                    records = [lambda_record(r, sid, arn) for r in resp.get("Records", [])]
                    if records:
                        busy = True
                        self.records += len(records)
                        self._deliver(records)
                if busy:
                    self.idle.clear()
                else:
                    self.idle.set()
                    self.stop_event.wait(self.poll_interval)
            except Exception:  # noqa: BLE001 - keep polling; the emulator may be restarting
                log.exception("kinesis poller error; retrying")
                self.idle.clear()
                self.stop_event.wait(1.0)

    def _invoke(self, records: list[dict]) -> list[str]:
        """One invocation; returns the sequence numbers reported as failed."""
        self.invocations += 1
        context = LocalContext(function_name=FUNCTION_NAME, timeout_s=self.timeout_s)
        try:
            resp = self.handler({"Records": records}, context) or {}
        except Exception as exc:  # noqa: BLE001 - a crashed invocation fails the whole batch
            log.warning("process handler failed on a batch of %d: %s", len(records), exc)
            return [r["kinesis"]["sequenceNumber"] for r in records]
        return [f["itemIdentifier"] for f in resp.get("batchItemFailures", [])]

    def _deliver(self, records: list[dict]) -> None:
        attempt = 0
        while records and not self.stop_event.is_set():
            failed = set(self._invoke(records))
            if not failed:
                return
            first = next(i for i, r in enumerate(records) if r["kinesis"]["sequenceNumber"] in failed)
            records = records[first:]
            attempt += 1
            if attempt > self.max_retries:
                self._dead_letter(records)
                return
            time.sleep(min(2.0, 0.1 * 2**attempt))

    def _dead_letter(self, records: list[dict]) -> None:
        """What the on-failure destination receives: the shard and sequence range, not the data."""
        self.dead_lettered += len(records)
        shard = records[0]["eventID"].split(":", 1)[0]
        self.sqs.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=json.dumps(
                {
                    "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": FUNCTION_NAME},
                    "KinesisBatchInfo": {
                        "shardId": shard,
                        "streamArn": records[0]["eventSourceARN"],
                        "startSequenceNumber": records[0]["kinesis"]["sequenceNumber"],
                        "endSequenceNumber": records[-1]["kinesis"]["sequenceNumber"],
                        "batchSize": len(records),
                    },
                }
            ),
        )
        log.error("%d Kinesis records sent to the failure queue after %d retries", len(records), self.max_retries)


def client(endpoint: str | None) -> Any:
    """A Kinesis client for the local emulator (``endpoint``) or, without one, the default AWS account."""
    import boto3

    if endpoint:
        return boto3.client(
            "kinesis",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    return boto3.client("kinesis")


def live(kinesis: Any, stream: str, generator: Any, every: float, stop: threading.Event) -> None:
    """Put the events of each elapsed ``every`` seconds until ``stop`` (scheduled degradations included)."""
    from handlers.ib_simulator import put_events

    last = time.time()
    while not stop.wait(every):
        now = time.time()
        try:
            put_events(kinesis, stream, generator.events(last, now))
        except Exception as exc:  # noqa: BLE001 - keep the demo going through a hiccup
            log.warning("demo: put_records failed: %s", exc)
            continue
        last = now
