"""Decode-and-map throughput of the standard ingest formats: samples per second on one core.

Run: ``python benchmarks/ingest_formats.py [--repeat 5] [--json]``.
Each format's ``decode`` turns one realistic request (20 hosts x 200 series, half gauges and half
cumulative counters, host-metrics style names and attributes) into `iops.logic.samples` output;
storage is not included. Prometheus remote write and CloudWatch (Firehose) are measured when
their decoders (``iops.logic.remote_write.decode``, ``iops.logic.firehose.decode``) exist.
Goal: at least 50,000 samples/s per format.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from google.protobuf import json_format  # noqa: E402
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest  # noqa: E402
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue  # noqa: E402

from iops.logic import otlp, samples  # noqa: E402

GOAL = 50_000
HOSTS = 20
METRICS = 20
SERIES_PER_METRIC = 10
NOW_NS = int(time.time()) * 1_000_000_000


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def otlp_request() -> ExportMetricsServiceRequest:
    """HOSTS resources, each METRICS metrics of SERIES_PER_METRIC points: gauges and cumulative sums alternate."""
    req = ExportMetricsServiceRequest()
    for h in range(HOSTS):
        rm = req.resource_metrics.add()
        rm.resource.attributes.extend([_kv("host.name", f"node-{h:03d}"), _kv("os.type", "linux")])
        sm = rm.scope_metrics.add()
        sm.scope.name = "otelcol/hostmetricsreceiver/cpu"
        for m in range(METRICS):
            metric = sm.metrics.add(name=f"system.metric_{m}.usage")
            if m % 2:
                metric.sum.aggregation_temporality = otlp.CUMULATIVE
                metric.sum.is_monotonic = True
                points = metric.sum.data_points
            else:
                points = metric.gauge.data_points
            for s in range(SERIES_PER_METRIC):
                p = points.add(time_unix_nano=NOW_NS, start_time_unix_nano=NOW_NS - 3600 * 10**9, as_double=s * 1.5)
                p.attributes.extend([_kv("cpu", str(s)), _kv("state", "user")])
    return req


def remote_write_body() -> tuple[bytes, dict[str, str]] | str:
    try:
        import cramjam

        from iops.proto import prompb
    except ImportError as exc:
        return f"skipped: {exc}"
    req = prompb.WriteRequest()
    ts_ms = NOW_NS // 1_000_000
    for h in range(HOSTS):
        for m in range(METRICS):
            name = f"node_metric_{m}_total" if m % 2 else f"node_metric_{m}"
            for s in range(SERIES_PER_METRIC):
                series = req.timeseries.add()
                for k, v in sorted({"__name__": name, "instance": f"node-{h:03d}:9100", "cpu": str(s)}.items()):
                    series.labels.add(name=k, value=v)
                series.samples.add(value=s * 1.5, timestamp=ts_ms)
    body = bytes(cramjam.snappy.compress_raw(req.SerializeToString()))
    headers = {
        "content-type": "application/x-protobuf",
        "content-encoding": "snappy",
        "x-prometheus-remote-write-version": "0.1.0",
    }
    return body, headers


def firehose_body() -> bytes:
    ts_ms = NOW_NS // 1_000_000
    lines = [
        json.dumps(
            {
                "metric_stream_name": "bench",
                "account_id": "123456789012",
                "region": "eu-west-1",
                "namespace": "AWS/EC2",
                "metric_name": f"Metric{m}",
                "dimensions": {"InstanceId": f"i-{h:017x}"},
                "timestamp": ts_ms,
                "value": {"max": 9.0, "min": 1.0, "sum": 50.0, "count": 10.0},
                "unit": "Percent",
            }
        )
        for h in range(HOSTS)
        for m in range(METRICS * SERIES_PER_METRIC // 5)  # five statistics per line: the same number of samples
    ]
    records = [
        {"data": base64.b64encode("\n".join(lines[i : i + 100]).encode()).decode()} for i in range(0, len(lines), 100)
    ]
    return json.dumps({"requestId": "bench", "timestamp": ts_ms, "records": records}).encode()


def measure(decode: Callable[[], samples.Decoded], repeat: int) -> dict[str, float]:
    """The best of ``repeat`` runs (the least disturbed by the other core's work)."""
    best, produced = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        out = decode()
        best = min(best, time.perf_counter() - start)
        produced = len(out.samples) + len(out.counters)
        assert out.rejected == 0, out.errors
    return {"samples": produced, "seconds": round(best, 4), "samples_per_s": round(produced / best)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    req = otlp_request()
    as_pb = req.SerializeToString()
    as_json = json_format.MessageToJson(req, indent=None).encode()
    results: dict[str, dict[str, float] | str] = {
        "otlp protobuf": measure(lambda: otlp.decode(as_pb, otlp.PROTOBUF, None), args.repeat),
        "otlp json": measure(lambda: otlp.decode(as_json, otlp.JSON, None), args.repeat),
    }
    try:
        from iops.logic.remote_write import decode as rw_decode
    except ImportError as exc:
        results["prometheus remote write"] = f"skipped: {exc}"
    else:
        built = remote_write_body()
        if isinstance(built, str):
            results["prometheus remote write"] = built
        else:
            body, headers = built
            results["prometheus remote write"] = measure(lambda: rw_decode(body, headers), args.repeat)
    try:
        from iops.logic.firehose import decode as fh_decode
    except ImportError as exc:
        results["cloudwatch firehose"] = f"skipped: {exc}"
    else:
        delivery = firehose_body()
        results["cloudwatch firehose"] = measure(lambda: fh_decode(delivery), args.repeat)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, r in results.items():
        if isinstance(r, str):
            print(f"{name:26s} {r}")
        else:
            verdict = "ok" if r["samples_per_s"] >= GOAL else f"BELOW the {GOAL:,}/s goal"
            print(
                f"{name:26s} {r['samples']:>6,} samples in {r['seconds'] * 1000:7.1f} ms: {r['samples_per_s']:>9,}/s  {verdict}"
            )


if __name__ == "__main__":
    main()
