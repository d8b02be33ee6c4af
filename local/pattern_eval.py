"""How good are the patterns: incident recall and alert reduction on generated multi-host incidents.

A fleet of hosts sends cpuUsage once a minute (each host its own daily phase and noise). At
random times an *incident* makes 3 to 6 hosts spike together (starts spread over up to a
minute); at other times a single host spikes alone. The records go, in time order and in
stream batches of 100, through the AI tier's real batch processing (`iops.logic.ai`, the
production detector, the correlation store) on in-process moto, with EventBridge replaced by a
counter. Then:

- incident recall: incidents covered by a pattern insight (at least ``patternMinHosts`` of the
  incident's hosts in ``affected_hosts``, starting within the window) / incidents; also given
  among the incidents the detector flagged on enough hosts, which is what grouping can reach;
- false patterns: pattern insights that match no incident;
- alert reduction: 1 - alerts published / alerts per-host alerting would have published (every
  HIGH or CRITICAL anomaly insight), overall and within incidents.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass

from iops_detector_sdk.severity import alerts

BATCH = 100
EVAL_PREFIX = "iops-eval"
"""Names of the tables the evaluation creates in its in-process moto."""


@dataclass(frozen=True, slots=True)
class Incident:
    start: float
    hosts: tuple[str, ...]


class SpikeOracle:
    """Flags exactly the generated spikes (values above 90): measures the grouping without detector misses."""

    name = "spike-oracle"
    remote = False
    calibrated = True  # scores as they are: the runtime does not calibrate them

    def new_state(self, series) -> dict:
        return {}

    def score(self, series, state, points) -> list[float]:
        return [0.95 if p.value > 90 else 0.0 for p in points]


class CountingEvents:
    """EventBridge stand-in: keeps the published insights."""

    def __init__(self) -> None:
        self.details: list[dict] = []

    def put_events(self, Entries: list[dict]) -> dict:  # noqa: N803 - boto3's name
        self.details.extend(json.loads(e["Detail"]) for e in Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i in range(len(Entries))]}


def generate(
    hosts: int = 8, minutes: int = 360, incidents: int = 10, singles: int = 10, seed: int = 3
) -> tuple[list[dict], list[Incident], list[tuple[float, str]]]:
    """Metric dicts (hostname, timestamp, cpuUsage) in time order, the incidents and the lone spikes."""
    rng = random.Random(seed)
    names = [f"host-{i:02d}" for i in range(1, hosts + 1)]
    phase = {h: rng.uniform(0, 2 * math.pi) for h in names}
    start = time.time() - (minutes + 60) * 60
    warmup = 90
    slots = rng.sample(range(warmup, minutes - 5, 8), incidents + singles)
    spikes: dict[tuple[str, int], float] = {}
    found: list[Incident] = []
    lone: list[tuple[float, str]] = []
    for n, minute in enumerate(sorted(slots)):
        if n % 2 == 0 and len(found) < incidents or len(lone) >= singles:
            group = tuple(sorted(rng.sample(names, rng.randint(3, min(6, hosts)))))
            for h in group:
                first = minute + rng.randint(0, 1)
                for m in range(first, first + rng.randint(1, 2)):
                    spikes[(h, m)] = rng.uniform(93, 99)
            found.append(Incident(start + 60 * minute, group))
        else:
            h = rng.choice(names)
            spikes[(h, minute)] = rng.uniform(93, 99)
            lone.append((start + 60 * minute, h))
    metrics = []
    for m in range(minutes):
        for h in names:
            base = 35 + 10 * math.sin(2 * math.pi * m / 1440 + phase[h]) + rng.gauss(0, 2)
            metrics.append({"hostname": h, "timestamp": start + 60 * m, "cpuUsage": round(spikes.get((h, m), base), 3)})
    return metrics, found, lone


def stream_record(seq: int, metric: dict) -> dict:
    """The DynamoDB stream record the ingest path's item would produce."""
    from iops.dal import metrics as metric_items
    from iops.models.common import Metric

    values = {k: v for k, v in metric.items() if k not in ("hostname", "timestamp")}
    item = metric_items.to_item(Metric(metric["hostname"], int(metric["timestamp"] * 1000), values), time.time(), 90)
    return {
        "eventID": str(seq),
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/metrics/stream/eval",
        "dynamodb": {"Keys": {}, "NewImage": item, "SequenceNumber": f"{seq:021d}", "StreamViewType": "NEW_IMAGE"},
    }


