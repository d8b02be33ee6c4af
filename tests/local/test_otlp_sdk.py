"""The real OpenTelemetry Python SDK's OTLP/HTTP protobuf exporter against a real `iops local`.

A gauge and a counter from a resource with ``host.name`` arrive and read back through
``GET /metrics``; five hours of steady history with a spike, posted as OTLP JSON with explicit
``timeUnixNano`` (the SDK stamps every point "now"), becomes an insight.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from tests.local.iops_process import IopsLocal, http, wait_for

pytestmark = pytest.mark.slow
HOST = "otel-sdk-01"


@pytest.fixture(scope="module")
def server() -> Iterator[IopsLocal]:
    with IopsLocal(api_key="otlp-key") as srv:
        yield srv


def test_sdk_exports_gauge_and_counter(server: IopsLocal) -> None:
    exporter = OTLPMetricExporter(endpoint=f"{server.url}/v1/metrics", headers={"x-api-key": server.api_key})
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=500)
    provider = MeterProvider(
        resource=Resource.create({"host.name": HOST, "service.name": "sdk-test"}), metric_readers=[reader]
    )
    meter = provider.get_meter("iops.test")
    temperature = {"value": 41.5}

    def observe(_: CallbackOptions) -> list[Observation]:
        return [Observation(temperature["value"], {"sensor": "cpu"})]

    meter.create_observable_gauge("hw.temperature", callbacks=[observe])
    requests = meter.create_counter("app.requests")
    try:
        for _ in range(8):  # a few exports: the counter's second reading makes its first rate
            requests.add(10, {"route": "/login"})
            time.sleep(0.4)
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()

    def fields() -> dict[str, list[float]]:
        status, page = http("GET", f"{server.url}/metrics?hostname={HOST}&limit=100", token=server.token)
        assert status == 200
        seen: dict[str, list[float]] = {}
        for point in page["metrics"]:
            for k, v in point.items():
                seen.setdefault(k, []).append(v)
        return seen if {"hw.temperature.sensor_cpu", "app.requests.route_login"} <= set(seen) else {}

    seen = wait_for(fields, 30, f"the metrics of {HOST}")
    assert seen, f"nothing of {HOST} readable: {list(server.output)[-20:]}"
    assert set(seen["hw.temperature.sensor_cpu"]) == {41.5}
    # 10 every 0.4 s: about 25 per second (a rate, not the running total of up to 80)
    assert 5 < max(seen["app.requests.route_login"]) < 100, seen["app.requests.route_login"]


def test_history_with_a_spike_becomes_an_insight(server: IopsLocal) -> None:
    host = "otel-json-01"
    start = int(time.time()) - 300 * 60
    points = [
        {"timeUnixNano": str((start + 60 * i) * 1_000_000_000), "asDouble": 95.0 if i == 280 else 30 + (i % 7) * 0.5}
        for i in range(300)
    ]
    body = {
        "resourceMetrics": [
            {
                "resource": {"attributes": [{"key": "host.name", "value": {"stringValue": host}}]},
                "scopeMetrics": [{"metrics": [{"name": "cpuUsage", "gauge": {"dataPoints": points}}]}],
            }
        ]
    }
    status, answer = http("POST", f"{server.url}/v1/metrics", json.dumps(body).encode(), key=server.api_key)
    assert (status, answer) == (200, {})

    def insights() -> list[dict]:
        status, page = http("GET", f"{server.url}/insights?host={host}", token=server.token)
        assert status == 200
        return [i for i in page["insights"] if i["metric"] == "cpuUsage"]

    found = wait_for(insights, 60, f"an insight on {host}")
    assert found, f"no insight for {host}: {list(server.output)[-20:]}"
    assert found[0]["entity_id"] == host and found[0]["observed"] == 95.0
