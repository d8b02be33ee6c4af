"""Predictions and patterns through the AI tier's batch processing, against moto."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime

from iops_detector_sdk.contract import Point, SeriesKey, State

from iops.dal import incidents as incident_store
from iops.dal import insights as insight_store
from iops.logic.ai import Processor, process_batch
from iops.models.common import iso
from iops.settings import AiSettings
from tests.local.iops_process import ROOT, IopsLocal, http
from tests.local.test_stream_processing import record

START = time.time() - 10 * 3600
KEY = "predictions-test-key"
HOSTS = ("web-01", "web-02", "db-03", "web-04", "web-05")


class Above90:
    """A detector that flags values above 90: pattern tests must not depend on the statistical detector's tuning."""

    name = "above90"
    remote = False
    calibrated = True  # scores as they are: the runtime does not calibrate them

    def new_state(self, series: SeriesKey) -> State:
        return {}

    def score(self, series: SeriesKey, state: State, points: Sequence[Point]) -> list[float]:
        return [0.92 if p.value > 90 else 0.0 for p in points]


class Events:
    """A fake EventBridge client that keeps what was published."""

    def __init__(self) -> None:
        self.published: list[dict] = []

    def put_events(self, Entries: list[dict]) -> dict:  # noqa: N803 - boto3's name
        self.published.extend(json.loads(e["Detail"]) for e in Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i in range(len(Entries))]}


def processor(ddb, events: Events | None = None) -> Processor:
    return Processor(
        ddb=ddb,
        events=events,
        settings=dataclasses.replace(AiSettings.from_env(), event_bus="bus" if events else "", anomaly_threshold=0.7),
        detectors={"above90": Above90()},
        enrichers={},
    )


def run(proc: Processor, records: list[dict], batch: int = 100) -> None:
    for i in range(0, len(records), batch):
        out = process_batch(proc, records[i : i + batch], time.monotonic() + 60)
        assert not out.failed


def of_type(ddb, kind: str) -> list[dict]:
    return insight_store.query_insights(ddb, AiSettings.from_env().insights_table, insight_type=kind, limit=200)[
        "insights"
    ]


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def leak_records(minutes: int = 300, leak_from: int = 60, per_min: float = 0.3) -> tuple[list[dict], float]:
    rng = random.Random(5)
    recs, crossed = [], None
    for i in range(minutes):
        ts = START + 60 * i
        mem = 55 + rng.gauss(0, 1) + max(0, i - leak_from) * per_min
        if crossed is None and mem >= 95:
            crossed = ts
        recs.append(record(i + 1, "leaky", ts, memoryUsage=round(mem, 3), cpuUsage=round(30 + rng.gauss(0, 1), 3)))
    return recs, crossed


def test_memory_leak_yields_one_prediction_with_eta_before_the_limit(ddb) -> None:
    records, crossed = leak_records()
    proc = processor(ddb)
    run(proc, records, batch=25)
    predictions = of_type(ddb, "prediction")
    assert predictions and all(p["metric"] == "memoryUsage" for p in predictions), predictions
    first = min(predictions, key=lambda p: p["timestamp"])
    made = epoch(first["timestamp"])
    assert made < crossed - 2700, "less than 45 min of warning"
    assert made < epoch(first["eta"]) and abs(epoch(first["eta"]) - crossed) < 0.5 * (crossed - made)
    assert first["limit"] == 95 and first["type"] == "prediction" and first["affected_hosts"] == ["leaky"]
    assert epoch(first["eta_interval"]["earliest"]) <= epoch(first["eta"])
    assert 0.5 <= first["confidence"] <= 1 and first["prediction_type"] == "memory_exhaustion"
    assert "95" in first["explanation"] and first["recommendations"]
    assert len(predictions) <= 3, "repeated while the ETA did not move"
    # a replayed batch predicts nothing new
    out = process_batch(proc, records[-25:], time.monotonic() + 60)
    assert out.skipped == 50 and len(of_type(ddb, "prediction")) == len(predictions)  # 25 records x 2 metrics


def fleet_records(minutes: int, spikes: dict[str, list[int]], seq0: int = 0) -> list[dict]:
    """cpuUsage for every host, one point a minute; ``spikes`` host -> minutes with a 97 % spike."""
    rng = random.Random(9)
    out = []
    for i in range(minutes):
        for h in HOSTS:
            cpu = 97.0 if i in spikes.get(h, []) else 35 + 3 * math.sin(i / 30) + rng.gauss(0, 0.8)
            out.append(record(seq0 + len(out) + 1, h, START + 60 * i, cpuUsage=round(cpu, 3)))
    return out


def spike_ids(ddb, minute: int) -> dict[str, dict]:
    ts = iso(int((START + 60 * minute) * 1000))
    return {i["entity_id"]: i for i in of_type(ddb, "anomaly") if i["timestamp"] == ts}


