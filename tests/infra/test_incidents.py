"""The incident tier in the stack: tables (indexes, TTL, PITR), routes behind the authorizer, the sweeper."""

from __future__ import annotations

import json

import pytest

from handlers.definitions import FEEDBACK, INCIDENTS, INSIGHTS_FN, ROUTES, SILENCES
from tests.infra.test_security import graph, route_methods

TABLE = "aws:dynamodb/table:Table"
FN = "aws:lambda/function:Function"
INCIDENT_ROUTES = {
    ("GET", "/incidents"),
    ("GET", "/incidents/{id}"),
    ("POST", "/incidents/{id}/ack"),
    ("POST", "/incidents/{id}/resolve"),
    ("POST", "/silences"),
    ("GET", "/silences"),
    ("DELETE", "/silences/{id}"),
    ("POST", "/insights/{id}/feedback"),
}


@pytest.mark.parametrize("table", [INCIDENTS, SILENCES, FEEDBACK], ids=lambda t: t.logical)
def test_incident_tables_have_their_indexes_ttl_pitr_and_encryption(table) -> None:
    t = graph("dev").one(TABLE, f"ai-{table.logical}").inputs
    assert t["name"] == f"iops-dev-{table.logical}" and t["billingMode"] == "PAY_PER_REQUEST"
    assert t["hashKey"] == table.hash_key and t.get("rangeKey") == table.range_key
    assert {ix["name"]: (ix["hashKey"], ix["rangeKey"]) for ix in t["globalSecondaryIndexes"]} == {
        ix.name: (ix.hash_key, ix.range_key) for ix in table.indexes
    }
    assert t["ttl"] == {"attributeName": "ttl", "enabled": True}
    assert t["pointInTimeRecovery"] == {"enabled": True} and t["serverSideEncryption"] == {"enabled": True}


def test_incident_routes_are_the_insights_functions_and_need_a_signed_in_user() -> None:
    g = graph("dev")
    mine = [r for r in ROUTES if (r.method, r.path) in INCIDENT_ROUTES]
    assert {(r.method, r.path) for r in mine} == INCIDENT_ROUTES
    (authorizer,) = g.of_type("aws:apigateway/authorizer:Authorizer")
    methods = route_methods(g)
    for r in mine:
        assert r.function == INSIGHTS_FN and r.signed_in and not r.api_key
        m = methods[(r.method, r.path)]
        assert (m["authorization"], m["authorizerId"]) == ("COGNITO_USER_POOLS", f"{authorizer.name}-id"), r


def test_the_sweeper_runs_every_minute_capped_with_its_dlq_and_only_its_grants() -> None:
    g = graph("dev")
    fn = g.one(FN, "ai-incident-sweeper").inputs
    assert fn["reservedConcurrentExecutions"] == 1 and fn["handler"] == "handlers.incident_sweeper.handler"
    env = fn["environment"]["variables"]
    assert env["INCIDENT_QUIET_MINUTES"] == "15" and env["INCIDENT_REPEAT_HOURS"] == "4"
    assert env["INCIDENTS_TABLE"] == "iops-dev-incidents" and env["EVENT_BUS_NAME"] == "iops-dev-alerts"
    rule = g.one("aws:cloudwatch/eventRule:EventRule", "incident-sweep").inputs
    assert rule["scheduleExpression"] == "rate(1 minute)"
    target = g.one("aws:cloudwatch/eventTarget:EventTarget", "incident-sweep-target").inputs
    assert target["deadLetterConfig"]["arn"].endswith("iops-dev-sweeper-dlq")
    policy = json.loads(g.one("aws:iam/rolePolicy:RolePolicy", "ai-incident-sweeper").inputs["policy"])
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert {"dynamodb:Query", "dynamodb:UpdateItem", "events:PutEvents"} <= actions
    assert not {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"} & actions


def test_config_overrides_reach_every_function_that_reads_them() -> None:
    g = graph("dev", incidentQuietMinutes=5, incidentRepeatHours=1)
    for name in ("ai-ai", "ai-insights-api", "ai-incident-sweeper"):
        env = g.one(FN, name).inputs["environment"]["variables"]
        assert (env["INCIDENT_QUIET_MINUTES"], env["INCIDENT_REPEAT_HOURS"]) == ("5", "1"), name
