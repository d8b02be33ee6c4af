"""Data access for feedback: each verdict as its own item, and per series one rules item the AI tier reads."""

from __future__ import annotations

from typing import Any

from handlers.definitions import SERIES_FEEDBACK_INDEX
from iops.dal import dynamo
from iops.models.items import from_item, to_item

SERIES_KIND = "series"
SERIES_PREFIX = "series#"


def put_feedback(ddb: Any, table: str, record: dict[str, Any]) -> None:
    ddb.put_item(TableName=table, Item=to_item(record))


def update_series(
    ddb: Any, table: str, series_key: str, verdict: str, profile: dict[str, Any] | None, boost: float, ttl: int
) -> dict[str, Any]:
    """Count the verdict (``count_<verdict>``) on the series' rules item and add what it changes; the item after."""
    sets = ["kind = :kind", "seriesKey = :sk", "#ttl = :ttl"]
    adds = [f"count_{verdict} :one"]
    values: dict[str, Any] = {":kind": SERIES_KIND, ":sk": series_key, ":ttl": ttl, ":one": 1}
    if profile is not None:
        sets.append("normal = list_append(if_not_exists(normal, :empty), :profile)")
        values |= {":empty": [], ":profile": [profile]}
    if boost:
        adds.append("boost :boost")
        values[":boost"] = boost
    resp = ddb.update_item(
        TableName=table,
        Key={"insightId": {"S": SERIES_PREFIX + series_key}, "createdAt": {"N": "0"}},
        UpdateExpression="SET " + ", ".join(sets) + " ADD " + ", ".join(adds),
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues=to_item(values),
        ReturnValues="ALL_NEW",
    )
    return from_item(resp["Attributes"])


def load_rules(ddb: Any, table: str) -> list[dict[str, Any]]:
    """Every series' rules item (the index holds only those)."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": SERIES_FEEDBACK_INDEX,
        "KeyConditionExpression": "kind = :k",
        "ExpressionAttributeValues": {":k": {"S": SERIES_KIND}},
    }
    return [from_item(i) for i in dynamo.query_all(ddb, **kwargs)]
