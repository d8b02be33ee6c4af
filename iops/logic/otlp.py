"""OTLP/HTTP metrics (``POST /v1/metrics``): an ExportMetricsServiceRequest, protobuf or JSON, to samples.

Decoded with the official ``opentelemetry-proto`` messages, mapped with the shared rules of
`iops.logic.samples` (docs/ingest.md has the table):

- host: the resource's ``host.name``, else ``host.id``, else ``service.instance.id``; a resource
  with none of them (or not a valid hostname) has all its points refused;
- field: ``field_name(metric name, point attributes)``;
- gauges and non-monotonic sums: the value as sent; monotonic cumulative sums: counters whose
  per-second rate is stored (resets from ``start_time_unix_nano``); monotonic delta sums: value
  over the point's interval;
- histograms (explicit, exponential) and summaries: ``<name>.count`` and ``<name>.sum`` per
  second, and ``<name>.mean``, the mean of each interval (Δsum / Δcount for cumulative ones).

Answers follow the OTLP/HTTP spec: 200 with ``partialSuccess`` when points were refused (in the
request's encoding), 400 undecodable, 413 too large, 415 another content type or encoding,
503 with ``Retry-After`` when storage was busy, so the exporter retries.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, DataPointFlags, Metric

from iops.logic import samples

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
CONTENT_TYPES = {PROTOBUF: PROTOBUF, "application/protobuf": PROTOBUF, JSON: JSON}
HOST_KEYS = ("host.name", "host.id", "service.instance.id")
MAX_DECOMPRESSED_BYTES = 32 * 1024 * 1024
"""A gzip body may inflate to at most this much (a 10 MB request could otherwise hold gigabytes)."""
RETRY_AFTER_S = "2"
NO_VALUE = DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
INVALID_ARGUMENT = 3
UNAVAILABLE = 14
"""google.rpc.Codes: error bodies are shaped like a google.rpc.Status (JSON, whatever the request's encoding)."""


class Refused(Exception):
    """A request refused whole: ``status`` says why (400, 413, 415)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def media_type(content_type: str | None) -> str | None:
    """The OTLP encoding a Content-Type names (parameters such as ``charset`` ignored), if any."""
    return CONTENT_TYPES.get((content_type or "").split(";", 1)[0].strip().lower())


def _inflate(body: bytes, content_encoding: str | None) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding != "gzip":
        raise Refused(f"Content-Encoding {encoding!r} is not supported: send gzip or none", 415)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, MAX_DECOMPRESSED_BYTES + 1)
        if len(out) > MAX_DECOMPRESSED_BYTES:
            raise Refused(f"the body inflates to more than {MAX_DECOMPRESSED_BYTES} bytes", 413)
        if not inflater.eof:
            raise Refused("the gzip body is truncated")
    except zlib.error as exc:
        raise Refused(f"the body is not valid gzip: {exc}") from None
    return out


def parse(body: bytes, content_type: str | None, content_encoding: str | None) -> ExportMetricsServiceRequest:
    """The request message, or `Refused` saying why not."""
    media = media_type(content_type)
    if media is None:
        raise Refused(f"Content-Type must be {PROTOBUF} or {JSON}, got {content_type!r}", 415)
    raw = _inflate(body, content_encoding)
    request = ExportMetricsServiceRequest()
    try:
        if media == PROTOBUF:
            request.ParseFromString(raw)
        else:
            json_format.Parse(raw.decode("utf-8"), request, ignore_unknown_fields=True)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError, RecursionError, ValueError, TypeError) as exc:
        raise Refused(f"not an OTLP ExportMetricsServiceRequest ({media}): {str(exc)[:200]}") from None
    return request


def _text(value: AnyValue) -> str:
    """An attribute value as text: strings as they are, other kinds in their JSON form."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind is None:
        return ""
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind in ("int_value", "double_value"):
        return str(getattr(value, kind))
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return json.dumps(json_format.MessageToDict(value), separators=(",", ":"), sort_keys=True)


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, str]:
    return {kv.key: _text(kv.value) for kv in pairs}


def _ms(unix_nano: int) -> int:
    return unix_nano // 1_000_000


