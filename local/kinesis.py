"""The Kinesis event source mapping, locally: stream -> process handler, with the mapping's semantics.

moto stores Kinesis records but runs no event source mapping, so this thread does what
Lambda's poller does: per shard, batches of up to 100 records in Lambda's event shape; a
response's ``batchItemFailures`` (or an exception) retries from the first failed record, up to
``max_retries`` times; then the failed range goes to the failure queue (the on-failure
destination's message) and the shard moves on.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from handlers.definitions import IB_EVENTS, IB_WINDOWS, METRICS
from iops.settings import IbProcessSettings
from local.emulator import REGION, Emulator
from local.pump import ShardPoller

log = logging.getLogger(__name__)

FUNCTION_NAME = "iops-local-ib-process"


def create_resources(emu: Emulator) -> dict[str, str]:
    """The streaming tier in the emulator (from `handlers.definitions`); returns the handlers' env:
    the process function's settings' ``to_env()`` (the rest from this process's environment) and the stream."""
    kinesis, ddb, sqs = emu.client("kinesis"), emu.client("dynamodb"), emu.client("sqs")
    stream = IB_EVENTS.physical_name(emu.prefix)
    if stream not in kinesis.list_streams().get("StreamNames", []):
        kinesis.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    table = emu.table_name(IB_WINDOWS.logical)
    if table not in ddb.list_tables().get("TableNames", []):
        ddb.create_table(**IB_WINDOWS.create_table_kwargs(table))
    dlq = sqs.create_queue(QueueName=f"{emu.prefix}-ib-dlq")["QueueUrl"]
    settings = IbProcessSettings.from_env(
        metrics_table=METRICS.physical_name(emu.prefix), state_table=table, dlq_url=dlq
    )
    return {**settings.to_env(), IB_EVENTS.env_var: stream}


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


class KinesisPoller(ShardPoller):
    """The InfiniBand Kinesis stream -> the process handler."""

    source = "Kinesis"
    batch_info_key = "KinesisBatchInfo"

    def __init__(
        self, kinesis: Any, sqs: Any, stream: str, handler: Callable[[dict, Any], dict], dlq_url: str, **kw: Any
    ) -> None:
        super().__init__(f"kinesis-poller-{stream}", FUNCTION_NAME, sqs, handler, dlq_url, **kw)
        self.kinesis, self.stream = kinesis, stream

    def stream_arn(self) -> str:
        return self.kinesis.describe_stream_summary(StreamName=self.stream)["StreamDescriptionSummary"]["StreamARN"]

    def shard_iterators(self, arn: str, known: set[str]) -> dict[str, str]:
        shards = self.kinesis.list_shards(StreamName=self.stream)["Shards"]
        return {
            s["ShardId"]: self.kinesis.get_shard_iterator(
                StreamName=self.stream, ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for s in shards
            if s["ShardId"] not in known
        }

    def read(self, iterator: str, shard: str, arn: str) -> tuple[list[dict], str | None]:
        resp = self.kinesis.get_records(ShardIterator=iterator, Limit=self.batch_size)
        return [lambda_record(r, shard, arn) for r in resp.get("Records", [])], resp.get("NextShardIterator")

    @staticmethod
    def sequence(record: dict) -> str:
        return record["kinesis"]["sequenceNumber"]

    def dead_letter_range(self, records: list[dict], failed: set[str]) -> list[dict]:
        """A shard is ordered: the skipped range runs from the first failed record to the batch's end."""
        return records

    def batch_info(self, records: list[dict]) -> dict:
        return {"shardId": records[0]["eventID"].split(":", 1)[0], **super().batch_info(records)}


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
    from iops.logic.ib_simulator import put_events

    last = time.time()
    while not stop.wait(every):
        now = time.time()
        try:
            put_events(kinesis, stream, generator.events(last, now))
        except Exception as exc:  # noqa: BLE001 - keep the demo going through a hiccup
            log.warning("demo: put_records failed: %s", exc)
            continue
        last = now
