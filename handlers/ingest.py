"""Ingest Lambda: ``POST /metrics`` and the standard formats (OTLP, Prometheus remote write, Firehose)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from functools import partial

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.api import bind, build_resolver, logger
from handlers.definitions import INGEST_FN
from iops import telemetry
from iops.dal import aws
from iops.logic import ingest as ingest_logic
from iops.logic import samples
from iops.logs import structured
from iops.settings import IngestSettings
from iops.tracing import tracer

structured(logger)
settings = IngestSettings.from_env()
app = build_resolver(settings)
WRITE_MARGIN_S = 2.0
MAX_WRITE_S = 10.0


def _deadline() -> float:
    """When writes must stop: before the function's own timeout, so the answer still goes out."""
    context = app.lambda_context
    remaining = context.get_remaining_time_in_millis() / 1000 if context else MAX_WRITE_S + WRITE_MARGIN_S
    return time.monotonic() + max(0.5, min(MAX_WRITE_S, remaining - WRITE_MARGIN_S))


def post_metrics() -> Response:
    deadline = _deadline()
    result = ingest_logic.ingest(
        aws.client("dynamodb"),
        settings.metrics_table,
        app.current_event.body,
        settings.max_metrics_per_request,
        settings.metrics_ttl_days,
        deadline,
    )
    body = result.body()
    if result.unstored:
        status = 503
    elif result.accepted == 0:
        status = 400
        body["message"] = "no valid metrics in the request"
    elif result.rejected:
        status = 207
    else:
        status = 200
    logger.info("ingest", extra={"accepted": result.accepted, "rejected": body["rejected"], "status": status})
    telemetry.ingest_result(result.accepted, len(result.rejected), len(result.unstored))
    headers = {"Retry-After": "1"} if status == 503 else None
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def _raw_body() -> bytes:
    """The request body as sent: API Gateway base64-encodes binary media types (protobuf)."""
    event = app.current_event
    if event.body is None:
        return b""
    return base64.b64decode(event.body) if event.is_base64_encoded else event.body.encode()


def _standard(handle: Callable[[bytes, Mapping[str, str], samples.Store], samples.Reply]) -> Response:
    """One standard-format request: decode with ``handle``, store like ``POST /metrics``, answer as its clients expect."""
    deadline = _deadline()

    def store(decoded: samples.Decoded) -> samples.StoreResult:
        return ingest_logic.store_samples(
            aws.client("dynamodb"),
            settings.metrics_table,
            settings.counters_table,
            decoded,
            settings.metrics_ttl_days,
            deadline,
        )

    headers = {k.lower(): v for k, v in (app.current_event.headers or {}).items()}
    reply = handle(_raw_body(), headers, store)
    logger.info("standard ingest", extra={"path": app.current_event.path, "status": reply.status})
    return Response(
        status_code=reply.status,
        content_type=reply.content_type,
        body=reply.body if reply.body is not None else "",
        headers=dict(reply.headers) or None,
    )


# The formats' decoders load protobuf and their messages: imported by their first request, so a
# function serving only POST /metrics never pays for them at cold start.


def post_otlp() -> Response:
    from iops.logic import otlp

    return _standard(otlp.handle)


def post_remote_write() -> Response:
    from iops.logic import remote_write

    return _standard(remote_write.handle)


def post_firehose() -> Response:
    from iops.logic import firehose

    return _standard(partial(firehose.handle, settings=settings))


bind(
    app,
    INGEST_FN,
    {
        ("POST", "/metrics"): post_metrics,
        ("POST", "/v1/metrics"): post_otlp,
        ("POST", "/api/v1/write"): post_remote_write,
        ("POST", "/firehose/cloudwatch"): post_firehose,
    },
)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
