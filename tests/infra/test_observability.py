"""The observability tier under Pulumi mocks: every alarm exactly, the budget, and dashboards that
name only metrics and resources that exist in the stack."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from cli import cost
from components.ml import MlTrainingArgs, MlTrainingTier
from components.observability import TABLE_OPERATIONS, ObservabilityArgs, ObservabilityTier
from iops import telemetry
from tests.infra.harness import REGION, Graph, run, run_program

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
FN = "aws:lambda/function:Function"
TABLE = "aws:dynamodb/table:Table"
QUEUE = "aws:sqs/queue:Queue"
TOPIC = "aws:sns/topic:Topic"
STREAM_ACTIONS = {"DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"}

LAMBDA_METRICS = {"Errors", "Invocations", "Duration", "Throttles", "IteratorAge"}
API_METRICS = {"Count", "Latency", "IntegrationLatency", "4XXError", "5XXError"}
DYNAMODB_METRICS = {"ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits", "ThrottledRequests", "SystemErrors"}
SAGEMAKER_METRICS = {
    "Invocations",
    "InvocationsPerInstance",
    "ModelLatency",
    "OverheadLatency",
    "Invocation4XXErrors",
    "Invocation5XXErrors",
    "InvocationModelErrors",
}
ENDPOINT_METRICS = {"CPUUtilization", "MemoryUtilization"}


@pytest.fixture(scope="module", params=[{}, {"streamingEnabled": "true"}], ids=["dev", "dev+streaming"])
def graph(request: pytest.FixtureRequest) -> Graph:
    return run_program("dev", request.param)


def names(graph: Graph, type_: str, key: str = "name") -> set[str]:
    return {r.inputs[key] for r in graph.of_type(type_)}


def alarm_topic(graph: Graph) -> str:
    """Alarms notify the people who run the system through the alerting tier's ops topic."""
    return graph.one(TOPIC, "alerting-ops-topic").outputs["arn"]


def insight_topic(graph: Graph) -> str:
    """The topic HIGH/CRITICAL insights go to (the people who watch the hosts)."""
    return graph.one(TOPIC, "alerting-topic").outputs["arn"]


def metric(namespace: str, name: str, dims: dict[str, str], stat: str, period: int = 300) -> dict:
    return {"namespace": namespace, "metricName": name, "dimensions": dims, "stat": stat, "period": period}


def single(namespace: str, name: str, dims: dict[str, str], stat: str, threshold: float, period: int = 300) -> dict:
    """An alarm on one metric, as the mock records its inputs."""
    key = "extendedStatistic" if stat.startswith("p") else "statistic"
    return {
        "namespace": namespace,
        "metricName": name,
        "dimensions": dims,
        key: stat,
        "threshold": threshold,
        "period": period,
    }


def summed(
    namespace: str, name: str, dims: dict[str, str], key: str, values: tuple[str, ...], threshold: float
) -> dict:
    queries = [
        {"id": f"m{i}", "metric": metric(namespace, name, {**dims, key: v}, "Sum"), "returnData": False}
        for i, v in enumerate(values)
    ]
    total = {"id": "total", "expression": f"SUM([{', '.join(q['id'] for q in queries)}])", "returnData": True}
    return {"metricQueries": [*queries, total], "threshold": threshold}


def table_operations(graph: Graph, table_arn: str) -> set[str]:
    """DynamoDB actions any role in the stack is granted on the table (its stream excluded)."""
    ops: set[str] = set()
    for rec in graph.of_type("aws:iam/rolePolicy:RolePolicy"):
        for stmt in rec.json_input("policy")["Statement"]:
            resources = stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]]
            if table_arn in resources:
                actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
                ops |= {a.split(":")[1] for a in actions if a.startswith("dynamodb:")} - STREAM_ACTIONS
    return ops


