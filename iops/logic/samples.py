"""Samples from standard formats (OTLP, Prometheus remote write, CloudWatch Metric Streams) on their way to storage.

Every decoder turns its format into `Sample`s (a host, a metric field, a time, a value) with the
same three rules, so one agent's metric has one name whatever it spoke:

- the host: the first of a format's host keys that is present (`host_from`), a valid hostname;
- the field: `field_name` of the format's metric name and the point's identifying attributes;
- a cumulative counter becomes a per-second rate from the series' previous sample (`Rates`),
  with resets; the previous sample is kept across requests (`iops.dal.counters`).

`Guard` caps what one request may add: series in all, fields per host. What it drops is counted
and listed like any rejected metric. The samples then go through the same validation and storage
as ``POST /metrics`` (`iops.logic.ingest.store_samples`). The mapping table is in docs/ingest.md.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from iops.models.common import HOSTNAME_RE, RESERVED

MAX_FIELD_CHARS = 64
"""A metric field name's length limit (`iops.models.common.METRIC_NAME_RE`)."""
MAX_SERIES_PER_REQUEST = 5_000
"""Series one request may carry; beyond it the rest is rejected (and counted), not stored."""
MAX_FIELDS_PER_HOST = 200
"""Distinct metric fields one host may send in one request; beyond it the rest is rejected."""
UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
DROPPED_ATTRIBUTES = frozenset({"job", "__name__", "otel_scope_name", "otel_scope_version"})
"""Attributes that name where a sample came from, not what it measures: never part of a field name."""
MAX_LISTED = 20
FIELD_CACHE = 65_536
"""Series whose field name and host are remembered per container (a few MB at most)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one host's metric field at one time, ready to store."""

    host: str
    field: str
    timestamp_ms: int
    value: float


@dataclass(frozen=True, slots=True)
class CounterPoint:
    """A cumulative counter's reading: ``start_ms`` is when it started counting (OTLP), if known."""

    host: str
    field: str
    timestamp_ms: int
    value: float
    start_ms: int | None = None

    @property
    def series(self) -> str:
        return series_key(self.host, self.field)


@dataclass(frozen=True, slots=True)
class Mean:
    """``host``'s ``field`` is Δsum / Δcount of two counters read at the same times (a histogram's mean).

    A cumulative histogram's lifetime mean barely moves when its latency jumps; the mean of each
    interval does. Both counters' rates span the same interval, so their ratio is that mean.
    """

    host: str
    field: str
    sum_field: str
    count_field: str


@dataclass(slots=True)
class Decoded:
    """What a decoder made of one request: samples to store, counter readings, and what it refused."""

    samples: list[Sample] = field(default_factory=list)
    counters: list[CounterPoint] = field(default_factory=list)
    means: list[Mean] = field(default_factory=list)
    """Fields computed from the rates of two of ``counters`` (`means`)."""
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def reject(self, reason: str, count: int = 1) -> None:
        """Count ``count`` refused data points; list the first reasons (each reason once)."""
        self.rejected += count
        if len(self.errors) < MAX_LISTED and reason not in self.errors:
            self.errors.append(reason)


def series_key(host: str, field_: str) -> str:
    return f"{host}|{field_}"


def _clean(text: str) -> str:
    return UNSAFE.sub("_", text).strip("_")


def field_name(metric: str, attributes: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> str:
    """The stored field of ``metric`` with its identifying ``attributes``: one rule for every format.

    The metric name keeps its dots, other characters become ``_``; each attribute (sorted by key,
    `DROPPED_ATTRIBUTES` and empty values left out) appends ``.key_value``. A name that would start
    with a digit, or be a reserved field, gets ``m_`` in front; one longer than 64 characters keeps
    its first 55 and an 8-hex hash of the whole, so distinct series stay distinct.
    ``system.cpu.time`` + {cpu: 0, state: user} -> ``system.cpu.time.cpu_0.state_user``.
    """
    pairs = attributes.items() if isinstance(attributes, Mapping) else attributes
    return _field_name(metric, tuple(sorted((k, str(v)) for k, v in pairs if v not in ("", None))))


@lru_cache(maxsize=FIELD_CACHE)
def _field_name(metric: str, pairs: tuple[tuple[str, str], ...]) -> str:
    """`field_name` of sorted (key, value) pairs: cached, as an agent sends the same series every interval."""
    parts = [".".join(p for p in (_clean(seg) for seg in metric.split(".")) if p)]
    for key, value in pairs:
        if key in DROPPED_ATTRIBUTES or not value:
            continue
        parts.append(f"{_clean(key)}_{_clean(value)}".strip("_"))
    name = ".".join(p for p in parts if p) or "m"
    if not name[0].isalpha() or name in RESERVED:
        name = "m_" + name
    if len(name) > MAX_FIELD_CHARS:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[: MAX_FIELD_CHARS - 9]}_{digest}"
    return name


