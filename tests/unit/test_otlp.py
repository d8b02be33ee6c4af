"""OTLP/HTTP metrics: constructed ExportMetricsServiceRequests (protobuf and JSON) through decode and handle."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterable

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from iops.logic import otlp, samples

NOW_NS = int(time.time()) * 1_000_000_000
S = 1_000_000_000
PB = {"content-type": "application/x-protobuf"}
JS = {"content-type": "application/json"}


def kv(attrs: dict[str, object]) -> list[KeyValue]:
    out = []
    for k, v in attrs.items():
        if isinstance(v, bool):
            out.append(KeyValue(key=k, value=AnyValue(bool_value=v)))
        elif isinstance(v, int):
            out.append(KeyValue(key=k, value=AnyValue(int_value=v)))
        else:
            out.append(KeyValue(key=k, value=AnyValue(string_value=str(v))))
    return out


def request(metrics: Iterable[pb.Metric], resource: dict[str, object] | None = None) -> ExportMetricsServiceRequest:
    attrs = {"host.name": "web-01"} if resource is None else resource
    return ExportMetricsServiceRequest(
        resource_metrics=[
            pb.ResourceMetrics(
                resource={"attributes": kv(attrs)}, scope_metrics=[pb.ScopeMetrics(metrics=list(metrics))]
            )
        ]
    )


def number(value: float, t_ns: int = NOW_NS, start_ns: int = 0, **attrs: object) -> pb.NumberDataPoint:
    point = pb.NumberDataPoint(time_unix_nano=t_ns, start_time_unix_nano=start_ns, attributes=kv(attrs))
    if isinstance(value, int):
        point.as_int = value
    else:
        point.as_double = value
    return point


def gauge(name: str, *points: pb.NumberDataPoint) -> pb.Metric:
    return pb.Metric(name=name, gauge=pb.Gauge(data_points=points))


def total(name: str, *points: pb.NumberDataPoint, delta: bool = False, monotonic: bool = True) -> pb.Metric:
    temporality = otlp.DELTA if delta else otlp.CUMULATIVE
    return pb.Metric(
        name=name, sum=pb.Sum(data_points=points, aggregation_temporality=temporality, is_monotonic=monotonic)
    )


def decode(req: ExportMetricsServiceRequest) -> samples.Decoded:
    return otlp.decode(req.SerializeToString(), "application/x-protobuf", None)


def values(decoded: samples.Decoded) -> dict[tuple[str, str, int], float]:
    return {(s.host, s.field, s.timestamp_ms): s.value for s in decoded.samples}


class FakeStore:
    """Records what it was asked to store; reports ``unstored`` points as the busy database would."""

    def __init__(self, unstored: int = 0) -> None:
        self.calls: list[samples.Decoded] = []
        self.unstored = unstored

    def __call__(self, decoded: samples.Decoded) -> samples.StoreResult:
        self.calls.append(decoded)
        n = len(decoded.samples) + len(decoded.counters)
        return samples.StoreResult(
            stored=n - self.unstored, rejected=decoded.rejected, unstored=self.unstored, errors=list(decoded.errors)
        )


def test_gauge_points_keep_value_host_and_attribute_field() -> None:
    req = request(
        [gauge("system.cpu.utilization", number(0.25, cpu=0, state="user"), number(3, NOW_NS + S, cpu=1, state="idle"))]
    )
    got = values(decode(req))
    ms = NOW_NS // 1_000_000
    assert got == {
        ("web-01", "system.cpu.utilization.cpu_0.state_user", ms): 0.25,
        ("web-01", "system.cpu.utilization.cpu_1.state_idle", ms + 1000): 3.0,
    }


def test_delta_monotonic_sum_is_value_over_interval() -> None:
    req = request([total("requests", number(120, NOW_NS, NOW_NS - 60 * S), delta=True)])
    assert values(decode(req)) == {("web-01", "requests", NOW_NS // 1_000_000): 2.0}


def test_delta_sum_without_start_is_refused() -> None:
    decoded = decode(request([total("requests", number(120, NOW_NS), delta=True)]))
    assert not decoded.samples and decoded.rejected == 1
    assert "start_time_unix_nano" in decoded.errors[0]


def test_non_monotonic_sum_is_a_gauge() -> None:
    decoded = decode(request([total("system.memory.usage", number(2048, state="used"), monotonic=False)]))
    assert values(decoded) == {("web-01", "system.memory.usage.state_used", NOW_NS // 1_000_000): 2048.0}
    assert not decoded.counters


def test_cumulative_sum_becomes_rates_with_a_reset() -> None:
    start = NOW_NS - 100 * S
    later = NOW_NS + 300 * S  # the process restarted at NOW + 200 s: a new start time, a lower value
    req = request(
        [
            total(
                "net.bytes",
                number(1000, NOW_NS, start),
                number(7000, NOW_NS + 60 * S, start),
                number(500, later, NOW_NS + 200 * S),
            )
        ]
    )
    decoded = decode(req)
    assert not decoded.samples and len(decoded.counters) == 3
    assert {c.start_ms for c in decoded.counters} == {start // 1_000_000, (NOW_NS + 200 * S) // 1_000_000}
    made, last = samples.rates(decoded.counters, {})
    ms = NOW_NS // 1_000_000
    assert [(s.timestamp_ms - ms, s.value) for s in made] == [(60_000, 100.0), (300_000, 5.0)]
    assert last["web-01|net.bytes"].value == 500


def histogram(count: int, total_: float, t_ns: int, start_ns: int, delta: bool = False, **attrs: object) -> pb.Metric:
    temporality = otlp.DELTA if delta else otlp.CUMULATIVE
    point = pb.HistogramDataPoint(
        time_unix_nano=t_ns,
        start_time_unix_nano=start_ns,
        count=count,
        sum=total_,
        bucket_counts=[count],
        attributes=kv(attrs),
    )
    return pb.Metric(
        name="http.server.duration",
        histogram=pb.Histogram(data_points=[point], aggregation_temporality=temporality),
    )


def test_delta_histogram_count_rate_and_mean() -> None:
    decoded = decode(request([histogram(30, 6.0, NOW_NS, NOW_NS - 10 * S, delta=True, method="GET")]))
    ms = NOW_NS // 1_000_000
    assert values(decoded) == {
        ("web-01", "http.server.duration.count.method_GET", ms): 3.0,
        ("web-01", "http.server.duration.sum.method_GET", ms): 0.6,
        ("web-01", "http.server.duration.mean.method_GET", ms): 0.2,
    }


def test_cumulative_histogram_mean_is_per_interval() -> None:
    """100 requests of 0.1 s, then 50 more of 1 s: the interval's mean is 1 s (the lifetime mean 0.4 s)."""
    start = NOW_NS - 60 * S
    first = decode(request([histogram(100, 10.0, NOW_NS, start)]))
    second = decode(request([histogram(150, 60.0, NOW_NS + 10 * S, start)]))
    assert (
        first.means
        == second.means
        == [
            samples.Mean(
                "web-01", "http.server.duration.mean", "http.server.duration.sum", "http.server.duration.count"
            )
        ]
    )
    _, last = samples.rates(first.counters, {})
    made, _ = samples.rates(second.counters, last)
    got = {s.field: s.value for s in made + samples.means(made, second.means)}
    assert got == pytest.approx(
        {"http.server.duration.count": 5.0, "http.server.duration.sum": 5.0, "http.server.duration.mean": 1.0}
    )


