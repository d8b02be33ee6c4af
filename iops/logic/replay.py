"""Re-scoring stored metrics: what a message in the AI tier's dead-letter queue points at.

The DLQ message of a DynamoDB stream mapping carries only shard, sequence numbers and arrival
times, and the stream keeps records for 24 hours; the Metrics table keeps the points for 90
days. So a replay reads the points of a time range (one host, or all) back from the table and
feeds them to the AI handler as stream records flagged ``replay``: points the series already
passed (late points) are scored against a copy of its state that is then discarded, and the
insights' deterministic ids make a replay of what did succeed a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from iops_detector_sdk.contract import STREAM_PREFIX

from handlers.definitions import METRICS
from iops.models.common import ENTITY_RE

BATCH = 100
"""Records per replayed batch: the event source mapping's batch size."""


def stored_items(ddb: Any, table: str, start_ms: int, end_ms: int, host: str | None) -> list[dict]:
    """Every stored item in [start_ms, end_ms] (of ``host``, or of all hosts by a scan), oldest first."""
    if start_ms > end_ms:
        raise ValueError("--from must not be after --to")
    names = {"#ts": METRICS.range_key}
    values = {":lo": {"N": str(start_ms)}, ":hi": {"N": str(end_ms)}}
    if host is not None:
        if not ENTITY_RE.fullmatch(host):
            raise ValueError(f"{host!r} is neither a hostname nor {STREAM_PREFIX}<stream>")
        kwargs = {
            "KeyConditionExpression": "hostname = :h AND #ts BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {**values, ":h": {"S": host}},
        }
        call = ddb.query
    else:
        kwargs = {"FilterExpression": "#ts BETWEEN :lo AND :hi", "ExpressionAttributeValues": values}
        call = ddb.scan
    items: list[dict] = []
    page: dict = {"TableName": table, "ExpressionAttributeNames": names, **kwargs}
    while True:
        resp = call(**page)
        items.extend(resp.get("Items", []))
        if "LastEvaluatedKey" not in resp:
            break
        page["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    items.sort(key=lambda i: (int(i["timestamp"]["N"]), i["hostname"]["S"]))
    return items


def replay_events(items: list[dict]) -> Iterator[dict]:
    """AI handler events of up to `BATCH` stream-shaped records each, flagged as a replay."""
    for start in range(0, len(items), BATCH):
        records = [
            {
                "eventID": f"replay-{start + i}",
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "eventSourceARN": "replay",
                "dynamodb": {
                    "Keys": {"hostname": item["hostname"], "timestamp": item["timestamp"]},
                    "NewImage": item,
                    "SequenceNumber": f"{start + i:021d}",
                    "StreamViewType": METRICS.stream_view,
                },
            }
            for i, item in enumerate(items[start : start + BATCH])
        ]
        yield {"Records": records, "replay": True}
