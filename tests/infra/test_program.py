"""The whole program under Pulumi mocks with Pulumi.dev.yaml: the graph against the design's numbers."""

from __future__ import annotations

import json

import pytest

from components.config import declared
from handlers.definitions import ENTITY_INDEX, RECENT_INDEX, ROUTES, SEVERITY_INDEX
from iops.dal.pagination import TOKEN_SECRET_ENV
from policy.rules import RESOURCE_WILDCARD_ACTIONS
from tests.infra.harness import run_program

FN = "aws:lambda/function:Function"
TABLE = "aws:dynamodb/table:Table"


@pytest.fixture(scope="module")
def graph():
    return run_program("dev")


def policy_statements(graph) -> list[dict]:
    stmts = []
    for rec in graph.of_type("aws:iam/rolePolicy:RolePolicy"):
        stmts += rec.json_input("policy")["Statement"]
    return stmts


def test_functions_have_the_seed_numbers(graph) -> None:
    ingest = graph.one(FN, "ingest-ingest")
    assert (ingest.inputs["memorySize"], ingest.inputs["timeout"], ingest.inputs["reservedConcurrentExecutions"]) == (
        512,
        30,
        100,
    )
    ai = graph.one(FN, "ai-ai")
    assert (ai.inputs["memorySize"], ai.inputs["timeout"], ai.inputs["reservedConcurrentExecutions"]) == (1024, 60, 50)
    for fn in graph.of_type(FN):
        assert fn.inputs["runtime"] == "python3.12"
        assert fn.inputs["tracingConfig"] == {"mode": "PassThrough"}  # dev's lambdaTracingMode