def test_summary_is_a_cumulative_distribution() -> None:
    point = pb.SummaryDataPoint(time_unix_nano=NOW_NS, start_time_unix_nano=NOW_NS - S, count=4, sum=2.0)
    decoded = decode(request([pb.Metric(name="rpc.latency", summary=pb.Summary(data_points=[point]))]))
    assert {c.field for c in decoded.counters} == {"rpc.latency.count", "rpc.latency.sum"}
    assert [m.field for m in decoded.means] == ["rpc.latency.mean"]


OTLP_JSON = {
    "resourceMetrics": [
        {
            "resource": {
                "attributes": [
                    {"key": "service.instance.id", "value": {"stringValue": "ignored-when-host-name-is-set"}},
                    {"key": "host.name", "value": {"stringValue": "db-7"}},
                ],
                "droppedAttributesCount": 0,
            },
            "scopeMetrics": [
                {
                    "scope": {"name": "otelcol/hostmetricsreceiver", "version": "0.1"},
                    "metrics": [
                        {
                            "name": "system.disk.io",
                            "unit": "By",
                            "futureField": {"anything": [1, 2]},
                            "sum": {
                                "aggregationTemporality": 1,
                                "isMonotonic": True,
                                "dataPoints": [
                                    {
                                        "attributes": [
                                            {"key": "device", "value": {"stringValue": "sda"}},
                                            {"key": "direction", "value": {"stringValue": "read"}},
                                        ],
                                        "startTimeUnixNano": str(NOW_NS - 10 * S),
                                        "timeUnixNano": str(NOW_NS),
                                        "asInt": "4096",
                                    }
                                ],
                            },
                        },
                        {
                            "name": "system.cpu.load_average.1m",
                            "gauge": {"dataPoints": [{"timeUnixNano": NOW_NS, "asDouble": 1.5}]},
                        },
                    ],
                }
            ],
        }
    ]
}


