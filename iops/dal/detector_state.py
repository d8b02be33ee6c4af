"""Data access for the detector-state table: one compressed item per series, read and written per batch."""

from __future__ import annotations

import time
import zlib
from typing import Any

from detectors.contract import SeriesKey
from detectors.runtime import SeriesResult, SeriesState
from iops.dal import dynamo
from iops.logs import get_logger

log = get_logger(__name__)

STATE_TTL_DAYS = 30


def encode_state(state: SeriesState) -> dict[str, bytes]:
    """State as a compressed binary attribute: DynamoDB bills writes per KB, and the JSON is several KB."""
    return {"B": zlib.compress(state.to_json().encode(), 6)}


def decode_state(attribute: dict) -> SeriesState:
    """Reads compressed state, and the plain JSON string earlier versions stored."""
    raw = attribute["B"] if "B" in attribute else attribute["S"]
    return SeriesState.from_json(zlib.decompress(raw).decode() if isinstance(raw, bytes) else raw)


def load_states(
    ddb: Any, table: str, keys: list[SeriesKey], policy: dynamo.RetryPolicy = dynamo.DEFAULT_POLICY
) -> tuple[dict[SeriesKey, SeriesState], set[SeriesKey]]:
    """BatchGetItem of every series' state, throttles and unprocessed keys retried under ``policy``;
    returns the states and the series whose state could not be read (retried later)."""
    states = {k: SeriesState() for k in keys}
    by_text = {str(k): k for k in keys}
    items, unread_keys = dynamo.batch_get(ddb, table, [{"seriesKey": {"S": str(k)}} for k in keys], policy)
    for item in items:
        states[by_text[item["seriesKey"]["S"]]] = decode_state(item["state"])
    unread = {by_text[k["seriesKey"]["S"]] for k in unread_keys}
    if unread:
        log.error("could not read detector state; the series' records are retried", series=len(unread))
    return {k: v for k, v in states.items() if k not in unread}, unread


def save_states(
    ddb: Any, table: str, results: list[SeriesResult], policy: dynamo.RetryPolicy = dynamo.DEFAULT_POLICY
) -> set[SeriesKey]:
    """BatchWriteItem of updated states; returns the series whose state could not be written."""
    ttl = str(int(time.time() + STATE_TTL_DAYS * 86_400))
    items = {str(r.series): r for r in results if r.results}
    unwritten = dynamo.put_all(
        ddb,
        table,
        [{"seriesKey": {"S": k}, "state": encode_state(r.state), "ttl": {"N": ttl}} for k, r in items.items()],
        policy,
    )
    return {items[i["seriesKey"]["S"]].series for i in unwritten}
