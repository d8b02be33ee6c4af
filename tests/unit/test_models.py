"""iops.models: the insight's three forms, the metric model's schema, and the OpenAPI document made from them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from iops_detector_sdk.severity import SEVERITIES, Severity
from pydantic import ValidationError

from handlers.definitions import INSIGHTS, ROUTES
from iops.models.api import Error, IngestResult, MetricsQuery
from iops.models.common import (
    ENTITY_TYPE,
    INSIGHT_TYPES,
    INSIGHTS_MAX_LIMIT,
    MAX_ABS_VALUE,
    METRICS_MAX_LIMIT,
    MIN_EPOCH_S,
    insight_id,
    iso,
)
from iops.models.insight import STORED_DEFAULTS, Insight
from iops.models.metric import MetricIn
from iops.models.openapi import openapi_document, operations

CONTRACT = [
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
]
"""DESIGN.md: Insight (contract)."""
TS = 1_767_225_600_000


def prediction(**over) -> Insight:
    fields = dict(
        alert_id=insight_id("web-01", "memoryUsage", TS, "prediction"),
        timestamp_ms=TS,
        entity_id="web-01",
        type="prediction",
        prediction_type="memory_exhaustion",
        severity="HIGH",
        risk_score=84,
        confidence=0.92,
        explanation="memoryUsage on web-01 is 88 and forecast to reach its limit of 95",
        recommendations=["Find the process whose resident memory grows on web-01"],
        model_used="holt-winters (damped trend)",
        affected_hosts=["web-01"],
        metric="memoryUsage",
        observed=88.0,
        expected=95.5,
        scores={"forecast": 0.92},
        eta=iso(TS + 3_600_000),
        eta_interval={"earliest": iso(TS + 1_800_000)},
        limit=95.0,
    )
    return Insight(**(fields | over))


def anomaly(**over) -> Insight:
    fields = dict(
        alert_id=insight_id("db-01", "cpuUsage", TS, "anomaly"),
        timestamp_ms=TS,
        entity_id="db-01",
        type="anomaly",
        prediction_type="performance_degradation",
        severity="CRITICAL",
        risk_score=93,
        confidence=0.8,
        explanation="cpuUsage on db-01 was 97 against a recent median of 31.",
        recommendations=[],
        model_used="statistical",
        affected_hosts=["db-01"],
        metric="cpuUsage",
        observed=97.0,
        expected=None,
        scores={"statistical": 0.9312},
    )
    return Insight(**(fields | over))


def test_the_stored_item_has_the_tables_keys_index_attributes_and_ttl_and_reads_back_the_same() -> None:
    now = time.time()
    for insight in (prediction(), anomaly(related=["ins-pattern"])):
        item = insight.to_item(ttl_days=180, now=now)
        assert item[INSIGHTS.hash_key] == {"S": insight.alert_id}
        assert item[INSIGHTS.range_key] == {"N": str(TS)}
        assert item["entity_type"] == {"S": ENTITY_TYPE} and item["severity"] == {"S": insight.severity}
        assert item["entity_id"] == {"S": insight.entity_id}
        assert item[INSIGHTS.ttl_attribute] == {"N": str(int(now + 180 * 86_400))}
        assert item["created_at"] == {"N": str(int(now * 1000))}
        assert "alert_id" not in item and "timestamp_ms" not in item
        assert all(v != {"NULL": True} for v in item.values()), "None is never stored"
        assert Insight.from_item(item | {"alerted": {"BOOL": True}}) == insight
    assert "expected" not in anomaly().to_item(1) and "eta" not in anomaly().to_item(1)
    assert prediction().to_item(1)["observed"] == {"N": "88.0"}  # the float's exact decimal, as before


def test_the_api_form_is_the_contract_plus_what_the_kind_carries() -> None:
    api = prediction().to_api()
    assert set(api) == set(CONTRACT) | {"scores", "eta", "eta_interval", "limit"}
    assert api["timestamp"] == "2026-01-01T00:00:00.000Z" and api["alert_id"].startswith("ins-")
    assert api["observed"] == 88 and isinstance(api["observed"], int), "whole numbers are JSON integers"
    assert api["expected"] == 95.5 and api["limit"] == 95 and isinstance(api["confidence"], float)
    plain = anomaly().to_api()
    assert set(plain) == set(CONTRACT) | {"scores"} and plain["expected"] is None
    assert json.loads(json.dumps(plain)) == plain
    event = anomaly().to_event()  # alerts carry the values as made (97.0), the API's keys
    assert event["observed"] == 97.0 and isinstance(event["observed"], float) and set(event) == set(plain)


def test_items_written_before_a_field_existed_read_with_its_old_default() -> None:
    item = {
        "insightId": {"S": "ins-old"},
        "timestamp": {"N": str(TS)},
        "entity_id": {"S": "web-09"},
        "severity": {"S": "LOW"},
        "risk_score": {"N": "12"},
        "confidence": {"N": "1"},
        "scores": {"M": {"statistical": {"N": "0.5"}}},
    }
    got = Insight.from_item(item).to_api()
    assert got["affected_hosts"] == ["web-09"] and got["metric"] is None and got["observed"] is None
    assert got["type"] == STORED_DEFAULTS["type"] == "anomaly"
    assert got["prediction_type"] == "performance_degradation" and got["explanation"] == ""
    assert got["confidence"] == 1.0 and isinstance(got["confidence"], float) and got["risk_score"] == 12


def test_insight_db_round_trip_is_what_the_api_serves() -> None:
    import boto3
    from moto import mock_aws

    from iops.dal import insights
    from iops.dal.insights import store_insight

    with mock_aws():
        ddb, table = boto3.client("dynamodb"), "models-insights"
        ddb.create_table(**INSIGHTS.create_table_kwargs(table))
        _round_trip(ddb, table, insights, store_insight)


def _round_trip(ddb, table, insights, store_insight) -> None:
    for insight in (prediction(), anomaly()):
        assert store_insight(ddb, table, insight, 180)
        assert insights.get_insight(ddb, table, insight.alert_id) == insight.to_api()
    page = insights.query_insights(ddb, table, severity="high")
    assert page["insights"] == [prediction().to_api()]


@pytest.mark.parametrize(
    "bad",
    [
        {"severity": "high"},
        {"severity": "URGENT"},
        {"type": "guess"},
        {"risk_score": 101},
        {"risk_score": -1},
        {"confidence": 1.01},
        {"unknown_field": 1},
    ],
)
def test_an_insight_outside_the_contract_is_refused_where_it_is_made(bad: dict) -> None:
    with pytest.raises(ValidationError):
        anomaly(**bad)


def test_severity_and_type_names_have_one_definition() -> None:
    from typing import get_args

    assert SEVERITIES == get_args(Severity) == ("LOW", "MEDIUM", "HIGH", "CRITICAL")
    schema = Insight.model_json_schema(mode="serialization")
    assert tuple(schema["properties"]["severity"]["enum"]) == SEVERITIES
    assert tuple(schema["properties"]["type"]["enum"]) == INSIGHT_TYPES == ("anomaly", "prediction", "pattern")


def test_metric_model_schema_carries_the_validation_bounds() -> None:
    schema = MetricIn.model_json_schema()
    assert schema["required"] == ["hostname", "timestamp"]
    assert schema["additionalProperties"] == {"type": "number", "minimum": -MAX_ABS_VALUE, "maximum": MAX_ABS_VALUE}
    props = schema["properties"]
    for percent in ("cpuUsage", "memoryUsage"):
        assert (props[percent]["type"], props[percent]["minimum"], props[percent]["maximum"]) == ("number", 0, 100)
        assert "default" not in openapi_document()["components"]["schemas"]["MetricIn"]["properties"][percent]
    assert props["diskIO"]["minimum"] == props["networkIO"]["minimum"] == 0
    number = next(s for s in props["timestamp"]["anyOf"] if s["type"] == "number")
    assert number["minimum"] == MIN_EPOCH_S


# --- the OpenAPI document ----------------------------------------------------------------------

TODAY_STATUSES = {
    ("post", "/metrics"): {"200", "207", "400", "403", "413", "503"},
    ("get", "/metrics"): {"200", "400"},
    ("get", "/openapi.json"): {"200", "400"},
    ("get", "/insights"): {"200", "400"},
    ("get", "/insights/recent"): {"200", "400"},
    ("get", "/insights/{id}"): {"200", "400", "404"},
}
"""What the hand-written document (before the models) documented; the generated one keeps all of it."""


def _resolve(doc: dict, node):
    if isinstance(node, dict):
        if "$ref" in node:
            return _resolve(doc, doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]])
        return {k: _resolve(doc, v) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(doc, v) for v in node]
    return node


def test_every_route_is_documented_with_the_statuses_it_had_and_the_errors_every_route_may_answer() -> None:
    doc = openapi_document()
    assert doc["openapi"] == "3.0.3" and set(operations()) == {(r.method, r.path) for r in ROUTES}
    for (method, path), statuses in TODAY_STATUSES.items():
        responses = doc["paths"][path][method]["responses"]
        assert statuses | {"500", "503"} <= set(responses), (method, path)
        for status in set(responses) - {"200", "207"}:
            schema = _resolve(doc, responses[status]["content"]["application/json"]["schema"])
            options = schema.get("anyOf", [schema])
            assert any(o.get("required") == ["message"] for o in options), (method, path, status, "an Error body")
    assert doc["paths"]["/metrics"]["post"]["security"] == [{"ApiKey": []}]
    assert doc["components"]["securitySchemes"]["ApiKey"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}
    schemes = doc["components"]["securitySchemes"]
    assert schemes["UserPool"] | {"description": ""} == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "",
    }
    for route in ROUTES:
        op = doc["paths"][route.path][route.method.lower()]
        if route.signed_in:
            assert op["security"] == [{"UserPool": []}] and "401" in op["responses"], route
        else:
            assert op.get("security", []) != [{"UserPool": []}], route
            assert ("401" in op["responses"]) is route.firehose_key, route  # only Firehose's own key check
    assert "security" not in doc["paths"]["/openapi.json"]["get"]


def test_parameters_are_the_routes_with_the_models_constraints() -> None:
    doc = openapi_document()
    for route in ROUTES:
        params = doc["paths"][route.path][route.method.lower()].get("parameters", [])
        assert [p["name"] for p in params if p["in"] == "query"] == list(route.query)
        assert not any(p["required"] for p in params if p["in"] == "query")
        for p in params:
            if p["in"] == "query":
                assert p["allowEmptyValue"] is (p["name"] != "hostname"), p  # ?hostname= is a 400
                assert "nullable" not in p["schema"] and "default" not in p["schema"]
    by_name = {p["name"]: p for p in doc["paths"]["/insights"]["get"]["parameters"]}
    assert by_name["severity"]["schema"]["enum"] == list(SEVERITIES)
    assert by_name["type"]["schema"]["enum"] == list(INSIGHT_TYPES)
    assert by_name["host"]["schema"]["pattern"].startswith("^(?:ib/)?")
    assert by_name["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": INSIGHTS_MAX_LIMIT}
    metrics = {p["name"]: p for p in doc["paths"]["/metrics"]["get"]["parameters"]}
    assert metrics["limit"]["schema"]["maximum"] == METRICS_MAX_LIMIT and metrics["from"]["description"]
    (path_param,) = doc["paths"]["/insights/{id}"]["get"]["parameters"]
    assert path_param == {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def test_the_insight_schema_requires_the_contract_and_documents_the_rest() -> None:
    insight = openapi_document()["components"]["schemas"]["Insight"]
    assert sorted(insight["required"]) == sorted(CONTRACT)
    assert "timestamp_ms" not in insight["properties"]
    assert {"scores", "eta", "eta_interval", "limit", "related"} <= set(insight["properties"])
    for nullable in ("metric", "observed", "expected"):
        assert insight["properties"][nullable]["nullable"] is True
    assert insight["properties"]["risk_score"]["maximum"] == 100 and insight["properties"]["confidence"]["maximum"] == 1
    assert insight["properties"]["timestamp"]["format"] == "date-time"
    assert "nullable" not in insight["properties"]["eta"], "optional fields are left out, never null"


def test_no_schema_is_anything_but_a_model() -> None:
    """Every component schema is a model's (titled by pydantic), so none is written by hand."""
    schemas = openapi_document()["components"]["schemas"]
    assert all(s.get("title") == name for name, s in schemas.items())
    assert {"Error", "MetricIn", "IngestResult", "MetricPoint", "MetricsPage", "Insight", "InsightsPage"} <= set(
        schemas
    )


