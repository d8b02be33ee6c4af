"""Query Lambda: ``GET /metrics`` and ``GET /openapi.json``."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.api import bind, build_resolver, logger
from handlers.definitions import QUERY_FN
from iops.dal import aws, metrics, pagination
from iops.logic import params
from iops.logs import structured
from iops.models.common import METRICS_MAX_LIMIT
from iops.models.openapi import openapi_document
from iops.settings import QuerySettings
from iops.tracing import tracer

structured(logger)
settings = QuerySettings.from_env()
app = build_resolver(settings)


def get_metrics() -> dict:
    q = app.current_event.query_string_parameters or {}
    return metrics.query_metrics(
        aws.client("dynamodb"),
        settings.metrics_table,
        q.get("hostname"),
        params.parse_time_param("from", q.get("from")),
        params.parse_time_param("to", q.get("to")),
        params.parse_limit(q.get("limit"), default=METRICS_MAX_LIMIT, maximum=METRICS_MAX_LIMIT),
        pagination.decode_token(q.get("nextToken")),
    )


def get_openapi() -> dict:
    return openapi_document()


bind(app, QUERY_FN, {("GET", "/metrics"): get_metrics, ("GET", "/openapi.json"): get_openapi})


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
