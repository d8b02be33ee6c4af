"""Data access for the insights table: storing an insight once and the queries
behind the insight routes. The insight itself (stored item, API form) is `iops.models.insight.Insight`."""

from __future__ import annotations

import contextlib
from typing import Any

from iops_detector_sdk.contract import Member
from iops_detector_sdk.severity import SEVERITIES

from handlers.definitions import ENTITY_INDEX, RECENT_INDEX, SEVERITY_INDEX
from iops import models
from iops.dal.metrics import run_query
from iops.errors import BadRequest
from iops.models.common import ENTITY_RE, ENTITY_TYPE, INSIGHT_TYPES

MAX_PAGES = 10
"""Filtered queries read at most this many pages to fill one response."""
MAX_ID_BYTES = 1024


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
    severity = _parse_choice("severity", severity, SEVERITIES)
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
    return {"insights": [models.Insight.from_item(i).to_api() for i in items], "nextToken": start}


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
    return models.Insight.from_item(items[0]).to_api() if items else None


def store_insight(ddb: Any, table: str, insight: models.Insight, ttl_days: int) -> bool:
    """Put unless already stored (a replay keeps the stored one, with the links made since); True if new."""
    try:
        ddb.put_item(
            TableName=table,
            Item=insight.to_item(ttl_days),
            ConditionExpression="attribute_not_exists(insightId)",
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def link_related(ddb: Any, insights_table: str, member: Member, pid: str) -> None:
    """Add the pattern id to an already stored anomaly's ``related`` (idempotent)."""
    with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):
        ddb.update_item(
            TableName=insights_table,
            Key={"insightId": {"S": member.alert_id}, "timestamp": {"N": str(int(round(member.timestamp * 1000)))}},
            UpdateExpression="SET related = list_append(if_not_exists(related, :empty), :p)",
            ConditionExpression="attribute_exists(insightId) AND NOT contains(related, :pid)",
            ExpressionAttributeValues={":empty": {"L": []}, ":p": {"L": [{"S": pid}]}, ":pid": {"S": pid}},
        )


def update_pattern(ddb: Any, insights_table: str, pattern: models.Insight) -> bool:
    """Refresh a stored pattern with its grown membership; False when it was never stored."""
    item = pattern.to_item(1)
    names = [
        n
        for n in ("entity_id", "affected_hosts", "related", "explanation", "recommendations", "risk_score", "severity")
        + ("confidence", "metric", "observed", "expected")
        if n in item
    ]
    try:
        ddb.update_item(
            TableName=insights_table,
            Key={"insightId": item["insightId"], "timestamp": item["timestamp"]},
            UpdateExpression="SET " + ", ".join(f"#{n} = :{n}" for n in names),
            ConditionExpression="attribute_exists(insightId)",
            ExpressionAttributeNames={f"#{n}": n for n in names},
            ExpressionAttributeValues={f":{n}": item[n] for n in names},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True
