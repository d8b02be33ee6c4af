"""CloudWatch Metric Streams through Kinesis Data Firehose (``POST /firehose/cloudwatch``) -> samples.

Firehose's HTTP endpoint delivery: a JSON body ``{requestId, timestamp, records: [{data}]}``, each
record's ``data`` base64 of newline-delimited metric-stream JSON objects (output format ``json``),
one data point of one metric each. Firehose wants ``{requestId, timestamp, errorMessage?}`` back
with status 200; anything else is a failed delivery that it retries for the stream's retry
duration, then writes to the backup bucket. So: 401 for a wrong key, 413 over `MAX_BODY_BYTES`,
400 when nothing in the delivery is usable, 503 when valid points were not stored.

One data point becomes up to five samples (`STATISTICS`): the host is the first of
`HOST_DIMENSIONS` present, the field `samples.field_name` of ``<namespace>.<metric>.<statistic>``
and the other dimensions. A bad line is rejected alone; the lines beside it are kept.
The mapping is in docs/ingest.md.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from iops.dal import secrets
from iops.errors import BadRequest
from iops.logic import samples
from iops.logs import get_logger
from iops.settings import IngestSettings

log = get_logger(__name__)

ACCESS_KEY_HEADER = "x-amz-firehose-access-key"
REQUEST_ID_HEADER = "x-amz-firehose-request-id"
MAX_BODY_BYTES = 4 * 1024 * 1024
"""Largest delivery accepted: the stack buffers 1 MiB per delivery, which base64 makes about 1.4 MB."""
HOST_DIMENSIONS = (
    "InstanceId",  # AWS/EC2, CWAgent
    "DBInstanceIdentifier",  # AWS/RDS
    "DBClusterIdentifier",  # AWS/RDS (Aurora)
    "CacheClusterId",  # AWS/ElastiCache
    "LoadBalancer",  # AWS/ApplicationELB, AWS/NetworkELB (app/<name>/<id>), AWS/ELB
    "FunctionName",  # AWS/Lambda
    "VolumeId",  # AWS/EBS
    "AutoScalingGroupName",  # AWS/EC2 per group
    "ClusterName",  # AWS/ECS, ContainerInsights
)
"""The dimension that names the host, first present wins; a data point with none of them is refused."""
STATISTICS: tuple[tuple[str, Callable[[Mapping[str, float]], float | None]], ...] = (
    ("avg", lambda v: v["sum"] / v["count"] if "sum" in v and v.get("count") else None),
    ("max", lambda v: v.get("max")),
    ("min", lambda v: v.get("min")),
    ("sum", lambda v: v.get("sum")),
    ("count", lambda v: v.get("count")),
)
"""Field suffix -> its value from the data point's ``value`` object (``avg`` = sum / count, when count > 0)."""
NOT_HOSTLIKE = re.compile(r"[^A-Za-z0-9._:-]+")


@dataclass(frozen=True, slots=True)
class Delivery:
    """A Firehose delivery's envelope: its id, and each record's base64 ``data``."""

    request_id: str
    records: list[str]


def parse_delivery(body: bytes) -> Delivery:
    """The envelope of a delivery; `BadRequest` (400, 413) if the body is not one."""
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"delivery larger than {MAX_BODY_BYTES} bytes: lower the stream's buffering size", status=413)
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("requestId"), str):
        raise BadRequest("body must be a Firehose delivery: {requestId, timestamp, records: [{data}]}")
    records = data.get("records")
    if not isinstance(records, list) or not all(
        isinstance(r, dict) and isinstance(r.get("data"), str) for r in records
    ):
        raise BadRequest("records must be a list of {data: base64}")
    return Delivery(data["requestId"], [r["data"] for r in records])


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _host(dimensions: Mapping[str, str]) -> tuple[str, str] | None:
    """The host dimension's name and its value as a hostname (``app/web/1f2e`` -> ``app-web-1f2e``)."""
    for key in HOST_DIMENSIONS:
        if dimensions.get(key):
            host = samples.host_from({key: NOT_HOSTLIKE.sub("-", dimensions[key])}, (key,))
            return (key, host) if host else None
    return None


