"""Event source mappings, locally: poll a stream's shards into a handler with Lambda's semantics.

moto stores stream records but runs no mapping, so these threads do what Lambda's poller does:
per shard, batches of up to 100 records in Lambda's event shape; a response's
``batchItemFailures`` (or an exception) retries the batch from the first failed record, up to
``max_retries`` times; then the failed range goes to the dead-letter queue, as the on-failure
destination would receive it, and the shard moves on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from local.lambda_runtime import LocalContext

log = logging.getLogger(__name__)


class ShardPoller(threading.Thread):
    """What every local mapping shares; subclasses say how to read shards and name records."""

    source = "stream"
    batch_info_key = "BatchInfo"

    def __init__(
        self,
        name: str,
        function_name: str,
        sqs: Any,
        handler: Callable[[dict, Any], dict],
        dlq_url: str,
        batch_size: int = 100,
        max_retries: int = 3,
        poll_interval: float = 0.2,
        timeout_s: float = 60.0,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.function_name, self.sqs, self.handler, self.dlq_url = function_name, sqs, handler, dlq_url
        self.batch_size, self.max_retries = batch_size, max_retries
        self.poll_interval, self.timeout_s = poll_interval, timeout_s
        self.stop_event = threading.Event()
        self.invocations = 0
        self.records = 0
        self.dead_lettered = 0
        self.idle = threading.Event()
        """Set whenever every shard was read to its end with nothing pending."""

    # --- what a subclass provides ------------------------------------------------------------

    def stream_arn(self) -> str:
        raise NotImplementedError

    def shard_iterators(self, arn: str, known: set[str]) -> dict[str, str]:
        """TRIM_HORIZON iterators for shards not in ``known``."""
        raise NotImplementedError

    def read(self, iterator: str, shard: str, arn: str) -> tuple[list[dict], str | None]:
        """Records in Lambda's event shape, and the next iterator."""
        raise NotImplementedError

    @staticmethod
    def sequence(record: dict) -> str:
        raise NotImplementedError

    # --- the mapping -------------------------------------------------------------------------

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        arn = self.stream_arn()
        iterators: dict[str, str | None] = {}
        last_refresh = 0.0
        while not self.stop_event.is_set():
            try:
                if time.monotonic() - last_refresh > 5 or not iterators:
                    iterators.update(self.shard_iterators(arn, set(iterators)))
                    last_refresh = time.monotonic()
                busy = False
                for shard, iterator in list(iterators.items()):
                    if iterator is None:
                        continue
                    records, iterators[shard] = self.read(iterator, shard, arn)
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
                log.exception("%s poller error; retrying", self.source)
                self.idle.clear()
                self.stop_event.wait(1.0)

    def _invoke(self, records: list[dict]) -> list[str]:
        """One invocation; returns the sequence numbers reported as failed."""
        self.invocations += 1
        context = LocalContext(function_name=self.function_name, timeout_s=self.timeout_s)
        try:
            resp = self.handler({"Records": records}, context) or {}
        except Exception as exc:  # noqa: BLE001 - a crashed invocation fails the whole batch
            log.warning("%s failed on a batch of %d: %s", self.function_name, len(records), exc)
            return [self.sequence(r) for r in records]
        return [f["itemIdentifier"] for f in resp.get("batchItemFailures", [])]

    def _deliver(self, records: list[dict]) -> None:
        attempt = 0
        while records and not self.stop_event.is_set():
            failed = set(self._invoke(records))
            if not failed:
                return
            first = next(i for i, r in enumerate(records) if self.sequence(r) in failed)
            records = records[first:]
            attempt += 1
            if attempt > self.max_retries:
                self._dead_letter(self.dead_letter_range(records, failed))
                return
            time.sleep(min(2.0, 0.1 * 2**attempt))

    def dead_letter_range(self, records: list[dict], failed: set[str]) -> list[dict]:
        """The records the failure message describes: those still reported failed."""
        return [r for r in records if self.sequence(r) in failed]

    def batch_info(self, records: list[dict]) -> dict:
        return {
            "streamArn": records[0]["eventSourceARN"],
            "startSequenceNumber": self.sequence(records[0]),
            "endSequenceNumber": self.sequence(records[-1]),
            "batchSize": len(records),
        }

    def _dead_letter(self, records: list[dict]) -> None:
        """What the on-failure destination receives: where the records are, not their data."""
        self.dead_lettered += len(records)
        self.sqs.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=json.dumps(
                {
                    "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self.function_name},
                    self.batch_info_key: self.batch_info(records),
                }
            ),
        )
        log.error(
            "%d %s records sent to the dead-letter queue after %d retries", len(records), self.source, self.max_retries
        )


def fix_record(record: dict, stream_arn: str) -> dict:
    """moto's record shape -> Lambda's: add eventSourceARN, creation time as epoch seconds."""
    record = dict(record)
    record["eventSourceARN"] = stream_arn
    ddb = dict(record.get("dynamodb", {}))
    created = ddb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        ddb["ApproximateCreationDateTime"] = int(created.timestamp())
    record["dynamodb"] = ddb
    return record


class StreamPump(ShardPoller):
    """The metrics table's DynamoDB stream -> the AI handler."""

    source = "DynamoDB stream"
    batch_info_key = "DDBStreamBatchInfo"

    def __init__(
        self,
        ddb: Any,
        streams: Any,
        sqs: Any,
        table: str,
        handler: Callable[[dict, Any], dict],
        dlq_url: str,
        **kw: Any,
    ) -> None:
        super().__init__(f"stream-pump-{table}", "iops-local-ai", sqs, handler, dlq_url, **kw)
        self.ddb, self.streams, self.table = ddb, streams, table

    def stream_arn(self) -> str:
        return self.ddb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]

    def shard_iterators(self, arn: str, known: set[str]) -> dict[str, str]:
        shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        return {
            s["ShardId"]: self.streams.get_shard_iterator(
                StreamArn=arn, ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for s in shards
            if s["ShardId"] not in known
        }

    def read(self, iterator: str, shard: str, arn: str) -> tuple[list[dict], str | None]:
        resp = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
        return [fix_record(r, arn) for r in resp.get("Records", [])], resp.get("NextShardIterator")

    @staticmethod
    def sequence(record: dict) -> str:
        return record["dynamodb"]["SequenceNumber"]