def test_json_with_string_int64s_and_unknown_fields() -> None:
    decoded = otlp.decode(json.dumps(OTLP_JSON).encode(), "application/json; charset=utf-8", None)
    ms = NOW_NS // 1_000_000
    assert values(decoded) == {
        ("db-7", "system.disk.io.device_sda.direction_read", ms): 409.6,
        ("db-7", "system.cpu.load_average.1m", ms): 1.5,
    }
    assert decoded.rejected == 0


def test_json_answer_is_json_and_protobuf_answer_is_protobuf() -> None:
    reply = otlp.handle(json.dumps(OTLP_JSON).encode(), JS, FakeStore())
    assert (reply.status, reply.body, reply.content_type) == (200, {}, "application/json")
    req = request([gauge("g", number(1.0))])
    reply = otlp.handle(req.SerializeToString(), PB, FakeStore())
    assert (reply.status, reply.content_type) == (200, "application/x-protobuf")
    assert isinstance(reply.body, bytes)
    assert not ExportMetricsServiceResponse.FromString(reply.body).HasField("partial_success")


def test_host_keys_in_order_and_missing_host_refused() -> None:
    by_id = request([gauge("g", number(1.0))], {"host.id": "i-0abc", "service.instance.id": "svc-1"})
    assert {s.host for s in decode(by_id).samples} == {"i-0abc"}
    by_instance = request([gauge("g", number(1.0))], {"service.instance.id": "svc-1"})
    assert {s.host for s in decode(by_instance).samples} == {"svc-1"}
    both = ExportMetricsServiceRequest(
        resource_metrics=[
            request([gauge("g", number(1.0), number(2.0, NOW_NS + S))], {"service.name": "checkout"}).resource_metrics[
                0
            ],
            request([gauge("g", number(3.0))]).resource_metrics[0],
        ]
    )
    reply = otlp.handle(both.SerializeToString(), PB, store := FakeStore())
    assert reply.status == 200 and isinstance(reply.body, bytes)
    partial = ExportMetricsServiceResponse.FromString(reply.body).partial_success
    assert partial.rejected_data_points == 2
    assert "host.name" in partial.error_message and "host.id" in partial.error_message
    assert [(s.host, s.value) for s in store.calls[0].samples] == [("web-01", 3.0)]


def test_invalid_hostname_is_named() -> None:
    decoded = decode(request([gauge("g", number(1.0))], {"host.name": "not a host!"}))
    assert decoded.rejected == 1 and "'not a host!' is not a valid hostname" in decoded.errors[0]


def test_garbage_protobuf_and_json_are_400() -> None:
    for body, headers in (
        (b"\xff\xff\xff\xff\x0f\x0a", PB),
        (b"\x0a\x05\x0a\x03", PB),  # truncated: a length that runs past the end
        (b'{"resourceMetrics": [', JS),
        (b'{"resourceMetrics": "no"}', JS),
        (b"\xff\xfe", JS),
        (b"[" * 100_000, JS),
    ):
        reply = otlp.handle(body, headers, store := FakeStore())
        assert reply.status == 400, body[:20]
        assert isinstance(reply.body, dict) and "ExportMetricsServiceRequest" in reply.body["message"]
        assert not store.calls


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/x-www-form-urlencoded", "application/jsonx"])
def test_other_content_types_are_415(content_type: str) -> None:
    reply = otlp.handle(b"{}", {"content-type": content_type}, FakeStore())
    assert reply.status == 415 and isinstance(reply.body, dict) and "Content-Type" in reply.body["message"]


