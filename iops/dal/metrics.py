"""Data access for the metrics table: the UpdateItem that stores a metric, the item a stream shows, the query."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError
from iops_detector_sdk.contract import STREAM_PREFIX

from handlers.definitions import METRICS
from iops.dal import dynamo
from iops.dal.pagination import encode_token
from iops.errors import BadRequest
from iops.models.common import ENTITY_RE, RESERVED, Metric, iso

DYNAMODB_MIN_MAGNITUDE = 1e-130


def update_request(metric: Metric, now_s: float, ttl_days: int) -> dict[str, Any]:
    """UpdateItem arguments that SET each metric as its own attribute (plus ttl and receivedAt).

    A PutRequest would replace the whole item, losing metrics of the same host and timestamp
    sent in another request; SET merges them.
    """
    names = {"#ttl": "ttl", "#rcv": "receivedAt"}
    values = {":ttl": {"N": str(int(now_s + ttl_days * 86_400))}, ":rcv": {"N": str(int(now_s * 1000))}}
    sets = ["#ttl = :ttl", "#rcv = :rcv"]
    for i, (name, value) in enumerate(metric.values.items()):
        names[f"#m{i}"] = name
        values[f":m{i}"] = {"N": number(value)}
        sets.append(f"#m{i} = :m{i}")
    return {
        "Key": {"hostname": {"S": metric.hostname}, "timestamp": {"N": str(metric.timestamp_ms)}},
        "UpdateExpression": "SET " + ", ".join(sets),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def to_item(metric: Metric, now_s: float, ttl_days: int) -> dict[str, dict[str, str]]:
    """The item one metric makes when stored alone, as a stream's NewImage shows it (from `update_request`)."""
    request = update_request(metric, now_s, ttl_days)
    item = dict(request["Key"])
    for alias, name in request["ExpressionAttributeNames"].items():
        item[name] = request["ExpressionAttributeValues"][":" + alias[1:]]
    return item


def number(value: float) -> str:
    """A DynamoDB number string for a finite float (shortest exact decimal)."""
    if abs(value) < DYNAMODB_MIN_MAGNITUDE:
        return "0"  # DynamoDB refuses non-zero magnitudes below 1e-130 (a 502 for 5e-324 before)
    return str(Decimal(repr(float(value)))) if not float(value).is_integer() else str(int(value))


def run_query(call: Callable[..., dict], **kwargs: Any) -> dict:
    """A DynamoDB query or scan; a start key DynamoDB refuses is a bad nextToken (400), not a crash (502)."""
    try:
        return call(**kwargs)
    except (ClientError, ParamValidationError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else "ParamValidation"
        if "ExclusiveStartKey" in kwargs and code in ("ValidationException", "ParamValidation"):
            raise BadRequest("nextToken is not a token this API returned") from None
        raise


def from_item(item: dict) -> dict:
    """A stored metric as the API returns it: ISO timestamp, numbers as numbers."""
    out: dict[str, Any] = {"hostname": item["hostname"]["S"], "timestamp": iso(int(item["timestamp"]["N"]))}
    for name, value in item.items():
        if name not in RESERVED and "N" in value:
            num = float(value["N"])
            out[name] = int(num) if num.is_integer() and abs(num) < 2**53 else num
    return out


def query_metrics(
    ddb: Any,
    table: str,
    hostname: str | None,
    start_ms: int | None,
    end_ms: int | None,
    limit: int,
    token: dict | None,
) -> dict:
    """Points of one host newest first; without a host, a scan of all hosts (small fleets, debugging)."""
    kwargs: dict[str, Any] = {"TableName": table, "Limit": limit}
    if token:
        kwargs["ExclusiveStartKey"] = token
    lo = start_ms if start_ms is not None else 0
    hi = end_ms if end_ms is not None else 2**62
    if lo > hi:
        raise BadRequest("from must not be after to")
    if hostname is not None:
        if not ENTITY_RE.fullmatch(hostname):
            raise BadRequest(
                f"hostname must be a hostname or {STREAM_PREFIX}<stream>: 1-253 letters, digits, '.', '_', ':' or '-'"
            )
        resp = run_query(
            ddb.query,
            KeyConditionExpression="hostname = :h AND #ts BETWEEN :lo AND :hi",
            ExpressionAttributeNames={"#ts": METRICS.range_key},
            ExpressionAttributeValues={":h": {"S": hostname}, ":lo": {"N": str(lo)}, ":hi": {"N": str(hi)}},
            ScanIndexForward=False,
            **kwargs,
        )
    else:
        if start_ms is not None or end_ms is not None:
            kwargs["FilterExpression"] = "#ts BETWEEN :lo AND :hi"
            kwargs["ExpressionAttributeNames"] = {"#ts": METRICS.range_key}
            kwargs["ExpressionAttributeValues"] = {":lo": {"N": str(lo)}, ":hi": {"N": str(hi)}}
        resp = run_query(ddb.scan, **kwargs)
    points = [from_item(i) for i in resp.get("Items", [])]
    if hostname is None:
        points.sort(key=lambda p: p["timestamp"], reverse=True)
    return {"hostname": hostname, "metrics": points, "nextToken": encode_token(resp.get("LastEvaluatedKey"))}


def points_between(ddb: Any, table: str, hostname: str, after_ms: int, before_ms: int) -> dict[int, dict[str, float]]:
    """Every stored metric of one host with ``after_ms < timestamp < before_ms``: timestamp -> name -> value.

    Consistent reads: the AI tier replays these into a series' state, and must see every point the
    stream has already delivered.
    """
    if before_ms - after_ms <= 1:
        return {}
    items = dynamo.query_all(
        ddb,
        TableName=table,
        KeyConditionExpression="hostname = :h AND #ts BETWEEN :lo AND :hi",
        ExpressionAttributeNames={"#ts": METRICS.range_key},
        ExpressionAttributeValues={
            ":h": {"S": hostname},
            ":lo": {"N": str(after_ms + 1)},
            ":hi": {"N": str(before_ms - 1)},
        },
        ConsistentRead=True,
    )
    return {
        int(item["timestamp"]["N"]): {
            name: float(value["N"]) for name, value in item.items() if name not in RESERVED and "N" in value
        }
        for item in items
    }
