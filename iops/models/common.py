"""What the models and the handlers share without pydantic: names, patterns, bounds, times, ids.

Importing this costs nothing; the pydantic models (`metric`, `insight`, `api`) load on first use
(see `iops.models`).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from iops_detector_sdk.contract import STREAM_PREFIX

METRICS_MAX_LIMIT = 1000
"""``GET /metrics?limit=``: at most this many points per page (the default too)."""
INSIGHTS_MAX_LIMIT = 100
"""``GET /insights?limit=`` and ``GET /insights/recent?limit=``: at most this many insights."""
INSIGHTS_DEFAULT_LIMIT = 50
RECENT_DEFAULT_LIMIT = 10


HOSTNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,252}")
"""Matched with ``fullmatch`` everywhere: ``$`` would accept a trailing newline."""
ENTITY_RE = re.compile(rf"(?:{re.escape(STREAM_PREFIX)})?{HOSTNAME_RE.pattern}")
"""A host or an InfiniBand stream (``ib/<stream>``), as stored and as insights name it."""
METRIC_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}")
RESERVED = {"hostname", "timestamp", "ttl", "receivedAt"}
MAX_METRICS_PER_ITEM = 64
MIN_EPOCH_S = 946_684_800  # 2000-01-01
FUTURE_SLACK_S = 86_400
PERCENT_FIELDS = {"cpuUsage", "memoryUsage"}
NON_NEGATIVE_FIELDS = {"diskIO", "networkIO"}
MAX_ABS_VALUE = 1e15
MAX_LISTED_ITEMS = 50
"""Rejected items listed by index in a response; the rest are only counted (a 1 MB body of bad
names must not answer with more than Lambda's 6 MB response limit)."""
TIMESTAMP_REQUIRED = "timestamp is required: ISO 8601 string or epoch seconds"


def anchored(pattern: re.Pattern[str]) -> str:
    """A ``fullmatch`` regex as a JSON-schema pattern (pydantic's engine: ``$`` is the very end)."""
    return f"^{pattern.pattern}$"


def parse_timestamp(raw: Any) -> int:
    """ISO 8601 (naive means UTC) or epoch seconds (milliseconds when > 1e11) -> epoch ms."""
    if isinstance(raw, bool):
        raise ValueError("timestamp must be ISO 8601 or epoch seconds, not a boolean")
    if isinstance(raw, int) and abs(raw) > 1e18:
        raise ValueError("timestamp must be between 2000-01-01 and one day from now")  # float() would overflow
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise ValueError("timestamp must be finite")
        seconds = raw / 1000 if abs(raw) > 1e11 else float(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        try:
            seconds = float(text)
            if abs(seconds) > 1e11:
                seconds /= 1000
        except ValueError:
            try:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                raise ValueError(f"timestamp {raw!r} is neither ISO 8601 nor epoch seconds") from None
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            seconds = dt.timestamp()
    else:
        raise ValueError(TIMESTAMP_REQUIRED)
    if not math.isfinite(seconds):
        raise ValueError("timestamp must be finite")
    if seconds < MIN_EPOCH_S or seconds > time.time() + FUTURE_SLACK_S:
        raise ValueError("timestamp must be between 2000-01-01 and one day from now")
    return int(round(seconds * 1000))


def iso(ms: int | float) -> str:
    """Epoch milliseconds as the API writes times: ISO 8601, UTC, milliseconds, ``Z``."""
    return datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class InvalidMetric(ValueError):
    """Everything wrong with one metric object."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(slots=True)
class Metric:
    """One valid observation as stored: a host (or ``ib/<stream>``), epoch ms, its metrics."""

    hostname: str
    timestamp_ms: int
    values: dict[str, float]


InsightType = Literal["anomaly", "prediction", "pattern"]
INSIGHT_TYPES: tuple[str, ...] = get_args(InsightType)
ENTITY_TYPE = "insight"
"""Every stored insight carries this in the recent index's hash key, so the index lists them all."""


def insight_id(entity: str, metric: str, timestamp_ms: int, source: str) -> str:
    """Same series, point and source -> same id, so a replayed batch overwrites, never duplicates."""
    digest = hashlib.sha256(f"{entity}|{metric}|{timestamp_ms}|{source}".encode()).hexdigest()
    return f"ins-{digest[:24]}"