def test_every_function_has_a_log_group_with_retention(graph) -> None:
    groups = {g.inputs["name"]: g.inputs["retentionInDays"] for g in graph.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for fn in graph.of_type(FN):
        assert groups[f"/aws/lambda/{fn.inputs['name']}"] == 30
    assert all(days == 30 for days in groups.values())


def test_metrics_table(graph) -> None:
    t = graph.one(TABLE, "metrics")
    assert (t.inputs["hashKey"], t.inputs["rangeKey"]) == ("hostname", "timestamp")
    assert {"name": "timestamp", "type": "N"} in t.inputs["attributes"]
    assert t.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert t.inputs["ttl"] == {"attributeName": "ttl", "enabled": True}
    assert t.inputs["streamEnabled"] and t.inputs["streamViewType"] == "NEW_AND_OLD_IMAGES"


def test_every_table_has_pitr_and_encryption(graph) -> None:
    tables = graph.of_type(TABLE)
    assert len(tables) >= 3
    for t in tables:
        assert t.inputs["pointInTimeRecovery"] == {"enabled": True}, t.name
        assert t.inputs["serverSideEncryption"]["enabled"] is True, t.name


def test_insights_table_indexes(graph) -> None:
    t = graph.one(TABLE, "insights")
    assert (t.inputs["hashKey"], t.inputs["rangeKey"]) == ("insightId", "timestamp")
    indexes = {ix["name"]: (ix["hashKey"], ix["rangeKey"]) for ix in t.inputs["globalSecondaryIndexes"]}
    assert indexes == {
        SEVERITY_INDEX: ("severity", "timestamp"),
        RECENT_INDEX: ("entity_type", "timestamp"),
        ENTITY_INDEX: ("entity_id", "timestamp"),
    }
    assert t.inputs["ttl"] == {"attributeName": "ttl", "enabled": True}


def test_stream_mapping(graph) -> None:
    m = graph.one("aws:lambda/eventSourceMapping:EventSourceMapping", "stream-mapping")
    assert m.inputs["batchSize"] == 100
    assert m.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m.inputs["bisectBatchOnFunctionError"] is True
    assert 0 < m.inputs["maximumRetryAttempts"] <= 10
    dlq = graph.one("aws:sqs/queue:Queue", "ai-dlq")
    assert m.inputs["destinationConfig"]["onFailure"]["destinationArn"] == dlq.outputs["arn"]
    assert dlq.inputs["sqsManagedSseEnabled"] is True
    assert m.inputs["eventSourceArn"] == graph.one(TABLE, "metrics").outputs["streamArn"]
    assert m.inputs["startingPosition"] == "TRIM_HORIZON"  # a mapping made after the table scores the last 24 h


def test_read_functions_sign_their_pagination_tokens(graph) -> None:
    """GET /metrics and /insights tokens are signed with a random secret per tier (a forged token is a 400)."""
    secrets = graph.of_type("random:index/randomPassword:RandomPassword")
    assert len(secrets) == 2 and all(s.inputs["length"] >= 32 for s in secrets)
    fns = {
        f.inputs["name"]: f.inputs["environment"]["variables"] for f in graph.of_type("aws:lambda/function:Function")
    }
    readers = {name for name, env in fns.items() if TOKEN_SECRET_ENV in env}
    assert readers == {"iops-dev-query", "iops-dev-insights"}


def test_api_routes_throttling_and_key(graph) -> None:
    methods = {(m.inputs["httpMethod"], m.name) for m in graph.of_type("aws:apigateway/method:Method")}
    assert len([m for m in methods if m[0] != "OPTIONS"]) == len(ROUTES)
    post = graph.one("aws:apigateway/method:Method", "post-metrics")
    assert post.inputs["apiKeyRequired"] is True and post.inputs["requestValidatorId"]
    for m in graph.of_type("aws:apigateway/method:Method"):
        if m.inputs["httpMethod"] == "GET":
            assert not m.inputs.get("apiKeyRequired")
    paths = {r.path for r in ROUTES}
    assert len([m for m in methods if m[0] == "OPTIONS"]) == len(paths)  # CORS preflight per path
    settings = graph.one("aws:apigateway/methodSettings:MethodSettings", "throttling").inputs["settings"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (10000, 5000)
    (plan,) = graph.of_type("aws:apigateway/usagePlan:UsagePlan")  # dev names one writer, `local`
    assert plan.inputs["throttleSettings"] == {"rateLimit": 100, "burstLimit": 200}
    assert plan.inputs["quotaSettings"] == {"limit": 1_000_000, "period": "DAY"}
    assert graph.of_type("aws:apigateway/usagePlanKey:UsagePlanKey")
    stage = graph.one("aws:apigateway/stage:Stage", "stage")
    assert stage.inputs["xrayTracingEnabled"] is True
    assert json.loads(stage.inputs["accessLogSettings"]["format"])["status"] == "$context.status"


def test_every_route_is_integrated_with_its_function(graph) -> None:
    integrations = [
        i for i in graph.of_type("aws:apigateway/integration:Integration") if i.inputs["type"] == "AWS_PROXY"
    ]
    assert len(integrations) == len(ROUTES)
    invoke_arns = {f.outputs["invokeArn"] for f in graph.of_type(FN)}
    assert all(i.inputs["uri"] in invoke_arns for i in integrations)
    api_permissions = [
        p
        for p in graph.of_type("aws:lambda/permission:Permission")
        if p.inputs["principal"] == "apigateway.amazonaws.com"
    ]
    assert len(api_permissions) == len(ROUTES)


def test_no_iam_statement_allows_every_action(graph) -> None:
    for stmt in policy_statements(graph):
        actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
        assert not any(a == "*" or a.endswith(":*") for a in actions), stmt
        if stmt["Resource"] == "*":  # only for actions that have no resource-level permissions
            assert set(actions) <= RESOURCE_WILDCARD_ACTIONS, stmt


def test_config_keys_read_are_declared_with_default_and_description(graph) -> None:
    read = graph.namespace["cfg"].read  # reading an undeclared key raises inside the program
    assert {"ingestMemoryMb", "aiMemoryMb", "streamBatchSize", "anomalyThreshold"} <= read
    for key, spec in declared().items():
        assert "default" in spec and spec.get("description"), key


def test_config_overrides_reach_the_graph() -> None:
    g = run_program("dev", {"aiMemoryMb": 2048, "streamBatchSize": 50, "apiThrottleRateLimit": 100})
    assert g.one(FN, "ai-ai").inputs["memorySize"] == 2048
    assert g.one("aws:lambda/eventSourceMapping:EventSourceMapping", "stream-mapping").inputs["batchSize"] == 50
    assert (
        g.one("aws:apigateway/methodSettings:MethodSettings", "throttling").inputs["settings"]["throttlingRateLimit"]
        == 100
    )


def test_lambda_code_comes_from_the_private_code_bucket(graph) -> None:
    bucket = graph.one("aws:s3/bucket:Bucket", "code-bucket")
    objects = graph.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    keys = {o.inputs["key"] for o in objects}
    for fn in graph.of_type(FN):
        assert fn.inputs["s3Key"] in keys and "code" in fn.inputs["s3Bucket"]
    assert graph.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "code-bucket").inputs[
        "blockPublicPolicy"
    ]
    policy = graph.one("aws:s3/bucketPolicy:BucketPolicy", "code-bucket").json_input("policy")
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert bucket.inputs["bucketPrefix"].startswith("iops-dev-code-")