def test_simultaneous_spike_on_several_hosts_is_one_pattern_and_one_alert(ddb) -> None:
    events = Events()
    proc = processor(ddb, events)
    spiking = ["web-01", "web-02", "db-03", "web-04"]
    run(proc, fleet_records(121, {h: [120] for h in spiking}))
    patterns = of_type(ddb, "pattern")
    assert len(patterns) == 1, patterns
    pattern = patterns[0]
    members = spike_ids(ddb, 120)
    assert set(members) == set(spiking)
    assert pattern["affected_hosts"] == sorted(spiking)
    assert sorted(pattern["related"]) == sorted(i["alert_id"] for i in members.values())
    assert all(i["related"] == [pattern["alert_id"]] for i in members.values())
    assert pattern["explanation"].startswith("4 hosts show cpuUsage anomalies at the same time")
    # One incident holds the pattern and its members: one notification, not one per host.
    assert [(e["notification"], e["hosts"]) for e in events.published] == [("opened", sorted(spiking))]
    assert pattern["severity"] in ("HIGH", "CRITICAL")


def test_a_pattern_forms_across_batches_and_later_hosts_join_it(ddb) -> None:
    events = Events()
    proc = processor(ddb, events)
    history = fleet_records(120, {})
    run(proc, history)
    alerts_before = len(events.published)
    seq = len(history)
    # the spike at minute 120 arrives host by host, one batch each
    for n, host in enumerate(["web-01", "web-02", "db-03", "web-04"]):
        rec = record(seq + n + 1, host, START + 60 * 120, cpuUsage=97.0)
        assert not process_batch(proc, [rec], time.monotonic() + 60).failed
        if n == 1:
            assert of_type(ddb, "pattern") == [], "two hosts are not a pattern yet"
    patterns = of_type(ddb, "pattern")
    assert len(patterns) == 1
    members = spike_ids(ddb, 120)
    assert patterns[0]["affected_hosts"] == sorted(members) == ["db-03", "web-01", "web-02", "web-04"]
    assert all(patterns[0]["alert_id"] in i["related"] for i in members.values()), "earlier members are linked"
    published = [(e["notification"], e["hosts"]) for e in events.published[alerts_before:]]
    # web-01 and web-02 were notified before their group was a pattern; db-03 formed it in web-01's
    # incident and web-04 joined it there: no notification for either (incidents are not merged later).
    assert published == [("opened", ["web-01"]), ("opened", ["web-02"])]
    [incident] = [
        i
        for i in incident_store.open_incidents(ddb, AiSettings.from_env().incidents.table, ("open",))
        if patterns[0]["alert_id"] in i["insight_ids"]
    ]
    assert incident["hosts"] == ["db-03", "web-01", "web-02", "web-04"]
    assert patterns[0]["entity_id"] == "4 hosts: db-03, web-01, web-02, web-04", "the joined pattern was updated"


def test_unrelated_anomalies_far_apart_are_no_pattern(ddb) -> None:
    proc = processor(ddb)
    run(proc, fleet_records(160, {"web-01": [120], "web-02": [135], "db-03": [150]}))
    assert of_type(ddb, "pattern") == []
    assert {i["entity_id"] for i in of_type(ddb, "anomaly")} >= {"web-01", "web-02", "db-03"}


def test_iops_demo_on_iops_local_yields_a_prediction_and_a_pattern() -> None:
    """The issue's acceptance: a slow leak -> prediction with a future ETA; a fleet spike -> one linked pattern."""
    with IopsLocal(api_key=KEY) as local:
        url = local.url
        demo = subprocess.run(
            [sys.executable, "-m", "cli.main", "demo", "--api", url, "--api-key", KEY],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        injected = [line.split() for line in demo.stdout.splitlines() if line.startswith("  ")]
        leak_host = next(e for kind, e, metric in injected if kind == "leak" and metric == "memoryUsage")
        spiking = {e for kind, e, metric in injected if kind == "spike" and metric == "cpuUsage"}
        prediction = pattern = None
        deadline = time.monotonic() + 60
        while (prediction is None or pattern is None) and time.monotonic() < deadline:
            time.sleep(1)
            prediction = next(
                iter(http("GET", f"{url}/insights?type=prediction", token=local.token)[1]["insights"]), None
            )
            pattern = next(iter(http("GET", f"{url}/insights?type=pattern", token=local.token)[1]["insights"]), None)
        assert prediction and pattern, "no prediction or pattern within 60 s of the demo"
        assert prediction["entity_id"] == leak_host and prediction["metric"] == "memoryUsage"
        assert epoch(prediction["eta"]) > time.time(), "the ETA must come before the limit is hit"
        assert prediction["limit"] == 95 and prediction["observed"] < 95
        assert len(pattern["affected_hosts"]) >= 3 and set(pattern["affected_hosts"]) <= spiking
        for alert_id in pattern["related"]:
            status, member = http("GET", f"{url}/insights/{alert_id}", token=local.token)
            assert status == 200 and member["type"] == "anomaly" and pattern["alert_id"] in member["related"]
        assert local.stop() == 0
