"""Severity: the four names, the risk scores that make each one, and which insights alert.

The one definition for every layer: the detector runtime turns a risk score into a severity
(`severity_of`), enrichers are ordered by it (`severity_rank`), the AI tier decides what to
publish (`alerts`), the alert rule's event pattern matches ``risk_score >= ALERT_MIN_RISK_SCORE``
(the same set as `ALERT_SEVERITIES`, since severity is derived from the risk score), and the
insights API, the EMF metrics and the dashboards list `SEVERITIES`. It lives in the SDK beside the
detector contract because detectors (enrichers' ``min_severity``) are the lowest layer that needs it;
it imports only `typing`.
"""

from __future__ import annotations

from typing import Literal, get_args

Severity = Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"]
"""A severity name, as a type (the insight model's ``severity`` field); lowest first."""
SEVERITIES: tuple[str, ...] = get_args(Severity)
"""The same names as a tuple, lowest first."""
SEVERITY_FLOORS = ((90, "CRITICAL"), (80, "HIGH"), (60, "MEDIUM"), (0, "LOW"))
"""The lowest risk score (0-100) of each severity, highest first."""
ALERT_MIN_SEVERITY: Severity = "HIGH"
"""Insights at or above this severity are alerted on (EventBridge -> SNS)."""
ENRICH_MIN_SEVERITY: Severity = ALERT_MIN_SEVERITY
"""Findings at or above this severity are given to enrichers by default (what alerts is what people read)."""
LOWEST = SEVERITIES[0]
"""An enricher with this ``min_severity`` explains every finding."""


def severity_rank(severity: str) -> int:
    """Order of a severity name: LOW=0 .. CRITICAL=3 (ValueError for anything else)."""
    return SEVERITIES.index(severity)


def severity_of(risk_score: float) -> str:
    """The severity of a 0-100 risk score."""
    return next(name for floor, name in SEVERITY_FLOORS if risk_score >= floor)


def risk_floor(severity: str) -> int:
    """The lowest risk score of ``severity``."""
    return next(floor for floor, name in SEVERITY_FLOORS if name == severity)


ALERT_SEVERITIES = SEVERITIES[severity_rank(ALERT_MIN_SEVERITY) :]
"""HIGH and CRITICAL."""
ALERT_MIN_RISK_SCORE = risk_floor(ALERT_MIN_SEVERITY)
"""80: the alert rule's threshold, the same set of insights as `ALERT_SEVERITIES`."""


def alerts(severity: str) -> bool:
    """Whether an insight of this severity is alerted on: the one alert rule."""
    return severity in ALERT_SEVERITIES
