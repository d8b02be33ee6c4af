"""The API's OpenAPI 3.0 document, generated from `definitions.ROUTES` and the schemas below."""

from __future__ import annotations

from functools import cache

from handlers.definitions import ROUTES, Route
from handlers.insights import INSIGHT_TYPES, SEVERITY_NAMES
from handlers.metrics import ENTITY_RE, HOSTNAME_RE, MAX_ABS_VALUE, MIN_EPOCH_S

HOSTNAME_PATTERN = f"^{HOSTNAME_RE.pattern}$"
ENTITY_PATTERN = f"^{ENTITY_RE.pattern}$"
"""A host or ``ib/<stream>``: what reads filter by."""
NUMBER = {"type": "number"}
NULLABLE_NUMBER = {"type": "number", "nullable": True}
ERROR = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}, "details": {}},
}
METRIC_IN = {
    "type": "object",
    "required": ["hostname", "timestamp"],
    "properties": {
        "hostname": {"type": "string", "pattern": HOSTNAME_PATTERN},
        "timestamp": {
            "oneOf": [
                {"type": "string", "description": "ISO 8601"},
                {"type": "number", "minimum": MIN_EPOCH_S, "description": "epoch seconds, up to one day from now"},
            ]
        },
        "cpuUsage": {"type": "number", "minimum": 0, "maximum": 100},
        "memoryUsage": {"type": "number", "minimum": 0, "maximum": 100},
        "diskIO": {"type": "number", "minimum": 0},
        "networkIO": {"type": "number", "minimum": 0},
    },
    "additionalProperties": {"type": "number", "minimum": -MAX_ABS_VALUE, "maximum": MAX_ABS_VALUE},
    "description": "One observation; any other numeric field is a metric too.",
}
INGEST_RESULT = {
    "type": "object",
    "required": ["accepted", "rejected", "errors", "errorsNotListed"],
    "properties": {
        "accepted": {"type": "integer"},
        "rejected": {"type": "integer"},
        "errorsNotListed": {"type": "integer", "description": "rejected items beyond the first 50, counted only"},
        "message": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "errors"],
                "properties": {"index": {"type": "integer"}, "errors": {"type": "array", "items": {"type": "string"}}},
            },
        },
    },
}
METRIC_OUT = {
    "type": "object",
    "required": ["hostname", "timestamp"],
    "properties": {"hostname": {"type": "string"}, "timestamp": {"type": "string", "format": "date-time"}},
    "additionalProperties": NUMBER,
}
METRICS_PAGE = {
    "type": "object",
    "required": ["hostname", "metrics", "nextToken"],
    "properties": {
        "hostname": {"type": "string", "nullable": True},
        "metrics": {"type": "array", "items": {"$ref": "#/components/schemas/MetricPoint"}},
        "nextToken": {"type": "string", "nullable": True},
    },
}
INSIGHT = {
    "type": "object",
    "required": [
        "alert_id",
        "entity_id",
        "timestamp",
        "prediction_type",
        "type",
        "severity",
        "risk_score",
        "confidence",
        "explanation",
        "recommendations",
        "model_used",
        "affected_hosts",
        "metric",
        "observed",
        "expected",
    ],
    "properties": {
        "alert_id": {"type": "string"},
        "entity_id": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "prediction_type": {"type": "string"},
        "type": {"type": "string", "enum": list(INSIGHT_TYPES)},
        "severity": {"type": "string", "enum": list(SEVERITY_NAMES)},
        "risk_score": {"type": "number", "minimum": 0, "maximum": 100},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "explanation": {"type": "string"},
        "recommendations": {"type": "array", "items": {"type": "string"}},
        "model_used": {"type": "string"},
        "affected_hosts": {"type": "array", "items": {"type": "string"}},
        "metric": {"type": "string", "nullable": True},
        "observed": NULLABLE_NUMBER,
        "expected": NULLABLE_NUMBER,
        "scores": {"type": "object", "additionalProperties": NUMBER},
        "eta": {"type": "string", "format": "date-time"},
        "limit": NUMBER,
    },
}
INSIGHTS_PAGE = {
    "type": "object",
    "required": ["insights", "nextToken"],
    "properties": {
        "insights": {"type": "array", "items": {"$ref": "#/components/schemas/Insight"}},
        "nextToken": {"type": "string", "nullable": True},
    },
}