def test_response_bodies_validate_against_their_models() -> None:
    from iops.logic.ingest import IngestResult as Accumulator
    from iops.logic.ingest import ItemError

    result = Accumulator(accepted=1, rejected=[ItemError(i, ["x"]) for i in range(60)])
    IngestResult.model_validate(result.body() | {"message": "no valid metrics in the request"})
    Error.model_validate({"message": "storage unavailable; retry", "details": {"requestId": "r"}})
    MetricsQuery.model_validate({"from": "2026-01-01T00:00:00Z", "limit": 5})


def test_decimal_numbers_from_dynamodb_keep_their_value() -> None:
    item = anomaly().to_item(1)
    item["observed"] = {"N": str(Decimal("97.25"))}
    assert Insight.from_item(item).observed == 97.25


def test_pydantic_loads_on_first_use_not_when_the_ingest_and_ai_code_is_imported() -> None:
    """Issue 16's cold-import budget: pydantic (0.2-0.3 s) stays out of the functions' init."""
    code = (
        "import sys; import iops.logic.ingest, iops.dal.metrics, iops.logic.ai, iops.dal.insights, iops.models.openapi;"
        "assert 'pydantic' not in sys.modules, sorted(m for m in sys.modules if 'pydantic' in m);"
        "from iops import models; models.Insight; assert 'pydantic' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "POWERTOOLS_LOG_LEVEL": "ERROR"})
