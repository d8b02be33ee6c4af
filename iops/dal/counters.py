"""Data access for the counters table: each cumulative counter's last reading, so rates span requests."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from iops.dal import dynamo
from iops.logic.samples import Last

COUNTER_TTL_DAYS = 3
"""A counter silent this long starts afresh (its next reading only sets the baseline)."""


def load_last(
    ddb: Any, table: str, series: Sequence[str], policy: dynamo.RetryPolicy = dynamo.DEFAULT_POLICY
) -> tuple[dict[str, Last], set[str]]:
    """Each series' last reading (absent: never seen); and the series whose reading could not be read."""
    keys = [{"seriesKey": {"S": s}} for s in dict.fromkeys(series)]
    items, unread = dynamo.batch_get(ddb, table, keys, policy)
    found = {
        i["seriesKey"]["S"]: Last(
            int(i["ts"]["N"]), float(i["value"]["N"]), int(i["start"]["N"]) if "start" in i else None
        )
        for i in items
    }
    return found, {k["seriesKey"]["S"] for k in unread}


def save_last(
    ddb: Any, table: str, readings: Mapping[str, Last], policy: dynamo.RetryPolicy = dynamo.DEFAULT_POLICY
) -> set[str]:
    """Store each series' new last reading; returns the series whose reading could not be written."""
    ttl = str(int(time.time() + COUNTER_TTL_DAYS * 86_400))
    items = []
    for key, last in readings.items():
        item = {
            "seriesKey": {"S": key},
            "ts": {"N": str(last.timestamp_ms)},
            "value": {"N": repr(last.value)},
            "ttl": {"N": ttl},
        }
        if last.start_ms is not None:
            item["start"] = {"N": str(last.start_ms)}
        items.append(item)
    return {i["seriesKey"]["S"] for i in dynamo.put_all(ddb, table, items, policy)}