def host_from(attributes: Mapping[str, str], keys: Sequence[str], strip_port: bool = False) -> str | None:
    """The first of ``keys`` present in ``attributes`` as a valid hostname (``host:9100`` -> ``host``)."""
    for key in keys:
        value = attributes.get(key)
        if not value:
            continue
        return _hostname(str(value), strip_port)
    return None


@lru_cache(maxsize=FIELD_CACHE)
def _hostname(value: str, strip_port: bool) -> str | None:
    if strip_port:
        value = value[1:].split("]", 1)[0] if value.startswith("[") else re.sub(r":\d+$", "", value)
    return value if HOSTNAME_RE.fullmatch(value) else None


def finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))


@dataclass(frozen=True, slots=True)
class Last:
    """A counter's previous reading: when, what, and since when it counts."""

    timestamp_ms: int
    value: float
    start_ms: int | None = None


def rates(points: Sequence[CounterPoint], previous: Mapping[str, Last]) -> tuple[list[Sample], dict[str, Last]]:
    """Per-second rates of cumulative counters, and each series' new last reading.

    A rate needs the series' previous reading (from this request or ``previous``): the first reading
    of a series only sets it. A lower value, or a new ``start_ms``, is a reset: the counter restarted,
    so the rate is the new value over the time since its start (or since the previous reading when
    the start is unknown). A reading not newer than the last is dropped (a retry or a replay).
    """
    last = dict(previous)
    changed: dict[str, Last] = {}
    out: list[Sample] = []
    for p in sorted(points, key=lambda p: p.timestamp_ms):
        key = p.series
        before = last.get(key)
        now = Last(p.timestamp_ms, p.value, p.start_ms)
        if before is not None and p.timestamp_ms <= before.timestamp_ms:
            continue
        last[key] = changed[key] = now
        if before is None:
            continue
        reset = p.value < before.value or (
            p.start_ms is not None and before.start_ms is not None and p.start_ms != before.start_ms
        )
        if reset:
            since = p.start_ms if p.start_ms is not None and p.start_ms < p.timestamp_ms else before.timestamp_ms
            increase = p.value
        else:
            since, increase = before.timestamp_ms, p.value - before.value
        seconds = (p.timestamp_ms - since) / 1000
        if seconds > 0:
            out.append(Sample(p.host, p.field, p.timestamp_ms, increase / seconds))
    return out, changed


def means(made: Sequence[Sample], wanted: Sequence[Mean]) -> list[Sample]:
    """Each wanted mean at every time both its counters got a rate (none where the count did not grow)."""
    rate: dict[tuple[str, str], dict[int, float]] = {}
    for s in made:
        rate.setdefault((s.host, s.field), {})[s.timestamp_ms] = s.value
    out = []
    for m in wanted:
        sums = rate.get((m.host, m.sum_field), {})
        for ts, count in rate.get((m.host, m.count_field), {}).items():
            if count > 0 and ts in sums:
                out.append(Sample(m.host, m.field, ts, sums[ts] / count))
    return out


@dataclass(slots=True)
class Guard:
    """The cardinality guard: at most `MAX_SERIES_PER_REQUEST` series and `MAX_FIELDS_PER_HOST` per host."""

    max_series: int = MAX_SERIES_PER_REQUEST
    max_fields_per_host: int = MAX_FIELDS_PER_HOST
    _series: set[tuple[str, str]] = field(default_factory=set)
    _fields: dict[str, set[str]] = field(default_factory=dict)

    def admit(self, host: str, field_: str, decoded: Decoded) -> bool:
        """Whether a sample of ``host``'s ``field_`` may be kept; if not, it is rejected in ``decoded``."""
        if (host, field_) in self._series:
            return True
        if len(self._series) >= self.max_series:
            decoded.reject(f"more than {self.max_series} series in one request: the rest is dropped")
            return False
        fields = self._fields.setdefault(host, set())
        if len(fields) >= self.max_fields_per_host:
            decoded.reject(
                f"host {host} sent more than {self.max_fields_per_host} metric fields in one request: "
                "the rest is dropped (filter at the agent: docs/ingest.md)"
            )
            return False
        fields.add(field_)
        self._series.add((host, field_))
        return True


@dataclass(frozen=True, slots=True)
class Reply:
    """A format's HTTP answer, in the shape its clients expect (OTLP, Prometheus, Firehose each differ)."""

    status: int
    body: bytes | dict | None = None
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class StoreResult:
    """What became of a standard-format request's data points: stored, refused, or to retry."""

    stored: int = 0
    rejected: int = 0
    unstored: int = 0
    """Valid points not stored (the database was busy): the sender should retry the request."""
    errors: list[str] = field(default_factory=list)


Store = Callable[[Decoded], StoreResult]
"""Stores a decoded request (`iops.logic.ingest.store_samples` bound to its tables and deadline)."""