class _Mapper:
    """One request's mapping: the guard, what was decoded, and which histogram means were asked for."""

    def __init__(self) -> None:
        self.out = samples.Decoded()
        self.guard = samples.Guard()
        self._means: set[samples.Mean] = set()

    def admit(self, host: str, fields: Iterable[str]) -> bool:
        return all(self.guard.admit(host, f, self.out) for f in fields)

    def resource(self, host: str, metrics: Iterable[Metric]) -> None:
        for metric in metrics:
            kind = metric.WhichOneof("data")
            if kind == "gauge":
                self.numbers(host, metric.name, metric.gauge.data_points, rate=None)
            elif kind == "sum":
                s = metric.sum
                if not s.is_monotonic:
                    self.numbers(host, metric.name, s.data_points, rate=None)
                elif s.aggregation_temporality in (DELTA, CUMULATIVE):
                    self.numbers(host, metric.name, s.data_points, rate=s.aggregation_temporality)
                else:
                    self.out.reject(f"{metric.name}: a sum without aggregation temporality", len(s.data_points))
            elif kind in ("histogram", "exponential_histogram", "summary"):
                data = getattr(metric, kind)
                # a summary has no temporality field: it is cumulative by definition
                temporality = CUMULATIVE if kind == "summary" else data.aggregation_temporality
                if temporality in (DELTA, CUMULATIVE):
                    self.distributions(host, metric.name, data.data_points, temporality)
                else:
                    self.out.reject(f"{metric.name}: a {kind} without aggregation temporality", len(data.data_points))
            elif kind is not None:
                self.out.reject(f"{metric.name}: {kind} metrics are not supported")

    def _point_time(self, name: str, point: Any) -> tuple[int, int] | None:
        """The point's (start, time) in ms, or None (refused) when it has no time."""
        ts = _ms(point.time_unix_nano)
        if ts <= 0:
            self.out.reject(f"{name}: a data point without time_unix_nano")
            return None
        return _ms(point.start_time_unix_nano), ts

    def _interval_s(self, name: str, start_ms: int, ts: int) -> float | None:
        if not 0 < start_ms < ts:
            self.out.reject(f"{name}: a delta point needs start_time_unix_nano before time_unix_nano")
            return None
        return (ts - start_ms) / 1000

    def numbers(self, host: str, name: str, points: Iterable[Any], rate: int | None) -> None:
        """Gauge and sum points: a value (``rate`` None), a delta over its interval, or a counter reading."""
        for p in points:
            if p.flags & NO_VALUE:
                continue
            times = self._point_time(name, p)
            kind = p.WhichOneof("value")
            if times is None:
                continue
            if kind is None:
                self.out.reject(f"{name}: a data point without a value")
                continue
            value = float(p.as_double if kind == "as_double" else p.as_int)
            if not samples.finite(value):
                self.out.reject(f"{name}: a data point that is NaN or infinite")
                continue
            start_ms, ts = times
            field = samples.field_name(name, _attributes(p.attributes))
            if rate == DELTA:
                seconds = self._interval_s(name, start_ms, ts)
                if seconds is not None and self.admit(host, (field,)):
                    self.out.samples.append(samples.Sample(host, field, ts, value / seconds))
            elif self.admit(host, (field,)):
                if rate == CUMULATIVE:
                    self.out.counters.append(samples.CounterPoint(host, field, ts, value, start_ms or None))
                else:
                    self.out.samples.append(samples.Sample(host, field, ts, value))

    def distributions(self, host: str, name: str, points: Iterable[Any], temporality: int) -> None:
        """Histogram and summary points: count and sum per second, and the mean of each interval."""
        for p in points:
            if p.flags & NO_VALUE:
                continue
            times = self._point_time(name, p)
            if times is None:
                continue
            start_ms, ts = times
            attrs = _attributes(p.attributes)
            count_f = samples.field_name(f"{name}.count", attrs)
            has_sum = p.HasField("sum") if p.DESCRIPTOR.fields_by_name["sum"].has_presence else True
            total = float(p.sum) if has_sum else None
            if total is not None and not samples.finite(total):
                self.out.reject(f"{name}: a sum that is NaN or infinite")
                continue
            sum_f = samples.field_name(f"{name}.sum", attrs) if total is not None else None
            mean_f = samples.field_name(f"{name}.mean", attrs) if total is not None else None
            fields = [f for f in (count_f, sum_f, mean_f) if f is not None]
            if temporality == DELTA:
                seconds = self._interval_s(name, start_ms, ts)
                if seconds is None or not self.admit(host, fields):
                    continue
                self.out.samples.append(samples.Sample(host, count_f, ts, p.count / seconds))
                if sum_f is not None and mean_f is not None and total is not None:
                    self.out.samples.append(samples.Sample(host, sum_f, ts, total / seconds))
                    if p.count:
                        self.out.samples.append(samples.Sample(host, mean_f, ts, total / p.count))
                continue
            if not self.admit(host, fields):
                continue
            start = start_ms or None
            self.out.counters.append(samples.CounterPoint(host, count_f, ts, float(p.count), start))
            if sum_f is not None and mean_f is not None and total is not None:
                self.out.counters.append(samples.CounterPoint(host, sum_f, ts, total, start))
                mean = samples.Mean(host, mean_f, sum_f, count_f)
                if mean not in self._means:
                    self._means.add(mean)
                    self.out.means.append(mean)


