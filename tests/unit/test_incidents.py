"""Incidents on in-process moto: grouping, idempotency, lifecycle, notifications, silences."""

from __future__ import annotations

import json

import pytest

from iops.dal import incidents as store
from iops.logic import incidents
from iops.models.insight import Insight
from iops.settings import AiSettings, IncidentSettings

T0 = 1_767_225_600_000
MIN = 60_000
BUS = "iops-dev-alerts"


class Events:
    """EventBridge stand-in: keeps each notification's detail; can be told to fail."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.fail = False

    def put_events(self, Entries: list[dict]) -> dict:  # noqa: N803 - boto3's name
        if self.fail:
            return {"FailedEntryCount": len(Entries), "Entries": [{"ErrorCode": "Boom"} for _ in Entries]}
        self.sent.extend(json.loads(e["Detail"]) for e in Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i in range(len(Entries))]}

    def kinds(self) -> list[str]:
        return [d["notification"] for d in self.sent]


def insight(host: str, minute: int, risk: int, metric: str = "cpuUsage", **extra) -> Insight:
    severity = "CRITICAL" if risk >= 90 else "HIGH" if risk >= 80 else "MEDIUM" if risk >= 60 else "LOW"
    return Insight(
        alert_id=f"ins-{host}-{metric}-{minute}-{extra.get('type', 'anomaly')}",
        timestamp_ms=T0 + minute * MIN,
        entity_id=host,
        type=extra.get("type", "anomaly"),
        prediction_type="performance_degradation",
        severity=severity,
        risk_score=risk,
        confidence=0.9,
        explanation=f"{metric} on {host} was high.",
        recommendations=["look"],
        model_used="statistical",
        affected_hosts=extra.get("hosts", [host]),
        metric=metric,
        observed=97.0,
        expected=30.0,
    )


@pytest.fixture
def cfg(aws) -> IncidentSettings:
    return AiSettings.from_env().incidents


def run(ddb, cfg: IncidentSettings, events: Events, batch: list[Insight], now_ms: int) -> list[dict]:
    touched, failed = incidents.assign(ddb, cfg, batch, now_ms)
    assert failed == []
    incidents.notify(ddb, events, BUS, "https://dash.example", cfg, touched, now_ms)
    return touched


def all_incidents(ddb, cfg: IncidentSettings) -> list[dict]:
    return store.open_incidents(ddb, cfg.table, incidents.STATUSES)


def test_one_host_over_several_batches_is_one_incident_with_one_notification(ddb, cfg) -> None:
    events = Events()
    run(ddb, cfg, events, [insight("web-01", 0, 85), insight("web-01", 1, 70, "memoryUsage")], T0 + MIN)
    run(ddb, cfg, events, [insight("web-01", 3, 84)], T0 + 3 * MIN)
    [inc] = all_incidents(ddb, cfg)
    assert inc["insight_count"] == 3 and inc["severity"] == "HIGH" and inc["metrics"] == ["cpuUsage", "memoryUsage"]
    assert events.kinds() == ["opened"]
    assert events.sent[0]["dashboard_link"] == f"https://dash.example/incidents/{inc['incidentId']}"


def test_a_replayed_batch_makes_no_second_incident_and_no_second_notification(ddb, cfg) -> None:
    events = Events()
    batch = [insight("web-01", 0, 92), insight("db-01", 0, 88)]
    run(ddb, cfg, events, batch, T0)
    run(ddb, cfg, events, batch, T0 + 2 * MIN)  # the stream delivers the same records again
    assert len(all_incidents(ddb, cfg)) == 2
    assert sorted(d["host"] for d in events.sent) == ["db-01", "web-01"]


def test_a_pattern_ties_its_hosts_into_one_incident(ddb, cfg) -> None:
    events = Events()
    hosts = ["web-01", "web-02", "web-03"]
    members = [insight(h, 0, 85) for h in hosts]
    pattern = insight("3 hosts: web-01, web-02, web-03", 0, 85, type="pattern", hosts=hosts)
    run(ddb, cfg, events, [*members, pattern], T0)
    [inc] = all_incidents(ddb, cfg)
    assert inc["hosts"] == hosts and inc["insight_count"] == 4
    assert events.kinds() == ["opened"] and events.sent[0]["host"] == "3 hosts: web-01, web-02, web-03"


def test_severity_rising_notifies_once_more_and_a_low_incident_never(ddb, cfg) -> None:
    events = Events()
    run(ddb, cfg, events, [insight("web-01", 0, 65)], T0)
    assert events.kinds() == []  # MEDIUM: recorded, not notified
    run(ddb, cfg, events, [insight("web-01", 1, 85)], T0 + MIN)
    run(ddb, cfg, events, [insight("web-01", 2, 86)], T0 + 2 * MIN)
    run(ddb, cfg, events, [insight("web-01", 3, 95)], T0 + 3 * MIN)
    assert events.kinds() == ["opened", "escalated"]
    assert [d["severity"] for d in events.sent] == ["HIGH", "CRITICAL"]


def test_reminders_until_acknowledged_then_quiet_resolves_with_a_notice(ddb, cfg) -> None:
    events = Events()
    [inc] = run(ddb, cfg, events, [insight("web-01", 0, 85)], T0)
    # quiet time is 15 minutes: keep it alive with an insight every 10 minutes for 9 hours
    for m in range(10, 9 * 60, 10):
        run(ddb, cfg, events, [insight("web-01", m, 81)], T0 + m * MIN)
        incidents.sweep(ddb, events, BUS, None, cfg, T0 + m * MIN + MIN)
    assert events.kinds() == ["opened", "reminder", "reminder"]  # at 4 h and 8 h
    incidents.acknowledge(ddb, cfg, inc["incidentId"], "ana", T0 + 9 * 60 * MIN)
    for m in range(9 * 60, 14 * 60, 10):
        run(ddb, cfg, events, [insight("web-01", m, 81)], T0 + m * MIN)
        incidents.sweep(ddb, events, BUS, None, cfg, T0 + m * MIN + MIN)
    assert events.kinds() == ["opened", "reminder", "reminder"]  # acknowledged: no more reminders
    last = T0 + (14 * 60 - 10) * MIN
    incidents.sweep(ddb, events, BUS, None, cfg, last + 14 * MIN)
    assert store.get(ddb, cfg.table, inc["incidentId"])["status"] == "acknowledged"
    incidents.sweep(ddb, events, BUS, None, cfg, last + 16 * MIN)
    incidents.sweep(ddb, events, BUS, None, cfg, last + 17 * MIN)
    after = store.get(ddb, cfg.table, inc["incidentId"])
    assert after["status"] == "resolved" and after.get("resolved_by") is None
    assert events.kinds()[-1] == "resolved" and events.kinds().count("resolved") == 1


def test_a_recurrence_within_the_quiet_time_reopens_later_it_is_a_new_incident(ddb, cfg) -> None:
    events = Events()
    [inc] = run(ddb, cfg, events, [insight("web-01", 0, 85)], T0)
    incidents.resolve(ddb, cfg, inc["incidentId"], "ana", T0 + 2 * MIN)
    incidents.sweep(ddb, events, BUS, None, cfg, T0 + 3 * MIN)
    [again] = run(ddb, cfg, events, [insight("web-01", 10, 85)], T0 + 10 * MIN)
    assert again["incidentId"] == inc["incidentId"] and again["status"] == "open" and again["reopened"] == 1
    assert events.kinds() == ["opened", "resolved", "reopened"]
    assert "resolved by ana" in events.sent[1]["message"]
    [other] = run(ddb, cfg, events, [insight("web-01", 60, 85)], T0 + 60 * MIN)
    assert other["incidentId"] != inc["incidentId"]


def test_a_failed_publish_is_released_and_the_sweeper_sends_it(ddb, cfg) -> None:
    events = Events()
    events.fail = True
    run(ddb, cfg, events, [insight("web-01", 0, 85)], T0)
    assert events.sent == []
    events.fail = False
    incidents.sweep(ddb, events, BUS, None, cfg, T0 + MIN)
    incidents.sweep(ddb, events, BUS, None, cfg, T0 + 2 * MIN)
    assert events.kinds() == ["opened"]


def test_a_matching_silence_mutes_notifications_but_the_incident_is_recorded(ddb, cfg) -> None:
    events = Events()
    store.put_silence(
        ddb,
        cfg.silences_table,
        {"silenceId": "sil-1", "host": "web-*", "metric": "*", "starts_at": T0 - MIN, "ends_at": T0 + 30 * MIN}
        | {"comment": "deploy", "created_by": "ana", "created_at": T0},
    )
    run(ddb, cfg, events, [insight("web-01", 0, 95)], T0)
    run(ddb, cfg, events, [insight("db-01", 0, 95)], T0)
    silenced = [i for i in all_incidents(ddb, cfg) if i["hosts"] == ["web-01"]]
    assert silenced[0]["silenced_by"] == "sil-1"
    assert [d["host"] for d in events.sent] == ["db-01"]
    # an incident with a host outside the matcher is not covered: it is notified
    hosts = ["web-02", "db-02"]
    run(ddb, cfg, events, [insight("web-02", 1, 90, type="pattern", hosts=hosts)], T0 + MIN)
    assert [d["host"] for d in events.sent] == ["db-01", "2 hosts: db-02, web-02"]


@pytest.mark.parametrize(
    ("host", "metric", "covered"),
    [("web-*", "*", True), ("*", "cpu*", True), ("web-0", "*", False), ("db-*", "*", False), ("*", "mem*", False)],
)
def test_silence_matchers_cover_every_host_and_metric(host: str, metric: str, covered: bool) -> None:
    silence = {"host": host, "metric": metric, "starts_at": 0, "ends_at": 10}
    assert incidents.silences(silence, {"hosts": ["web-01", "web-02"], "metrics": ["cpuUsage"]}, 5) is covered
    assert not incidents.silences(silence | {"ends_at": 5}, {"hosts": ["web-01"], "metrics": ["cpuUsage"]}, 5)


def test_acknowledging_a_resolved_incident_is_a_409_and_an_unknown_one_not_found(ddb, cfg) -> None:
    [inc] = run(ddb, cfg, Events(), [insight("web-01", 0, 85)], T0)
    incidents.resolve(ddb, cfg, inc["incidentId"], "ana", T0 + MIN)
    with pytest.raises(incidents.BadRequest) as err:
        incidents.acknowledge(ddb, cfg, inc["incidentId"], "bob", T0 + 2 * MIN)
    assert err.value.status == 409
    with pytest.raises(incidents.NotFound):
        incidents.acknowledge(ddb, cfg, "inc-nope", "bob", T0)
    with pytest.raises(incidents.NotFound):
        incidents.resolve(ddb, cfg, "host#web-01", "bob", T0)  # a host pointer is no incident
