"""Prometheus remote write 1.0: headers, snappy, protobuf, label mapping, stale markers, rates, limits, answers."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable
from pathlib import Path

import cramjam
import pytest

from iops.dal.metrics import query_metrics
from iops.errors import BadRequest
from iops.logic import remote_write, samples
from iops.logic.ingest import store_samples
from iops.models.common import iso
from iops.proto import prompb
from iops.settings import IngestSettings

HEADERS = {
    "content-type": "application/x-protobuf",
    "content-encoding": "snappy",
    "x-prometheus-remote-write-version": "0.1.0",
}
RECORDED = Path(__file__).parent / "data" / "prometheus-2.42-node-exporter-1.5.write"
"""One request body as Debian's Prometheus 2.42 sent it, scraping node exporter 1.5 (cpu, loadavg, meminfo,
textfile collectors) with the scrape config's ``instance: prom-node-1:9100``."""
NOW_MS = int(time.time() * 1000) - 60_000
STALE = struct.unpack("<d", struct.pack("<Q", remote_write.STALE_NAN))[0]
PLAIN_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]
"""The NaN Prometheus stores for an exposed ``NaN`` value: a real (if useless) reading, unlike a stale marker."""

Series = tuple[dict[str, str], list[tuple[float, int]]]


def write_request(series: Iterable[Series]) -> bytes:
    """A WriteRequest of ``(labels, [(value, timestamp_ms)])``, snappy block-compressed as Prometheus sends it."""
    request = prompb.WriteRequest(
        timeseries=[
            prompb.TimeSeries(
                labels=[prompb.Label(name=k, value=v) for k, v in sorted(labels.items())],
                samples=[prompb.Sample(value=v, timestamp=t) for v, t in points],
            )
            for labels, points in series
        ]
    )
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def node(name: str, points: list[tuple[float, int]], **labels: str) -> Series:
    return {"__name__": name, "instance": "web-1:9100", "job": "node", **labels}, points


def refuses(status: int, body: bytes, headers: dict[str, str] = HEADERS) -> str:
    with pytest.raises(BadRequest) as exc:
        remote_write.decode(body, headers)
    assert exc.value.status == status
    return str(exc.value)


def test_labels_map_to_host_and_field() -> None:
    body = write_request(
        [
            node("node_load1", [(0.5, NOW_MS)]),
            node("node_memory_MemFree_bytes", [(1e9, NOW_MS)], host="ignored"),
            ({"__name__": "temp_celsius", "host": "db-2", "sensor": "cpu"}, [(41.0, NOW_MS)]),
            ({"__name__": "up", "hostname": "edge-3", "job": "blackbox"}, [(1.0, NOW_MS)]),
            node("node_cpu_seconds_total", [(12.5, NOW_MS)], cpu="0", mode="idle"),
        ]
    )
    decoded = remote_write.decode(body, HEADERS)
    assert decoded.rejected == 0
    assert decoded.samples == [
        samples.Sample("web-1", "node_load1", NOW_MS, 0.5),
        samples.Sample("web-1", "node_memory_MemFree_bytes", NOW_MS, 1e9),
        samples.Sample("db-2", "temp_celsius.sensor_cpu", NOW_MS, 41.0),
        samples.Sample("edge-3", "up", NOW_MS, 1.0),
    ]
    assert decoded.counters == [samples.CounterPoint("web-1", "node_cpu_seconds_total.cpu_0.mode_idle", NOW_MS, 12.5)]


def test_a_recorded_prometheus_request() -> None:
    decoded = remote_write.decode(RECORDED.read_bytes(), HEADERS)
    assert (len(decoded.samples), len(decoded.counters), decoded.rejected) == (74, 22, 0)
    assert {p.host for p in decoded.samples + decoded.counters} == {"prom-node-1"}
    gauges = {s.field: s.value for s in decoded.samples}
    assert (
        gauges["iops_test_temperature_celsius"] == 30 and gauges["up"] == 1 and gauges["node_memory_MemTotal_bytes"] > 0
    )
    assert "node_cpu_seconds_total.cpu_0.mode_idle" in {p.field for p in decoded.counters}
    assert all(len(field) <= samples.MAX_FIELD_CHARS for field in gauges)


