"""`iops local --alerts-webhook URL`: one SNS-style delivery per HIGH/CRITICAL incident, none for others.

Notifications are per incident (docs/incidents.md): a host's insights that overlap in time are one
incident, notified once when it opens at HIGH or above. tests/local/test_incidents_local.py covers
reminders, acknowledgement, resolve notices and silences.

The system runs as a user runs it (a subprocess); a tiny HTTP server stands in for the webhook.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from local.alerts import VISIBILITY_S
from tests.local.iops_process import IopsLocal, http, wait_for

KEY = "alerts-test-key"
ALERTING = ("HIGH", "CRITICAL")


class Receiver(ThreadingHTTPServer):
    """Records every POST body (parsed JSON) it receives."""

    daemon_threads = True

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        super().__init__(("127.0.0.1", 0), _Hook)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.bodies.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def local(*args: str, env: dict[str, str] | None = None) -> IopsLocal:
    """`iops local` with the statistical detector, keeping every line it prints."""
    return IopsLocal(api_key=KEY, extra_args=("--detectors", "statistical", *args), env=env, keep=None).start()


def post(system: IopsLocal, metrics: list[dict]) -> None:
    status, body = http("POST", f"{system.url}/metrics", {"metrics": metrics}, key=KEY)
    assert status == 200 and body["accepted"] == len(metrics), body


def insights(system: IopsLocal, host: str) -> list[dict]:
    """Every insight of ``host``, page by page, as a signed-in reader lists them."""
    out, token = [], None
    while True:
        query = {"host": host, "limit": "100", **({"nextToken": token} if token else {})}
        status, page = http("GET", f"{system.url}/insights?{urllib.parse.urlencode(query)}", token=system.token)
        assert status == 200, page
        out += page["insights"]
        token = page.get("nextToken")
        if not token:
            return out


def flat_then_spike(host: str, start: float) -> list[dict]:
    """A flat series then a spike: any detector calls the spike critical."""
    return [{"hostname": host, "timestamp": start + 60 * i, "cpuUsage": 30.0} for i in range(120)] + [
        {"hostname": host, "timestamp": start + 60 * 120, "cpuUsage": 97.0}
    ]


def sawtooth_with_bumps(host: str, start: float) -> list[dict]:
    """A small regular pattern with moderate bumps: low and medium insights at a low threshold."""
    values = [30 + (i % 5) * 0.7 for i in range(60)] + [45.0, 31.0, 60.0]
    return [{"hostname": host, "timestamp": start + 60 * i, "cpuUsage": v} for i, v in enumerate(values)]


def settled_insights(system: IopsLocal, hosts: list[str]) -> list[dict]:
    """All insights of ``hosts`` once their number has not changed for two seconds."""
    last, since = -1, time.monotonic()
    while True:
        found = [i for h in hosts for i in insights(system, h)]
        if len(found) != last:
            last, since = len(found), time.monotonic()
        elif time.monotonic() - since > 2:
            return found
        time.sleep(0.25)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def incidents(system: IopsLocal, host: str) -> list[dict]:
    """Every incident of ``host`` (any status), as a signed-in reader lists them."""
    status, page = http("GET", f"{system.url}/incidents?host={host}&limit=100", token=system.token)
    assert status == 200, page
    return page["incidents"]


@pytest.mark.slow
def test_one_webhook_delivery_per_high_or_critical_incident_and_none_for_lower(receiver: Receiver) -> None:
    # Bedrock on, as in the stack: the emulator has no Converse, so every insight takes the template path.
    system = local("--alerts-webhook", receiver.url, env={"ANOMALY_THRESHOLD": "0.45", "BEDROCK_ENABLED": "true"})
    try:
        start = time.time() - 300 * 60
        hosts = ["alert-flat", "alert-saw"]
        post(system, flat_then_spike(hosts[0], start) + sawtooth_with_bumps(hosts[1], start))
        wait_for(lambda: any(i["observed"] == 97.0 for i in insights(system, hosts[0])), 20, "the spike's insight")
        found = settled_insights(system, hosts)
        assert any(i["severity"] in ALERTING for i in found), "no HIGH/CRITICAL insight: nothing to alert on"
        assert any(i["severity"] not in ALERTING for i in found), "no LOW/MEDIUM insight: 'none for lower' untested"
        for i in found:
            assert i["explanation"] and i["recommendations"], i
            assert "claude" not in i["model_used"], i  # the template, not the model
        cases = [c for h in hosts for c in incidents(system, h)]
        alerting = {c["incident_id"]: c for c in cases if c["severity"] in ALERTING}
        assert alerting and len(alerting) < len(cases), cases  # the saw's incidents stay below HIGH
        wait_for(lambda: len(receiver.bodies) >= len(alerting), 20, f"{len(alerting)} webhook deliveries")
        time.sleep(VISIBILITY_S + 1)  # an alert delivered but not deleted would come back by now
    finally:
        assert system.stop() == 0
    ids = [re.search(r"\(id ([^)]+)\)$", b["Message"]).group(1) for b in receiver.bodies]
    assert Counter(ids) == Counter(list(alerting))  # exactly once each, nothing for LOW/MEDIUM, not one per point
    by_id = {i["alert_id"]: i for i in found}
    for body, incident_id in zip(receiver.bodies, ids, strict=True):
        case = alerting[incident_id]
        worst = max((by_id[a] for a in case["insight_ids"] if a in by_id), key=lambda i: i["risk_score"])
        host = case["hosts"][0]
        assert body["Type"] == "Notification"
        assert body["TopicArn"].endswith(":iops-local-alerts")
        assert body["MessageId"] and body["Timestamp"]
        assert body["Subject"] == f"IOps {case['severity']} opened: cpuUsage on {host}"
        assert f"{case['severity']} incident (risk {case['risk_score']}/100, " in body["Message"]
        assert f"cpuUsage on {host}" in body["Message"]
        assert case["summary"] == worst["explanation"] and worst["explanation"] in body["Message"]
        assert f"First step: {worst['recommendations'][0]}." in body["Message"]
        assert f"{system.url}/incidents/{incident_id}" in body["Message"]
    print(f"insights: {len(found)}, incidents: {len(cases)}, webhook deliveries: {len(receiver.bodies)}")
    print("delivered:", json.dumps(receiver.bodies[0], indent=2))


@pytest.mark.slow
def test_without_a_webhook_alerts_are_printed() -> None:
    system = local()
    try:
        post(system, flat_then_spike("console-flat", time.time() - 300 * 60))
        wait_for(lambda: any("ALERT IOps" in line for line in system.output), 20, "a printed alert")
        time.sleep(2)
    finally:
        assert system.stop() == 0
    printed = [line for line in system.output if line.startswith("ALERT ")]
    assert printed == ["ALERT IOps CRITICAL opened: cpuUsage on console-flat\n"]
    assert any("IOps Dashboard CRITICAL incident" in line and "console-flat" in line for line in system.output)
