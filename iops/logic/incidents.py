"""Incidents: insights of one host, or of hosts a pattern ties, that overlap in time (docs/incidents.md).

Lifecycle: ``open`` at its first insight, ``acknowledged`` by a person, ``resolved`` by a person or
by the sweeper once ``incidentQuietMinutes`` passed without a new insight; a new insight on its
hosts within the quiet time after it was last seen (or resolved) joins it again, reopening it.
Its severity is the highest of its insights.

Idempotency: an incident's id comes from its first insight's (deterministic) id, and an insight
joins at most once (its id is in ``insight_ids``), so a replayed batch changes nothing.
Notifications are decided from the incident's state (`due`), not from what a batch changed, and
each is claimed by a conditional write before it is published: a replay, a concurrent batch or the
sweeper finds the claim and sends nothing; a failed publish releases it and the sweeper sends it a
minute later.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from iops_detector_sdk import severity as severities

from handlers.events import EVENT_DETAIL_TYPE, EVENT_SOURCE, incident_message
from iops import models
from iops.dal import incidents as store
from iops.errors import BadRequest
from iops.logs import get_logger
from iops.models.common import iso
from iops.settings import IncidentSettings

log = get_logger(__name__)

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
STATUSES = (OPEN, ACKNOWLEDGED, RESOLVED)
MAX_INSIGHT_IDS = 500
"""An incident lists at most this many insight ids (the newest); ``insight_count`` counts them all."""
ATTEMPTS = 5
"""Reads and conditional writes of one incident before a batch gives up on it (retried with its series)."""
RESOLVE_NOTICE_LOOKBACK_MS = 6 * 3_600_000
"""The sweeper looks this far back for resolved incidents whose resolve notice is still unsent."""


class NotFound(LookupError):
    """No incident (or silence) with that id."""


def incident_id_for(insight_id: str) -> str:
    return "inc-" + hashlib.sha256(insight_id.encode()).hexdigest()[:24]


def hosts_of(insight: models.Insight) -> list[str]:
    return list(insight.affected_hosts or [insight.entity_id])


def metrics_of(insight: models.Insight) -> list[str]:
    return [m for m in (insight.metric or "").split(",") if m]


def groups(insights: Iterable[models.Insight]) -> list[list[models.Insight]]:
    """Insights whose hosts overlap, transitively: a pattern's hosts are one group (union-find)."""
    parent: dict[str, str] = {}

    def find(h: str) -> str:
        while parent.setdefault(h, h) != h:
            parent[h] = parent[parent[h]]
            h = parent[h]
        return h

    items = list(insights)
    for insight in items:
        hosts = hosts_of(insight)
        for h in hosts[1:]:
            parent[find(h)] = find(hosts[0])
        find(hosts[0])
    out: dict[str, list[models.Insight]] = {}
    for insight in items:
        out.setdefault(find(hosts_of(insight)[0]), []).append(insight)
    return list(out.values())


def joins(incident: dict[str, Any], timestamp_ms: int, quiet_ms: int) -> bool:
    """Whether an insight at ``timestamp_ms`` overlaps ``incident`` (within the quiet time of it)."""
    ref = max(incident["last_seen"], incident.get("resolved_at") or 0)
    return incident["opened_at"] - quiet_ms <= timestamp_ms <= ref + quiet_ms


def new_incident(first: models.Insight, now_ms: int, settings: IncidentSettings) -> dict[str, Any]:
    return {
        "incidentId": incident_id_for(first.alert_id),
        "entity_type": store.ENTITY_TYPE,
        "status": OPEN,
        "severity": severities.LOWEST,
        "risk_score": 0,
        "hosts": [],
        "metrics": [],
        "insight_ids": [],
        "insight_count": 0,
        "opened_at": first.timestamp_ms,
        "last_seen": first.timestamp_ms,
        "touched_at": now_ms,
        "updated_at": now_ms,
        "notified_rank": 0,
        "last_notified_at": 0,
        "reopened": 0,
        "version": 0,
        "ttl": now_ms // 1000 + settings.ttl_days * 86_400,
    }


