"""InfiniBand stream events: the schema, validation, and per-stream, per-minute aggregation.

Pure functions and small state classes, no I/O, so the arithmetic and the idempotency rules
are tested directly. `iops.logic.ib_process` does the reading and writing around them.

Event (one Kinesis record, JSON, partition key = ``stream``)::

    {"stream": "ib_stream_3", "timestamp": 1764000000.25, "latencyUs": 1.83,
     "bandwidthGbps": 181.4, "packetErrors": 0, "linkFlaps": 0, "eventId": "..."}

``timestamp`` is ISO 8601 or epoch seconds/milliseconds; ``packetErrors`` and ``linkFlaps`` are
counts since the previous event of that stream (default 0); other fields are ignored.

Aggregation is by event time: minute ``[m, m + 60 s)`` of a stream closes once an event of
that stream at or after ``m + 60 s + lateness`` has been folded in (the stream's watermark).
Closing emits one metric item per (stream, minute), so the AI tier sees one point per key.
Events are folded one at a time in sequence order, so the result does not depend on how the
records were cut into batches (a bisected or retried batch aggregates the same way).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from iops_detector_sdk.contract import STREAM_PREFIX

from iops.models.common import HOSTNAME_RE, Metric, parse_timestamp

MINUTE_MS = 60_000
SKETCH_ALPHA = 0.01
"""Relative accuracy of the latency quantile sketch: p95 is within 1 % of the exact value."""
_GAMMA = (1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA)
_LOG_GAMMA = math.log(_GAMMA)
MAX_LATENCY_US = 1e7
MAX_BANDWIDTH_GBPS = 1e4
MAX_COUNT = 1_000_000_000
MAX_SHARDS_REMEMBERED = 16
"""Shards whose last sequence number a stream keeps (a reshard adds children; parents go quiet)."""

METRIC_NAMES = (
    "ibLatencyUsMean",
    "ibLatencyUsP95",
    "ibLatencyUsMax",
    "ibBandwidthGbps",
    "ibPacketErrors",
    "ibLinkFlaps",
    "eventCount",
)


class InvalidEvent(ValueError):
    """A record that can never be aggregated (goes to the failure queue, not retried)."""


@dataclass(frozen=True, slots=True)
class IbEvent:
    stream: str
    timestamp_ms: int
    latency_us: float
    bandwidth_gbps: float
    packet_errors: int = 0
    link_flaps: int = 0


def _number(raw: dict, name: str, high: float) -> float:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidEvent(f"{name} is required: a finite number")
    if not 0 <= value <= high:
        raise InvalidEvent(f"{name} must be between 0 and {high:g}")
    return float(value)


def _count(raw: dict, name: str) -> int:
    value = raw.get(name, 0)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise InvalidEvent(f"{name} must be a whole number between 0 and {MAX_COUNT}")
    return value


def parse_event(data: bytes, arrival_ms: int, max_future_ms: int) -> IbEvent:
    """One record's payload -> an event, or InvalidEvent saying what is wrong.

    An event stamped more than ``max_future_ms`` after it reached Kinesis is rejected: a
    skewed clock would otherwise push the watermark ahead and close minutes early.
    """
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidEvent("an event must be a JSON object")
    stream = raw.get("stream")
    if not isinstance(stream, str) or not HOSTNAME_RE.fullmatch(stream):
        raise InvalidEvent("stream is required: letters, digits, '.', '_', ':' or '-'")
    try:
        ts = parse_timestamp(raw.get("timestamp"))
    except ValueError as exc:
        raise InvalidEvent(str(exc)) from None
    if ts > arrival_ms + max_future_ms:
        raise InvalidEvent(f"timestamp is {(ts - arrival_ms) / 1000:.0f}s after the record reached Kinesis")
    return IbEvent(
        stream=stream,
        timestamp_ms=ts,
        latency_us=_number(raw, "latencyUs", MAX_LATENCY_US),
        bandwidth_gbps=_number(raw, "bandwidthGbps", MAX_BANDWIDTH_GBPS),
        packet_errors=_count(raw, "packetErrors"),
        link_flaps=_count(raw, "linkFlaps"),
    )


def sketch_index(value: float) -> int:
    """The log bucket of a positive value (DDSketch): every value in it is within alpha of its centre."""
    return math.ceil(math.log(value) / _LOG_GAMMA)


def sketch_value(index: int) -> float:
    return 2 * _GAMMA**index / (_GAMMA + 1)


@dataclass(slots=True)
class Window:
    """One stream's minute: sums and counts (exact) and a latency sketch (mergeable, bounded)."""

    count: int = 0
    latency_sum: float = 0.0
    latency_min: float = math.inf
    latency_max: float = 0.0
    bandwidth_sum: float = 0.0
    packet_errors: int = 0
    link_flaps: int = 0
    zeros: int = 0
    """Latencies of exactly 0 (the log sketch cannot hold them)."""
    buckets: dict[int, int] = field(default_factory=dict)

    def add(self, event: IbEvent) -> None:
        self.count += 1
        self.latency_sum += event.latency_us
        self.latency_min = min(self.latency_min, event.latency_us)
        self.latency_max = max(self.latency_max, event.latency_us)
        self.bandwidth_sum += event.bandwidth_gbps
        self.packet_errors += event.packet_errors
        self.link_flaps += event.link_flaps
        if event.latency_us > 0:
            i = sketch_index(event.latency_us)
            self.buckets[i] = self.buckets.get(i, 0) + 1
        else:
            self.zeros += 1

    def quantile(self, q: float) -> float:
        """Nearest-rank quantile from the sketch: within alpha of the exact one, inside [min, max]."""
        rank = max(1, math.ceil(q * self.count))
        seen = self.zeros
        if seen >= rank:
            return 0.0
        for i in sorted(self.buckets):
            seen += self.buckets[i]
            if seen >= rank:
                return max(self.latency_min, min(sketch_value(i), self.latency_max))
        return self.latency_max

    def values(self) -> dict[str, float]:
        """The metric attributes this minute becomes (documented in docs/streaming.md)."""
        return {
            "ibLatencyUsMean": round(self.latency_sum / self.count, 4),
            "ibLatencyUsP95": round(self.quantile(0.95), 4),
            "ibLatencyUsMax": round(self.latency_max, 4),
            "ibBandwidthGbps": round(self.bandwidth_sum / self.count, 3),
            "ibPacketErrors": float(self.packet_errors),
            "ibLinkFlaps": float(self.link_flaps),
            "eventCount": float(self.count),
        }

    def to_json(self) -> list:
        return [
            self.count,
            self.latency_sum,
            self.latency_min,
            self.latency_max,
            self.bandwidth_sum,
            self.packet_errors,
            self.link_flaps,
            self.zeros,
            {str(k): v for k, v in self.buckets.items()},
        ]

    @classmethod
    def from_json(cls, raw: list) -> Window:
        n, lsum, lmin, lmax, bw, errs, flaps, zeros, buckets = raw
        return cls(n, lsum, lmin, lmax, bw, errs, flaps, zeros, {int(k): v for k, v in buckets.items()})