def matches(pattern: dict, incident: Incident, min_hosts: int, window_s: float) -> bool:
    start = pattern["timestamp_ms"] / 1000
    shared = set(pattern["affected_hosts"]) & set(incident.hosts)
    return len(shared) >= min_hosts and abs(start - incident.start) <= window_s + 120


def evaluate(
    hosts: int = 8, minutes: int = 360, incidents: int = 10, singles: int = 10, seed: int = 3, oracle: bool = False
) -> dict:
    """Run the generated fleet through the AI tier on in-process moto and score the patterns.

    ``oracle`` replaces the enabled detectors with `SpikeOracle`, to measure the grouping alone.
    """
    import os

    from moto import mock_aws

    from local.offline import OFFLINE_AWS

    for var, value in OFFLINE_AWS.items():
        os.environ.setdefault(var, value)
    from detectors import plugins

    metrics, truth, lone = generate(hosts, minutes, incidents, singles, seed)
    with mock_aws():
        from handlers.definitions import AI_FN, TABLES
        from iops.dal import aws
        from iops.logic.ai import Processor, process_batch
        from local.emulator import function_settings

        aws.reset()
        ddb = aws.client("dynamodb")
        settings = function_settings(EVAL_PREFIX, event_bus="eval-bus")[AI_FN]
        patterns = settings.patterns
        for table in TABLES:
            ddb.create_table(**table.create_table_kwargs(table.physical_name(EVAL_PREFIX)))
        events = CountingEvents()
        proc = Processor(
            ddb=ddb,
            events=events,
            settings=settings,
            detectors={"spike-oracle": SpikeOracle()} if oracle else plugins.enabled_detectors(),
            enrichers={},
            pattern_settings=patterns,
        )
        insights: dict[str, dict] = {}
        started = time.perf_counter()
        records = [stream_record(i + 1, m) for i, m in enumerate(metrics)]
        for i in range(0, len(records), BATCH):
            out = process_batch(proc, records[i : i + BATCH], time.monotonic() + 60)
            for insight in out.insights:
                insights[insight.alert_id] = insight.to_event() | {"timestamp_ms": insight.timestamp_ms}
        seconds = time.perf_counter() - started
        aws.reset()
    return score(list(insights.values()), events.details, truth, lone, patterns.min_hosts, patterns.window_s) | {
        "detectors": "spike-oracle" if oracle else ",".join(plugins.enabled_detector_names()),
        "hosts": hosts,
        "minutes": minutes,
        "seconds": round(seconds, 1),
    }


def score(
    insights: list[dict],
    published: list[dict],
    truth: list[Incident],
    lone: list[tuple[float, str]],
    min_hosts: int,
    window_s: float,
) -> dict:
    anomalies = [i for i in insights if i["type"] == "anomaly"]
    patterns = [i for i in insights if i["type"] == "pattern"]

    def in_incident(insight: dict, incident: Incident) -> bool:
        ts = insight["timestamp_ms"] / 1000
        return insight["entity_id"] in incident.hosts and incident.start - 60 <= ts <= incident.start + 180

    detected = [inc for inc in truth if len({a["entity_id"] for a in anomalies if in_incident(a, inc)}) >= min_hosts]
    recalled = [inc for inc in truth if any(matches(p, inc, min_hosts, window_s) for p in patterns)]
    false_patterns = [p for p in patterns if not any(matches(p, inc, min_hosts, window_s) for inc in truth)]
    per_host = [a for a in anomalies if alerts(a["severity"])]
    incident_ids = {a["alert_id"] for a in anomalies if any(in_incident(a, inc) for inc in truth)}
    pattern_ids = {p["alert_id"] for p in patterns if p not in false_patterns}
    per_host_in = [a for a in per_host if a["alert_id"] in incident_ids]
    published_in = [e for e in published if e["alert_id"] in incident_ids or e["alert_id"] in pattern_ids]
    return {
        "incidents": len(truth),
        "lone_spikes": len(lone),
        "incidents_detected_on_enough_hosts": len(detected),
        "patterns": len(patterns),
        "incident_recall": round(len(recalled) / len(truth), 3) if truth else None,
        "recall_of_detected": round(len([i for i in recalled if i in detected]) / len(detected), 3)
        if detected
        else None,
        "false_patterns": len(false_patterns),
        "alerts_per_host": len(per_host),
        "alerts_published": len(published),
        "alert_reduction": round(1 - len(published) / len(per_host), 3) if per_host else None,
        "incident_alerts_per_host": len(per_host_in),
        "incident_alerts_published": len(published_in),
        "incident_alert_reduction": round(1 - len(published_in) / len(per_host_in), 3) if per_host_in else None,
    }