def merge(incident: dict[str, Any], insights: list[models.Insight], now_ms: int) -> dict[str, Any] | None:
    """The changes that adding ``insights`` makes to ``incident``; None when it has them all."""
    known = set(incident["insight_ids"])
    fresh = sorted((i for i in insights if i.alert_id not in known), key=lambda i: (i.timestamp_ms, i.alert_id))
    if not fresh:
        return None
    worst = max(fresh, key=lambda i: (i.risk_score, i.timestamp_ms))
    changes: dict[str, Any] = {
        "hosts": sorted(set(incident["hosts"]).union(*(hosts_of(i) for i in fresh))),
        "metrics": sorted(set(incident["metrics"]).union(*(metrics_of(i) for i in fresh))),
        "insight_ids": (incident["insight_ids"] + [i.alert_id for i in fresh])[-MAX_INSIGHT_IDS:],
        "insight_count": incident["insight_count"] + len(fresh),
        "last_seen": max(incident["last_seen"], *(i.timestamp_ms for i in fresh)),
        "opened_at": min(incident["opened_at"], *(i.timestamp_ms for i in fresh)),
        "touched_at": now_ms,
        "updated_at": now_ms,
    }
    if worst.risk_score > incident["risk_score"] or not incident.get("summary"):
        changes |= {
            "risk_score": max(worst.risk_score, incident["risk_score"]),
            "severity": max(worst.severity, incident["severity"], key=severities.severity_rank),
            "summary": worst.explanation,
            "recommendation": worst.recommendations[0] if worst.recommendations else None,
        }
    if incident["status"] == RESOLVED:  # it recurred within the quiet time: the same incident again
        changes |= {
            "status": OPEN,
            "resolved_at": None,
            "resolved_by": None,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "notified_rank": 0,
            "resolve_notified": None,
            "reopened": incident.get("reopened", 0) + 1,
        }
    return changes


def _assign_group(ddb: Any, settings: IncidentSettings, group: list[models.Insight], now_ms: int) -> dict[str, Any]:
    table = settings.table
    hosts = sorted({h for i in group for h in hosts_of(i)})
    first = min(group, key=lambda i: (i.timestamp_ms, i.alert_id))
    for _ in range(ATTEMPTS):
        pointers, unread = store.get_many(ddb, table, [store.POINTER_PREFIX + h for h in hosts])
        found, unread_incidents = store.get_many(ddb, table, [p["current"] for p in pointers.values()])
        if unread or unread_incidents:
            raise RuntimeError("incidents not readable (throttled)")
        joinable = [c for c in found.values() if joins(c, first.timestamp_ms, settings.quiet_ms)]
        if joinable:
            target = min(joinable, key=lambda c: (c["opened_at"], c["incidentId"]))
        else:
            target = new_incident(first, now_ms, settings)
            if not store.create(ddb, table, target):  # a replay, or a concurrent batch, made it already
                target = store.get(ddb, table, target["incidentId"]) or target
        changes = merge(target, group, now_ms)
        if changes is None:
            updated = target
            break
        try:
            store.update(ddb, table, target["incidentId"], target["version"], changes)
        except store.Conflict:
            continue
        updated = {**target, **changes, "version": target["version"] + 1}
        break
    else:
        raise store.Conflict(f"incident of {hosts} kept changing")
    store.set_pointers(ddb, table, updated["hosts"], updated["incidentId"], updated["ttl"])
    return updated


def assign(
    ddb: Any, settings: IncidentSettings, insights: list[models.Insight], now_ms: int
) -> tuple[list[dict[str, Any]], list[models.Insight]]:
    """Put each insight in its incident; returns the incidents touched and the insights that failed."""
    touched: list[dict[str, Any]] = []
    failed: list[models.Insight] = []
    for group in groups(insights):
        try:
            touched.append(_assign_group(ddb, settings, group, now_ms))
        except Exception as exc:  # noqa: BLE001 - this group's series are retried, the others go on
            log.error("could not assign insights to an incident", insights=len(group), error=exc)
            failed.extend(group)
    return touched, failed


# --- notifications --------------------------------------------------------------------------------


def due(incident: dict[str, Any], now_ms: int, settings: IncidentSettings) -> str | None:
    """The notification this incident's state calls for now, if any (`handlers.events.NOTIFICATIONS`)."""
    notified = incident.get("notified_rank", 0)
    if incident["status"] == RESOLVED:
        return "resolved" if notified and not incident.get("resolve_notified") else None
    if not severities.alerts(incident["severity"]):
        return None
    if not notified:
        return "reopened" if incident.get("reopened") else "opened"
    if severities.severity_rank(incident["severity"]) + 1 > notified:
        return "escalated"
    if incident["status"] == OPEN and now_ms - incident.get("last_notified_at", 0) >= settings.repeat_ms:
        return "reminder"
    return None


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def silences(silence: dict[str, Any], incident: dict[str, Any], now_ms: int) -> bool:
    """A silence in force that covers every host and every metric of the incident."""
    if not silence["starts_at"] <= now_ms < silence["ends_at"]:
        return False
    host, metric = _glob(silence["host"]), _glob(silence["metric"])
    return all(host.fullmatch(h) for h in incident["hosts"]) and all(
        metric.fullmatch(m) for m in incident["metrics"] or [""]
    )