def expected_alarms(graph: Graph) -> dict[str, dict]:
    """Every alarm the stack must have, derived from the resources in the graph."""
    out: dict[str, dict] = {}
    for fn in graph.of_type(FN):
        name, label = fn.inputs["name"], fn.inputs["name"].removeprefix("iops-dev-")
        dims = {"FunctionName": name}
        out[f"iops-dev-{label}-error-rate"] = {
            "metricQueries": [
                {"id": "errors", "metric": metric("AWS/Lambda", "Errors", dims, "Sum"), "returnData": False},
                {"id": "invocations", "metric": metric("AWS/Lambda", "Invocations", dims, "Sum"), "returnData": False},
                {"id": "rate", "expression": "IF(invocations > 0, 100 * errors / invocations, 0)", "returnData": True},
            ],
            "threshold": 5,
        }
        out[f"iops-dev-{label}-duration-p95"] = single("AWS/Lambda", "Duration", dims, "p95", 3000)
        out[f"iops-dev-{label}-throttles"] = single("AWS/Lambda", "Throttles", dims, "Sum", 0)
    (api,), (stage,) = (
        names(graph, "aws:apigateway/restApi:RestApi"),
        names(graph, "aws:apigateway/stage:Stage", "stageName"),
    )
    out["iops-dev-api-5xx"] = single("AWS/ApiGateway", "5XXError", {"ApiName": api, "Stage": stage}, "Sum", 10)
    for table in graph.of_type(TABLE):
        logical = table.inputs["name"].removeprefix("iops-dev-")
        ops = tuple(sorted(table_operations(graph, table.outputs["arn"])))
        assert ops == tuple(sorted(TABLE_OPERATIONS[logical])), (
            f"alarm operations of {logical} differ from its IAM grants"
        )
        dims = {"TableName": table.inputs["name"]}
        out[f"iops-dev-{logical}-throttled"] = summed(
            "AWS/DynamoDB", "ThrottledRequests", dims, "Operation", TABLE_OPERATIONS[logical], 0
        )
        out[f"iops-dev-{logical}-system-errors"] = summed(
            "AWS/DynamoDB", "SystemErrors", dims, "Operation", TABLE_OPERATIONS[logical], 0
        )
    arns = {fn.outputs["arn"]: fn.inputs["name"] for fn in graph.of_type(FN)}
    for mapping in graph.of_type("aws:lambda/eventSourceMapping:EventSourceMapping"):
        fn = arns[mapping.inputs["functionName"]]
        out[f"{fn}-iterator-age"] = {
            **single("AWS/Lambda", "IteratorAge", {"FunctionName": fn}, "Maximum", 60_000, period=60),
            "evaluationPeriods": 5,
            "datapointsToAlarm": 5,
        }
    ai_fn = next(fn.inputs["name"] for fn in graph.of_type(FN) if fn.inputs["name"] == "iops-dev-ai")
    out["iops-dev-ai-detectors-missing"] = single("IOpsDashboard", "DetectorsMissing", {"service": ai_fn}, "Maximum", 0)
    for queue in graph.of_type(QUEUE):
        label = queue.inputs["name"].removeprefix("iops-dev-").removesuffix("-dlq")
        out[f"iops-dev-{label}-dlq-depth"] = single(
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue.inputs["name"]}, "Maximum", 0
        )
    return out


