"""Ingest Lambda: ``POST /metrics``."""

from __future__ import annotations

import time

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.api import bind, build_resolver, logger
from handlers.definitions import INGEST_FN
from iops import telemetry
from iops.dal import aws
from iops.logic import ingest as ingest_logic
from iops.logs import structured
from iops.settings import IngestSettings
from iops.tracing import tracer

structured(logger)
settings = IngestSettings.from_env()
app = build_resolver(settings)
WRITE_MARGIN_S = 2.0
MAX_WRITE_S = 10.0


def post_metrics() -> Response:
    context = app.lambda_context
    remaining = context.get_remaining_time_in_millis() / 1000 if context else MAX_WRITE_S + WRITE_MARGIN_S
    deadline = time.monotonic() + max(0.5, min(MAX_WRITE_S, remaining - WRITE_MARGIN_S))
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


bind(app, INGEST_FN, {("POST", "/metrics"): post_metrics})


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