def _claim(kind: str, incident: dict[str, Any], now_ms: int) -> tuple[dict, str, dict]:
    """(what to set, condition, condition values) that claims ``kind`` for this incident."""
    if kind == "resolved":
        return (
            {"resolve_notified": True},
            "#status = :c_resolved AND (attribute_not_exists(resolve_notified) OR resolve_notified = :c_false)",
            {":c_resolved": RESOLVED, ":c_false": False},
        )
    if kind == "reminder":
        return (
            {"last_notified_at": now_ms},
            "#status = :c_open AND last_notified_at = :c_last",
            {":c_open": OPEN, ":c_last": incident.get("last_notified_at", 0)},
        )
    return (
        {"notified_rank": severities.severity_rank(incident["severity"]) + 1, "last_notified_at": now_ms},
        "#status <> :c_resolved AND notified_rank = :c_rank",
        {":c_resolved": RESOLVED, ":c_rank": incident.get("notified_rank", 0)},
    )


def event_detail(incident: dict[str, Any], kind: str, dashboard_url: str | None) -> dict[str, Any]:
    hosts = incident["hosts"]
    detail = {
        "incident_id": incident["incidentId"],
        "notification": kind,
        "status": RESOLVED if kind == "resolved" else incident["status"],
        "severity": incident["severity"],
        "risk_score": incident["risk_score"],
        "host": hosts[0] if len(hosts) == 1 else f"{len(hosts)} hosts: " + ", ".join(hosts[:4]),
        "hosts": hosts,
        "metric": ",".join(incident["metrics"]),
        "summary": incident.get("summary") or "",
        "recommendation": incident.get("recommendation"),
        "insight_count": incident["insight_count"],
        "opened_at": iso(incident["opened_at"]),
        "resolved_by": incident.get("resolved_by"),
        "dashboard_link": f"{dashboard_url}/incidents/{incident['incidentId']}" if dashboard_url else "",
    }
    detail["message"] = incident_message(detail)
    return detail


def event_entry(bus: str, detail: dict[str, Any]) -> dict[str, Any]:
    """One PutEvents entry: the notification on the alert bus (`handlers.events`)."""
    return {
        "Source": EVENT_SOURCE,
        "DetailType": EVENT_DETAIL_TYPE,
        "Detail": json.dumps(detail),
        "EventBusName": bus,
        "Resources": [],
    }


def notify(
    ddb: Any,
    events: Any,
    bus: str | None,
    dashboard_url: str | None,
    settings: IncidentSettings,
    incidents: list[dict[str, Any]],
    now_ms: int,
) -> int:
    """Claim and publish what each incident is due; returns how many notifications went out."""
    if not bus:
        return 0
    claimed: list[tuple[dict[str, Any], str, dict, dict]] = []
    active: list[dict[str, Any]] | None = None
    for incident in incidents:
        kind = due(incident, now_ms, settings)
        if kind is None:
            continue
        if kind != "resolved":
            if active is None:
                active = store.active_silences(ddb, settings.silences_table, now_ms)
            muting = next((s for s in active if silences(s, incident, now_ms)), None)
            if muting is not None:
                if incident.get("silenced_by") != muting["silenceId"]:
                    store.mark(ddb, settings.table, incident["incidentId"], {"silenced_by": muting["silenceId"]})
                continue
        sets, condition, values = _claim(kind, incident, now_ms)
        if store.claim(ddb, settings.table, incident["incidentId"], sets, condition, values):
            before = {k: incident.get(k) for k in sets}
            claimed.append((incident, kind, sets, before))
    sent = 0
    for start in range(0, len(claimed), 10):
        chunk = claimed[start : start + 10]
        entries = [event_entry(bus, event_detail(inc, kind, dashboard_url)) for inc, kind, _, _ in chunk]
        try:
            resp = events.put_events(Entries=entries)
            results = resp.get("Entries", [{}] * len(chunk))
        except Exception as exc:  # noqa: BLE001 - released below; the sweeper sends them later
            log.error("could not publish incident notifications", error=exc)
            results = [{"ErrorCode": "Exception"}] * len(chunk)
        for (inc, kind, sets, before), result in zip(chunk, results, strict=True):
            if not result.get("ErrorCode"):
                sent += 1
                continue
            log.warning("notification not published; released for the sweeper", incident=inc["incidentId"], kind=kind)
            store.release(ddb, settings.table, inc["incidentId"], sets, before)
    return sent


# --- what people and the sweeper do ----------------------------------------------------------------


