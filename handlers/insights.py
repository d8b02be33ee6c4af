"""Insights: deterministic ids, the stored item, the API shape, and the queries behind the routes."""

from __future__ import annotations

import hashlib
import time
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from detectors.severity import SEVERITIES as SEVERITY_NAMES
from handlers.definitions import ENTITY_INDEX, RECENT_INDEX, SEVERITY_INDEX
from handlers.metrics import ENTITY_RE, BadRequest, iso, run_query

ENTITY_TYPE = "insight"
INSIGHT_TYPES = ("anomaly", "prediction", "pattern")
MAX_PAGES = 10
MAX_ID_BYTES = 1024
"""Filtered queries read at most this many pages to fill one response."""

_ser = TypeSerializer()
_de = TypeDeserializer()


def insight_id(entity: str, metric: str, timestamp_ms: int, source: str) -> str:
    """Same series, point and source -> same id, so a replayed batch overwrites, never duplicates."""
    digest = hashlib.sha256(f"{entity}|{metric}|{timestamp_ms}|{source}".encode()).hexdigest()
    return f"ins-{digest[:24]}"


def _dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_dynamo(v) for v in value]
    return value


def to_item(insight: dict, ttl_days: int, now: float | None = None) -> dict:
    """The low-level DynamoDB item for an insight in API shape (see `from_item`)."""
    now = time.time() if now is None else now
    record = dict(insight)
    record["insightId"] = record.pop("alert_id")
    record["timestamp"] = record.pop("timestamp_ms")
    record["entity_type"] = ENTITY_TYPE
    record["created_at"] = int(now * 1000)
    record["ttl"] = int(now + ttl_days * 86_400)
    return {k: _ser.serialize(_dynamo(v)) for k, v in record.items() if v is not None}


def from_item(item: dict) -> dict:
    """A stored insight in the API contract's shape (DESIGN.md: Insight)."""
    raw = {k: _de.deserialize(v) for k, v in item.items()}

    def num(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
        if isinstance(value, dict):
            return {k: num(v) for k, v in value.items()}
        if isinstance(value, list):
            return [num(v) for v in value]
        return value

    out = {
        "alert_id": raw["insightId"],
        "entity_id": raw.get("entity_id"),
        "timestamp": iso(int(raw["timestamp"])),
        "prediction_type": raw.get("prediction_type", "performance_degradation"),
        "type": raw.get("type", "anomaly"),
        "severity": raw.get("severity"),
        "risk_score": num(raw.get("risk_score", 0)),
        "confidence": float(raw.get("confidence", 0)),
        "explanation": raw.get("explanation", ""),
        "recommendations": list(raw.get("recommendations", [])),
        "model_used": raw.get("model_used", ""),
        "affected_hosts": list(raw.get("affected_hosts", [raw.get("entity_id")])),
        "metric": raw.get("metric"),
        "observed": num(raw.get("observed")),
        "expected": num(raw.get("expected")),
        "scores": num(raw.get("scores", {})),
    }
    for extra in ("eta", "eta_interval", "limit", "related"):
        if extra in raw:
            out[extra] = num(raw[extra])
    return out


def _parse_choice(name: str, raw: str | None, choices: tuple[str, ...]) -> str | None:
    if raw is None or raw == "":
        return None
    value = raw.upper() if name == "severity" else raw.lower()
    if value not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}")
    return value


def query_insights(
    ddb: Any,
    table: str,
    *,
    severity: str | None = None,
    host: str | None = None,
    insight_type: str | None = None,
    since_ms: int | None = None,
    limit: int = 50,
    token: dict | None = None,
) -> dict:
    """Newest first through the narrowest index; other filters applied while paging."""
    severity = _parse_choice("severity", severity, SEVERITY_NAMES)
    insight_type = _parse_choice("type", insight_type, INSIGHT_TYPES)
    names = {"#ts": "timestamp"}
    values: dict[str, Any] = {":since": {"N": str(since_ms or 0)}}
    filters: list[str] = []
    host = host or None  # an empty ?host= means no host filter, like the other parameters
    if host is not None and not ENTITY_RE.fullmatch(host):
        raise BadRequest("host has characters a hostname cannot have")
    if host is not None:
        index, key = ENTITY_INDEX, ("entity_id", host)
        if severity:
            filters.append("severity = :sev")
            values[":sev"] = {"S": severity}
    elif severity:
        index, key = SEVERITY_INDEX, ("severity", severity)
    else:
        index, key = RECENT_INDEX, ("entity_type", ENTITY_TYPE)
    if insight_type:
        filters.append("#type = :type")
        names["#type"] = "type"
        values[":type"] = {"S": insight_type}
    values[":k"] = {"S": key[1]}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": f"{key[0]} = :k AND #ts >= :since",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
    }
    if filters:
        kwargs["FilterExpression"] = " AND ".join(filters)
    items: list[dict] = []
    start = token
    for _ in range(MAX_PAGES):
        page = {**kwargs, "Limit": limit - len(items)} if not filters else {**kwargs, "Limit": max(limit, 25)}
        if start:
            page["ExclusiveStartKey"] = start
        resp = run_query(ddb.query, **page)
        for item in resp.get("Items", []):
            if len(items) < limit:
                items.append(item)
        start = resp.get("LastEvaluatedKey")
        if len(items) >= limit or not start:
            break
    if len(items) >= limit and items:
        last = items[-1]
        start = {a: last[a] for a in ("insightId", "timestamp", key[0]) if a in last}
    return {"insights": [from_item(i) for i in items], "nextToken": start}


def get_insight(ddb: Any, table: str, alert_id: str) -> dict | None:
    if len(alert_id.encode()) > MAX_ID_BYTES:
        return None  # DynamoDB refuses longer key values (moto does not): no such insight
    resp = ddb.query(
        TableName=table,
        KeyConditionExpression="insightId = :id",
        ExpressionAttributeValues={":id": {"S": alert_id}},
        Limit=1,
    )
    items = resp.get("Items", [])
    return from_item(items[0]) if items else None