def _datum(line: str, where: str, guard: samples.Guard, decoded: samples.Decoded) -> None:
    """One metric-stream JSON object -> its samples in ``decoded``, or one rejection naming ``where``."""
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        decoded.reject(f"{where}: not a JSON object")
        return
    if not isinstance(obj, dict):
        decoded.reject(f"{where}: not a JSON object")
        return
    namespace, metric, ts = obj.get("namespace"), obj.get("metric_name"), obj.get("timestamp")
    dimensions, value = obj.get("dimensions") or {}, obj.get("value")
    if not (isinstance(namespace, str) and namespace and isinstance(metric, str) and metric):
        decoded.reject(f"{where}: namespace and metric_name are required")
        return
    name = f"{namespace}.{metric}"
    if not _number(ts) or not isinstance(dimensions, dict) or not isinstance(value, dict):
        decoded.reject(f"{name}: timestamp (epoch ms), dimensions {{...}} and value {{...}} are required")
        return
    dimensions = {str(k): str(v) for k, v in dimensions.items()}
    found = _host(dimensions)
    if found is None:
        decoded.reject(f"{name}: no host dimension ({', '.join(HOST_DIMENSIONS)}) that is a valid hostname")
        return
    host_key, host = found
    stats = {k: float(v) for k, v in value.items() if k in ("max", "min", "sum", "count") and _number(v)}
    others = [(k, v) for k, v in dimensions.items() if k != host_key]
    present = 0
    for suffix, compute in STATISTICS:
        number = compute(stats)
        if number is None or not math.isfinite(number):
            continue
        field = samples.field_name(f"{name}.{suffix}", others)
        if guard.admit(host, field, decoded):
            decoded.samples.append(samples.Sample(host, field, int(ts), number))
        present += 1
    if not present:
        decoded.reject(f"{name}: value has none of max, min, sum, count as a finite number")


def decode_records(records: list[str]) -> samples.Decoded:
    """Every record's data points as samples; each bad record or line is rejected alone."""
    decoded = samples.Decoded()
    guard = samples.Guard()
    for i, data in enumerate(records):
        try:
            text = base64.b64decode(data, validate=True).decode()
        except (binascii.Error, ValueError):  # ValueError: non-ASCII text (UnicodeDecodeError is one too)
            decoded.reject(f"record {i}: data is not base64 of UTF-8 text")
            continue
        for j, line in enumerate(text.split("\n")):
            if line.strip():
                _datum(line, f"record {i} line {j}", guard, decoded)
    return decoded


def decode(body: bytes) -> samples.Decoded:
    """A delivery's samples and what was refused; `BadRequest` if the body is not a delivery."""
    return decode_records(parse_delivery(body).records)


def _api_key(secret: str) -> str:
    """The key in the secret: ``{"api_key": ...}``, the format Firehose's Secrets Manager integration reads."""
    return str(json.loads(secret)["api_key"])


def _matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def authorised(given: str | None, settings: IngestSettings) -> bool:
    """Whether ``given`` is Firehose's access key (constant-time): the local key, else the stack's secret.

    The secret is cached per container; a key that does not match the cached value makes one fresh
    read (rate-limited), so a rotated secret is picked up without a cold start.
    """
    if not given:
        return False
    if settings.firehose_access_key:
        return _matches(given, settings.firehose_access_key)
    if not settings.firehose_key_secret_arn:
        return False
    cache = secrets.cached(settings.firehose_key_secret_arn)
    if _matches(given, _api_key(cache.value())):
        return True
    fresh = cache.refreshed()
    return fresh is not None and _matches(given, _api_key(fresh))


def _reply(status: int, request_id: str, message: str | None = None) -> samples.Reply:
    body: dict[str, Any] = {"requestId": request_id, "timestamp": int(time.time() * 1000)}
    if message:
        body["errorMessage"] = message[:1000]
    return samples.Reply(status, body)


def handle(body: bytes, headers: Mapping[str, str], store: samples.Store, *, settings: IngestSettings) -> samples.Reply:
    """Check the key, decode, store, answer as Firehose expects (``headers`` have lower-case names)."""
    request_id = headers.get(REQUEST_ID_HEADER, "")
    try:
        if not authorised(headers.get(ACCESS_KEY_HEADER), settings):
            log.warning("firehose: wrong or missing access key", request_id=request_id)
            return _reply(401, request_id, f"missing or wrong {ACCESS_KEY_HEADER}")
    except (ClientError, BotoCoreError, ValueError, KeyError) as exc:
        log.error("firehose: access key unavailable", request_id=request_id, error=str(exc))
        return _reply(503, request_id, "the access key could not be read: retry")
    try:
        delivery = parse_delivery(body)
    except BadRequest as exc:
        log.warning("firehose: refused", request_id=request_id, status=exc.status, error=str(exc))
        return _reply(exc.status, request_id, str(exc))
    request_id = request_id or delivery.request_id
    decoded = decode_records(delivery.records)
    if not decoded.samples:
        if decoded.rejected:
            log.warning(
                "firehose: nothing valid", request_id=request_id, rejected=decoded.rejected, errors=decoded.errors
            )
            return _reply(400, request_id, f"no valid data points: {'; '.join(decoded.errors)}")
        return _reply(200, request_id)
    result = store(decoded)
    if result.rejected or result.unstored:
        log.warning(
            "firehose: data points not stored",
            request_id=request_id,
            stored=result.stored,
            rejected=result.rejected,
            unstored=result.unstored,
            errors=result.errors,
        )
    if result.unstored:
        return _reply(503, request_id, f"{result.unstored} data points not stored: the database is busy, retry")
    if not result.stored:
        return _reply(400, request_id, f"no valid data points: {'; '.join(result.errors)}")
    return _reply(200, request_id)
