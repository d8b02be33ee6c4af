"""The streaming tier under Pulumi mocks: stream, mapping, functions, schedule, least privilege."""

from __future__ import annotations

import pytest

from tests.infra.harness import run_program

FN = "aws:lambda/function:Function"
STREAM = "aws:kinesis/stream:Stream"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
RULE = "aws:cloudwatch/eventRule:EventRule"
TIER = "iops:streaming:StreamingTier"


@pytest.fixture(scope="module")
def graph():
    return run_program("dev", {"streamingEnabled": "true"})


def tier_resources(graph) -> list[tuple[str, str]]:
    """(type, name) of every resource the tier created, the tier itself first."""
    return sorted(
        ((r.type, r.name) for r in graph.resources if r.name.startswith("streaming")),
        key=lambda tn: (tn[0] != TIER, tn),
    )


def ours(graph, type_: str) -> list:
    """Resources of ``type_`` this tier created (other tiers have rules and functions too)."""
    return [r for r in graph.of_type(type_) if r.name.startswith("streaming")]


def statements_of(graph, fn_name: str) -> list[dict]:
    return graph.one("aws:iam/rolePolicy:RolePolicy", f"{fn_name}-policy").json_input("policy")["Statement"]


def test_off_by_default() -> None:
    g = run_program("dev")
    assert not g.of_type(STREAM) and not g.of_type(TIER)
    assert not [f for f in g.of_type(FN) if "ib-" in f.inputs["name"]]


def test_tier_resource_list(graph) -> None:
    got = tier_resources(graph)
    print("\n".join(f"{t}  {n}" for t, n in got))
    types = [t for t, _ in got]
    assert types.count(TIER) == 1
    assert types.count(FN) == 2 and types.count(STREAM) == 1 and types.count(MAPPING) == 1
    assert types.count(RULE) == 1 and types.count("aws:cloudwatch/eventTarget:EventTarget") == 1
    assert types.count("aws:lambda/permission:Permission") == 1
    assert types.count("aws:dynamodb/table:Table") == 1 and types.count("aws:sqs/queue:Queue") == 1


def test_stream_is_on_demand_encrypted_with_retention(graph) -> None:
    s = graph.one(STREAM, "streaming-events")
    assert s.inputs["name"] == "iops-dev-ib-events"
    assert s.inputs["streamModeDetails"] == {"streamMode": "ON_DEMAND"} and "shardCount" not in s.inputs
    assert (s.inputs["encryptionType"], s.inputs["kmsKeyId"]) == ("KMS", "alias/aws/kinesis")
    assert s.inputs["retentionPeriod"] == 24


def test_provisioned_shards_and_parallelization_from_config() -> None:
    g = run_program(
        "dev",
        {
            "streamingEnabled": "true",
            "kinesisShardCount": "4",
            "kinesisRetentionHours": "48",
            "kinesisParallelizationFactor": "3",
        },
    )
    s = g.one(STREAM, "streaming-events")
    assert s.inputs["streamModeDetails"] == {"streamMode": "PROVISIONED"} and s.inputs["shardCount"] == 4
    assert s.inputs["retentionPeriod"] == 48
    assert g.one(MAPPING, "streaming-mapping").inputs["parallelizationFactor"] == 3


def test_mapping_batches_of_100_with_partial_failures_bisect_and_failure_queue(graph) -> None:
    m = graph.one(MAPPING, "streaming-mapping")
    assert m.inputs["batchSize"] == 100
    assert m.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m.inputs["bisectBatchOnFunctionError"] is True
    assert m.inputs["maximumRetryAttempts"] == 5 and m.inputs["parallelizationFactor"] == 1
    assert m.inputs["eventSourceArn"].endswith(":stream/iops-dev-ib-events")
    assert m.inputs["functionName"].endswith(":iops-dev-ib-process")
    dlq = graph.one("aws:sqs/queue:Queue", "streaming-dlq")
    assert (
        m.inputs["destinationConfig"]["onFailure"]["destinationArn"]
        == f"arn:aws:sqs:us-east-1:123456789012:{dlq.inputs['name']}"
    )


