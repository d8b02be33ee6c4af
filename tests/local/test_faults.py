"""Fault injection: what breaks, and what the system must still guarantee (docs/hardening.md's table).

Faults already covered elsewhere are not repeated here: a detector that raises or hangs and a
replayed batch (tests/local/test_stream_processing.py), Bedrock throttling/denial/malformed answers
(tests/unit/test_bedrock.py), SageMaker endpoint errors per detector (tests/unit/test_lstm_sagemaker.py).
This file adds the end-to-end versions and the faults nothing else covered.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from detectors.bedrock import BedrockEnricher
from detectors.sagemaker import ENDPOINT_ENV, SageMakerDetector
from detectors.statistical import StatisticalDetector
from iops.dal import incidents as incident_store
from iops.logic import incidents
from iops.logic import ingest as ingest_logic
from iops.logic.ai import process_batch
from iops.models.common import iso
from iops.settings import IngestSettings
from local.pump import StreamPump
from local.traffic import post
from tests.local.iops_process import ROOT, IopsLocal, http
from tests.local.test_ingest_store import stored
from tests.local.test_stream_processing import START, all_insights, processor, record, spiky_batches

# --- Ingest: DynamoDB throttling and partial writes ------------------------------------------------


class ChaosDynamo:
    """The real (moto) client, but each UpdateItem (a merged metric write) may be throttled."""

    def __init__(self, real, seed: int, throttle: float = 0.3) -> None:
        self.real, self.exceptions = real, real.exceptions
        self.rng = random.Random(seed)
        self.throttle = throttle
        self.faults = 0
        self.lock = threading.Lock()  # ingest writes from a few threads

    def update_item(self, **kwargs):
        with self.lock:
            roll = self.rng.random()
            code = self.rng.choice(
                ["ThrottlingException", "ProvisionedThroughputExceededException", "InternalServerError"]
            )
            if roll < self.throttle:
                self.faults += 1
        if roll < self.throttle:
            if code == "ProvisionedThroughputExceededException":
                raise self.exceptions.ProvisionedThroughputExceededException({"Error": {"Code": code}}, "UpdateItem")
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, "UpdateItem")
        return self.real.update_item(**kwargs)


def metrics_body(host: str, n: int) -> str:
    start = time.time() - 3 * 86_400
    return json.dumps(
        {"metrics": [{"hostname": host, "timestamp": start + 60 * i, "cpuUsage": i % 100} for i in range(n)]}
    )


@pytest.mark.parametrize("seed", range(5))
def test_throttling_and_partial_writes_lose_nothing_accepted(ddb, seed: int) -> None:
    table = IngestSettings.from_env().metrics_table
    chaos = ChaosDynamo(ddb, seed)
    result = ingest_logic.ingest(chaos, table, metrics_body(f"chaos-{seed}", 500), 500, 90, time.monotonic() + 30)
    assert chaos.faults > 0
    assert result.accepted == 500 and not result.unstored
    assert len(stored(ddb, table, f"chaos-{seed}")) == 500


def test_throttling_past_the_deadline_acknowledges_exactly_what_is_stored(ddb) -> None:
    """Never claim a metric that is not stored; the 503 lists the rest, and a retry stores them."""
    table = IngestSettings.from_env().metrics_table
    chaos = ChaosDynamo(ddb, seed=1, throttle=0.9)
    body = metrics_body("late", 300)
    result = ingest_logic.ingest(chaos, table, body, 500, 90, time.monotonic() + 0.3)
    assert result.unstored, "the injected faults should outlast a 0.3 s deadline"
    points = stored(ddb, table, "late")
    assert len(points) == result.accepted == 300 - len(result.unstored)
    raw = json.loads(body)["metrics"]
    retry = json.dumps([raw[e.index] for e in result.unstored])
    again = ingest_logic.ingest(ddb, table, retry, 500, 90, time.monotonic() + 5)
    assert again.accepted == len(result.unstored)
    assert len(stored(ddb, table, "late")) == 300


# --- AI tier: remote models down ------------------------------------------------------------------


class DownEndpoint:
    """A sagemaker-runtime client whose endpoint always fails."""

    calls = 0

    def invoke_endpoint(self, **_: object) -> dict:
        DownEndpoint.calls += 1
        raise ClientError({"Error": {"Code": "ModelError", "Message": "injected"}}, "InvokeEndpoint")


@pytest.fixture
def bedrock_down() -> Iterator[BedrockEnricher]:
    """A real bedrock-runtime client that answers every call with a service error."""
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(client) as stub:
        for _ in range(20):
            stub.add_client_error("converse", service_error_code="ServiceUnavailableException", http_status_code=503)
        yield BedrockEnricher(client_factory=lambda _timeout: client)


def test_bedrock_and_sagemaker_down_still_give_explained_insights(ddb, monkeypatch, bedrock_down) -> None:
    monkeypatch.setenv(ENDPOINT_ENV, "iops-lstm")
    sagemaker = SageMakerDetector(client=DownEndpoint())
    proc = processor(ddb, {"statistical": StatisticalDetector(), "sagemaker": sagemaker})
    proc.enrichers = {"bedrock": bedrock_down}
    proc.enrich_min_severity = "LOW"
    for batch in spiky_batches():
        out = process_batch(proc, batch, time.monotonic() + 60)
        assert not out.failed and not out.detector_failures
    assert DownEndpoint.calls >= 1
    assert sagemaker.last_model_used.startswith("lstm (fallback: ")
    spike = next(i for i in all_insights(ddb) if i["observed"] == 95.0)
    assert "web-01" in spike["explanation"] and spike["recommendations"]
    assert "bedrock" not in spike["model_used"]


# --- Alerts: EventBridge PutEvents partial failure ------------------------------------------------


class FlakyEvents:
    """PutEvents that fails the first entry of the first ``bad_calls`` calls."""

    def __init__(self, bad_calls: int) -> None:
        self.bad_calls = bad_calls
        self.delivered: list[str] = []

    def put_events(self, Entries):  # noqa: N803 - boto3's parameter name
        results = []
        for i, entry in enumerate(Entries):
            if i == 0 and self.bad_calls > 0:
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected"})
            else:
                results.append({"EventId": str(len(self.delivered))})
                detail = json.loads(entry["Detail"])
                self.delivered.append(f"{detail['incident_id']}:{detail['notification']}")
        self.bad_calls -= 1
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def alerting_batch(host: str = "db-01") -> list[dict]:
    """One series whose last point is far out of line (a HIGH or CRITICAL insight)."""
    recs = [record(i + 1, host, START + 60 * i, latencyMs=20.0 + (i % 5)) for i in range(120)]
    recs.append(record(121, host, START + 60 * 120, latencyMs=5000.0))
    return recs


@pytest.mark.parametrize("bad_calls", [1, 2])
def test_put_events_partial_failure_notifies_exactly_once(ddb, monkeypatch, bad_calls: int) -> None:
    """A failed entry is released, not lost: the next sweep sends it (after 2 failures, the one after)."""
    monkeypatch.setenv("EVENT_BUS_NAME", "iops-test-bus")
    proc = processor(ddb)
    proc.events = FlakyEvents(bad_calls)
    batch = alerting_batch()
    out = process_batch(proc, batch, time.monotonic() + 60)
    alerts = [i for i in out.insights if i.severity in ("HIGH", "CRITICAL")]
    assert alerts, "the injected spike should be HIGH or CRITICAL"
    assert not out.failed and proc.events.delivered == [], "stored; the notification waits for the sweeper"
    settings = proc.settings
    opened = [
        f"{c['incidentId']}:opened" for c in incident_store.open_incidents(ddb, settings.incidents.table, ("open",))
    ]
    assert len(opened) == 1, "one spike, one incident"

    def sweep() -> None:
        incidents.sweep(ddb, proc.events, settings.event_bus, None, settings.incidents, int(time.time() * 1000))

    sweep()
    assert proc.events.delivered == ([] if bad_calls == 2 else opened)
    sweep()
    assert proc.events.delivered == opened
    again = process_batch(proc, batch, time.monotonic() + 60)  # a replay after success
    assert again.skipped == len(batch) and not again.insights
    sweep()
    assert proc.events.delivered == opened
    assert len([i for i in all_insights(ddb) if i["entity_id"] == "db-01"]) == len(out.insights)


# --- Stream: a poison record through the event source mapping (local pump) ------------------------


@pytest.fixture
def dlq(aws) -> tuple[object, str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    return sqs, sqs.create_queue(QueueName="iops-test-ai-dlq")["QueueUrl"]


def test_poison_record_is_retried_then_dead_lettered_and_the_rest_succeeds(ddb, dlq) -> None:
    from handlers import ai

    ai.reset()
    sqs, url = dlq
    batch = spiky_batches(n=60, spike_at=55, batch=60)[0]
    poison = {
        "eventID": "p",
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "eventSourceARN": batch[0]["eventSourceARN"],
        "dynamodb": {
            "SequenceNumber": f"{30:021d}5",
            "NewImage": {"cpuUsage": {"N": "1"}},
            "StreamViewType": "NEW_IMAGE",
        },
    }
    records = batch[:30] + [poison] + batch[30:]
    pump = StreamPump(ddb=ddb, streams=None, sqs=sqs, table="unused", handler=ai.handler, dlq_url=url, max_retries=2)
    pump._deliver(records)
    assert pump.invocations == 3 and pump.dead_lettered == 1
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == poison["dynamodb"]["SequenceNumber"]
    insights = all_insights(ddb)
    assert [i["observed"] for i in insights if i["observed"] == 95.0] == [95.0]  # the spike, once
    ai.reset()


# --- The local emulator restarting mid-demo --------------------------------------------------------


@pytest.mark.slow
def test_iops_local_restart_mid_demo_keeps_the_client_going() -> None:
    """The demo client rides out a restart of `iops local` (retries); everything acknowledged after it is stored.

    The embedded emulator keeps its data in memory: what was stored before the restart is gone
    (documented), and the system serves again on the same port with fresh tables.
    """
    server = IopsLocal(api_key="restart-key").start()
    try:
        host = "restart-01"
        t0 = int(time.time()) - 3600
        sent_before = [{"hostname": host, "timestamp": t0 + i, "cpuUsage": 10} for i in range(50)]
        assert post(server.url, server.api_key, sent_before)["accepted"] == 50
        assert server.stop() == 0
        restarted = IopsLocal(api_key="restart-key", port=server.port)
        acknowledged: list[dict] = []

        # The client starts sending while the server is down: `post` retries connection errors.
        def client() -> None:
            for k in range(10):
                batch = [{"hostname": host, "timestamp": t0 + 100 + 10 * k + j, "cpuUsage": 20} for j in range(10)]
                if post(server.url, server.api_key, batch, retries=8)["accepted"] == 10:
                    acknowledged.extend(batch)

        thread = threading.Thread(target=client)
        thread.start()
        time.sleep(0.5)
        server = restarted.start()
        thread.join(timeout=60)
        assert not thread.is_alive() and len(acknowledged) == 100
        status, page = http("GET", f"{server.url}/metrics?hostname={host}&limit=1000", token=server.token)
        assert status == 200
        assert sorted(p["timestamp"] for p in page["metrics"]) == sorted(
            iso(m["timestamp"] * 1000) for m in acknowledged
        )
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()


@pytest.mark.slow
def test_embedded_emulator_restart_mid_demo_recovers() -> None:
    """The moto server inside `iops local` goes down and comes back on its port while the demo sends.

    Down: the API answers a JSON 503 with the request id (the demo client retries it). Back: every acknowledged
    metric is stored and the stream pump resumes (the spike sent during the outage is detected).
    """
    done = subprocess.run(
        [sys.executable, "-m", "tests.local.emulator_restart_scenario"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert [status for status, _ in result["outage"]] == [503, 503]
    assert all(
        body["message"] == "storage unavailable; retry" and body["details"]["requestId"] for _, body in result["outage"]
    )
    assert result["acknowledged"] == result["stored"] == 300
    assert result["spike_insights"] == 1
