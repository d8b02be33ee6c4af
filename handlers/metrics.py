"""Metric validation, storage and queries: plain functions the ingest and query Lambdas call."""

from __future__ import annotations

import base64
import json
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from handlers.definitions import METRICS

HOSTNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$")
METRIC_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")
RESERVED = {"hostname", "timestamp", "ttl", "receivedAt"}
MAX_METRICS_PER_ITEM = 64
MIN_EPOCH_S = 946_684_800  # 2000-01-01
FUTURE_SLACK_S = 86_400
PERCENT_FIELDS = {"cpuUsage", "memoryUsage"}
NON_NEGATIVE_FIELDS = {"diskIO", "networkIO"}
MAX_ABS_VALUE = 1e15
BATCH_LIMIT = 25  # DynamoDB BatchWriteItem rejects more (moto does not: enforce it here)
MAX_BODY_BYTES = 1_048_576
DYNAMODB_MIN_MAGNITUDE = 1e-130


class BadRequest(ValueError):
    """Input the client must fix; carries an HTTP status (400 or 413)."""

    def __init__(self, message: str, status: int = 400, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.details = details


@dataclass(slots=True)
class Metric:
    hostname: str
    timestamp_ms: int
    values: dict[str, float]


@dataclass(slots=True)
class ItemError:
    index: int
    errors: list[str]


@dataclass(slots=True)
class IngestResult:
    accepted: int = 0
    rejected: list[ItemError] = field(default_factory=list)
    unstored: list[ItemError] = field(default_factory=list)

    def body(self) -> dict:
        return {
            "accepted": self.accepted,
            "rejected": len(self.rejected) + len(self.unstored),
            "errors": [
                {"index": e.index, "errors": e.errors}
                for e in sorted(self.rejected + self.unstored, key=lambda e: e.index)
            ],
        }


def parse_timestamp(raw: Any) -> int:
    """ISO 8601 (naive means UTC) or epoch seconds (milliseconds when > 1e11) -> epoch ms."""
    if isinstance(raw, bool):
        raise ValueError("timestamp must be ISO 8601 or epoch seconds, not a boolean")
    if isinstance(raw, int) and abs(raw) > 1e18:
        raise ValueError("timestamp must be between 2000-01-01 and one day from now")  # float() would overflow
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise ValueError("timestamp must be finite")
        seconds = raw / 1000 if abs(raw) > 1e11 else float(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        try:
            seconds = float(text)
            if abs(seconds) > 1e11:
                seconds /= 1000
        except ValueError:
            try:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                raise ValueError(f"timestamp {raw!r} is neither ISO 8601 nor epoch seconds") from None
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            seconds = dt.timestamp()
    else:
        raise ValueError("timestamp is required: ISO 8601 string or epoch seconds")
    if not math.isfinite(seconds):
        raise ValueError("timestamp must be finite")
    if seconds < MIN_EPOCH_S or seconds > time.time() + FUTURE_SLACK_S:
        raise ValueError("timestamp must be between 2000-01-01 and one day from now")
    return int(round(seconds * 1000))


def _check_value(name: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name} must be a number"
    if isinstance(value, int) and abs(value) > MAX_ABS_VALUE:
        return f"{name} must be within +-{MAX_ABS_VALUE:g}"  # before isfinite: a huge int overflows a float
    if not math.isfinite(value):
        return f"{name} must be finite"
    if name in PERCENT_FIELDS and not 0 <= value <= 100:
        return f"{name} must be a percentage between 0 and 100"
    if name in NON_NEGATIVE_FIELDS and value < 0:
        return f"{name} must not be negative"
    if abs(value) > MAX_ABS_VALUE:
        return f"{name} must be within +-{MAX_ABS_VALUE:g}"
    return None


def validate_metric(raw: Any) -> Metric:
    """One metric object, or ValueError listing everything wrong with it."""
    if not isinstance(raw, dict):
        raise ValueError("each metric must be a JSON object")
    errors: list[str] = []
    hostname = raw.get("hostname")
    if not isinstance(hostname, str) or not HOSTNAME_RE.match(hostname):
        what = "is required" if hostname is None else f"{json.dumps(hostname)[:80]} is not valid"
        errors.append(f"hostname {what}: 1-253 characters of letters, digits, '.', '_', ':' or '-'")
    timestamp_ms = 0
    try:
        timestamp_ms = parse_timestamp(raw.get("timestamp"))
    except ValueError as exc:
        errors.append(str(exc))
    values: dict[str, float] = {}
    field_errors: list[str] = []
    for name, value in raw.items():
        if name in ("hostname", "timestamp"):
            continue
        if name in RESERVED or not METRIC_NAME_RE.match(str(name)):
            field_errors.append(f"{name!r} is not an allowed metric name (letters, digits, '_' or '.', max 64)")
            continue
        problem = _check_value(name, value)
        if problem:
            field_errors.append(problem)
        else:
            values[name] = float(value)
    errors.extend(field_errors)
    if not values and not field_errors:
        errors.append("at least one numeric metric (e.g. cpuUsage) is required")
    if len(values) > MAX_METRICS_PER_ITEM:
        errors.append(f"at most {MAX_METRICS_PER_ITEM} metrics per item")
    if errors:
        raise ValueError("; ".join(errors))
    return Metric(hostname, timestamp_ms, values)  # type: ignore[arg-type]


def parse_body(body: str | None, max_items: int) -> list[Any]:
    """The request body as a list of raw metric objects (one object, a list, or {"metrics": [...]})."""
    if body is None or not body.strip():
        raise BadRequest('request body is required: a metric object or {"metrics": [...]}')
    if len(body.encode()) > MAX_BODY_BYTES:
        raise BadRequest(f"request body larger than {MAX_BODY_BYTES} bytes", status=413)
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if isinstance(data, dict) and "metrics" in data:
        data = data["metrics"]
        if not isinstance(data, list):
            raise BadRequest("'metrics' must be a list of metric objects")
    elif isinstance(data, dict):
        data = [data]
    elif not isinstance(data, list):
        raise BadRequest('body must be a metric object, a list, or {"metrics": [...]}')
    if not data:
        raise BadRequest("no metrics in the request")
    if len(data) > max_items:
        raise BadRequest(f"at most {max_items} metrics per request, got {len(data)}", status=413)
    return data


def to_item(metric: Metric, now_s: float, ttl_days: int) -> dict[str, dict[str, str]]:
    """The DynamoDB item (low-level attribute values) for one metric."""
    item = {
        "hostname": {"S": metric.hostname},
        "timestamp": {"N": str(metric.timestamp_ms)},
        "ttl": {"N": str(int(now_s + ttl_days * 86_400))},
        "receivedAt": {"N": str(int(now_s * 1000))},
    }
    for name, value in metric.values.items():
        item[name] = {"N": number(value)}
    return item


def number(value: float) -> str:
    """A DynamoDB number string for a finite float (shortest exact decimal)."""
    if abs(value) < DYNAMODB_MIN_MAGNITUDE:
        return "0"  # DynamoDB refuses non-zero magnitudes below 1e-130 (a 502 for 5e-324 before)
    return str(Decimal(repr(float(value)))) if not float(value).is_integer() else str(int(value))


def write_items(
    ddb: Any,
    table: str,
    items: list[dict],
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
) -> list[int]:
    """BatchWriteItem in chunks of 25, retrying unprocessed items with backoff until ``deadline``.

    Returns the indexes (into ``items``) that could not be stored before the deadline.
    """
    pending = list(range(len(items)))
    attempt = 0
    while pending:
        unprocessed: list[int] = []
        for start in range(0, len(pending), BATCH_LIMIT):
            chunk = pending[start : start + BATCH_LIMIT]
            try:
                resp = ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": items[i]}} for i in chunk]})
            except ddb.exceptions.ProvisionedThroughputExceededException:
                unprocessed.extend(chunk)
                continue
            except ddb.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in {
                    "ThrottlingException",
                    "RequestLimitExceeded",
                    "InternalServerError",
                }:
                    raise
                unprocessed.extend(chunk)
                continue
            left = resp.get("UnprocessedItems", {}).get(table, [])
            if left:
                keys = {_key(r["PutRequest"]["Item"]) for r in left}
                unprocessed.extend(i for i in chunk if _key(items[i]) in keys)
        pending = unprocessed
        if not pending:
            break
        attempt += 1
        delay = min(1.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2)
        if time.monotonic() + delay >= deadline:
            break
        sleep(delay)
    return pending


def _key(item: dict) -> tuple[str, str]:
    return item["hostname"]["S"], item["timestamp"]["N"]


def ingest(ddb: Any, table: str, body: str | None, max_items: int, ttl_days: int, deadline: float) -> IngestResult:
    """Validate every metric, store the valid ones, report each rejected one by index."""
    raw_items = parse_body(body, max_items)
    result = IngestResult()
    valid: dict[tuple[str, int], tuple[int, Metric]] = {}
    for index, raw in enumerate(raw_items):
        try:
            metric = validate_metric(raw)
        except ValueError as exc:
            result.rejected.append(ItemError(index, str(exc).split("; ")))
            continue
        # The same (host, timestamp) twice in one request: the last one wins, as a later PUT would.
        valid[(metric.hostname, metric.timestamp_ms)] = (index, metric)
    if not valid:
        return result
    now = time.time()
    indexes = [i for i, _ in valid.values()]
    items = [to_item(m, now, ttl_days) for _, m in valid.values()]
    failed = write_items(ddb, table, items, deadline)
    for i in failed:
        result.unstored.append(ItemError(indexes[i], ["not stored: the database is busy, retry this metric"]))
    result.accepted = len(raw_items) - len(result.rejected) - len(result.unstored)
    return result


def run_query(call: Callable[..., dict], **kwargs: Any) -> dict:
    """A DynamoDB query or scan; a start key DynamoDB refuses is a bad nextToken (400), not a crash (502)."""
    try:
        return call(**kwargs)
    except (ClientError, ParamValidationError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else "ParamValidation"
        if "ExclusiveStartKey" in kwargs and code in ("ValidationException", "ParamValidation"):
            raise BadRequest("nextToken is not a token this API returned") from None
        raise


def encode_token(key: dict | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode() if key else None


def decode_token(token: str | None) -> dict | None:
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("nextToken is not a token this API returned") from None
    if not isinstance(key, dict):
        raise BadRequest("nextToken is not a token this API returned")
    return key


def parse_limit(raw: str | None, default: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"limit must be an integer between 1 and {maximum}") from None
    if not 1 <= value <= maximum:
        raise BadRequest(f"limit must be an integer between 1 and {maximum}")
    return value


def parse_time_param(name: str, raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return parse_timestamp(raw)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None


def iso(ms: int | float) -> str:
    return datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
        if not HOSTNAME_RE.match(hostname):
            raise BadRequest("hostname has characters a hostname cannot have")
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
