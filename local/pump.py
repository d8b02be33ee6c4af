"""The event source mapping, locally: DynamoDB stream -> AI handler, with the mapping's semantics.

Batches of up to 100 records; a response's ``batchItemFailures`` (or an exception) retries
the batch from the first failed record, up to ``max_retries`` times; then the failed records
go to the dead-letter queue, as the on-failure destination would, and the shard moves on.
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


class StreamPump(threading.Thread):
    """Polls every shard of a table's stream and invokes ``handler`` like Lambda's poller."""

    def __init__(
        self,
        ddb: Any,
        streams: Any,
        sqs: Any,
        table: str,
        handler: Callable[[dict, Any], dict],
        dlq_url: str,
        batch_size: int = 100,
        max_retries: int = 3,
        poll_interval: float = 0.2,
        timeout_s: float = 60.0,
    ) -> None:
        super().__init__(name=f"stream-pump-{table}", daemon=True)
        self.ddb, self.streams, self.sqs = ddb, streams, sqs
        self.table, self.handler, self.dlq_url = table, handler, dlq_url
        self.batch_size, self.max_retries = batch_size, max_retries
        self.poll_interval, self.timeout_s = poll_interval, timeout_s
        self.stop_event = threading.Event()
        self.invocations = 0
        self.dead_lettered = 0
        self.idle = threading.Event()
        """Set whenever every shard was read to its end with nothing pending."""

    def stop(self) -> None:
        self.stop_event.set()

    def _stream_arn(self) -> str:
        return self.ddb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]

    def run(self) -> None:
        arn = self._stream_arn()
        iterators: dict[str, str | None] = {}
        last_refresh = 0.0
        while not self.stop_event.is_set():
            try:
                if time.monotonic() - last_refresh > 5 or not iterators:
                    for shard in self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
                        sid = shard["ShardId"]
                        if sid not in iterators:
                            iterators[sid] = self.streams.get_shard_iterator(
                                StreamArn=arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON"
                            )["ShardIterator"]
                    last_refresh = time.monotonic()
                busy = False
                for sid, iterator in list(iterators.items()):
                    if iterator is None:
                        continue
                    resp = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
                    iterators[sid] = resp.get("NextShardIterator")
                    records = [fix_record(r, arn) for r in resp.get("Records", [])]
                    if records:
                        busy = True
                        self._deliver(records)
                if busy:
                    self.idle.clear()
                else:
                    self.idle.set()
                    self.stop_event.wait(self.poll_interval)
            except Exception:  # noqa: BLE001 - keep pumping; the emulator may be restarting
                log.exception("stream pump error; retrying")
                self.idle.clear()
                self.stop_event.wait(1.0)

    def _invoke(self, records: list[dict]) -> list[str]:
        """One invocation; returns the sequence numbers reported as failed."""
        self.invocations += 1
        context = LocalContext(function_name="iops-local-ai", timeout_s=self.timeout_s)
        try:
            resp = self.handler({"Records": records}, context) or {}
        except Exception as exc:  # noqa: BLE001 - a crashed invocation fails the whole batch
            log.warning("AI handler failed on a batch of %d: %s", len(records), exc)
            return [r["dynamodb"]["SequenceNumber"] for r in records]
        return [f["itemIdentifier"] for f in resp.get("batchItemFailures", [])]

    def _deliver(self, records: list[dict]) -> None:
        attempt = 0
        while records and not self.stop_event.is_set():
            failed = set(self._invoke(records))
            if not failed:
                return
            first = next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failed)
            records = records[first:]
            attempt += 1
            if attempt > self.max_retries:
                self._dead_letter(records, failed)
                return
            time.sleep(min(2.0, 0.1 * 2**attempt))

    def _dead_letter(self, records: list[dict], failed: set[str]) -> None:
        """What the on-failure destination receives: which records, from which stream."""
        bad = [r for r in records if r["dynamodb"]["SequenceNumber"] in failed]
        self.dead_lettered += len(bad)
        self.sqs.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=json.dumps(
                {
                    "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": "iops-local-ai"},
                    "DDBStreamBatchInfo": {
                        "streamArn": records[0]["eventSourceARN"],
                        "startSequenceNumber": bad[0]["dynamodb"]["SequenceNumber"],
                        "endSequenceNumber": bad[-1]["dynamodb"]["SequenceNumber"],
                        "batchSize": len(bad),
                    },
                }
            ),
        )
        log.error("%d stream records sent to the dead-letter queue after %d retries", len(bad), self.max_retries)
