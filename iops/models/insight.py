"""The insight: one model for what the AI tier finds (anomalies, predictions, patterns).

Three forms of one `Insight`:

- in memory (the model itself): what the builders (`iops.logic.ai.build_insight`,
  `iops.logic.predictions.build_prediction`, `iops.logic.patterns.build_pattern`) make and the AI tier
  stores, correlates and publishes; ``timestamp_ms`` is the storage key, ``timestamp`` its ISO form;
- storage (`Insight.to_item` / `Insight.from_item`): the DynamoDB item of the insights table, with
  its keys (``insightId``, ``timestamp`` in epoch ms), the recent-index attribute ``entity_type``,
  ``created_at`` and the TTL;
- API (`Insight.to_api`): the contract of DESIGN.md (Insight), what ``GET /insights...`` returns and
  what the OpenAPI document's ``Insight`` schema describes (this model's serialization schema).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from iops_detector_sdk.severity import Severity
from pydantic import BaseModel, ConfigDict, Field, WrapSerializer, computed_field

from handlers.definitions import INSIGHTS, RECENT_INDEX
from iops.models import items
from iops.models.common import ENTITY_TYPE, INSIGHT_TYPES, InsightType, insight_id, iso

__all__ = ["ENTITY_TYPE", "INSIGHT_TYPES", "STORED_DEFAULTS", "Insight", "InsightType", "insight_id"]

ENTITY_TYPE_ATTRIBUTE = next(ix.hash_key for ix in INSIGHTS.indexes if ix.name == RECENT_INDEX)

STORED_DEFAULTS: dict[str, Any] = {
    "prediction_type": "performance_degradation",
    "type": "anomaly",
    "risk_score": 0,
    "confidence": 0.0,
    "explanation": "",
    "recommendations": [],
    "model_used": "",
    "metric": None,
    "observed": None,
    "expected": None,
}
"""What an item lacks is read as this: ``None`` is never stored, and the oldest items lack more."""


def _integral(value: float, handler: Any):  # noqa: ANN202 - no return type: the schema stays "number"
    """Whole numbers as JSON integers (97, not 97.0), as the API has always written them."""
    out = handler(value)
    return int(out) if isinstance(out, float) and out.is_integer() and abs(out) < 2**53 else out


Number = Annotated[float, WrapSerializer(_integral, when_used="json")]
DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Insight(BaseModel):
    """An anomaly, prediction or pattern about one host or stream (or several, for a pattern)."""

    model_config = ConfigDict(extra="forbid")

    alert_id: str
    entity_id: str
    """The host or ``ib/<stream>``; for a pattern, its hosts (``3 hosts: a, b, c``)."""
    timestamp_ms: int = Field(exclude=True)
    """When, in epoch ms: the storage key; the API shows `timestamp`."""
    prediction_type: str
    type: InsightType
    severity: Severity
    risk_score: int = Field(ge=0, le=100)
    confidence: float = Field(ge=0, le=1)
    explanation: str
    recommendations: list[str]
    model_used: str
    affected_hosts: list[str]
    metric: str | None
    observed: Number | None
    expected: Number | None
    scores: dict[str, Number] = Field(default_factory=dict)
    """Each detector's score of the point (anomalies), the forecast's confidence (predictions)."""
    eta: DateTime | None = None
    """Predictions: when the limit is reached."""
    eta_interval: dict[str, DateTime] | None = None
    limit: Number | None = None
    related: list[str] | None = None
    """Patterns: their member anomalies; anomalies: the pattern(s) they belong to."""

    @computed_field(json_schema_extra={"format": "date-time"})  # type: ignore[prop-decorator]
    @property
    def timestamp(self) -> str:
        """ISO 8601, UTC, milliseconds."""
        return iso(self.timestamp_ms)

    def _unset(self) -> set[str]:
        """Optional fields left at None: absent from every form (never null)."""
        return {n for n, f in type(self).model_fields.items() if not f.is_required() and getattr(self, n) is None}

    def to_api(self) -> dict[str, Any]:
        """The API form (DESIGN.md: Insight), JSON-ready."""
        return self.model_dump(mode="json", exclude=self._unset())

    def to_event(self) -> dict[str, Any]:
        """What an alert event carries: the API's fields with the values as made (Python form)."""
        return self.model_dump(exclude=self._unset())

    def to_item(self, ttl_days: int, now: float | None = None) -> dict[str, dict]:
        """The insights table's item (low-level attribute values); see `from_item`."""
        now = time.time() if now is None else now
        record = {
            INSIGHTS.hash_key: self.alert_id,
            INSIGHTS.range_key: self.timestamp_ms,
            **self.model_dump(exclude={"alert_id", "timestamp"}),
            ENTITY_TYPE_ATTRIBUTE: ENTITY_TYPE,
            "created_at": int(now * 1000),
            INSIGHTS.ttl_attribute: int(now + ttl_days * 86_400),
        }
        return items.to_item(record)

    @classmethod
    def from_item(cls, item: dict[str, dict]) -> Insight:
        """An insight read back from its item (extra attributes, such as ``alerted``, ignored)."""
        raw = items.from_item(item)
        fields = {k: v for k, v in raw.items() if k in cls.model_fields}
        fields["alert_id"] = raw[INSIGHTS.hash_key]
        fields["timestamp_ms"] = int(raw[INSIGHTS.range_key])
        return cls(**{**STORED_DEFAULTS, "affected_hosts": [raw.get("entity_id")], **fields})