PARAMS = {
    "hostname": ({"type": "string", "pattern": ENTITY_PATTERN}, "Host or stream; without it all hosts are scanned (small fleets)"),
    "from": ({"type": "string"}, "Start, ISO 8601 or epoch seconds"),
    "to": ({"type": "string"}, "End, ISO 8601 or epoch seconds"),
    "since": ({"type": "string"}, "Only insights at or after this time"),
    "nextToken": ({"type": "string"}, "From the previous page"),
    "severity": ({"type": "string", "enum": list(SEVERITY_NAMES)}, "Only this severity"),
    "host": ({"type": "string", "pattern": ENTITY_PATTERN}, "Only insights about this host or stream"),
    "type": ({"type": "string", "enum": list(INSIGHT_TYPES)}, "Only this insight type"),
}
LIMITS = {"/metrics": 1000, "/insights": 100, "/insights/recent": 100}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(route: Route) -> dict:
    params = []
    for name in route.query:
        if name == "limit":
            schema, desc = {"type": "integer", "minimum": 1, "maximum": LIMITS[route.path]}, "Page size"
        else:
            schema, desc = PARAMS[name]
        params.append(
            {
                "name": name,
                "in": "query",
                "required": name in route.required_query,
                # The handlers read an empty value as "not given" (?limit= is the default limit)...
                "allowEmptyValue": name != "hostname",  # ...except ?hostname=, which is a 400
                "schema": schema,
                "description": desc,
            }
        )
    if "{id}" in route.path:
        params.append({"name": "id", "in": "path", "required": True, "schema": {"type": "string"}})
    op: dict = {
        "summary": route.summary,
        "operationId": f"{route.method.lower()}{route.path.replace('/', '_').replace('{', '').replace('}', '').replace('.', '_')}",
    }
    if params:
        op["parameters"] = params
    bad = _json(_ref("Error"), "Invalid request")
    if route.method == "POST":
        op["security"] = [{"ApiKey": []}]
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            _ref("MetricIn"),
                            {"type": "array", "items": _ref("MetricIn"), "minItems": 1},
                            {
                                "type": "object",
                                "required": ["metrics"],
                                "properties": {"metrics": {"type": "array", "items": _ref("MetricIn"), "minItems": 1}},
                            },
                        ]
                    }
                }
            },
        }
        op["responses"] = {
            "200": _json(_ref("IngestResult"), "Every metric stored"),
            "207": _json(_ref("IngestResult"), "Valid metrics stored, invalid ones listed in errors"),
            "400": _json({"anyOf": [_ref("IngestResult"), _ref("Error")]}, "Nothing valid to store"),
            "403": _json(_ref("Error"), "Missing or wrong API key"),
            "413": _json(_ref("Error"), "Body or batch too large"),
            "503": _json(_ref("IngestResult"), "Some valid metrics not stored; retry those listed"),
        }
        return op
    ok = {
        "/metrics": _json(_ref("MetricsPage"), "Points, newest first"),
        "/openapi.json": _json({"type": "object"}, "This document"),
        "/insights": _json(_ref("InsightsPage"), "Insights, newest first"),
        "/insights/recent": _json({"type": "array", "items": _ref("Insight")}, "The newest insights"),
        "/insights/{id}": _json(_ref("Insight"), "The insight"),
    }[route.path]
    op["responses"] = {"200": ok, "400": bad}
    if "{id}" in route.path:
        op["responses"]["404"] = _json(_ref("Error"), "No insight with this id")
    return op


@cache
def openapi_document() -> dict:
    paths: dict[str, dict] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.0.3",
        "info": {"title": "IOps Dashboard API", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": {
                "Error": ERROR,
                "MetricIn": METRIC_IN,
                "IngestResult": INGEST_RESULT,
                "MetricPoint": METRIC_OUT,
                "MetricsPage": METRICS_PAGE,
                "Insight": INSIGHT,
                "InsightsPage": INSIGHTS_PAGE,
            },
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
        },
    }
