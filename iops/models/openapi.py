"""The API's OpenAPI 3.0 document, generated from the routes (`definitions.ROUTES`) and the models.

Per route: summary, operation id and API-key security from its `Route`; its parameters from its query
and path models (`iops.models.api`: one parameter per field, named by its alias, with the field's
schema and description); its request body and responses from models. Every schema is pydantic's
JSON Schema of a model (`iops.models.schema`); none is written here. pydantic loads when the
document is first asked for, not when the query function starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from handlers.definitions import ROUTES, Route
from iops import models

OPENAPI_VERSION = "3.0.3"
TITLE = "IOps Dashboard API"
VERSION = "1.0.0"
API_KEY_HEADER = "x-api-key"
AUTHORIZATION_HEADER = "Authorization"
FIREHOSE_KEY_HEADER = "X-Amz-Firehose-Access-Key"
PROTOBUF = "application/x-protobuf"
BINARY = {"type": "string", "format": "binary"}


@dataclass(frozen=True)
class Operation:
    """What a route takes and answers, as models; ``responses`` beyond 200 and the common ones."""

    ok: tuple[Any, str]
    """The 200 body's type and its description."""
    query: Any = None
    path: Any = None
    body: Any = None
    raw_body: dict[str, dict[str, Any]] | None = None
    """Media type -> schema, for a body no model describes (protobuf: bytes)."""
    protobuf_reply: bool = False
    """The 200 comes protobuf-encoded too (for a protobuf request), besides JSON."""
    responses: dict[int, tuple[Any, str]] = field(default_factory=dict)


@cache
def operations() -> dict[tuple[str, str], Operation]:
    """Each route's models, by (method, path)."""
    api, insight = models.api, models.Insight
    return {
        ("POST", "/metrics"): Operation(
            ok=(api.IngestResult, "Every metric stored"),
            body=api.IngestRequest,
            responses={
                207: (api.IngestResult, "Valid metrics stored, invalid ones listed in errors"),
                400: (api.IngestResult | api.Error, "Nothing valid to store"),
                403: (api.Error, "Missing or wrong API key"),
                413: (api.Error, "Body or batch too large"),
                503: (api.IngestResult | api.Error, "Some valid metrics not stored; retry those listed"),
            },
        ),
        ("POST", "/v1/metrics"): Operation(
            ok=(api.OtlpExportResponse, "Stored; partialSuccess counts the data points refused (docs/ingest.md)"),
            raw_body={PROTOBUF: BINARY, "application/json": {"type": "object"}},
            protobuf_reply=True,
            responses={
                400: (api.Error, "Not an ExportMetricsServiceRequest"),
                403: (api.Error, "Missing or wrong API key"),
                413: (api.Error, "Body too large"),
                415: (api.Error, "Neither application/x-protobuf nor application/json"),
                503: (api.Error, "Storage busy: retry after Retry-After seconds"),
            },
        ),
        ("POST", "/api/v1/write"): Operation(
            ok=(None, "Stored (Prometheus reads only the status)"),
            raw_body={PROTOBUF: BINARY},
            responses={
                204: (None, "Stored"),
                400: (api.Error, "Not a snappy-compressed WriteRequest: Prometheus drops it, never retries"),
                403: (api.Error, "Missing or wrong API key"),
                413: (api.Error, "Body too large"),
                415: (api.Error, "Not application/x-protobuf with Content-Encoding: snappy"),
                503: (api.Error, "Storage busy: Prometheus retries"),
            },
        ),
        ("POST", "/firehose/cloudwatch"): Operation(
            ok=(api.FirehoseResponse, "Delivered: the request id and a timestamp, as Firehose requires"),
            body=api.FirehoseRequest,
            responses={
                400: (api.FirehoseResponse, "Not a Firehose delivery"),
                401: (api.FirehoseResponse, "Missing or wrong X-Amz-Firehose-Access-Key"),
                413: (api.FirehoseResponse, "Body too large"),
                503: (api.FirehoseResponse, "Storage busy: Firehose retries"),
            },
        ),
        ("GET", "/metrics"): Operation(ok=(api.MetricsPage, "Points, newest first"), query=api.MetricsQuery),
        ("GET", "/openapi.json"): Operation(ok=(dict[str, Any], "This document")),
        ("GET", "/insights"): Operation(ok=(api.InsightsPage, "Insights, newest first"), query=api.InsightsQuery),
        ("GET", "/insights/recent"): Operation(
            ok=(list[insight], "The newest insights"), query=api.RecentInsightsQuery
        ),
        ("GET", "/insights/{id}"): Operation(
            ok=(insight, "The insight"), path=api.InsightPath, responses={404: (api.Error, "No insight with this id")}
        ),
        ("POST", "/insights/{id}/feedback"): Operation(
            ok=(api.FeedbackResult, "Not used: a new verdict answers 201"),
            path=api.InsightPath,
            body=api.FeedbackRequest,
            responses={201: (api.FeedbackResult, "Stored; its effect on the series"), 404: (api.Error, "No insight")},
        ),
        ("GET", "/incidents"): Operation(ok=(api.IncidentsPage, "Incidents"), query=api.IncidentsQuery),
        ("GET", "/incidents/{id}"): Operation(
            ok=(api.IncidentDetail, "The incident and its newest insights"),
            path=api.IncidentPath,
            responses={404: (api.Error, "No incident with this id")},
        ),
        ("POST", "/incidents/{id}/ack"): Operation(
            ok=(api.Incident, "Acknowledged (no more reminders)"),
            path=api.IncidentPath,
            body=api.IncidentAction,
            responses={404: (api.Error, "No incident with this id"), 409: (api.Error, "The incident is resolved")},
        ),
        ("POST", "/incidents/{id}/resolve"): Operation(
            ok=(api.Incident, "Resolved"),
            path=api.IncidentPath,
            body=api.IncidentAction,
            responses={404: (api.Error, "No incident")},
        ),
        ("POST", "/silences"): Operation(
            ok=(api.Silence, "Not used: a new silence answers 201"),
            body=api.SilenceRequest,
            responses={201: (api.Silence, "The silence, with its silence_id")},
        ),
        ("GET", "/silences"): Operation(ok=(api.SilencesPage, "Silences not yet ended")),
        ("DELETE", "/silences/{id}"): Operation(
            ok=(api.Silence, "The silence, ended now"), path=api.SilencePath, responses={404: (api.Error, "No silence")}
        ),
    }


