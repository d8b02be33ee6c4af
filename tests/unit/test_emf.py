"""The handlers' custom metrics: run a handler, parse the EMF documents it printed, check them."""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from cli import cost
from handlers.definitions import match_route
from iops import telemetry
from iops.dal import insights as insight_store
from iops.dal import metrics
from iops.models.common import Metric
from iops.settings import AiSettings
from local.lambda_runtime import LocalContext
from local.server import proxy_event

SERVICE = "iops-test-fn"
START = time.time() - 4 * 3600


def spiky_batches(n: int = 300, spike_at: int = 250, batch: int = 100) -> list[list[dict]]:
    """Stream records of one host's cpuUsage, one point a minute, one spike."""
    records = []
    for i in range(n):
        cpu = 95.0 if i == spike_at else 30 + (i % 7) * 0.5
        item = metrics.to_item(
            Metric("web-01", int((START + 60 * i) * 1000), {"cpuUsage": cpu}), time.time(), 90
        )
        records.append(
            {
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "dynamodb": {"NewImage": item, "SequenceNumber": f"{i + 1:021d}", "StreamViewType": "NEW_IMAGE"},
            }
        )
    return [records[i : i + batch] for i in range(0, n, batch)]


def all_insights(ddb) -> list[dict]:
    return insight_store.query_insights(ddb, AiSettings.from_env().insights_table, limit=100)["insights"]


@pytest.fixture(autouse=True)
def emf_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Metrics on (the local system turns them off) and the service name the stack would set."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", SERVICE)


def emf_documents(out: str) -> list[dict]:
    """Every stdout line that is an EMF document, checked against the spec in `telemetry.METRICS`."""
    docs = []
    for line in out.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        doc = json.loads(line)
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == telemetry.NAMESPACE
        (dims,) = directive["Dimensions"]
        assert doc["service"] == SERVICE
        for m in directive["Metrics"]:
            spec = telemetry.METRICS[m["Name"]]
            assert m["Unit"] == spec.unit.value
            assert sorted(dims) == sorted(("service", *spec.dimensions)), (m["Name"], dims)
            value = doc[m["Name"]]  # EMF allows one value or a list of values
            values = value if isinstance(value, list) else [value]
            assert values and all(isinstance(v, int | float) for v in values)
            doc[m["Name"]] = sum(values)
        docs.append(doc)
    return docs


def post(body: object) -> dict:
    from handlers import ingest

    route, params = match_route("POST", "/metrics")
    event = proxy_event(
        "POST", "/metrics", "", {"Content-Type": "application/json"}, json.dumps(body).encode(), route, params
    )
    return ingest.handler(event, LocalContext(function_name=SERVICE, timeout_s=30))


def test_ingest_prints_ingested_and_rejected(aws, capsys: pytest.CaptureFixture[str]) -> None:
    now = 1_790_000_000
    body = {
        "metrics": [
            {"hostname": "web-01", "timestamp": now, "cpuUsage": 12.5},
            {"hostname": "web-02", "timestamp": now, "cpuUsage": 40},
            {"hostname": "web-03", "timestamp": now, "cpuUsage": "high"},
        ]
    }
    assert post(body)["statusCode"] == 207
    out = capsys.readouterr().out
    (doc,) = emf_documents(out)
    assert (doc["MetricsIngested"], doc["MetricsRejected"], doc["MetricsUnstored"]) == (2, 1, 0)
    emf_line = next(line for line in out.splitlines() if '"_aws"' in line)
    assert len(emf_line.encode()) + 1 <= cost.DEFAULT_ASSUMPTIONS.emf_bytes_per_ingest, "cost model underestimates EMF"


