"""Metric validation (`iops.models.metric`), storage and queries: plain functions the ingest and query Lambdas call."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from detectors.contract import STREAM_PREFIX
from handlers import dynamo
from handlers.definitions import METRICS
from iops import models
from iops.logs import get_logger
from iops.models.common import (  # noqa: F401 - the validation's names, re-exported for the callers
    ENTITY_RE,
    FUTURE_SLACK_S,
    HOSTNAME_RE,
    MAX_ABS_VALUE,
    MAX_LISTED_ITEMS,
    MAX_METRICS_PER_ITEM,
    METRIC_NAME_RE,
    MIN_EPOCH_S,
    NON_NEGATIVE_FIELDS,
    PERCENT_FIELDS,
    RESERVED,
    InvalidMetric,
    Metric,
    iso,
    parse_timestamp,
)
from iops.settings import PaginationSettings

log = get_logger(__name__)

MAX_BODY_BYTES = 1_048_576
DYNAMODB_MIN_MAGNITUDE = 1e-130
MAX_LISTED_ERRORS = 5
"""Messages listed per rejected item; the rest are counted."""
MAX_TOKEN_CHARS = 1024
TOKEN_SECRET_ENV = PaginationSettings.env_name("token_secret")


class BadRequest(ValueError):
    """Input the client must fix; carries an HTTP status (400 or 413)."""

    def __init__(self, message: str, status: int = 400, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.details = details


def validate_metric(raw: Any) -> Metric:
    """One metric object as stored, or `InvalidMetric` listing everything wrong with it (`models.MetricIn`)."""
    return models.MetricIn.parse(raw)


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
            "errors": [_listed(e) for e in sorted(self.rejected + self.unstored, key=lambda e: e.index)][
                :MAX_LISTED_ITEMS
            ],
            "errorsNotListed": max(0, len(self.rejected) + len(self.unstored) - MAX_LISTED_ITEMS),
        }


def _listed(error: ItemError) -> dict:
    """One item's errors, at most MAX_LISTED_ERRORS of them, each at most 200 characters."""
    shown = [m[:200] for m in error.errors[:MAX_LISTED_ERRORS]]
    if len(error.errors) > MAX_LISTED_ERRORS:
        shown.append(f"... and {len(error.errors) - MAX_LISTED_ERRORS} more")
    return {"index": error.index, "errors": shown}


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


def ingest(ddb: Any, table: str, body: str | None, max_items: int, ttl_days: int, deadline: float) -> IngestResult:
    """Validate every metric, store the valid ones, report each rejected one by index.

    Metrics of the same host and timestamp, in this request or in others, are merged into one
    item (each metric its own attribute); the same metric twice in one request: the last wins.
    """
    raw_items = parse_body(body, max_items)
    result = IngestResult()
    merged: dict[tuple[str, int], tuple[list[int], Metric]] = {}
    for index, raw in enumerate(raw_items):
        try:
            metric = validate_metric(raw)
        except InvalidMetric as exc:
            result.rejected.append(ItemError(index, exc.errors))
            continue
        key = (metric.hostname, metric.timestamp_ms)
        if key in merged:
            merged[key][0].append(index)
            merged[key][1].values.update(metric.values)
        else:
            merged[key] = ([index], metric)
    if not merged:
        return result
    now = time.time()
    groups = list(merged.values())
    requests = [update_request(m, now, ttl_days) for _, m in groups]
    failed = dynamo.update_each(ddb, table, requests, dynamo.UNTIL_DEADLINE.until(deadline))
    for i in failed:
        for index in groups[i][0]:
            result.unstored.append(ItemError(index, ["not stored: the database is busy, retry this metric"]))
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


def _token_key() -> bytes:
    """The key that signs pagination tokens: the stack's secret, else one per process (local runs)."""
    global _TOKEN_KEY
    if _TOKEN_KEY is None:
        configured = PaginationSettings.from_env().token_secret or ""
        if not configured:
            log.warning("no pagination token secret: tokens are valid in this process only", variable=TOKEN_SECRET_ENV)
        _TOKEN_KEY = (configured or secrets.token_hex(32)).encode()
    return _TOKEN_KEY


_TOKEN_KEY: bytes | None = None


def _signature(payload: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(_token_key(), payload, hashlib.sha256).digest()[:18]).decode()


def encode_token(key: dict | None) -> str | None:
    """A DynamoDB start key as an opaque token: base64url JSON, then an HMAC of it."""
    if not key:
        return None
    payload = base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode())
    return f"{payload.decode()}.{_signature(payload)}"


def decode_token(token: str | None) -> dict | None:
    """The start key of a token this API issued; anything else (forged, altered, oversized) is a 400.

    The signature is checked before the JSON is parsed, so no client-made JSON is ever parsed here.
    """
    if not token:
        return None
    refused = BadRequest("nextToken is not a token this API returned")
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise refused
    payload, signature = token.split(".")
    if not hmac.compare_digest(signature.encode(), _signature(payload.encode()).encode()):
        raise refused
    try:
        key = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, UnicodeDecodeError):
        raise refused from None
    if not isinstance(key, dict) or not all(isinstance(v, dict) and len(v) == 1 for v in key.values()):
        raise refused
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
