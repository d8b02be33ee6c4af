"""One definition of the alert event: its source, detail type, the rule's pattern and message.

Notifications are per incident (docs/incidents.md): the AI Lambda and the incident sweeper put one
event on the bus per notification (opened, reopened, escalated, reminder, resolved) with
`EVENT_SOURCE` and `EVENT_DETAIL_TYPE`, its text already written (`incident_message`); the
alerting tier's rule uses `alert_pattern` and `ALERT_TRANSFORMER`; the local system creates the
same rule in the emulator and renders the same message with `render_message`. Nothing here
imports pulumi, so the Lambda artifact can carry it.

The rule matches on ``risk_score`` (the incident's highest) rather than ``severity``: severity is
derived from the risk score (HIGH from 80, CRITICAL from 90, `iops_detector_sdk.severity.SEVERITY_FLOORS`),
so ``>= 80`` is the same set as "HIGH or CRITICAL" (`iops_detector_sdk.severity.alerts`, the rule
incidents notify by), and a number lets a stack raise the bar (``alertMinRiskScore``) without
listing severity names. The bus only ever carries HIGH and CRITICAL incidents, so a threshold
below 80 would change nothing; `alert_pattern` refuses it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from iops_detector_sdk.severity import ALERT_MIN_RISK_SCORE

EVENT_SOURCE = "iops.dashboard"
EVENT_DETAIL_TYPE = "IOps Incident"

RETRY_ATTEMPTS = 20
"""EventBridge retries of a failed delivery to the topic before the event goes to the DLQ."""
RETRY_MAX_AGE_S = 6 * 3600
"""An alert older than this is not worth delivering late: it goes to the DLQ instead."""

NOTIFICATIONS = ("opened", "reopened", "escalated", "reminder", "resolved")
"""What a notification says about its incident."""

ALERT_INPUT_PATHS: dict[str, str] = {"message": "$.detail.message"}
ALERT_TEMPLATE = "<message>"
"""One line of plain text, written by the publisher per kind of notification (`incident_message`):
SMS and e-mail read it as is, and a resolve notice stays short."""
ALERT_TRANSFORMER = {"input_paths": ALERT_INPUT_PATHS, "input_template": ALERT_TEMPLATE}

_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")


def alert_pattern(min_risk_score: int = ALERT_MIN_RISK_SCORE) -> dict[str, Any]:
    """The rule's event pattern: insight events at or above ``min_risk_score``."""
    if not ALERT_MIN_RISK_SCORE <= min_risk_score <= 100:
        raise ValueError(
            f"alert risk threshold {min_risk_score} must be within {ALERT_MIN_RISK_SCORE}-100: "
            "only HIGH and CRITICAL insights are put on the bus"
        )
    return {
        "source": [EVENT_SOURCE],
        "detail-type": [EVENT_DETAIL_TYPE],
        "detail": {"risk_score": [{"numeric": [">=", min_risk_score]}]},
    }


ALERT_PATTERN = alert_pattern()


def resolve(path: str, event: dict[str, Any]) -> Any:
    """The value at a ``$.a.b[0]`` path (the subset of JSONPath input paths use), or None."""
    if not path.startswith("$"):
        raise ValueError(f"not an input path: {path!r}")
    value: Any = event
    for key, index in _PATH_PART.findall(path[1:]):
        if key and isinstance(value, dict):
            value = value.get(key)
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return None
    return value


def _text(value: Any) -> str:
    """Strings as they are, anything else as JSON text, as EventBridge inserts values."""
    return value if isinstance(value, str) else json.dumps(value)


def render_message(event: dict[str, Any], transformer: dict[str, Any] = ALERT_TRANSFORMER) -> str:
    """What EventBridge's input transformer makes of ``event`` (the local system's stand-in).

    moto's transformer parses every result as JSON, so it cannot produce a plain-text message;
    locally the rule delivers the raw event and this renders it with the same definition.
    """
    out = transformer["input_template"]
    for name, path in transformer["input_paths"].items():
        out = out.replace(f"<{name}>", _text(resolve(path, event)))
    return out


def incident_message(detail: dict[str, Any]) -> str:
    """The notification's text: what happened to the incident, where, how bad, where to look."""
    kind, link = detail["notification"], detail.get("dashboard_link") or ""
    where = f"{detail.get('metric') or '?'} on {detail.get('host') or '?'}"
    ref = f"Incident: {link} (id {detail['incident_id']})" if link else f"Incident {detail['incident_id']}"
    if kind == "resolved":
        by = f" by {detail['resolved_by']}" if detail.get("resolved_by") else " (quiet)"
        return f"IOps Dashboard incident resolved{by}: {where}. {ref}"
    head = {"opened": "", "reopened": " reopened", "escalated": " escalated", "reminder": " still open"}[kind]
    first = f" First step: {detail['recommendation']}." if detail.get("recommendation") else ""
    count = detail.get("insight_count", 1)
    return (
        f"IOps Dashboard {detail['severity']} incident{head} (risk {detail['risk_score']}/100, "
        f"{count} insight{'s' if count != 1 else ''}): {where}. {detail.get('summary', '')}{first} {ref}"
    )


def subject(detail: dict[str, Any]) -> str:
    """A short subject line (at most 100 characters, SNS's limit) for one notification."""
    text = f"IOps {detail.get('severity', '?')} {detail.get('notification', '?')}: "
    return (text + f"{detail.get('metric', '?')} on {detail.get('host', '?')}")[:100]


def message_attributes(detail: dict[str, Any]) -> dict[str, dict[str, str]]:
    """SNS message attributes subscriptions can filter on (severity, host, status, notification)."""
    values = {
        "severity": detail.get("severity"),
        "host": detail.get("host"),
        "status": detail.get("status"),
        "notification": detail.get("notification"),
    }
    return {k: {"DataType": "String", "StringValue": str(v)} for k, v in values.items() if v}