def _change(ddb: Any, settings: IncidentSettings, incident_id: str, decide: Any) -> dict[str, Any]:
    """Read, let ``decide(incident)`` return changes (or None: nothing to do), write; retried on conflicts."""
    for _ in range(ATTEMPTS):
        incident = store.get(ddb, settings.table, incident_id) if incident_id.startswith("inc-") else None
        if incident is None:
            raise NotFound(f"no incident with id {incident_id!r}")
        changes = decide(incident)
        if changes is None:
            return incident
        try:
            store.update(ddb, settings.table, incident_id, incident["version"], changes)
        except store.Conflict:
            continue
        return {**incident, **changes, "version": incident["version"] + 1}
    raise store.Conflict(incident_id)


def acknowledge(
    ddb: Any, settings: IncidentSettings, incident_id: str, user: str, now_ms: int, comment: str = ""
) -> dict[str, Any]:
    """A person has it: no more reminders. A resolved incident cannot be acknowledged (409)."""

    def decide(incident: dict[str, Any]) -> dict[str, Any] | None:
        if incident["status"] == RESOLVED:
            raise BadRequest("the incident is resolved; it reopens by itself if it recurs", status=409)
        if incident["status"] == ACKNOWLEDGED:
            return None
        return {
            "status": ACKNOWLEDGED,
            "acknowledged_by": user,
            "acknowledged_at": now_ms,
            "comment": comment or None,
            "updated_at": now_ms,
        }

    return _change(ddb, settings, incident_id, decide)


def resolve(
    ddb: Any, settings: IncidentSettings, incident_id: str, user: str | None, now_ms: int, comment: str = ""
) -> dict[str, Any]:
    """Resolved by ``user`` (None: the sweeper, after the quiet time); already resolved is left as it is."""

    def decide(incident: dict[str, Any]) -> dict[str, Any] | None:
        if incident["status"] == RESOLVED:
            return None
        changes = {"status": RESOLVED, "resolved_at": now_ms, "resolved_by": user, "updated_at": now_ms}
        return changes | ({"comment": comment} if comment else {})

    return _change(ddb, settings, incident_id, decide)


def sweep(
    ddb: Any, events: Any, bus: str | None, dashboard_url: str | None, settings: IncidentSettings, now_ms: int
) -> dict:
    """Resolve the quiet incidents, then send what is due: reminders, resolve notices, anything released."""
    active = store.open_incidents(ddb, settings.table, (OPEN, ACKNOWLEDGED))
    resolved = 0
    current: list[dict[str, Any]] = []
    for incident in active:
        quiet_since = max(incident["last_seen"], incident["touched_at"])
        if now_ms - quiet_since < settings.quiet_ms:
            current.append(incident)
            continue

        def decide(inc: dict[str, Any], seen: int = quiet_since) -> dict[str, Any] | None:
            if inc["status"] == RESOLVED or max(inc["last_seen"], inc["touched_at"]) != seen:
                return None  # resolved meanwhile, or a new insight joined: not quiet after all
            return {"status": RESOLVED, "resolved_at": now_ms, "resolved_by": None, "updated_at": now_ms}

        try:
            after = _change(ddb, settings, incident["incidentId"], decide)
        except (store.Conflict, NotFound) as exc:
            log.warning("incident not auto-resolved this time", incident=incident["incidentId"], error=exc)
            continue
        resolved += after["status"] == RESOLVED
        current.append(after)
    since = now_ms - RESOLVE_NOTICE_LOOKBACK_MS
    current += [
        i
        for i in store.open_incidents(ddb, settings.table, (RESOLVED,), since)
        if i.get("notified_rank")
        and not i.get("resolve_notified")
        and i["incidentId"] not in {c["incidentId"] for c in current}
    ]
    sent = notify(ddb, events, bus, dashboard_url, settings, current, now_ms)
    return {"active": len(active), "resolved": resolved, "notified": sent}


def to_api(incident: dict[str, Any]) -> dict[str, Any]:
    """The API form (docs/incidents.md, `iops.models.incident.Incident`)."""

    def when(name: str) -> str | None:
        value = incident.get(name)
        return iso(value) if value else None

    return {
        "incident_id": incident["incidentId"],
        "status": incident["status"],
        "severity": incident["severity"],
        "risk_score": incident["risk_score"],
        "hosts": incident["hosts"],
        "metrics": incident["metrics"],
        "opened_at": iso(incident["opened_at"]),
        "updated_at": iso(incident["updated_at"]),
        "resolved_at": when("resolved_at"),
        "last_seen": iso(incident["last_seen"]),
        "insight_ids": incident["insight_ids"],
        "insight_count": incident["insight_count"],
        "summary": incident.get("summary") or "",
        "acknowledged_by": incident.get("acknowledged_by"),
        "acknowledged_at": when("acknowledged_at"),
        "resolved_by": incident.get("resolved_by"),
        "silenced_by": incident.get("silenced_by"),
        "notified": bool(incident.get("notified_rank")),
        "reopened": incident.get("reopened", 0),
        "comment": incident.get("comment"),
    }