def strip(value: Any) -> Any:
    """Alarm inputs without labels (free text) and with numbers as the mock's floats compare."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k != "label"}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def test_every_alarm_metric_statistic_threshold_period_and_action(graph: Graph) -> None:
    expected = expected_alarms(graph)
    alarms = {a.inputs["name"]: a for a in graph.of_type(ALARM)}
    assert set(alarms) == set(expected)
    topic = alarm_topic(graph)
    for name, want in expected.items():
        got = alarms[name].inputs
        assert got["alarmActions"] == [topic], name
        assert got["comparisonOperator"] == "GreaterThanThreshold", name
        assert got["treatMissingData"] == "notBreaching", name
        assert got.get("evaluationPeriods") == want.get("evaluationPeriods", 1), name
        assert got.get("datapointsToAlarm") == want.get("datapointsToAlarm"), name
        for key, value in want.items():
            if key not in ("evaluationPeriods", "datapointsToAlarm"):
                assert strip(got[key]) == strip(value), (name, key)


ALARM_ACTION_KEYS = ("alarmActions", "okActions", "insufficientDataActions")


@pytest.mark.parametrize(
    ("stack", "overrides"),
    [("dev", {}), ("dev", {"streamingEnabled": "true"}), ("prod", {})],
    ids=["dev", "dev+streaming", "prod"],
)
def test_every_alarm_and_the_budget_notify_the_ops_topic_never_the_insight_topic(stack: str, overrides: dict) -> None:
    """Issue 14, finding 9: the API 5xx alarm (and every other) published to the insight topic,
    so anyone able to make 5xx could page the people on the insight alerts (SMS included)."""
    g = run_program(stack, overrides)
    ops, insights = alarm_topic(g), insight_topic(g)
    assert ops != insights
    alarms = g.of_type(ALARM)
    assert len(alarms) >= 24 and "iops-" + stack + "-api-5xx" in {a.inputs["name"] for a in alarms}
    for alarm in alarms:
        actions = [arn for key in ALARM_ACTION_KEYS for arn in alarm.inputs.get(key) or []]
        assert actions == [ops], alarm.inputs["name"]
    (budget,) = g.of_type("aws:budgets/budget:Budget")
    for n in budget.inputs["notifications"]:
        assert n["subscriberSnsTopicArns"] == [ops]
    everything = json.dumps([r.inputs for r in g.of_type(ALARM) + g.of_type("aws:budgets/budget:Budget")])
    assert insights not in everything
    subs = g.of_type("aws:sns/topicSubscription:TopicSubscription")
    on_insights = {s.inputs["endpoint"] for s in subs if s.inputs["topic"] == insights}
    on_ops = {s.inputs["endpoint"] for s in subs if s.inputs["topic"] == ops}
    if stack == "prod":  # Pulumi.prod.yaml: alarmEmail ops@, alertEmails oncall@ (+ SMS, webhook)
        assert on_ops == {"ops@example.com"} and "ops@example.com" not in on_insights
        assert "oncall@example.com" in on_insights and "oncall@example.com" not in on_ops


def test_the_issue_thresholds_are_the_defaults(graph: Graph) -> None:
    alarms = {a.inputs["name"]: a.inputs for a in graph.of_type(ALARM)}
    assert alarms["iops-dev-ingest-error-rate"]["threshold"] == 5
    assert alarms["iops-dev-ai-duration-p95"]["threshold"] == 3000
    assert alarms["iops-dev-api-5xx"]["threshold"] == 10 and alarms["iops-dev-api-5xx"]["period"] == 300
    assert alarms["iops-dev-ai-dlq-depth"]["threshold"] == 0


def test_budget_notifies_the_alarm_topic_above_sixty_dollars(graph: Graph) -> None:
    (budget,) = graph.of_type("aws:budgets/budget:Budget")
    b = budget.inputs
    assert (b["budgetType"], b["limitAmount"], b["limitUnit"], b["timeUnit"]) == ("COST", "60", "USD", "MONTHLY")
    kinds = {n["notificationType"]: n for n in b["notifications"]}
    assert set(kinds) == {"ACTUAL", "FORECASTED"}
    for n in kinds.values():
        assert (n["comparisonOperator"], n["threshold"], n["thresholdType"]) == ("GREATER_THAN", 100, "PERCENTAGE")
        assert n["subscriberSnsTopicArns"] == [alarm_topic(graph)]


def test_alarm_email_subscribes_and_is_a_budget_subscriber() -> None:
    g = run_program("dev", {"alarmEmail": "ops@example.com", "monthlyBudgetUsd": "120"})
    sub = g.one("aws:sns/topicSubscription:TopicSubscription", "alarms-email").inputs
    assert (sub["protocol"], sub["endpoint"]) == ("email", "ops@example.com")
    assert sub["topic"] == alarm_topic(g)
    (budget,) = g.of_type("aws:budgets/budget:Budget")
    assert budget.inputs["limitAmount"] == "120"
    assert all(n["subscriberEmailAddresses"] == ["ops@example.com"] for n in budget.inputs["notifications"])


def bare_args(**extra: Any) -> ObservabilityArgs:
    """The tier watching nothing of a stack: for what it does on its own (topic, SageMaker dashboard)."""
    return ObservabilityArgs(prefix="iops-dev", monitored=[], api_name="unused", api_stage="v1", detectors=[], **extra)


def own_topic_program() -> None:
    """The tier alone, with no alerting topic to share."""
    ObservabilityTier("observability", bare_args())


def test_without_alerting_its_own_topic_is_encrypted_and_lets_cloudwatch_and_budgets_publish() -> None:
    graph = run(own_topic_program)
    topic = graph.one(TOPIC, "alarms")
    key = graph.one("aws:kms/key:Key", "alarm-key")
    assert topic.inputs["kmsMasterKeyId"] == f"{key.name}-id" and key.inputs["enableKeyRotation"]
    services = {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}
    key_stmt = next(s for s in key.json_input("policy")["Statement"] if s["Sid"] == "AlarmServices")
    assert set(key_stmt["Principal"]["Service"]) == services and "kms:GenerateDataKey*" in key_stmt["Action"]
    (stmt,) = graph.one("aws:sns/topicPolicy:TopicPolicy", "alarms").json_input("policy")["Statement"]
    assert set(stmt["Principal"]["Service"]) == services and stmt["Resource"] == topic.outputs["arn"]


def test_with_alerting_alarms_use_its_ops_topic_and_the_tier_makes_none(graph: Graph) -> None:
    assert not [t for t in graph.of_type(TOPIC) if "alarms" in t.name]
    assert {t.inputs["name"] for t in graph.of_type(TOPIC)} == {"iops-dev-alerts", "iops-dev-ops"}
    key_policy = graph.one("aws:kms/key:Key", "alerting").json_input("policy")
    assert {s["Principal"]["Service"] for s in key_policy["Statement"] if "Service" in s["Principal"]} >= {
        "cloudwatch.amazonaws.com",
        "budgets.amazonaws.com",
    }


def test_logs_retention_json_access_logs_and_tracing(graph: Graph) -> None:
    groups = {g.inputs["name"]: g.inputs["retentionInDays"] for g in graph.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert set(groups.values()) == {30}
    assert {f"/aws/lambda/{n}" for n in names(graph, FN)} < set(groups)
    (stage,) = graph.of_type("aws:apigateway/stage:Stage")
    assert stage.inputs["xrayTracingEnabled"] is True
    assert stage.inputs["accessLogSettings"]["destinationArn"].endswith("/access")
    assert json.loads(stage.inputs["accessLogSettings"]["format"])["requestId"] == "$context.requestId"
    # dev's lambdaTracingMode: traced only when API Gateway sampled (tests/infra/test_cost_defaults.py)
    assert all(fn.inputs["tracingConfig"] == {"mode": "PassThrough"} for fn in graph.of_type(FN))


# --- dashboards -----------------------------------------------------------------------------


class Stack:
    """What exists in a graph, for checking that a dashboard names nothing else."""

    def __init__(self, graph: Graph) -> None:
        self.functions = names(graph, FN)
        arns = {fn.outputs["arn"]: fn.inputs["name"] for fn in graph.of_type(FN)}
        self.stream_functions = {
            arns[m.inputs["functionName"]] for m in graph.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
        }
        self.tables = names(graph, TABLE)
        self.queues = names(graph, QUEUE)
        self.apis = names(graph, "aws:apigateway/restApi:RestApi")
        self.stages = names(graph, "aws:apigateway/stage:Stage", "stageName")
        self.alarms = {a.outputs["arn"] for a in graph.of_type(ALARM)}
        self.endpoints = names(graph, "aws:sagemaker/endpoint:Endpoint")
        self.variants = {
            v["variantName"]
            for c in graph.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
            for v in c.inputs["productionVariants"]
        }
        env = {fn.inputs["name"]: fn.inputs["environment"]["variables"] for fn in graph.of_type(FN)}
        self.emitters = {
            "ingest": {n for n, e in env.items() if "MAX_METRICS_PER_REQUEST" in e and n.endswith("-ingest")},
            "ai": {n for n, e in env.items() if "IOPS_DETECTORS" in e},
        }
        self.detectors = {d for e in env.values() if "IOPS_DETECTORS" in e for d in e["IOPS_DETECTORS"].split(",")}
        for fn, e in env.items():  # the EMF service dimension is the function name
            assert e["POWERTOOLS_SERVICE_NAME"] == fn


def check_metric(stack: Stack, entry: list) -> tuple[str, str, dict[str, str]]:
    """One dashboard metric line: namespace, name, dimension pairs, then options."""
    namespace, name, *rest = entry
    if rest and isinstance(rest[-1], dict):
        rest = rest[:-1]
    assert len(rest) % 2 == 0, entry
    dims = dict(zip(rest[::2], rest[1::2], strict=True))
    if namespace == "AWS/Lambda":
        assert name in LAMBDA_METRICS and set(dims) == {"FunctionName"}, entry
        pool = stack.stream_functions if name == "IteratorAge" else stack.functions
        assert dims["FunctionName"] in pool, entry
    elif namespace == "AWS/ApiGateway":
        assert name in API_METRICS and dims["ApiName"] in stack.apis and dims["Stage"] in stack.stages, entry
    elif namespace == "AWS/DynamoDB":
        assert name in DYNAMODB_METRICS and dims["TableName"] in stack.tables, entry
    elif namespace == "AWS/SQS":
        assert name == "ApproximateNumberOfMessagesVisible" and dims["QueueName"] in stack.queues, entry
    elif namespace == telemetry.NAMESPACE:
        spec = telemetry.METRICS[name]
        assert set(dims) == {"service", *spec.dimensions}, entry
        assert dims["service"] in stack.emitters[spec.emitter], entry
        if "severity" in dims:
            assert dims["severity"] in telemetry.SEVERITIES, entry
        if "detector" in dims:
            assert dims["detector"] in stack.detectors, entry
    elif namespace in ("AWS/SageMaker", "/aws/sagemaker/Endpoints"):
        assert name in (SAGEMAKER_METRICS if namespace == "AWS/SageMaker" else ENDPOINT_METRICS), entry
        assert dims["EndpointName"] in stack.endpoints and dims["VariantName"] in stack.variants, entry
    else:
        raise AssertionError(f"unexpected namespace in {entry}")
    return namespace, name, dims


def check_dashboard(stack: Stack, body: dict) -> list[tuple[str, str, dict[str, str]]]:
    """Every widget's metrics and alarms exist in the stack; expressions use only defined ids."""
    seen = []
    for widget in body["widgets"]:
        props = widget["properties"]
        if widget["type"] == "alarm":
            assert props["alarms"] and set(props["alarms"]) <= stack.alarms
            continue
        assert widget["type"] == "metric" and props["region"] == REGION
        ids = {e[-1]["id"] for e in props["metrics"] if isinstance(e[-1], dict) and "id" in e[-1]}
        for entry in props["metrics"]:
            if len(entry) == 1 and "expression" in entry[0]:
                used = {
                    t for t in entry[0]["expression"].replace("(", " ").replace(")", " ").split() if t.isidentifier()
                }
                assert used - {"IF"} <= ids, entry
                continue
            seen.append(check_metric(stack, entry))
    return seen


