"""End to end, as a user runs it: `iops local --kinesis`, then `iops demo --kinesis --endpoint URL`.

InfiniBand events with one stream's latency degraded go through the emulated Kinesis stream,
the process handler (aggregation), the metrics table, its DynamoDB stream and the AI handler,
and come out as per-minute metrics and an insight for that stream over the local HTTP API.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from iops_detector_sdk.contract import STREAM_PREFIX

from cli.token_cmd import local_token
from local.emulator import free_port
from tests.local.iops_process import wait_for

ROOT = Path(__file__).resolve().parents[2]
KEY = "kinesis-test-key"
MINUTES = 60

pytestmark = pytest.mark.slow


def get(url: str, token: str) -> dict:
    """A signed-in reader's GET (``token`` from `iops token`)."""
    req = urllib.request.Request(url, headers={"Authorization": token})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("kinesis") / "local.log"
    with log.open("w") as out:  # a file, not a pipe: a chatty child can never block on a full pipe
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "local", "--kinesis", "--port", str(port), "--api-key", KEY],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    found = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and not found:
        time.sleep(0.2)
        found = re.search(r"--endpoint (http://[\w.:]+)", log.read_text())
    if not found:
        proc.kill()
        pytest.fail("iops local --kinesis printed no emulator endpoint: " + log.read_text())
    yield f"http://127.0.0.1:{port}", found.group(1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0, log.read_text()


def last_at(hm: str) -> datetime:
    """The latest UTC minute at or before now whose clock reads ``hm`` (the demo prints HH:MM)."""
    now = datetime.now(UTC)
    at = now.replace(hour=int(hm[:2]), minute=int(hm[3:]), second=0, microsecond=0)
    return at if at <= now else at - timedelta(days=1)


def iso_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_degraded_stream_gets_metrics_and_an_insight(local) -> None:
    api, endpoint = local
    token = local_token(api)
    demo = subprocess.run(
        [
            sys.executable, "-m", "cli.main", "demo", "--kinesis", "--endpoint", endpoint,
            "--streams", "3", "--minutes", str(MINUTES), "--events-per-minute", "30", "--seed", "7",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    [(kind, degraded, window)] = re.findall(r"^\s+(\w+)\s+(ib_stream_\d)\s+(\S+) UTC$", demo.stdout, re.M)
    assert kind == "latency"
    start = last_at(window.split("-")[0])

    streams = ("ib_stream_1", "ib_stream_2", "ib_stream_3")

    def all_minutes() -> dict[str, list[dict]] | None:
        got = {s: get(f"{api}/metrics?hostname={STREAM_PREFIX}{s}&limit=100", token)["metrics"] for s in streams}
        return got if all(len(v) >= MINUTES - 2 for v in got.values()) else None

    metrics = wait_for(all_minutes, 180, "every stream's closed minutes", every_s=2)

    def settled_insights() -> dict[str, list[dict]] | None:
        first = {s: get(f"{api}/insights?host={STREAM_PREFIX}{s}&limit=100", token)["insights"] for s in streams}
        time.sleep(3)
        again = {s: get(f"{api}/insights?host={STREAM_PREFIX}{s}&limit=100", token)["insights"] for s in streams}
        return again if first == again and again[degraded] else None

    insights = wait_for(settled_insights, 180, "the AI tier to settle", every_s=2)
    # LOW insights (risk just past the NAB-optimised threshold) are noise-level by design; judge MEDIUM and up.
    latency = [i for i in insights[degraded] if i["metric"].startswith("ibLatencyUs") and i["risk_score"] >= 60]
    assert latency, f"no latency insight for {degraded}: {insights[degraded]}"
    assert all(i["entity_id"] == STREAM_PREFIX + degraded for i in latency)  # a key space no host can take
    assert max(i["risk_score"] for i in latency) >= 80
    # Detections start at the injected degradation, not before. (A pattern's timestamp is its first member's,
    # which may be a noise-level anomaly up to a pattern window earlier, so only anomalies are judged here.)
    early = [i for i in latency if i["type"] == "anomaly" and iso_time(i["timestamp"]) < start]
    assert not early, (start, early)
    for stream in streams:
        if stream != degraded:
            assert not [
                i for i in insights[stream] if i["metric"].startswith("ibLatencyUs") and i["risk_score"] >= 60
            ], insights[stream]

    points = metrics[degraded]
    assert len(points) <= MINUTES + 1  # one point per minute, never two
    assert {"ibLatencyUsMean", "ibLatencyUsP95", "ibLatencyUsMax", "ibBandwidthGbps", "eventCount"} <= set(points[0])
    total = sum(p["eventCount"] for p in points)
    assert 0.8 * 30 * len(points) < total < 1.2 * 30 * len(points)


def test_poller_retries_from_the_failed_record_then_dead_letters_the_range() -> None:
    """The local mapping: partial failures are retried, then the range goes to the failure queue."""
    from iops.logic.ib_simulator import IbGenerator, put_events
    from local import emulator
    from local import kinesis as local_kinesis

    emu = emulator.start()
    try:
        env = local_kinesis.create_resources(emu)
        kin, sqs = emu.client("kinesis"), emu.client("sqs")
        put_events(kin, env["IB_EVENTS_STREAM"], IbGenerator(streams=1, seed=1).events(time.time() - 60, time.time()))
        calls: list[list[str]] = []

        def failing(event: dict, context: object) -> dict:
            seqs = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
            calls.append(seqs)
            return {"batchItemFailures": [{"itemIdentifier": seqs[min(2, len(seqs) - 1)]}]}

        poller = local_kinesis.KinesisPoller(
            kin, sqs, env["IB_EVENTS_STREAM"], failing, env["IB_DLQ_URL"], max_retries=2
        )
        poller.start()
        wait_for(lambda: poller.dead_lettered, 180, "the poller to give up", every_s=2)
        poller.stop()
        poller.join(timeout=5)
        first = calls[0]
        assert calls[1][0] == first[2] and calls[2][0] == calls[1][2]  # each retry starts at the failed record
        [msg] = sqs.receive_message(QueueUrl=env["IB_DLQ_URL"], MaxNumberOfMessages=10)["Messages"]
        info = json.loads(msg["Body"])["KinesisBatchInfo"]
        assert info["startSequenceNumber"] == calls[2][2] and info["endSequenceNumber"] == first[-1]
    finally:
        emu.stop()
