"""Data access for the correlation table: anomalies per grouping rule and group, and each group's open pattern.

Key: ``rule|group``, then the member's zero-padded epoch ms, so one Query returns a time window;
the open pattern sorts after every member (``PATTERN_ITEM``). Items are TTL'd.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from iops_detector_sdk.contract import Member

from iops.dal import dynamo

PATTERN_ITEM = "~pattern"
"""Sort key of a group's open pattern; sorts after every member key (digits)."""


def member_key(member: Member) -> str:
    return f"{int(round(member.timestamp * 1000)):015d}#{member.alert_id}"


def _num(value: float | None) -> dict | None:
    return None if value is None else {"N": str(Decimal(repr(float(value))))}


def member_item(key: str, member: Member, ttl: int) -> dict:
    item = {
        "groupKey": {"S": key},
        "member": {"S": member_key(member)},
        "alertId": {"S": member.alert_id},
        "entity": {"S": member.entity},
        "metric": {"S": member.metric},
        "ts": {"N": repr(member.timestamp)},
        "severity": {"S": member.severity},
        "risk": {"N": str(member.risk_score)},
        "ttl": {"N": str(ttl)},
    }
    for name, value in (("observed", member.observed), ("expected", member.expected)):
        if value is not None:
            item[name] = _num(value)
    return item


def _from_item(item: dict) -> Member:
    return Member(
        alert_id=item["alertId"]["S"],
        entity=item["entity"]["S"],
        metric=item["metric"]["S"],
        timestamp=float(item["ts"]["N"]),
        severity=item["severity"]["S"],
        risk_score=int(item["risk"]["N"]),
        observed=float(item["observed"]["N"]) if "observed" in item else None,
        expected=float(item["expected"]["N"]) if "expected" in item else None,
    )


def write_members(ddb: Any, table: str, items: list[dict]) -> None:
    """BatchWriteItem of the member items, throttles and unprocessed items retried; raises if some never go in."""
    unwritten = dynamo.put_all(ddb, table, items)
    if unwritten:
        raise RuntimeError(f"could not write {len(unwritten)} correlation items")


def read_group(ddb: Any, table: str, key: str, since: float) -> tuple[list[Member], dict | None]:
    """The group's members from ``since`` on, and its open pattern item (if any)."""
    members: list[Member] = []
    pattern = None
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "groupKey = :k AND #m >= :from",
        "ExpressionAttributeNames": {"#m": "member"},
        "ExpressionAttributeValues": {":k": {"S": key}, ":from": {"S": f"{max(0, int(since * 1000)):015d}"}},
    }
    while True:
        resp = ddb.query(**kwargs)
        for item in resp.get("Items", []):
            if item["member"]["S"] == PATTERN_ITEM:
                pattern = item
            else:
                members.append(_from_item(item))
        if "LastEvaluatedKey" not in resp:
            return members, pattern
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def put_open_pattern(ddb: Any, table: str, item: dict) -> None:
    """The group's open pattern, so that a later batch joins it instead of starting another."""
    ddb.put_item(TableName=table, Item=item)
