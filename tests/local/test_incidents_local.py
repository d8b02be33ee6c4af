"""Incidents over HTTP in `iops local`: one incident and one notification per injected incident,
ack stops reminders, the quiet time resolves it with a notice, a matching silence mutes a new one.

Short times through the environment: quiet 0.25 min, reminders every 0.0015 h (5.4 s), a sweep every second.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.local.iops_process import http, wait_for
from tests.local.test_alerts_local import Receiver, local, post

ENV = {"INCIDENT_QUIET_MINUTES": "0.25", "INCIDENT_REPEAT_HOURS": "0.0015", "IOPS_SWEEP_SECONDS": "1"}


def spike_on(host: str, start: float, spikes: int = 3) -> list[dict]:
    """Two flat hours, then ``spikes`` CRITICAL points 5 s apart: one incident, however the stream
    batches them (closer than the 15 s quiet time, so a later batch's spike joins the first's)."""
    flat = [{"hostname": host, "timestamp": start + 60 * i, "cpuUsage": 30.0} for i in range(120)]
    return flat + [{"hostname": host, "timestamp": start + 7200 + 5 * i, "cpuUsage": 97.0} for i in range(spikes)]


def notifications(receiver: Receiver, incident_id: str) -> list[str]:
    """The kind of each notification of the incident, from its subject (moto's HTTP POST drops MessageAttributes)."""
    return [b["Subject"].split(":")[0].split()[-1] for b in receiver.bodies if incident_id in b["Message"]]


def test_incident_lifecycle_and_silences_over_http() -> None:
    receiver = Receiver()
    import threading

    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    system = local("--alerts-webhook", receiver.url, env=ENV)
    try:
        start = time.time() - 3 * 3600
        post(system, spike_on("inc-web-01", start))

        def listed(status: str | None = None, host: str = "inc-web-01") -> list[dict]:
            query = f"?host={host}" + (f"&status={status}" if status else "")
            code, page = http("GET", f"{system.url}/incidents{query}", token=system.token)
            assert code == 200, page
            return page["incidents"]

        [inc] = wait_for(lambda: listed("open"), 60, "an open incident")
        wait_for(lambda: notifications(receiver, inc["incident_id"]), 60, "its notification")
        time.sleep(2)
        assert notifications(receiver, inc["incident_id"]) == ["opened"], "one notification, not one per point"
        assert len(listed()) == 1 and inc["severity"] == "CRITICAL" and inc["insight_count"] >= 1
        sns = next(b for b in receiver.bodies if inc["incident_id"] in b["Message"])
        assert sns["Subject"] == "IOps CRITICAL opened: cpuUsage on inc-web-01"

        code, detail = http("GET", f"{system.url}/incidents/{inc['incident_id']}", token=system.token)
        assert code == 200 and {i["alert_id"] for i in detail["insights"]} == set(detail["insight_ids"])
        assert http("GET", f"{system.url}/incidents/inc-nope", token=system.token)[0] == 404
        assert http("POST", f"{system.url}/incidents/{inc['incident_id']}/ack", {})[0] == 401  # signed in only

        # a reminder every 5.4 s while open and not acknowledged; the quiet time (15 s) would allow two
        wait_for(lambda: "reminder" in notifications(receiver, inc["incident_id"]), 60, "a reminder")
        code, acked = http("POST", f"{system.url}/incidents/{inc['incident_id']}/ack", {}, token=system.token)
        assert code == 200 and acked["status"] == "acknowledged" and acked["acknowledged_by"]
        before = len(notifications(receiver, inc["incident_id"]))
        [resolved] = wait_for(lambda: listed("resolved"), 60, "the quiet time to resolve it")
        assert resolved["incident_id"] == inc["incident_id"] and resolved["resolved_by"] is None
        wait_for(lambda: "resolved" in notifications(receiver, inc["incident_id"]), 60, "the resolve notice")
        assert notifications(receiver, inc["incident_id"])[before:] == ["resolved"], "no reminder once acknowledged"

        now = datetime.now(UTC)
        silence = {
            "host": "inc-db-*",
            "metric": "*",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "comment": "maintenance",
        }
        assert http("POST", f"{system.url}/silences", silence | {"ends_at": "soon"}, token=system.token)[0] == 400
        code, made = http("POST", f"{system.url}/silences", silence, token=system.token)
        assert code == 201 and made["silence_id"].startswith("sil-") and made["created_by"]
        code, page = http("GET", f"{system.url}/silences", token=system.token)
        assert [s["silence_id"] for s in page["silences"]] == [made["silence_id"]]
        post(system, spike_on("inc-db-01", start))
        [muted] = wait_for(lambda: listed(host="inc-db-01"), 60, "the silenced host's incident")
        wait_for(lambda: listed(host="inc-db-01")[0].get("silenced_by"), 60, "the silence recorded")
        assert notifications(receiver, muted["incident_id"]) == []
        code, _ = http("DELETE", f"{system.url}/silences/{made['silence_id']}", token=system.token)
        assert code == 200
        assert http("GET", f"{system.url}/silences", token=system.token)[1]["silences"] == []
        assert http("DELETE", f"{system.url}/silences/sil-nope", token=system.token)[0] == 404

        code, fb = http(
            "POST",
            f"{system.url}/insights/{detail['insight_ids'][0]}/feedback",
            {"verdict": "not_an_anomaly", "comment": "a backup"},
            token=system.token,
        )
        assert code == 201 and fb["effect"] == "learned_normal" and fb["counts"]["not_an_anomaly"] == 1
        bad = {"verdict": "meh"}
        assert (
            http("POST", f"{system.url}/insights/{detail['insight_ids'][0]}/feedback", bad, token=system.token)[0]
            == 400
        )
    finally:
        system.stop()
        receiver.shutdown()
