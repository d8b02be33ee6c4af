"""iops_detector_sdk.severity: one set of names, one mapping from risk, one alert rule that the bus pattern agrees with."""

from __future__ import annotations

import pytest
from iops_detector_sdk import contract
from iops_detector_sdk.severity import (
    ALERT_MIN_RISK_SCORE,
    ALERT_SEVERITIES,
    SEVERITIES,
    alerts,
    risk_floor,
    severity_of,
    severity_rank,
)

from detectors.runtime import risk_and_severity
from handlers.events import ALERT_PATTERN


def test_risk_scores_map_to_severities_at_the_documented_floors() -> None:
    assert [severity_of(r) for r in (0, 59, 60, 79, 80, 89, 90, 100)] == [
        "LOW",
        "LOW",
        "MEDIUM",
        "MEDIUM",
        "HIGH",
        "HIGH",
        "CRITICAL",
        "CRITICAL",
    ]
    assert [risk_floor(s) for s in SEVERITIES] == [0, 60, 80, 90]
    assert risk_and_severity(0.855) == (86, "HIGH") and risk_and_severity(1.7) == (100, "CRITICAL")


def test_severities_are_ordered_and_unknown_names_are_refused() -> None:
    assert [severity_rank(s) for s in SEVERITIES] == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        severity_rank("high")
    assert contract.severity_rank is severity_rank and contract.SEVERITIES is SEVERITIES  # the plugin contract


def test_the_alert_rule_and_the_bus_pattern_select_the_same_insights() -> None:
    assert ALERT_SEVERITIES == ("HIGH", "CRITICAL") and ALERT_MIN_RISK_SCORE == 80
    ((op, threshold),) = [tuple(c["numeric"]) for c in ALERT_PATTERN["detail"]["risk_score"]]
    assert op == ">="
    for risk in range(101):
        assert alerts(severity_of(risk)) == (risk >= threshold), risk
    assert not alerts("MEDIUM") and alerts("CRITICAL") and not alerts("critical")
