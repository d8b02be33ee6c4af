"""The HTTP API's bodies and parameters, beside the metric and the insight themselves.

The handlers build these bodies as plain dicts (the hot paths stay cheap); these models are what
the OpenAPI document (`iops.models.openapi`) is generated from, and tests check the bodies against
them. Query parameters: an empty value means "not given" (``?limit=`` is the default limit),
except where a field says ``allowEmptyValue: false``.
"""

from __future__ import annotations

from typing import Annotated, Any

from iops_detector_sdk.severity import Severity
from pydantic import BaseModel, ConfigDict, Field

from iops.models.common import (
    ENTITY_RE,
    INSIGHTS_DEFAULT_LIMIT,
    INSIGHTS_MAX_LIMIT,
    MAX_LISTED_ITEMS,
    METRICS_MAX_LIMIT,
    RECENT_DEFAULT_LIMIT,
    InsightType,
    anchored,
)
from iops.models.incident import (  # noqa: F401 - FeedbackResult, IncidentDetail: the OpenAPI operations' bodies
    FeedbackResult,
    Incident,
    IncidentDetail,
    IncidentStatus,
    Silence,
    Verdict,
)
from iops.models.insight import Insight
from iops.models.metric import MetricIn

Entity = Annotated[str, Field(pattern=anchored(ENTITY_RE))]


class Error(BaseModel):
    """Every 4xx and 5xx the API itself answers: what is wrong, and sometimes more."""

    message: str
    details: Any = None


class ItemErrors(BaseModel):
    index: int
    errors: list[str]


class IngestResult(BaseModel):
    """What ``POST /metrics`` did with each metric of the request."""

    accepted: int
    rejected: int
    errors: list[ItemErrors]
    errorsNotListed: int = Field(description=f"rejected items beyond the first {MAX_LISTED_ITEMS}, counted only")
    message: str | None = None


class OtlpPartialSuccess(BaseModel):
    rejectedDataPoints: int = 0
    errorMessage: str = ""


class OtlpExportResponse(BaseModel):
    """OTLP/HTTP's ExportMetricsServiceResponse (JSON encoding; protobuf for a protobuf request)."""

    partialSuccess: OtlpPartialSuccess | None = None


class FirehoseRecord(BaseModel):
    data: str = Field(description="base64 of newline-delimited CloudWatch metric-stream JSON")


class FirehoseRequest(BaseModel):
    """A Kinesis Data Firehose HTTP endpoint delivery."""

    requestId: str
    timestamp: int = Field(description="epoch milliseconds")
    records: list[FirehoseRecord]


class FirehoseResponse(BaseModel):
    """What Firehose requires back: its request id, a timestamp, and on failure the reason."""

    requestId: str
    timestamp: int
    errorMessage: str | None = None


class MetricsBatch(BaseModel):
    metrics: list[MetricIn] = Field(min_length=1)


IngestRequest = MetricIn | Annotated[list[MetricIn], Field(min_length=1)] | MetricsBatch
"""One metric, a list of them, or ``{"metrics": [...]}``."""


class MetricPoint(BaseModel):
    """One stored point: every metric of one host at one time."""

    model_config = ConfigDict(extra="allow")

    hostname: str
    timestamp: Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    __pydantic_extra__: dict[str, float] = Field(init=False)  # type: ignore[assignment]


class MetricsPage(BaseModel):
    hostname: str | None
    metrics: list[MetricPoint]
    nextToken: str | None


class InsightsPage(BaseModel):
    insights: list[Insight]
    nextToken: str | None


def _page_size(maximum: int, default: int) -> Any:
    return Field(None, ge=1, le=maximum, description=f"Page size (default {default})")


def _next_token() -> Any:
    return Field(None, description="From the previous page")


class MetricsQuery(BaseModel):
    """``GET /metrics``."""

    hostname: Entity | None = Field(
        None,
        description="Host or stream; without it all hosts are scanned (small fleets)",
        json_schema_extra={"allowEmptyValue": False},  # ?hostname= is a 400, not "every host"
    )
    from_: str | None = Field(None, alias="from", description="Start, ISO 8601 or epoch seconds")
    to: str | None = Field(None, description="End, ISO 8601 or epoch seconds")
    limit: int | None = _page_size(METRICS_MAX_LIMIT, METRICS_MAX_LIMIT)
    nextToken: str | None = _next_token()


class InsightsQuery(BaseModel):
    """``GET /insights``."""

    severity: Severity | None = Field(None, description="Only this severity")
    host: Entity | None = Field(None, description="Only insights about this host or stream")
    type: InsightType | None = Field(None, description="Only this insight type")
    since: str | None = Field(None, description="Only insights at or after this time")
    limit: int | None = _page_size(INSIGHTS_MAX_LIMIT, INSIGHTS_DEFAULT_LIMIT)
    nextToken: str | None = _next_token()


class RecentInsightsQuery(BaseModel):
    """``GET /insights/recent``."""

    limit: int | None = _page_size(INSIGHTS_MAX_LIMIT, RECENT_DEFAULT_LIMIT)


class InsightPath(BaseModel):
    """``GET /insights/{id}``."""

    id: str


# --- incidents, silences, feedback (docs/incidents.md) ---------------------------------------------

MATCHER = r"^[A-Za-z0-9._:/*-]{1,256}$"


class IncidentsPage(BaseModel):
    incidents: list[Incident]
    nextToken: str | None


class IncidentsQuery(BaseModel):
    """``GET /incidents``."""

    status: IncidentStatus | None = Field(None, description="Only incidents in this status")
    host: Entity | None = Field(None, description="Only incidents on this host")
    since: str | None = Field(None, description="Only incidents changed at or after this time")
    limit: int | None = _page_size(INSIGHTS_MAX_LIMIT, INSIGHTS_DEFAULT_LIMIT)
    nextToken: str | None = _next_token()


class IncidentPath(BaseModel):
    id: str


class SilencePath(BaseModel):
    id: str


class SilenceRequest(BaseModel):
    """``POST /silences``: incidents all of whose hosts and metrics match are recorded, not notified."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(pattern=MATCHER, description="Host name; * matches any characters")
    metric: str = Field("*", pattern=MATCHER, description="Metric name; * matches any characters")
    starts_at: str | None = Field(None, description="ISO 8601 (default: now)")
    ends_at: str = Field(description="ISO 8601, after starts_at and in the future")
    comment: str = Field("", max_length=1000)


class SilencesPage(BaseModel):
    silences: list[Silence]


class FeedbackRequest(BaseModel):
    """``POST /insights/{id}/feedback``."""

    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    comment: str = Field("", max_length=1000)


class IncidentAction(BaseModel):
    """``POST /incidents/{id}/ack`` and ``/resolve``: the body may be empty."""

    model_config = ConfigDict(extra="forbid")

    comment: str = Field("", max_length=1000)
