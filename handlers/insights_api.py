"""Insights Lambda: ``GET /insights``, ``GET /insights/recent``, ``GET /insights/{id}``, and the incident,
silence and feedback routes of `handlers.incidents_api`."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers import incidents_api
from handlers.api import NotFound, bind, build_resolver, logger
from handlers.definitions import INSIGHTS_FN
from iops.dal import aws, insights, pagination
from iops.logic import params
from iops.logs import structured
from iops.models.common import INSIGHTS_DEFAULT_LIMIT, INSIGHTS_MAX_LIMIT, RECENT_DEFAULT_LIMIT
from iops.settings import InsightsApiSettings
from iops.tracing import tracer

structured(logger)
settings = InsightsApiSettings.from_env()
app = build_resolver(settings)


def list_insights() -> dict:
    q = app.current_event.query_string_parameters or {}
    page = insights.query_insights(
        aws.client("dynamodb"),
        settings.insights_table,
        severity=q.get("severity"),
        host=q.get("host"),
        insight_type=q.get("type"),
        since_ms=params.parse_time_param("since", q.get("since")),
        limit=params.parse_limit(q.get("limit"), default=INSIGHTS_DEFAULT_LIMIT, maximum=INSIGHTS_MAX_LIMIT),
        token=pagination.decode_token(q.get("nextToken")),
    )
    return {"insights": page["insights"], "nextToken": pagination.encode_token(page["nextToken"])}


def recent_insights() -> list[dict]:
    q = app.current_event.query_string_parameters or {}
    limit = params.parse_limit(q.get("limit"), default=RECENT_DEFAULT_LIMIT, maximum=INSIGHTS_MAX_LIMIT)
    return insights.query_insights(aws.client("dynamodb"), settings.insights_table, limit=limit)["insights"]


def get_insight(id: str) -> dict:  # noqa: A002 - the route's path parameter is called id
    found = insights.get_insight(aws.client("dynamodb"), settings.insights_table, id)
    if found is None:
        raise NotFound(f"no insight with id {id!r}")
    return found


bind(
    app,
    INSIGHTS_FN,
    {
        ("GET", "/insights"): list_insights,
        ("GET", "/insights/recent"): recent_insights,
        ("GET", "/insights/{id}"): get_insight,
        **incidents_api.handlers_for(app, settings),
    },
)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
