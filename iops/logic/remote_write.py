"""Prometheus remote write 1.0 (``POST /api/v1/write``): a snappy-compressed ``WriteRequest`` -> samples.

The host is a series' ``instance`` label without its port (else ``host``, else ``hostname``); the
field is `samples.field_name` of ``__name__`` and the other labels. A name ending in `COUNTER_SUFFIXES`
is a cumulative counter, stored as a per-second rate. Prometheus retries a 5xx and drops a batch
on any 4xx, so a 4xx means "this request can never succeed" and a 503 only "the database was busy".
The mapping and the limits are in docs/ingest.md.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping

import cramjam
from google.protobuf.message import DecodeError

from iops.errors import BadRequest
from iops.logic import samples
from iops.logs import get_logger
from iops.proto import prompb

log = get_logger(__name__)

MAX_DECOMPRESSED_BYTES = 32 * 1024 * 1024
"""Largest WriteRequest accepted, decompressed (Prometheus' default batches are well under 1 MB)."""
CONTENT_TYPE = "application/x-protobuf"
PROTO = "prometheus.WriteRequest"
"""The only message this receiver reads (remote write 2.0 senders name ``io.prometheus.write.v2.Request``)."""
COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
HOST_LABELS = ("instance", "host", "hostname")
NOT_IN_FIELD = frozenset({"__name__", "job", *HOST_LABELS})
STALE_NAN = 0x7FF0000000000002
"""The NaN Prometheus writes when a series disappears (a staleness marker), not a measurement."""
FRAMED_SNAPPY = b"\xff\x06\x00\x00sNaPpY"
RETRY_AFTER_S = "1"


def _media_type(value: str) -> tuple[str, dict[str, str]]:
    """``type/subtype`` (lower case) and the parameters of a Content-Type header."""
    kind, *params = (p.strip() for p in value.split(";"))
    pairs = (p.split("=", 1) for p in params if "=" in p)
    return kind.lower(), {k.strip().lower(): v.strip().strip('"') for k, v in pairs}


def _check_headers(headers: Mapping[str, str]) -> None:
    """415 unless the body says it is a snappy-compressed remote write 1.0 protobuf."""
    kind, params = _media_type(headers.get("content-type", ""))
    if kind != CONTENT_TYPE or params.get("proto", PROTO) != PROTO:
        raise BadRequest(
            f"Content-Type must be {CONTENT_TYPE} (a remote write 1.0 {PROTO}), got {headers.get('content-type')!r}",
            status=415,
        )
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding != "snappy":
        raise BadRequest(f"Content-Encoding must be snappy, got {headers.get('content-encoding')!r}", status=415)


def _claimed_length(body: bytes) -> int:
    """The decompressed length a snappy block states in its leading varint (at most 5 bytes: 32 bits)."""
    length = 0
    for i, byte in enumerate(body[:5]):
        length |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return length
    raise BadRequest("body is not snappy block-compressed: no valid length header")


def decompress(body: bytes) -> bytes:
    """The snappy block's content; its stated length is checked before anything is decompressed."""
    if not body:
        raise BadRequest("empty body: expected a snappy-compressed WriteRequest")
    if body.startswith(FRAMED_SNAPPY):
        raise BadRequest("body is snappy framed (stream) format: remote write uses the block format")
    claimed = _claimed_length(body)
    if claimed > MAX_DECOMPRESSED_BYTES:
        raise BadRequest(
            f"WriteRequest decompresses to {claimed} bytes, more than {MAX_DECOMPRESSED_BYTES}: send smaller batches "
            "(queue_config.max_samples_per_send)",
            status=413,
        )
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise BadRequest(f"body is not valid snappy block format: {exc}") from None


def _stale(value: float) -> bool:
    return struct.unpack("<Q", struct.pack("<d", value))[0] == STALE_NAN


def decode(body: bytes, headers: Mapping[str, str]) -> samples.Decoded:
    """The request's samples and counter readings, and what was refused; `BadRequest` if it is not a WriteRequest.

    ``headers`` have lower-case names. Staleness markers are dropped, not refused: they say a series
    ended, which a stored metric cannot say. `samples.Guard` caps the series and fields kept.
    """
    _check_headers(headers)
    try:
        request = prompb.WriteRequest.FromString(decompress(body))
    except DecodeError:
        raise BadRequest(f"body is not a protobuf {PROTO}") from None
    decoded = samples.Decoded()
    guard = samples.Guard()
    for series in request.timeseries:
        labels = {label.name: label.value for label in series.labels}
        name = labels.get("__name__")
        if not name:
            decoded.reject("a series without a __name__ label", len(series.samples))
            continue
        host = samples.host_from(labels, HOST_LABELS, strip_port=True)
        if host is None:
            decoded.reject(f"{name}: no instance, host or hostname label that is a valid hostname", len(series.samples))
            continue
        field = samples.field_name(name, ((k, v) for k, v in labels.items() if k not in NOT_IN_FIELD))
        counter = name.endswith(COUNTER_SUFFIXES)
        for point in series.samples:
            value = point.value
            if math.isnan(value) and _stale(value):
                continue
            if not samples.finite(value):
                decoded.reject(f"{name}: NaN or infinite value")
                continue
            if not guard.admit(host, field, decoded):
                continue
            if counter:
                decoded.counters.append(samples.CounterPoint(host, field, point.timestamp, value))
            else:
                decoded.samples.append(samples.Sample(host, field, point.timestamp, value))
    return decoded


def _error(status: int, message: str, errors: list[str] | None = None) -> samples.Reply:
    """An error answer: Prometheus logs the body of a failed write, so it says what to fix."""
    body: dict = {"message": message}
    if errors:
        body["details"] = {"errors": errors}
    return samples.Reply(status, body, headers={"Retry-After": RETRY_AFTER_S} if status == 503 else {})


def handle(body: bytes, headers: Mapping[str, str], store: samples.Store) -> samples.Reply:
    """Decode, store, answer: 204 when what was valid is stored (remote write has no partial-success body).

    400 when nothing in the request was valid; 503 with Retry-After when valid samples were not stored,
    so Prometheus sends the batch again (a counter keeps its old reading then: the retry gives the same rate).
    """
    try:
        decoded = decode(body, headers)
    except BadRequest as exc:
        log.warning("remote write refused", status=exc.status, error=str(exc))
        return _error(exc.status, str(exc))
    if decoded.rejected and not decoded.samples and not decoded.counters:
        log.warning("remote write: nothing valid", rejected=decoded.rejected, errors=decoded.errors)
        return _error(400, f"no valid samples: {decoded.rejected} rejected", decoded.errors)
    result = store(decoded)
    if result.rejected or result.unstored:
        log.warning(
            "remote write: samples not stored",
            stored=result.stored,
            rejected=result.rejected,
            unstored=result.unstored,
            errors=result.errors,
        )
    if result.unstored:
        return _error(503, f"{result.unstored} samples not stored: the database is busy, retry", result.errors)
    if result.rejected and not result.stored and not decoded.counters:
        return _error(400, f"no valid samples: {result.rejected} rejected", result.errors)
    return samples.Reply(204)
