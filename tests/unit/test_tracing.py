"""X-Ray through Powertools' Tracer: subsegments in Lambda, nothing at all outside it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
TRACED = r"""
import io, json, time
from moto import mock_aws
from detectors.bedrock import BedrockEnricher
from iops_detector_sdk.contract import Finding, Point, SeriesKey
from detectors.runtime import SeriesState, score_batch
from detectors.sagemaker import SageMakerDetector
from detectors.statistical import StatisticalDetector
from iops.dal import aws
from iops.dal import dynamo
from iops.tracing import tracer

class Endpoint:
    def invoke_endpoint(self, **kw):
        values = json.loads(kw["Body"])["values"]
        return {"Body": io.BytesIO(json.dumps({"surprise": [0.1] * len(values), "window": 48}).encode())}

class Down:
    def converse(self, **kw):
        raise RuntimeError("throttled")

@tracer.capture_lambda_handler(capture_response=False)
def handler(event, context):
    ddb = aws.client("dynamodb")
    ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    dynamo.batch_get(ddb, "t", [{"k": {"S": "a"}}])
    series = SeriesKey("web-01", "cpuUsage")
    work = {series: (SeriesState(), [Point(60.0 * i, 1.0) for i in range(5)])}
    score_batch({"statistical": StatisticalDetector(), "sagemaker": SageMakerDetector(client=Endpoint(), endpoint="e")},
                work, time.monotonic() + 30)
    finding = Finding(series=series, point=Point(0.0, 1.0), score=0.9, scores={}, expected=1.0, risk_score=90,
                      severity="CRITICAL", confidence=0.9)
    BedrockEnricher(client_factory=lambda timeout: Down()).enrich(finding, time.monotonic() + 30)
    return {}

with mock_aws():
    handler({}, None)
"""


def run_and_listen(lambda_like: bool) -> list[dict]:
    """Run `TRACED` in a fresh process with an X-Ray "daemon" on a loopback UDP port; what it received."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(0.5)
        env = {k: v for k, v in os.environ.items() if k not in ("POWERTOOLS_TRACE_DISABLED", "LAMBDA_TASK_ROOT")}
        env["AWS_XRAY_DAEMON_ADDRESS"] = f"127.0.0.1:{daemon.getsockname()[1]}"
        if lambda_like:
            env.update(LAMBDA_TASK_ROOT=str(ROOT), _X_AMZN_TRACE_ID=TRACE_HEADER)
        subprocess.run([sys.executable, "-c", TRACED], env=env, cwd=ROOT, check=True, timeout=120)
        docs = []
        try:
            while True:
                data, _ = daemon.recvfrom(65535)
                docs.append(json.loads(data.decode().split("\n", 1)[1]))
        except TimeoutError:
            return docs


def test_in_lambda_the_handler_dynamodb_detectors_and_enrichers_are_subsegments() -> None:
    docs = {d["name"]: d for d in run_and_listen(lambda_like=True)}
    assert {"## handler", "## dynamodb batch_get", "## detector statistical", "## detector sagemaker"} <= set(docs)
    assert {"## sagemaker endpoint", "## enricher bedrock", "dynamodb"} <= set(docs)  # botocore's own, patched
    assert docs["## handler"]["annotations"]["ColdStart"] is True
    assert docs["## dynamodb batch_get"]["annotations"] == {"table": "t", "keys": 1, "unread": 0}
    assert docs["## detector statistical"]["annotations"] == {"detector": "statistical", "series": 1, "failures": 0}
    assert docs["## enricher bedrock"]["annotations"]["enriched"] is False
    assert {d["trace_id"] for d in docs.values()} == {"1-5759e988-bd862e3fe1be46a994272793"}


def test_outside_lambda_tracing_is_off_and_nothing_is_sent() -> None:
    from aws_xray_sdk import global_sdk_config

    from iops.tracing import subsegment, tracer

    assert tracer.disabled and not global_sdk_config.sdk_enabled()
    with subsegment("dynamodb batch_get", table="t") as segment:
        assert type(segment).__name__ == "DummySubsegment"
    assert run_and_listen(lambda_like=False) == []


def test_logic_modules_log_json_lines_with_their_fields_through_the_functions_logger() -> None:
    import io
    import logging

    from aws_lambda_powertools import Logger

    from iops.logs import PROJECT_LOGGERS, get_logger, structured

    saved = {n: (lg.handlers[:], lg.propagate, lg.level) for n in PROJECT_LOGGERS for lg in [logging.getLogger(n)]}
    out = io.StringIO()
    try:
        structured(Logger(service="iops-test", stream=out, level="INFO"))
        get_logger("detectors.example").warning("detector failed", detector="lstm", error=RuntimeError("boom"))
        line = json.loads(out.getvalue().splitlines()[-1])
    finally:
        for name, (handlers, propagate, level) in saved.items():
            lg = logging.getLogger(name)
            lg.handlers, lg.propagate = handlers, propagate
            lg.setLevel(level)
    assert (line["service"], line["level"], line["name"]) == ("iops-test", "WARNING", "detectors.example")
    assert (line["detector"], line["error"]) == ("lstm", "boom")
    assert line["message"] == "detector failed (detector=lstm error=boom)"  # readable without the JSON keys too
