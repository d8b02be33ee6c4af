"""The one alert pattern, tried on moto's EventBridge with real incident notifications, and their messages."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from handlers.events import (
    ALERT_PATTERN,
    ALERT_TRANSFORMER,
    EVENT_DETAIL_TYPE,
    EVENT_SOURCE,
    alert_pattern,
    render_message,
    resolve,
)
from iops.logic.incidents import event_detail
from iops.logic.incidents import event_entry as entry_of

BUS = "iops-test-alerts"


def incident(risk: int, severity: str, incident_id: str, hosts: tuple[str, ...] = ("web-03",)) -> dict:
    return {
        "incidentId": incident_id,
        "status": "open",
        "severity": severity,
        "risk_score": risk,
        "hosts": list(hosts),
        "metrics": ["cpuUsage"],
        "insight_count": 2,
        "opened_at": 1_767_225_600_000,
        "summary": "cpuUsage on web-03 was 97 against a recent median of 31.",
        "recommendation": "Find the processes using the CPU on web-03",
    }


def event_entry(bus: str, inc: dict, dashboard_url: str, kind: str = "opened") -> dict:
    return entry_of(bus, event_detail(inc, kind, dashboard_url))


@pytest.fixture
def bus_to_queue():
    """moto's EventBridge: a bus, the alert rule with ALERT_PATTERN, an SQS target."""
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        events.create_event_bus(Name=BUS)
        queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="alert", EventBusName=BUS, EventPattern=json.dumps(ALERT_PATTERN))
        events.put_targets(Rule="alert", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
        yield events, sqs, queue_url


def delivered(sqs, queue_url: str) -> list[dict]:
    out = []
    while True:
        msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def test_moto_eventbridge_delivers_risk_90_and_drops_risk_50(bus_to_queue) -> None:
    events, sqs, url = bus_to_queue
    entries = [
        event_entry(BUS, incident(90, "HIGH", "high-90"), "https://dash.example"),
        event_entry(BUS, incident(50, "LOW", "low-50"), "https://dash.example"),
    ]
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0
    got = delivered(sqs, url)
    assert [e["detail"]["incident_id"] for e in got] == ["high-90"]
    assert got[0]["source"] == EVENT_SOURCE and got[0]["detail-type"] == EVENT_DETAIL_TYPE


def test_the_threshold_is_inclusive_and_only_insight_events_match(bus_to_queue) -> None:
    events, sqs, url = bus_to_queue
    other_source = event_entry(BUS, incident(95, "CRITICAL", "other"), "") | {"Source": "someone.else"}
    entries = [
        event_entry(BUS, incident(80, "HIGH", "at-80"), ""),
        event_entry(BUS, incident(79, "MEDIUM", "at-79"), ""),
        event_entry(BUS, incident(100, "CRITICAL", "at-100"), ""),
        other_source,
    ]
    events.put_events(Entries=entries)
    assert sorted(e["detail"]["incident_id"] for e in delivered(sqs, url)) == ["at-100", "at-80"]


def test_a_raised_threshold_drops_high_but_keeps_critical(bus_to_queue) -> None:
    events, sqs, url = bus_to_queue
    events.put_rule(Name="alert", EventBusName=BUS, EventPattern=json.dumps(alert_pattern(90)))
    events.put_events(
        Entries=[event_entry(BUS, incident(85, "HIGH", "h"), ""), event_entry(BUS, incident(92, "CRITICAL", "c"), "")]
    )
    assert [e["detail"]["incident_id"] for e in delivered(sqs, url)] == ["c"]


@pytest.mark.parametrize("threshold", [79, 0, 101])
def test_thresholds_the_bus_can_never_satisfy_are_refused(threshold: int) -> None:
    with pytest.raises(ValueError, match="80-100"):
        alert_pattern(threshold)


def message(inc: dict, kind: str, url: str = "https://dash.example") -> str:
    entry = event_entry(BUS, inc, url, kind)
    return render_message(
        {"source": entry["Source"], "detail-type": entry["DetailType"], "detail": json.loads(entry["Detail"])}
    )


def test_message_names_severity_host_metric_explanation_first_step_and_link() -> None:
    text = message(incident(93, "CRITICAL", "abc-123"), "opened")
    assert text == (
        "IOps Dashboard CRITICAL incident (risk 93/100, 2 insights): cpuUsage on web-03. "
        "cpuUsage on web-03 was 97 against a recent median of 31. "
        "First step: Find the processes using the CPU on web-03. "
        "Incident: https://dash.example/incidents/abc-123 (id abc-123)"
    )
    assert "<" not in text  # every placeholder of the template has an input path


def test_each_kind_of_notification_says_what_happened_and_a_resolve_is_short() -> None:
    inc = incident(85, "HIGH", "i-1", hosts=("web-01", "web-02"))
    assert "HIGH incident escalated" in message(inc, "escalated")
    assert "HIGH incident still open" in message(inc, "reminder")
    assert "on 2 hosts: web-01, web-02" in message(inc, "opened")
    resolved = message(inc | {"status": "resolved"}, "resolved", url="")
    assert resolved == "IOps Dashboard incident resolved (quiet): cpuUsage on 2 hosts: web-01, web-02. Incident i-1"
    by = message(inc | {"status": "resolved", "resolved_by": "ana"}, "resolved", url="")
    assert by.startswith("IOps Dashboard incident resolved by ana:")


def test_every_placeholder_has_an_input_path() -> None:
    import re

    placeholders = set(re.findall(r"<([a-z]+)>", ALERT_TRANSFORMER["input_template"]))
    assert placeholders == set(ALERT_TRANSFORMER["input_paths"])


def test_resolve_follows_keys_and_indexes_and_misses_softly() -> None:
    event = {"detail": {"recommendations": ["a", "b"], "n": 0}}
    assert resolve("$.detail.recommendations[1]", event) == "b"
    assert resolve("$.detail.n", event) == 0
    assert resolve("$.detail.recommendations[5]", event) is None
    assert resolve("$.detail.missing.deeper", event) is None
    with pytest.raises(ValueError):
        resolve("detail.n", event)