@cache
def common_responses() -> dict[int, tuple[Any, str]]:
    """What every route may answer (`handlers.api`: bad input, then the one handler of unforeseen errors)."""
    error = models.api.Error
    return {
        400: (error, "Invalid request"),
        500: (error, "Unexpected error; details.requestId names the request"),
        503: (error, "Storage unavailable or throttled; retry after Retry-After seconds"),
    }


def operation_id(route: Route) -> str:
    return route.method.lower() + re.sub(r"[{}]", "", route.path).replace("/", "_").replace(".", "_")


def _check(route: Route, op: Operation, query: list[dict], path: list[dict]) -> None:
    """The route table and the models agree (API Gateway validates by `Route.query`)."""
    names = tuple(p["name"] for p in query)
    required = tuple(p["name"] for p in query if p["required"])
    if names != route.query or required != tuple(route.required_query):
        raise RuntimeError(
            f"{route.method} {route.path}: query model has {names} (required {required}), route {route.query}"
        )
    in_path = tuple(re.findall(r"{(\w+)}", route.path))
    if tuple(p["name"] for p in path) != in_path:
        raise RuntimeError(f"{route.method} {route.path}: path model does not name {in_path}")
    if (op.body is not None or op.raw_body is not None) != (route.method == "POST"):
        raise RuntimeError(f"{route.method} {route.path}: a request body exactly when the route takes one")


def _json(schema: dict[str, Any] | None, description: str) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


@cache
def openapi_document() -> dict[str, Any]:
    ops = operations()
    if set(ops) != {(r.method, r.path) for r in ROUTES}:
        raise RuntimeError(f"operations {sorted(ops)} do not match the routes")
    wanted: dict[tuple[int, str], tuple[Any, str]] = {}

    def want(tp: Any, mode: str) -> tuple[int, str]:
        wanted.setdefault((id(tp), mode), (tp, mode))
        return (id(tp), mode)

    plan = []
    for route in ROUTES:
        op = ops[(route.method, route.path)]
        responses = {200: op.ok, **common_responses(), **op.responses}
        if route.signed_in:
            responses[401] = (models.api.Error, "No valid ID token of the user pool in Authorization")
        body = want(op.body, "validation") if op.body is not None else None
        plan.append(
            (
                route,
                op,
                body,
                {
                    s: (None if tp is None else want(tp, "serialization"), text)
                    for s, (tp, text) in sorted(responses.items())
                },
            )
        )
    schema = models.schema
    refs, components = schema.component_schemas(wanted)
    paths: dict[str, dict] = {}
    for route, op, body, responses in plan:
        query = schema.parameters(op.query, "query") if op.query else []
        path = schema.parameters(op.path, "path") if op.path else []
        _check(route, op, query, path)
        operation: dict[str, Any] = {"summary": route.summary, "operationId": operation_id(route)}
        if query or path:
            operation["parameters"] = query + path
        if route.api_key:
            operation["security"] = [{"ApiKey": []}]
        elif route.firehose_key:
            operation["security"] = [{"FirehoseAccessKey": []}]
        elif route.signed_in:
            operation["security"] = [{"UserPool": []}]
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": refs[body]}}}
        elif op.raw_body is not None:
            content = {media: {"schema": schema} for media, schema in op.raw_body.items()}
            operation["requestBody"] = {"required": True, "content": content}
        operation["responses"] = {
            str(status): _json(None if key is None else refs[key], text) for status, (key, text) in responses.items()
        }
        if op.protobuf_reply:
            operation["responses"]["200"]["content"][PROTOBUF] = {"schema": BINARY}
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": TITLE, "version": VERSION},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
                "FirehoseAccessKey": {"type": "apiKey", "in": "header", "name": FIREHOSE_KEY_HEADER},
                "UserPool": {
                    "type": "apiKey",
                    "in": "header",
                    "name": AUTHORIZATION_HEADER,
                    "description": "A Cognito user-pool ID token, raw or after 'Bearer ' (`iops token`)",
                },
            },
        },
    }