@dataclass(slots=True)
class StreamState:
    """What one InfiniBand stream carries between batches (one DynamoDB item)."""

    version: int = 0
    """Optimistic lock: the state is written only if nobody wrote it since it was read."""
    seqs: dict[str, str] = field(default_factory=dict)
    """Last sequence number folded in, per shard: anything at or below it is a redelivery."""
    watermark_ms: int | None = None
    closed_through_ms: int | None = None
    """Start of the newest minute already emitted: events for it or earlier are late."""
    late: int = 0
    windows: dict[int, Window] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "seqs": self.seqs,
                "watermark": self.watermark_ms,
                "closed": self.closed_through_ms,
                "late": self.late,
                "windows": {str(k): w.to_json() for k, w in self.windows.items()},
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str, version: int) -> StreamState:
        raw: dict[str, Any] = json.loads(text)
        return cls(
            version=version,
            seqs=raw.get("seqs", {}),
            watermark_ms=raw.get("watermark"),
            closed_through_ms=raw.get("closed"),
            late=raw.get("late", 0),
            windows={int(k): Window.from_json(w) for k, w in raw.get("windows", {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Fold:
    """What folding one record did."""

    duplicate: bool = False
    late: bool = False
    closed: tuple[tuple[int, Window], ...] = ()


def fold(state: StreamState, shard: str, sequence: str, event: IbEvent, lateness_ms: int) -> Fold:
    """Fold one record into its stream's state; return the minutes it closed, oldest first."""
    last = state.seqs.get(shard)
    if last is not None and int(sequence) <= int(last):
        return Fold(duplicate=True)
    state.seqs[shard] = sequence
    if len(state.seqs) > MAX_SHARDS_REMEMBERED:
        del state.seqs[next(iter(state.seqs))]
    minute = event.timestamp_ms - event.timestamp_ms % MINUTE_MS
    if state.closed_through_ms is not None and minute <= state.closed_through_ms:
        state.late += 1
        return Fold(late=True)
    window = state.windows.get(minute)
    if window is None:
        window = state.windows[minute] = Window()
    window.add(event)
    state.watermark_ms = max(state.watermark_ms or 0, event.timestamp_ms)
    closed = []
    for start in sorted(state.windows):
        if start + MINUTE_MS + lateness_ms > state.watermark_ms:
            break
        closed.append((start, state.windows.pop(start)))
        state.closed_through_ms = start
    return Fold(closed=tuple(closed))


def to_metric(stream: str, minute_ms: int, window: Window) -> Metric:
    """A closed minute as a metric point under ``ib/<stream>`` (a key no host can take), at the minute's start."""
    return Metric(STREAM_PREFIX + stream, minute_ms, window.values())