@pytest.mark.parametrize(
    ("name", "counter"),
    [
        ("http_requests_total", True),
        ("rpc_duration_seconds_count", True),
        ("rpc_duration_seconds_sum", True),
        ("rpc_duration_seconds_bucket", True),
        ("node_load1", False),
        ("process_resident_memory_bytes", False),
        ("total_users", False),
    ],
)
def test_counters_are_named_by_their_suffix(name: str, counter: bool) -> None:
    decoded = remote_write.decode(write_request([node(name, [(3.0, NOW_MS)])]), HEADERS)
    assert (len(decoded.counters), len(decoded.samples)) == ((1, 0) if counter else (0, 1))


def test_histogram_buckets_keep_their_bound_in_the_field() -> None:
    decoded = remote_write.decode(
        write_request(
            [
                node("rpc_seconds_bucket", [(4.0, NOW_MS)], le="0.25"),
                node("rpc_seconds_bucket", [(9.0, NOW_MS)], le="+Inf"),
            ]
        ),
        HEADERS,
    )
    assert [p.field for p in decoded.counters] == ["rpc_seconds_bucket.le_0_25", "rpc_seconds_bucket.le_Inf"]


def test_stale_markers_are_dropped_and_other_nan_or_inf_rejected() -> None:
    body = write_request(
        [
            node(
                "node_load1",
                [(1.0, NOW_MS), (STALE, NOW_MS + 1000), (PLAIN_NAN, NOW_MS + 2000), (float("inf"), NOW_MS + 3000)],
            )
        ]
    )
    decoded = remote_write.decode(body, HEADERS)
    assert decoded.samples == [samples.Sample("web-1", "node_load1", NOW_MS, 1.0)]
    assert decoded.rejected == 2
    assert decoded.errors == ["node_load1: NaN or infinite value"]


def test_only_stale_markers_is_a_success_with_nothing_to_store() -> None:
    stored: list[samples.Decoded] = []

    def store(decoded: samples.Decoded) -> samples.StoreResult:
        stored.append(decoded)
        return samples.StoreResult()

    reply = remote_write.handle(write_request([node("node_load1", [(STALE, NOW_MS)])]), HEADERS, store)
    assert reply.status == 204
    assert stored[0].rejected == 0 and not stored[0].samples


def test_series_without_name_or_host_are_rejected() -> None:
    body = write_request(
        [
            ({"instance": "web-1:9100"}, [(1.0, NOW_MS), (2.0, NOW_MS + 1000)]),
            ({"__name__": "up", "job": "node"}, [(1.0, NOW_MS)]),
            ({"__name__": "up", "instance": "bad host!:80"}, [(1.0, NOW_MS)]),
        ]
    )
    decoded = remote_write.decode(body, HEADERS)
    assert decoded.rejected == 4 and not decoded.samples
    assert decoded.errors == [
        "a series without a __name__ label",
        "up: no instance, host or hostname label that is a valid hostname",
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {**HEADERS, "content-type": "application/json"},
        {**HEADERS, "content-type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"},
        {k: v for k, v in HEADERS.items() if k != "content-type"},
        {**HEADERS, "content-encoding": "gzip"},
        {k: v for k, v in HEADERS.items() if k != "content-encoding"},
    ],
)
def test_wrong_content_type_or_encoding_is_415(headers: dict[str, str]) -> None:
    refuses(415, write_request([node("up", [(1.0, NOW_MS)])]), headers)


def test_content_type_parameters_and_case_are_accepted() -> None:
    headers = {
        **HEADERS,
        "content-type": 'Application/X-Protobuf; proto="prometheus.WriteRequest"',
        "content-encoding": "Snappy",
    }
    assert len(remote_write.decode(write_request([node("up", [(1.0, NOW_MS)])]), headers).samples) == 1


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"", "empty body"),
        (b"\xff\xff\xff\xff\xff\xff", "no valid length header"),
        (b"\x20" + b"\x00" * 8, "not valid snappy"),
        (bytes(cramjam.snappy.compress(b"framed, not block")), "framed"),
    ],
)
def test_bad_snappy_is_400(body: bytes, needle: str) -> None:
    assert needle in refuses(400, body)