def test_gzip_bodies_and_bounds() -> None:
    req = request([gauge("g", number(1.0))])
    reply = otlp.handle(
        gzip.compress(req.SerializeToString()), {**PB, "content-encoding": "gzip"}, store := FakeStore()
    )
    assert reply.status == 200 and [s.value for s in store.calls[0].samples] == [1.0]
    bomb = gzip.compress(b"\x00" * (otlp.MAX_DECOMPRESSED_BYTES + 1))
    assert otlp.handle(bomb, {**PB, "content-encoding": "gzip"}, FakeStore()).status == 413
    assert otlp.handle(b"not gzip", {**PB, "content-encoding": "gzip"}, FakeStore()).status == 400
    truncated = gzip.compress(req.SerializeToString())[:-6]
    assert otlp.handle(truncated, {**PB, "content-encoding": "gzip"}, FakeStore()).status == 400
    assert otlp.handle(req.SerializeToString(), {**PB, "content-encoding": "br"}, FakeStore()).status == 415


def test_busy_storage_is_503_with_retry_after() -> None:
    reply = otlp.handle(request([gauge("g", number(1.0))]).SerializeToString(), PB, FakeStore(unstored=1))
    assert reply.status == 503 and reply.headers["Retry-After"] == otlp.RETRY_AFTER_S


def test_ten_thousand_series_guard_keeps_the_first_and_names_the_limit() -> None:
    """10,000 series over 100 hosts in one request: the guard's 5,000 are kept, the rest refused and counted."""
    resources = [
        request([gauge("cpu", *(number(float(i), core=i) for i in range(100)))], {"host.name": f"node-{h:03d}"})
        for h in range(100)
    ]
    big = ExportMetricsServiceRequest(resource_metrics=[r.resource_metrics[0] for r in resources])
    reply = otlp.handle(big.SerializeToString(), PB, store := FakeStore())
    kept = store.calls[0].samples
    assert len(kept) == samples.MAX_SERIES_PER_REQUEST
    assert {s.host for s in kept} == {f"node-{h:03d}" for h in range(50)}
    assert all(s.value == float(s.field.rsplit("_", 1)[1]) for s in kept)
    assert isinstance(reply.body, bytes)
    partial = ExportMetricsServiceResponse.FromString(reply.body).partial_success
    assert partial.rejected_data_points == 10_000 - samples.MAX_SERIES_PER_REQUEST
    assert f"more than {samples.MAX_SERIES_PER_REQUEST} series" in partial.error_message


def test_fields_per_host_limit() -> None:
    req = request([gauge("cpu", *(number(1.0, core=i) for i in range(samples.MAX_FIELDS_PER_HOST + 5)))])
    decoded = decode(req)
    assert len(decoded.samples) == samples.MAX_FIELDS_PER_HOST and decoded.rejected == 5
    assert "web-01 sent more than" in decoded.errors[0]


def test_points_without_time_value_or_finite_number_are_refused_alone() -> None:
    no_time = pb.NumberDataPoint(as_double=1.0)
    no_value = pb.NumberDataPoint(time_unix_nano=NOW_NS)
    nan = number(float("nan"))
    flagged = pb.NumberDataPoint(time_unix_nano=NOW_NS, flags=otlp.NO_VALUE)
    decoded = decode(request([gauge("g", no_time, no_value, nan, flagged, number(2.0))]))
    assert [s.value for s in decoded.samples] == [2.0]
    assert decoded.rejected == 3 and len(decoded.errors) == 3


def test_round_trip_through_the_official_json_encoding() -> None:
    """What `json_format` (the SDK's own JSON) writes, decode reads back to the same samples as protobuf."""
    req = request([gauge("a.b", number(1.5, flag=True)), total("c", number(9, NOW_NS, NOW_NS - S))])
    as_json = json_format.MessageToJson(req).encode()
    from_json = otlp.decode(as_json, "application/json", None)
    from_pb = decode(req)
    assert from_json.samples == from_pb.samples and from_json.counters == from_pb.counters
    assert [s.field for s in from_pb.samples] == ["a.b.flag_true"]
