"""The process Lambda's work on one Kinesis batch, as plain functions (the handler only wires them).

Per InfiniBand stream in the batch: read its state, fold its records in sequence order, and
commit the minutes that closed together with the new state in one DynamoDB transaction (the
state put is conditional on the version read; the streams of a batch share one transaction
when they fit in 100 items). So either both the metric items and the "seen up to sequence N"
mark are stored, or neither is:

- a retried or replayed batch finds its records at or below the stored sequence number and
  skips them: nothing is counted twice, and a closed minute is written exactly once (the AI
  tier gets one INSERT per (stream, minute), never a MODIFY);
- a failed transaction (a concurrent writer, or throttling that outlasts `iops.dal.dynamo`'s
  retry policy) reports that stream's records as batch item failures, and Lambda retries them.

Records that can never be aggregated (not JSON, failing validation) are sent, with their
payload and the reason, to the failure queue, and are not reported as failures: retrying
them cannot help and would hold the shard. If that send fails, they are reported as failures
(Lambda retries, then the mapping's on-failure destination records the batch).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from iops.dal import dynamo
from iops.dal.metrics import update_request
from iops.logic.ib_events import Fold, IbEvent, InvalidEvent, StreamState, fold, parse_event, to_metric

log = logging.getLogger(__name__)

MAX_TRANSACTION_ITEMS = dynamo.TRANSACT_LIMIT
STATE_TTL_DAYS = 30
SQS_BATCH = 10


@dataclass(slots=True)
class Aggregator:
    """Everything one batch needs; built once per Lambda container."""

    ddb: Any
    sqs: Any
    metrics_table: str
    state_table: str
    dlq_url: str
    metrics_ttl_days: int = 90
    lateness_ms: int = 30_000
    max_future_ms: int = 300_000


@dataclass(slots=True)
class BatchOutcome:
    failed: set[str] = field(default_factory=set)
    """Sequence numbers to report as batch item failures."""
    events: int = 0
    duplicates: int = 0
    late: int = 0
    invalid: int = 0
    dead_lettered: int = 0
    minutes_written: int = 0
    streams: int = 0


@dataclass(frozen=True, slots=True)
class Decoded:
    shard: str
    sequence: str
    event: IbEvent


def _shard(record: dict) -> str:
    """Lambda's eventID is ``shardId-...:sequenceNumber``."""
    return record.get("eventID", "").split(":", 1)[0] or "shard"


def decode(record: dict, max_future_ms: int) -> Decoded:
    kinesis = record["kinesis"]
    try:
        data = base64.b64decode(kinesis["data"], validate=True)
    except (ValueError, TypeError) as exc:
        raise InvalidEvent(f"data is not base64: {exc}") from None
    arrival_ms = int(float(kinesis.get("approximateArrivalTimestamp") or time.time()) * 1000)
    return Decoded(_shard(record), kinesis["sequenceNumber"], parse_event(data, arrival_ms, max_future_ms))


def dead_letter_body(record: dict, reason: str) -> str:
    """The failure-queue message for a bad record: enough to inspect and replay it."""
    kinesis = record.get("kinesis", {})
    return json.dumps(
        {
            "condition": "InvalidRecord",
            "reason": reason,
            "eventSourceARN": record.get("eventSourceARN"),
            "shardId": _shard(record),
            "sequenceNumber": kinesis.get("sequenceNumber"),
            "partitionKey": kinesis.get("partitionKey"),
            "approximateArrivalTimestamp": kinesis.get("approximateArrivalTimestamp"),
            "data": kinesis.get("data"),
        }
    )


def send_invalid(sqs: Any, queue_url: str, bad: list[tuple[dict, str]]) -> list[str]:
    """SendMessageBatch the bad records; returns the sequence numbers that could not be sent."""
    unsent: list[str] = []
    for start in range(0, len(bad), SQS_BATCH):
        chunk = bad[start : start + SQS_BATCH]
        seqs = [r.get("kinesis", {}).get("sequenceNumber", "") for r, _ in chunk]
        entries = [{"Id": str(i), "MessageBody": dead_letter_body(r, why)} for i, (r, why) in enumerate(chunk)]
        try:
            resp = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception as exc:  # noqa: BLE001 - reported as failures, so retried, never lost
            log.error("could not send %d invalid records to the failure queue: %s", len(chunk), exc)
            unsent.extend(seqs)
            continue
        unsent.extend(seqs[int(f["Id"])] for f in resp.get("Failed", []))
    return unsent


def load_states(ddb: Any, table: str, streams: list[str]) -> dict[str, StreamState]:
    """BatchGetItem of the streams' states (consistent reads); a stream never seen gets a fresh state.

    Raises when some state cannot be read (throttled past the retry policy): the batch is retried.
    """
    states = {s: StreamState() for s in streams}
    items, unread = dynamo.batch_get(ddb, table, [{"stream": {"S": s}} for s in streams], consistent=True)
    if unread:
        raise RuntimeError(f"could not read the window state of {len(unread)} streams")
    for item in items:
        states[item["stream"]["S"]] = StreamState.from_json(item["state"]["S"], int(item["version"]["N"]))
    return states


@dataclass(slots=True)
class Commit:
    """One stream's closed minutes and its new state: written together or not at all."""

    stream: str
    items: list[dict]
    minutes: int