def test_huge_claimed_size_is_413_before_decompressing(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(_: bytes) -> bytes:
        raise AssertionError("decompressed a body whose stated length is over the cap")

    monkeypatch.setattr(cramjam.snappy, "decompress_raw", never)
    claimed = remote_write.MAX_DECOMPRESSED_BYTES + 1
    header = bytes([(claimed >> (7 * i) & 0x7F) | (0x80 if i < 3 else 0) for i in range(4)])
    assert remote_write._claimed_length(header) == claimed
    assert "decompresses to" in refuses(413, header + b"\x00" * 64)


def test_garbage_protobuf_is_400() -> None:
    garbage = bytes(cramjam.snappy.compress_raw(b"\x0a\xff\xff\xff\xff\x0fnot a WriteRequest"))
    assert "not a protobuf prometheus.WriteRequest" in refuses(400, garbage)


def test_ten_thousand_series_are_capped_by_the_guard() -> None:
    body = write_request(
        ({"__name__": "m", "instance": f"host-{i // 100}:9100", "n": str(i % 100)}, [(float(i), NOW_MS)])
        for i in range(10_000)
    )
    decoded = remote_write.decode(body, HEADERS)
    assert len(decoded.samples) == samples.MAX_SERIES_PER_REQUEST
    assert decoded.rejected == 10_000 - samples.MAX_SERIES_PER_REQUEST
    assert decoded.errors == [f"more than {samples.MAX_SERIES_PER_REQUEST} series in one request: the rest is dropped"]


def test_fields_per_host_are_capped() -> None:
    decoded = remote_write.decode(write_request(node("m", [(1.0, NOW_MS)], n=str(i)) for i in range(300)), HEADERS)
    assert len(decoded.samples) == samples.MAX_FIELDS_PER_HOST and decoded.rejected == 100


def fixed(result: samples.StoreResult) -> samples.Store:
    return lambda _decoded: result


def test_answers() -> None:
    body = write_request([node("node_load1", [(1.0, NOW_MS), (PLAIN_NAN, NOW_MS + 1000)])])
    assert remote_write.handle(body, HEADERS, fixed(samples.StoreResult(stored=1, rejected=1))).status == 204
    busy = remote_write.handle(body, HEADERS, fixed(samples.StoreResult(stored=0, unstored=1)))
    assert busy.status == 503 and busy.headers == {"Retry-After": "1"}
    refused = remote_write.handle(body, HEADERS, fixed(samples.StoreResult(rejected=2, errors=["too old"])))
    assert refused.status == 400 and refused.body == {
        "message": "no valid samples: 2 rejected",
        "details": {"errors": ["too old"]},
    }
    bad = remote_write.handle(b"junk", HEADERS, fixed(samples.StoreResult()))
    assert bad.status == 400 and "snappy" in bad.body["message"]


def test_nothing_valid_is_400_without_storing() -> None:
    def store(_decoded: samples.Decoded) -> samples.StoreResult:
        raise AssertionError("stored a request with nothing valid")

    reply = remote_write.handle(write_request([node("node_load1", [(PLAIN_NAN, NOW_MS)])]), HEADERS, store)
    assert reply.status == 400
    assert reply.body == {
        "message": "no valid samples: 1 rejected",
        "details": {"errors": ["node_load1: NaN or infinite value"]},
    }


def test_counters_become_rates_across_requests_with_resets(ddb) -> None:
    settings = IngestSettings.from_env()

    def store(decoded: samples.Decoded) -> samples.StoreResult:
        return store_samples(ddb, settings.metrics_table, settings.counters_table, decoded, 1, time.monotonic() + 10)

    field = "node_network_receive_bytes_total.device_eth0"
    readings = [(1000.0, 0), (1600.0, 10), (2200.0, 20), (300.0, 30)]  # a restart before the last reading
    for value, second in readings:
        body = write_request(
            [node("node_network_receive_bytes_total", [(value, NOW_MS - 30_000 + second * 1000)], device="eth0")]
        )
        assert remote_write.handle(body, HEADERS, store).status == 204
    page = query_metrics(ddb, settings.metrics_table, "web-1", None, None, 10, None)
    assert [(point["timestamp"], point[field]) for point in page["metrics"]] == [
        (iso(NOW_MS), 30),
        (iso(NOW_MS - 10_000), 60),
        (iso(NOW_MS - 20_000), 60),
    ]


def test_a_retried_request_gives_the_same_rate(ddb) -> None:
    settings = IngestSettings.from_env()

    def store(decoded: samples.Decoded) -> samples.StoreResult:
        return store_samples(ddb, settings.metrics_table, settings.counters_table, decoded, 1, time.monotonic() + 10)

    first = write_request([node("jobs_total", [(10.0, NOW_MS - 5000)])])
    second = write_request([node("jobs_total", [(20.0, NOW_MS)])])
    for body in (first, second, second):
        assert remote_write.handle(body, HEADERS, store).status == 204
    page = query_metrics(ddb, settings.metrics_table, "web-1", None, None, 10, None)
    assert [point["jobs_total"] for point in page["metrics"]] == [2]