def test_process_function_environment_and_least_privilege(graph) -> None:
    fn = graph.one(FN, "streaming-process")
    env = fn.inputs["environment"]["variables"]
    assert env["METRICS_TABLE"] == "iops-dev-metrics" and env["IB_STATE_TABLE"] == "iops-dev-ib-windows"
    assert env["IB_DLQ_URL"].endswith("/iops-dev-ib-dlq") and env["IB_LATENESS_S"] == "30"
    assert fn.inputs["handler"] == "handlers.ib_process.handler"
    assert "api-" in fn.inputs["s3Key"]  # the small API package, not the AI one
    stmts = {s["Resource"]: set(s["Action"]) for s in statements_of(graph, "streaming-process")}
    assert stmts["arn:aws:kinesis:us-east-1:123456789012:stream/iops-dev-ib-events"] == {
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
    }
    assert stmts["arn:aws:dynamodb:us-east-1:123456789012:table/iops-dev-metrics"] == {"dynamodb:UpdateItem"}  # merged
    assert stmts["arn:aws:dynamodb:us-east-1:123456789012:table/iops-dev-ib-windows"] == {
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
    }
    assert stmts["arn:aws:sqs:us-east-1:123456789012:iops-dev-ib-dlq"] == {"sqs:SendMessage"}


def test_state_table_from_the_shared_definition(graph) -> None:
    t = graph.one("aws:dynamodb/table:Table", "streaming-windows")
    assert (t.inputs["name"], t.inputs["hashKey"]) == ("iops-dev-ib-windows", "stream")
    assert t.inputs["pointInTimeRecovery"] == {"enabled": True} and t.inputs["serverSideEncryption"] == {
        "enabled": True
    }


def test_simulator_on_a_schedule_may_only_put_records(graph) -> None:
    fn = graph.one(FN, "streaming-simulator")
    env = fn.inputs["environment"]["variables"]
    assert env["IB_EVENTS_STREAM"] == "iops-dev-ib-events" and env["SIM_STREAMS"] == "8"
    assert env["SIM_INTERVAL_S"] == "60"
    rule = graph.one(RULE, "streaming-simulator-schedule")
    assert rule.inputs["scheduleExpression"] == "rate(1 minute)"
    perm = graph.one("aws:lambda/permission:Permission", "streaming-simulator")
    assert perm.inputs["principal"] == "events.amazonaws.com" and perm.inputs["sourceArn"].endswith(rule.inputs["name"])
    invoke = graph.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "streaming-simulator")
    assert invoke.inputs["maximumRetryAttempts"] == 0
    [stmt] = [s for s in statements_of(graph, "streaming-simulator") if s["Resource"].startswith("arn:aws:kinesis")]
    assert set(stmt["Action"]) == {"kinesis:PutRecords", "kinesis:PutRecord"}


def test_simulator_is_off_by_default_outside_dev_and_can_be_switched() -> None:
    # "staging" has no Pulumi.staging.yaml: the project defaults only (Pulumi.prod.yaml turns the simulator on).
    staging = run_program("staging", {"streamingEnabled": "true"})
    assert staging.of_type(STREAM) and not ours(staging, RULE)
    assert not [f for f in staging.of_type(FN) if "simulator" in f.name]
    on = run_program(
        "staging", {"streamingEnabled": "true", "simulatorEnabled": "true", "simulatorSchedule": "rate(5 minutes)"}
    )
    assert on.one(RULE, "streaming-simulator").inputs["scheduleExpression"] == "rate(5 minutes)"
    assert on.one(FN, "streaming-simulator").inputs["environment"]["variables"]["SIM_INTERVAL_S"] == "300"
    off = run_program("dev", {"streamingEnabled": "true", "simulatorEnabled": "false"})
    assert not ours(off, RULE)


def test_bad_parallelization_factor_is_refused() -> None:
    with pytest.raises(Exception, match="kinesisParallelizationFactor"):
        run_program("dev", {"streamingEnabled": "true", "kinesisParallelizationFactor": "11"})