def commit_items(
    agg: Aggregator, stream: str, state: StreamState, minutes: list[tuple[int, Any]], now_s: float
) -> list[dict]:
    """TransactWriteItems entries: the minute items, then the state put guarded by the version read."""
    items = [
        {
            "Update": {
                "TableName": agg.metrics_table,
                **update_request(to_metric(stream, m, w), now_s, agg.metrics_ttl_days),
            }
        }
        for m, w in minutes
    ]
    guard: dict[str, Any] = {
        "ConditionExpression": "attribute_not_exists(#s)",
        "ExpressionAttributeNames": {"#s": "stream"},
    }
    if state.version:
        guard = {
            "ConditionExpression": "#v = :v",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":v": {"N": str(state.version)}},
        }
    state_item = {
        "stream": {"S": stream},
        "state": {"S": state.to_json()},
        "version": {"N": str(state.version + 1)},
        "ttl": {"N": str(int(now_s + STATE_TTL_DAYS * 86_400))},
    }
    items.append({"Put": {"TableName": agg.state_table, "Item": state_item, **guard}})
    return items


def aggregate_stream(
    agg: Aggregator, stream: str, state: StreamState, records: list[Decoded], outcome: BatchOutcome
) -> Commit | None:
    """Fold one stream's records; what is left to write (a batch closing > 98 minutes commits in steps here)."""
    pending: list[tuple[int, Any]] = []
    dirty = False
    now = time.time()
    for rec in records:
        result: Fold = fold(state, rec.shard, rec.sequence, rec.event, agg.lateness_ms)
        if result.duplicate:
            outcome.duplicates += 1
            continue
        dirty = True
        outcome.events += 1
        if result.late:
            outcome.late += 1
            log.warning("late event for %s at %d (minute already emitted)", stream, rec.event.timestamp_ms)
        pending.extend(result.closed)
        if len(pending) >= MAX_TRANSACTION_ITEMS - 1:
            dynamo.transact_write(agg.ddb, commit_items(agg, stream, state, pending, now))
            state.version += 1
            outcome.minutes_written += len(pending)
            pending, dirty = [], False
    return Commit(stream, commit_items(agg, stream, state, pending, now), len(pending)) if dirty else None


def write_commits(ddb: Any, commits: list[Commit], outcome: BatchOutcome) -> set[str]:
    """Pack commits into transactions of up to 100 items (usually one call per batch); returns failed streams.

    A refused pack writes nothing, so its streams are then committed one by one: one stream
    with a conflict or a bad item does not hold back the others.
    """
    packs: list[list[Commit]] = [[]]
    size = 0
    for c in commits:
        if size + len(c.items) > MAX_TRANSACTION_ITEMS:
            packs.append([])
            size = 0
        packs[-1].append(c)
        size += len(c.items)
    failed: set[str] = set()
    for pack in packs:
        if not pack:
            continue
        try:
            dynamo.transact_write(ddb, [i for c in pack for i in c.items])
            outcome.minutes_written += sum(c.minutes for c in pack)
            continue
        except Exception as exc:  # noqa: BLE001 - retried stream by stream below
            if len(pack) == 1:
                log.error("could not store aggregates of %s: %s", pack[0].stream, exc)
                failed.add(pack[0].stream)
                continue
            log.warning("a transaction of %d streams was refused (%s); committing them one by one", len(pack), exc)
        for c in pack:
            try:
                dynamo.transact_write(ddb, c.items)
                outcome.minutes_written += c.minutes
            except Exception as exc:  # noqa: BLE001 - this stream is retried, the others go on
                log.error("could not store aggregates of %s: %s", c.stream, exc)
                failed.add(c.stream)
    return failed


def process_records(agg: Aggregator, records: list[dict]) -> BatchOutcome:
    """Validate, aggregate and store one batch; report which records must be retried."""
    outcome = BatchOutcome()
    by_stream: dict[str, list[Decoded]] = defaultdict(list)
    bad: list[tuple[dict, str]] = []
    for record in records:
        try:
            decoded = decode(record, agg.max_future_ms)
        except (InvalidEvent, KeyError) as exc:
            bad.append((record, str(exc)))
            continue
        by_stream[decoded.event.stream].append(decoded)
    if bad:
        outcome.invalid = len(bad)
        for record, reason in bad:
            log.error("invalid record %s: %s", record.get("kinesis", {}).get("sequenceNumber"), reason)
        unsent = send_invalid(agg.sqs, agg.dlq_url, bad)
        outcome.failed.update(unsent)
        outcome.dead_lettered = len(bad) - len(unsent)
    outcome.streams = len(by_stream)
    if not by_stream:
        return outcome
    try:
        states = load_states(agg.ddb, agg.state_table, list(by_stream))
    except Exception as exc:  # noqa: BLE001 - the whole batch is retried
        log.error("could not read window state: %s", exc)
        outcome.failed.update(r.sequence for recs in by_stream.values() for r in recs)
        return outcome
    commits: list[Commit] = []
    failed: set[str] = set()
    for stream, recs in by_stream.items():
        try:
            commit = aggregate_stream(agg, stream, states[stream], recs, outcome)
        except Exception as exc:  # noqa: BLE001 - this stream is retried, the others go on
            log.error("could not store aggregates of %s: %s", stream, exc)
            failed.add(stream)
            continue
        if commit is not None:
            commits.append(commit)
    failed |= write_commits(agg.ddb, commits, outcome)
    for stream in failed:
        outcome.failed.update(r.sequence for r in by_stream[stream])
    return outcome
