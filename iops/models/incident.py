"""The incident and the silence as the API answers them (docs/incidents.md); built by `iops.logic.incidents.to_api`
and `handlers.incidents_api.silence_api`, described here for the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Literal

from iops_detector_sdk.severity import Severity
from pydantic import BaseModel, Field

from iops.models.insight import Insight

DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
IncidentStatus = Literal["open", "acknowledged", "resolved"]
Verdict = Literal["useful", "not_an_anomaly", "too_sensitive", "expected_change"]


class Incident(BaseModel):
    """Insights of one host, or of hosts a pattern ties, that overlap in time."""

    incident_id: str
    status: IncidentStatus
    severity: Severity
    """The highest of its insights."""
    risk_score: int = Field(ge=0, le=100)
    hosts: list[str]
    metrics: list[str]
    opened_at: DateTime
    """Its first insight's time."""
    updated_at: DateTime
    resolved_at: DateTime | None
    last_seen: DateTime
    """Its latest insight's time."""
    insight_ids: list[str]
    """The newest 500 of its insights."""
    insight_count: int
    summary: str
    """The explanation of its most severe insight."""
    acknowledged_by: str | None
    acknowledged_at: DateTime | None
    resolved_by: str | None
    """Who resolved it; null when it resolved by itself (quiet time) or is not resolved."""
    silenced_by: str | None
    """The silence that muted a notification of it, if one did."""
    notified: bool
    reopened: int
    comment: str | None
    """What the person who acknowledged or resolved it wrote."""


class IncidentDetail(Incident):
    insights: list[Insight]
    """Its newest insights (up to 50)."""


class Silence(BaseModel):
    silence_id: str
    host: str
    metric: str
    starts_at: DateTime
    ends_at: DateTime
    comment: str
    created_by: str
    created_at: DateTime
    ended_by: str | None


class FeedbackResult(BaseModel):
    insight_id: str
    verdict: Verdict
    comment: str
    by: str
    at: DateTime
    series: str | None
    """The series the verdict changes (anomalies only), ``host#metric``."""
    effect: Literal["none", "learned_normal", "threshold_raised"]
    counts: dict[str, int]
    """Verdicts given on this series so far, by verdict."""