def test_system_dashboard_names_only_what_exists_and_covers_everything(graph: Graph) -> None:
    stack = Stack(graph)
    (dash,) = graph.of_type(DASHBOARD)
    assert dash.inputs["dashboardName"] == "iops-dev-system"
    seen = check_dashboard(stack, dash.json_input("dashboardBody"))
    by = lambda ns, name, key: {d[key] for n, m, d in seen if (n, m) == (ns, name)}  # noqa: E731
    assert by("AWS/Lambda", "Duration", "FunctionName") == stack.functions
    assert by("AWS/Lambda", "Errors", "FunctionName") == stack.functions
    assert by("AWS/Lambda", "IteratorAge", "FunctionName") == stack.stream_functions
    assert by("AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName") == stack.tables
    assert by("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName") == stack.queues
    assert by(telemetry.NAMESPACE, "Insights", "severity") == set(telemetry.SEVERITIES)
    assert {m for n, m, _ in seen if n == telemetry.NAMESPACE} == set(telemetry.METRICS)
    alarms = next(w for w in dash.json_input("dashboardBody")["widgets"] if w["type"] == "alarm")
    assert set(alarms["properties"]["alarms"]) == stack.alarms


def test_dashboard_check_rejects_a_resource_not_in_the_stack(graph: Graph) -> None:
    stack = Stack(graph)
    with pytest.raises(AssertionError):
        check_metric(stack, ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", "iops-prod-metrics"])
    with pytest.raises(AssertionError):
        check_metric(stack, [telemetry.NAMESPACE, "Insights", "service", "iops-dev-query", "severity", "HIGH"])


def test_no_sagemaker_dashboard_without_the_endpoint(graph: Graph) -> None:
    assert len(graph.of_type(DASHBOARD)) == 1
    assert graph.namespace["observability"].sagemaker_dashboard_url is None


def sagemaker_program() -> None:
    """An endpoint and an observability tier watching it, with the alerting tier's ops topic given."""
    ml = MlTrainingTier(
        "ml", MlTrainingArgs(prefix="iops-dev", endpoint_enabled=True, model_data_url="s3://bucket/model.tar.gz")
    )
    tier = ObservabilityTier(
        "observability",
        bare_args(
            alarm_topic_arn="arn:aws:sns:us-east-1:123456789012:iops-dev-ops",
            sagemaker_endpoint_name=ml.endpoint_name,
        ),
    )
    pulumi.export("url", tier.sagemaker_dashboard_url)


def test_sagemaker_dashboard_names_the_endpoint_and_alarms_use_a_given_topic() -> None:
    g = run(sagemaker_program)
    dash = g.one(DASHBOARD, "sagemaker")
    seen = check_dashboard(Stack(g), dash.json_input("dashboardBody"))
    assert {m for _, m, _ in seen} >= {"Invocations", "ModelLatency", "Invocation5XXErrors", "InvocationsPerInstance"}
    assert not g.of_type(TOPIC) and not g.of_type("aws:kms/key:Key")  # the given topic, none of its own
    assert all(
        a.inputs["alarmActions"] == ["arn:aws:sns:us-east-1:123456789012:iops-dev-ops"] for a in g.of_type(ALARM)
    )
    (budget,) = g.of_type("aws:budgets/budget:Budget")
    assert budget.inputs["notifications"][0]["subscriberSnsTopicArns"] == [
        "arn:aws:sns:us-east-1:123456789012:iops-dev-ops"
    ]


def test_cloudwatch_dashboard_url_is_exported(graph: Graph) -> None:
    tier = graph.namespace["observability"]
    urls: list[str] = []

    @pulumi.runtime.test
    def resolve():
        return tier.dashboard_url.apply(urls.append)

    resolve()
    assert urls == [
        f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}#dashboards/dashboard/iops-dev-system"
    ]


def test_cost_model_counts_the_alarm_metrics_the_stack_has(graph: Graph) -> None:
    """`iops cost` prices alarms per metric; its count must follow the stack, streaming tier included."""
    streaming = graph.namespace["streaming"]
    shape = cost.StackShape(
        streaming=streaming is not None, simulator=streaming is not None and streaming.simulator_fn is not None
    )
    total = 0
    for alarm in graph.of_type(ALARM):
        queries = alarm.inputs.get("metricQueries")
        total += sum(1 for q in queries if "metric" in q) if queries else 1
    assert shape.alarm_metrics == total
    assert cost.StackShape().kms_keys == len(graph.of_type("aws:kms/key:Key"))