def test_ai_prints_insights_by_severity_and_detector_metrics(ddb, capsys: pytest.CaptureFixture[str]) -> None:
    from handlers import ai

    ai.reset()
    batches = spiky_batches()
    for batch in batches:
        assert ai.handler({"Records": batch}, LocalContext(function_name=SERVICE, timeout_s=60)) == {
            "batchItemFailures": []
        }
    docs = emf_documents(capsys.readouterr().out)
    by_severity = Counter()
    for doc in docs:
        if "Insights" in doc:
            assert doc["Insights"] > 0
            by_severity[doc["severity"]] += doc["Insights"]
    stored = Counter(i["severity"] for i in all_insights(ddb))
    assert stored and by_severity == stored
    detector_docs = [d for d in docs if "DetectorLatency" in d]
    assert [d["detector"] for d in detector_docs] == ["contextual", "lstm", "statistical"] * len(batches)
    assert all(d["DetectorFailures"] == 0 and d["DetectorLatency"] > 0 for d in detector_docs)
    ai.reset()


def test_a_failing_detector_is_counted(
    ddb, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from detectors.statistical import StatisticalDetector
    from handlers import ai

    class Broken:
        name = "broken"

        def new_state(self, series):
            return {}

        def score(self, series, state, points):
            raise RuntimeError("boom")

    ai.reset()
    monkeypatch.setattr(
        ai.plugins, "usable_detectors", lambda: ({"statistical": StatisticalDetector(), "broken": Broken()}, [])
    )
    batch = spiky_batches(n=50, batch=50)[0]
    ai.handler({"Records": batch}, LocalContext(function_name=SERVICE, timeout_s=60))
    docs = {d["detector"]: d for d in emf_documents(capsys.readouterr().out) if "detector" in d}
    assert set(docs) == {"statistical", "broken"}
    assert docs["broken"]["DetectorFailures"] == 1 and docs["statistical"]["DetectorFailures"] == 0
    ai.reset()


def test_an_unknown_configured_detector_is_reported_and_the_others_still_run(
    ddb, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo in ``detectors`` (the deployed function reads the same setting): statistical's insights
    still come, the log names the missing one once, and every batch counts it (the alarm's metric)."""
    from detectors import plugins
    from handlers import ai

    monkeypatch.setenv("IOPS_DETECTORS", "statistical,zscore_pls")
    plugins.reset()
    ai.reset()
    batches = spiky_batches()
    for batch in batches:
        response = ai.handler({"Records": batch}, LocalContext(function_name=SERVICE, timeout_s=60))
        assert response == {"batchItemFailures": []}
    out = capsys.readouterr().out
    docs = emf_documents(out)
    assert [d["DetectorsMissing"] for d in docs if "DetectorsMissing" in d] == [1] * len(batches)
    assert {d["detector"] for d in docs if "detector" in d} == {"statistical"}
    logged = [r for r in caplog.records if "configured detectors are not installed" in r.getMessage()]
    assert len(logged) == 1 and logged[0].missing == ["zscore_pls"] and logged[0].running == ["statistical"]
    found = all_insights(ddb)
    assert any(i["observed"] == 95.0 for i in found), "the spike is still found by statistical"
    assert all(set(i["scores"]) == {"statistical"} for i in found), found
    ai.reset()
    plugins.reset()


def test_emit_refuses_a_dimension_set_the_dashboards_do_not_know(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="severity"):
        telemetry.emit({"Insights": 1})
    assert capsys.readouterr().out == ""


XRAY_TRACE_ID_BYTES = 60
"""``"xray_trace_id":"1-…-…",``: Powertools adds it in Lambda (the runtime always sets _X_AMZN_TRACE_ID), not here."""


def assumed_within(measured: int, assumed: int, what: str) -> None:
    """The cost model's per-line bytes cover what the handler prints, and by no more than half again."""
    assert measured <= assumed, f"cost model underestimates {what}: {measured} > {assumed}"
    assert assumed <= 1.5 * measured, f"cost model overestimates {what}: {assumed} for {measured}"


@contextlib.contextmanager
def info_lines(*loggers) -> Iterator[io.StringIO]:
    """What ``loggers`` write at INFO (the stack's logLevel default), whatever level and stream they took
    when first imported; EMF documents still go to stdout."""
    out = io.StringIO()
    saved = [(lg, lg.log_level, lg.registered_handler.stream) for lg in loggers]
    for lg in loggers:
        lg.registered_handler.stream = out  # not setStream: it flushes the old stream, maybe a closed capture
        lg.setLevel("INFO")
    try:
        yield out
    finally:
        for lg, level, stream in saved:
            lg.setLevel(level)
            lg.registered_handler.stream = stream


def test_the_cost_model_assumes_the_log_bytes_the_handlers_print(ddb, capsys: pytest.CaptureFixture[str]) -> None:
    from handlers import ai, ingest

    assumed = cost.DEFAULT_ASSUMPTIONS
    sample = {"hostname": "web-01", "timestamp": 1_790_000_000, "cpuUsage": 12.5, "memoryUsage": 40, "diskIO": 3}
    with info_lines(ingest.logger) as logs:
        assert post({"metrics": [sample | {"networkIO": 5}]})["statusCode"] == 200
    (info,) = [line for line in logs.getvalue().splitlines() if json.loads(line).get("message") == "ingest"]
    assumed_within(len(info.encode()) + 1 + XRAY_TRACE_ID_BYTES, assumed.ingest_app_log_bytes, "the ingest line")
    capsys.readouterr()

    ai.reset()
    try:
        with info_lines(ai.logger) as logs:
            for batch in spiky_batches(n=3, spike_at=99, batch=1):  # one record per invocation, as at 100 hosts
                ai.handler({"Records": batch}, LocalContext(function_name=SERVICE, timeout_s=60))
    finally:
        ai.reset()
    lines = capsys.readouterr().out.splitlines() + logs.getvalue().splitlines()
    lines = [json.loads(line) | {"bytes": len(line.encode()) + 1} for line in lines if line]
    batch_lines = [d["bytes"] for d in lines if d.get("message") == "batch"]
    own_emf = [d["bytes"] for d in lines if "LatePoints" in d]
    detector_emf = [d["bytes"] for d in lines if "DetectorLatency" in d]
    # three invocations, each with the three detectors the tests run (Pulumi.yaml's default)
    assert len(batch_lines) == len(own_emf) == 3 and len(detector_emf) == 3 * 3
    assumed_within(max(batch_lines) + XRAY_TRACE_ID_BYTES, assumed.ai_app_log_bytes, "the AI batch line")
    assumed_within(max(own_emf), assumed.emf_bytes_per_ai_batch, "the AI batch's EMF document")
    assumed_within(max(detector_emf), assumed.emf_bytes_per_detector, "a detector's EMF document")


def test_the_cost_model_assumes_the_access_log_line_api_gateway_writes() -> None:
    """The stage's access log format, filled in with the widest values each variable takes."""
    from components.api import ACCESS_LOG_FORMAT
    from handlers.definitions import ROUTES

    widest = {
        "$context.requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "$context.identity.sourceIp": "2001:0db8:85a3:0000:0000:8a2e:0370:7334",  # IPv6, written out
        "$context.requestTime": "04/Dec/2026:21:10:40 +0000",
        "$context.httpMethod": max((r.method for r in ROUTES), key=len),
        "$context.resourcePath": max((r.path for r in ROUTES), key=len),
        "$context.status": "200",
        "$context.responseLength": "262144",
        "$context.responseLatency": "29000",
        "$context.integrationLatency": "29000",
        "$context.identity.apiKeyId": "a1b2c3d4e5",
    }
    variables = set(re.findall(r"\$context\.[A-Za-z.]+", ACCESS_LOG_FORMAT))
    assert variables == set(widest), "a new access log field: give it its widest value here"
    line = re.sub(r"\$context\.[A-Za-z.]+", lambda m: widest[m.group(0)], ACCESS_LOG_FORMAT)
    assumed_within(len(line.encode()) + 1, cost.DEFAULT_ASSUMPTIONS.access_log_bytes, "the access log line")
