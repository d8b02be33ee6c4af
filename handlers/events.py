"""One definition of the alert event: its source, detail type, the rule's pattern and message.

The AI Lambda puts insights on the bus with `EVENT_SOURCE` and `EVENT_DETAIL_TYPE`; the
alerting tier's rule uses `alert_pattern` and `ALERT_TRANSFORMER`; the local system creates the
same rule in the emulator and renders the same message with `render_message`. Nothing here
imports pulumi, so the Lambda artifact can carry it.

The rule matches on ``risk_score`` rather than ``severity``: severity is derived from the risk
score (HIGH from 80, CRITICAL from 90, `detectors.severity.SEVERITY_FLOORS`), so ``>= 80`` is the
same set as "HIGH or CRITICAL" (`detectors.severity.alerts`, the rule the AI tier publishes by),
and a number lets a stack raise the bar (``alertMinRiskScore``) without listing severity names.
The bus only ever carries HIGH and CRITICAL insights, so a threshold below 80 would change
nothing; `alert_pattern` refuses it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from detectors.severity import ALERT_MIN_RISK_SCORE

EVENT_SOURCE = "iops.dashboard"
EVENT_DETAIL_TYPE = "IOps Insight"

RETRY_ATTEMPTS = 20
"""EventBridge retries of a failed delivery to the topic before the event goes to the DLQ."""
RETRY_MAX_AGE_S = 6 * 3600
"""An alert older than this is not worth delivering late: it goes to the DLQ instead."""

ALERT_INPUT_PATHS: dict[str, str] = {
    "severity": "$.detail.severity",
    "risk": "$.detail.risk_score",
    "host": "$.detail.entity_id",
    "metric": "$.detail.metric",
    "explanation": "$.detail.explanation",
    "recommendation": "$.detail.recommendations[0]",
    "link": "$.detail.dashboard_link",
    "id": "$.detail.alert_id",
}
ALERT_TEMPLATE = (
    "IOps Dashboard <severity> alert (risk <risk>/100): <metric> on <host>. <explanation> "
    "First step: <recommendation>. Insight: <link> (id <id>)"
)
"""One line of plain text: SMS and e-mail read it as is (EventBridge accepts non-JSON templates).
The explanation names the observed and expected values (template and prompt both require it),
and pattern insights have none, so they are not separate fields here."""
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


def subject(detail: dict[str, Any]) -> str:
    """A short subject line (at most 100 characters, SNS's limit) for one insight."""
    text = f"IOps {detail.get('severity', '?')}: {detail.get('metric', '?')} on {detail.get('entity_id', '?')}"
    return text[:100]