def _count_points(metrics: Iterable[Metric]) -> int:
    total = 0
    for metric in metrics:
        kind = metric.WhichOneof("data")
        if kind is not None:
            total += len(getattr(metric, kind).data_points)
    return total


def to_samples(request: ExportMetricsServiceRequest) -> samples.Decoded:
    """Map a decoded request: samples, counter readings and means, and each refused point counted."""
    mapper = _Mapper()
    for rm in request.resource_metrics:
        metrics = [m for sm in rm.scope_metrics for m in sm.metrics]
        attrs = _attributes(rm.resource.attributes)
        host = samples.host_from(attrs, HOST_KEYS)
        if host is None:
            present = next((k for k in HOST_KEYS if attrs.get(k)), None)
            reason = (
                f"resource attribute {present}={attrs[present][:80]!r} is not a valid hostname"
                if present
                else "a resource without host.name, host.id or service.instance.id: its points name no host"
            )
            count = _count_points(metrics)
            if count:
                mapper.out.reject(reason, count)
            continue
        mapper.resource(host, metrics)
    return mapper.out


def decode(body: bytes, content_type: str, content_encoding: str | None = None) -> samples.Decoded:
    """A request body as samples: what ``handle`` stores and the benchmark measures (`Refused` if undecodable)."""
    return to_samples(parse(body, content_type, content_encoding))


def _error(
    status: int, message: str, code: int = INVALID_ARGUMENT, headers: Mapping[str, str] | None = None
) -> samples.Reply:
    return samples.Reply(status, {"code": code, "message": message}, headers=headers or {})


def _answer(media: str, rejected: int, message: str) -> samples.Reply:
    """The 200 answer in the request's encoding, with ``partialSuccess`` only when something was refused."""
    if media == PROTOBUF:
        response = ExportMetricsServiceResponse()
        if rejected:
            response.partial_success.CopyFrom(
                ExportMetricsPartialSuccess(rejected_data_points=rejected, error_message=message)
            )
        return samples.Reply(200, response.SerializeToString(), content_type=PROTOBUF)
    body: dict = {"partialSuccess": {"rejectedDataPoints": rejected, "errorMessage": message}} if rejected else {}
    return samples.Reply(200, body)


def handle(body: bytes, headers: Mapping[str, str], store: samples.Store) -> samples.Reply:
    """``POST /v1/metrics``: decode, store, answer as OTLP/HTTP exporters expect (``headers`` lower-case)."""
    try:
        decoded = decode(body, headers.get("content-type", ""), headers.get("content-encoding"))
    except Refused as exc:
        return _error(exc.status, str(exc))
    media = media_type(headers.get("content-type")) or JSON
    if not (decoded.samples or decoded.counters):
        return _answer(media, decoded.rejected, "; ".join(decoded.errors))
    result = store(decoded)
    if result.unstored:
        return _error(
            503,
            f"{result.unstored} data points not stored (the database is busy): retry the request",
            UNAVAILABLE,
            {"Retry-After": RETRY_AFTER_S},
        )
    return _answer(media, result.rejected, "; ".join(result.errors))
