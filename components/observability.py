"""Observability tier: alarms on every function, the API, every table, stream lag and every DLQ;
a monthly budget; the system and SageMaker CloudWatch dashboards.

Log groups (30-day retention) and X-Ray come with every `LambdaFunction` and the API stage; this
tier watches them. What it watches comes from the other tiers as `Monitored` outputs (functions,
stream consumers, tables, dead-letter queues, keyed as in `handlers.definitions`); which DynamoDB
operations a table's alarms sum over comes from `handlers.definitions.TABLE_ACCESS`, the same
description the tiers' IAM statements are made from. Alarms and the budget notify one SNS topic:
the alerting tier's ops topic when given (``__main__.py`` does; it is not the topic insight alerts
go to), else an encrypted topic of this tier's own. Dashboard bodies are built from the resources' real names (an
``Output.all(...).apply``), so they can only name metrics of resources that exist in the stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from handlers.definitions import AI_FN, STREAMING_TABLES, TABLES, Table, table_operations
from iops.telemetry import METRICS, NAMESPACE, SEVERITIES

TABLE_OPERATIONS: dict[str, tuple[str, ...]] = {t.logical: table_operations(t) for t in TABLES + STREAMING_TABLES}
"""DynamoDB operations the stack's code performs per table (`handlers.definitions.TABLE_ACCESS`, which
the IAM grants are made from): ThrottledRequests and SystemErrors are published per (TableName, Operation)."""
PERIOD_S = 300
SAGEMAKER_VARIANT = "AllTraffic"
FUNCTION_ALARM_METRICS = 4
"""Metrics behind one function's alarms: error rate (Errors, Invocations), p95 Duration, Throttles."""
TABLE_ALARMS = 2
"""Alarms per table (ThrottledRequests, SystemErrors), each summing one metric per operation."""


@dataclass(frozen=True)
class Monitored:
    """What one tier runs that this tier watches, keyed as in `handlers.definitions`."""

    functions: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Function key -> function name."""
    stream_consumers: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Function key -> name, of each function an event source mapping feeds (IteratorAge)."""
    tables: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Table logical name -> table name."""
    dead_letter_queues: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Label -> queue name."""

    @staticmethod
    def merge(parts: Iterable[Monitored]) -> Monitored:
        """Every tier's, in order; a key given twice is an error (it would alarm twice under one name)."""
        merged: dict[str, dict[str, pulumi.Input[str]]] = {
            "functions": {},
            "stream_consumers": {},
            "tables": {},
            "dead_letter_queues": {},
        }
        for part in parts:
            for kind, into in merged.items():
                for key, value in getattr(part, kind).items():
                    if key in into:
                        raise ValueError(f"{kind} {key!r} is monitored twice")
                    into[key] = value
        return Monitored(**merged)


def alarm_metric_count(functions: int, tables: Iterable[Table], stream_consumers: int, dead_letter_queues: int) -> int:
    """Metrics behind every alarm of a stack with these resources (CloudWatch bills alarms per metric)."""
    api_5xx = detectors_missing = 1  # the API stage's 5xx, the AI function's missing detectors
    table_metrics = sum(TABLE_ALARMS * len(table_operations(t)) for t in tables)
    singles = api_5xx + detectors_missing
    return functions * FUNCTION_ALARM_METRICS + singles + table_metrics + stream_consumers + dead_letter_queues


@dataclass
class ObservabilityArgs:
    prefix: str
    monitored: Sequence[Monitored]
    """What every tier of the stack hands out to be watched."""
    api_name: pulumi.Input[str]
    api_stage: pulumi.Input[str]
    detectors: list[str]
    error_rate_threshold_pct: float = 5.0
    duration_threshold_ms: int = 3000
    api_5xx_threshold: int = 10
    iterator_age_threshold_ms: int = 60_000
    monthly_budget_usd: int = 60
    alarm_email: str = ""
    alarm_topic_arn: pulumi.Input[str] | None = None
    """The topic alarms and the budget notify: the alerting tier's ops topic (never its insight
    topic); None = this tier creates its own (KMS-encrypted)."""
    sagemaker_endpoint_name: pulumi.Input[str] | None = None


def _metric(namespace: str, name: str, dims: dict[str, Any], stat: str) -> dict[str, Any]:
    return {"metric_name": name, "namespace": namespace, "dimensions": dims, "period": PERIOD_S, "stat": stat}


def _sum_over(namespace: str, name: str, dims: dict[str, Any], key: str, values: tuple[str, ...]) -> list[dict]:
    """Metric-math queries summing ``name`` over every value of dimension ``key``."""
    ids = [f"m{i}" for i in range(len(values))]
    queries: list[dict] = [
        {"id": i, "metric": _metric(namespace, name, {**dims, key: v}, "Sum"), "return_data": False}
        for i, v in zip(ids, values, strict=True)
    ]
    queries.append(
        {"id": "total", "expression": f"SUM([{', '.join(ids)}])", "label": f"{name} (all {key}s)", "return_data": True}
    )
    return queries


class ObservabilityTier(pulumi.ComponentResource):
    alarm_topic_arn: pulumi.Output[str]
    dashboard_url: pulumi.Output[str]
    sagemaker_dashboard_url: pulumi.Output[str] | None

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:observability:ObservabilityTier", name, None, opts)
        self._name, self._args = name, args
        self._watched = Monitored.merge(args.monitored)
        self._child = pulumi.ResourceOptions(parent=self)
        region = aws.get_region_output().region
        self.alarm_topic_arn = (
            pulumi.Output.from_input(args.alarm_topic_arn) if args.alarm_topic_arn is not None else self._own_topic()
        )
        if args.alarm_email:
            aws.sns.TopicSubscription(
                f"{name}-alarms-email",
                topic=self.alarm_topic_arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=self._child,
            )
        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        self._lambda_alarms()
        self._api_alarm()
        self._table_alarms()
        self._lag_alarms()
        self._plugin_alarm()
        self._budget()
        self.dashboard = self._dashboard("system", _system_body, region, self._system_inputs())
        self.dashboard_url = _console_url(region, self.dashboard.dashboard_name)
        self.sagemaker_dashboard_url = None
        if args.sagemaker_endpoint_name is not None:
            self.sagemaker_dashboard = self._dashboard(
                "sagemaker", _sagemaker_body, region, {"endpoint": args.sagemaker_endpoint_name}
            )
            self.sagemaker_dashboard_url = _console_url(region, self.sagemaker_dashboard.dashboard_name)
        self.register_outputs(
            {
                "alarmTopicArn": self.alarm_topic_arn,
                "cloudwatchDashboardUrl": self.dashboard_url,
                "sagemakerDashboardUrl": self.sagemaker_dashboard_url,
            }
        )

    # --- notification target -------------------------------------------------------------

    def _own_topic(self) -> pulumi.Output[str]:
        """An SNS topic under a customer key that CloudWatch and Budgets may use (the AWS-managed
        SNS key's policy admits neither service, so alarms could not publish to it)."""
        account = aws.get_caller_identity_output().account_id
        services = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
        key = aws.kms.Key(
            f"{self._name}-alarm-key",
            description=f"{self._args.prefix} alarm topic",
            enable_key_rotation=True,
            deletion_window_in_days=7,
            policy=account.apply(
                lambda acct: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "Account",
                                "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
                                "Action": "kms:*",
                                "Resource": "*",
                            },
                            {
                                "Sid": "AlarmServices",
                                "Effect": "Allow",
                                "Principal": {"Service": services},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                "Resource": "*",
                                "Condition": {"StringEquals": {"aws:SourceAccount": acct}},
                            },
                        ],
                    }
                )
            ),
            opts=self._child,
        )
        topic = aws.sns.Topic(
            f"{self._name}-alarms", name=f"{self._args.prefix}-alarms", kms_master_key_id=key.id, opts=self._child
        )
        aws.sns.TopicPolicy(
            f"{self._name}-alarms-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, account).apply(
                lambda a: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "AlarmServicesPublish",
                                "Effect": "Allow",
                                "Principal": {"Service": services},
                                "Action": "sns:Publish",
                                "Resource": a[0],
                                "Condition": {"StringEquals": {"aws:SourceAccount": a[1]}},
                            }
                        ],
                    }
                )
            ),
            opts=self._child,
        )
        return topic.arn

    # --- alarms ----------------------------------------------------------------------------

    def _alarm(self, slug: str, description: str, threshold: float, **kwargs: Any) -> aws.cloudwatch.MetricAlarm:
        kwargs.setdefault("evaluation_periods", 1)
        kwargs.setdefault("comparison_operator", "GreaterThanThreshold")
        alarm = aws.cloudwatch.MetricAlarm(
            f"{self._name}-{slug}",
            name=f"{self._args.prefix}-{slug}",
            alarm_description=description,
            threshold=threshold,
            treat_missing_data="notBreaching",
            alarm_actions=[self.alarm_topic_arn],
            opts=self._child,
            **kwargs,
        )
        self.alarms.append(alarm)
        return alarm

    def _lambda_alarms(self) -> None:
        a = self._args
        for label, fn in self._watched.functions.items():
            dims = {"FunctionName": fn}
            self._alarm(
                f"{label}-error-rate",
                f"{label}: more than {a.error_rate_threshold_pct:g} % of invocations failed in 5 minutes",
                a.error_rate_threshold_pct,
                metric_queries=[
                    {"id": "errors", "metric": _metric("AWS/Lambda", "Errors", dims, "Sum"), "return_data": False},
                    {
                        "id": "invocations",
                        "metric": _metric("AWS/Lambda", "Invocations", dims, "Sum"),
                        "return_data": False,
                    },
                    {
                        "id": "rate",
                        "expression": "IF(invocations > 0, 100 * errors / invocations, 0)",
                        "label": "error rate (%)",
                        "return_data": True,
                    },
                ],
            )
            self._alarm(
                f"{label}-duration-p95",
                f"{label}: p95 duration above {a.duration_threshold_ms} ms for 5 minutes",
                a.duration_threshold_ms,
                namespace="AWS/Lambda",
                metric_name="Duration",
                dimensions=dims,
                extended_statistic="p95",
                period=PERIOD_S,
            )
            self._alarm(
                f"{label}-throttles",
                f"{label}: invocations throttled (reserved concurrency exhausted)",
                0,
                namespace="AWS/Lambda",
                metric_name="Throttles",
                dimensions=dims,
                statistic="Sum",
                period=PERIOD_S,
            )

    def _api_alarm(self) -> None:
        a = self._args
        self._alarm(
            "api-5xx",
            f"API: more than {a.api_5xx_threshold} 5xx responses in 5 minutes",
            a.api_5xx_threshold,
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions={"ApiName": a.api_name, "Stage": a.api_stage},
            statistic="Sum",
            period=PERIOD_S,
        )

    def _table_alarms(self) -> None:
        for logical, table in self._watched.tables.items():
            ops = TABLE_OPERATIONS[logical]
            for metric, slug, what in (
                ("ThrottledRequests", "throttled", "requests throttled"),
                ("SystemErrors", "system-errors", "requests failed with HTTP 500"),
            ):
                self._alarm(
                    f"{logical}-{slug}",
                    f"table {logical}: {what} ({', '.join(ops)})",
                    0,
                    metric_queries=_sum_over("AWS/DynamoDB", metric, {"TableName": table}, "Operation", ops),
                )

    def _lag_alarms(self) -> None:
        a, watched = self._args, self._watched
        for label, fn in watched.stream_consumers.items():
            self._alarm(
                f"{label}-iterator-age",
                f"{label} is falling behind its stream: oldest record older than {a.iterator_age_threshold_ms} ms for 5 minutes",
                a.iterator_age_threshold_ms,
                namespace="AWS/Lambda",
                metric_name="IteratorAge",
                dimensions={"FunctionName": fn},
                statistic="Maximum",
                period=60,
                evaluation_periods=5,
                datapoints_to_alarm=5,
            )
        for label, queue in watched.dead_letter_queues.items():
            self._alarm(
                f"{label}-dlq-depth",
                f"{label}: messages in the dead-letter queue (failed batches to inspect and replay)",
                0,
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": queue},
                statistic="Maximum",
                period=PERIOD_S,
            )

    def _plugin_alarm(self) -> None:
        """Configured detectors missing from the AI package: the others run, so nothing else would say it."""
        fn = self._watched.functions.get(AI_FN)
        if fn is None:
            return
        self._alarm(
            "ai-detectors-missing",
            "AI: configured detectors are not installed in its package; the others run (the function's log names them)",
            0,
            namespace=NAMESPACE,
            metric_name="DetectorsMissing",
            dimensions={"service": fn},
            statistic="Maximum",
            period=PERIOD_S,
        )

    def _budget(self) -> None:
        """Account-wide monthly cost budget: actual and forecast above the limit notify."""
        a = self._args
        emails = [a.alarm_email] if a.alarm_email else []
        self.budget = aws.budgets.Budget(
            f"{self._name}-budget",
            name=f"{a.prefix}-monthly",
            budget_type="COST",
            limit_amount=str(a.monthly_budget_usd),
            limit_unit="USD",
            time_unit="MONTHLY",
            notifications=[
                {
                    "comparison_operator": "GREATER_THAN",
                    "threshold": 100,
                    "threshold_type": "PERCENTAGE",
                    "notification_type": kind,
                    "subscriber_email_addresses": emails or None,
                    "subscriber_sns_topic_arns": [self.alarm_topic_arn],
                }
                for kind in ("ACTUAL", "FORECASTED")
            ],
            opts=self._child,
        )

    # --- dashboards ------------------------------------------------------------------------

    def _system_inputs(self) -> dict[str, Any]:
        a, watched = self._args, self._watched
        return {
            "functions": dict(watched.functions),
            "api": a.api_name,
            "stage": a.api_stage,
            "tables": dict(watched.tables),
            "stream_functions": dict(watched.stream_consumers),
            "dlqs": dict(watched.dead_letter_queues),
            "detectors": a.detectors,
            "alarms": [alarm.arn for alarm in self.alarms],
        }

    def _dashboard(
        self, kind: str, body: Any, region: pulumi.Output[str], inputs: dict[str, Any]
    ) -> aws.cloudwatch.Dashboard:
        return aws.cloudwatch.Dashboard(
            f"{self._name}-{kind}-dashboard",
            dashboard_name=f"{self._args.prefix}-{kind}",
            dashboard_body=pulumi.Output.all(region=region, **inputs).apply(
                lambda v: json.dumps(body(**v), separators=(",", ":"))
            ),
            opts=self._child,
        )


def _console_url(region: pulumi.Output[str], name: pulumi.Output[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "https://", region, ".console.aws.amazon.com/cloudwatch/home?region=", region, "#dashboards/dashboard/", name
    )


def _widget(title: str, metrics: list[list], region: str, x: int, y: int, **props: Any) -> dict:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "metrics": metrics,
            "period": 60,
            "view": "timeSeries",
            **props,
        },
    }


def _grid(widgets: list[tuple[str, list[list], dict]], region: str) -> list[dict]:
    """Two widgets per row, in order."""
    return [_widget(t, m, region, 12 * (i % 2), 6 * (i // 2), **p) for i, (t, m, p) in enumerate(widgets)]


def _system_body(
    region: str,
    functions: dict[str, str],
    api: str,
    stage: str,
    tables: dict[str, str],
    stream_functions: dict[str, str],
    dlqs: dict[str, str],
    detectors: list[str],
    alarms: list[str],
) -> dict:
    """Ingest rate, latency, errors, insights by severity, detectors, stream lag, DynamoDB capacity.

    A custom metric's ``service`` dimension is the name of the function that emits it
    (`iops.telemetry.MetricSpec.emitter` is a function key); one whose function is not in the
    stack is left out.
    """
    lam, apigw, ddb = "AWS/Lambda", "AWS/ApiGateway", "AWS/DynamoDB"
    api_dims = ["ApiName", api, "Stage", stage]
    custom = {
        name: [NAMESPACE, name, "service", functions[spec.emitter]]
        for name, spec in METRICS.items()
        if spec.emitter in functions
    }

    def emitted(name: str, *lines: list) -> list[list]:
        return [[*custom[name], *line] for line in lines] if name in custom else []

    widgets: list[tuple[str, list[list], dict]] = [
        (
            "Ingest rate (per minute)",
            emitted("MetricsIngested", [{"stat": "Sum", "label": "metrics stored"}])
            + emitted("MetricsRejected", [{"stat": "Sum", "label": "metrics rejected"}])
            + emitted("MetricsUnstored", [{"stat": "Sum", "label": "metrics not stored (503)"}])
            + [[apigw, "Count", *api_dims, {"stat": "Sum", "label": "API requests"}]],
            {},
        ),
        (
            "Latency (ms)",
            [[apigw, "Latency", *api_dims, {"stat": "p95", "label": "API p95"}]]
            + [
                [lam, "Duration", "FunctionName", fn, {"stat": "p95", "label": f"{label} p95"}]
                for label, fn in functions.items()
            ],
            {},
        ),
        (
            "Errors",
            [
                [apigw, "5XXError", *api_dims, {"stat": "Sum", "label": "API 5xx"}],
                [apigw, "4XXError", *api_dims, {"stat": "Sum", "label": "API 4xx"}],
            ]
            + [
                [lam, "Errors", "FunctionName", fn, {"stat": "Sum", "label": f"{label} errors"}]
                for label, fn in functions.items()
            ]
            + [
                [lam, "Throttles", "FunctionName", fn, {"stat": "Sum", "label": f"{label} throttles"}]
                for label, fn in functions.items()
            ],
            {},
        ),
        (
            "Insights by severity",
            emitted("Insights", *(["severity", s, {"stat": "Sum", "label": s}] for s in SEVERITIES)),
            {"stacked": True},
        ),
        (
            "Detectors: time per batch (ms), failures, series not scored by the deadline; late points; missing",
            emitted("DetectorLatency", *(["detector", d, {"stat": "Average", "label": f"{d} ms"}] for d in detectors))
            + [
                line
                for name, what in (("DetectorFailures", "failures"), ("DetectorTimeouts", "timeouts"))
                for line in emitted(
                    name,
                    *(["detector", d, {"stat": "Sum", "label": f"{d} {what}", "yAxis": "right"}] for d in detectors),
                )
            ]
            + emitted("LatePoints", [{"stat": "Sum", "label": "late points", "yAxis": "right"}])
            + emitted("DetectorsMissing", [{"stat": "Maximum", "label": "detectors missing", "yAxis": "right"}]),
            {},
        ),
        (
            "Stream lag and dead letters",
            [
                [lam, "IteratorAge", "FunctionName", fn, {"stat": "Maximum", "label": f"{label} iterator age (ms)"}]
                for label, fn in stream_functions.items()
            ]
            + [
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    q,
                    {"stat": "Maximum", "label": f"{label} DLQ", "yAxis": "right"},
                ]
                for label, q in dlqs.items()
            ],
            {},
        ),
        (
            "DynamoDB consumed capacity (units per minute)",
            [
                [ddb, "ConsumedWriteCapacityUnits", "TableName", t, {"stat": "Sum", "label": f"{label} writes"}]
                for label, t in tables.items()
            ]
            + [
                [ddb, "ConsumedReadCapacityUnits", "TableName", t, {"stat": "Sum", "label": f"{label} reads"}]
                for label, t in tables.items()
            ],
            {},
        ),
    ]
    body = _grid(widgets, region)
    body.append(
        {
            "type": "alarm",
            "x": 12 * (len(widgets) % 2),
            "y": 6 * (len(widgets) // 2),
            "width": 12,
            "height": 6,
            "properties": {"title": "Alarms", "alarms": alarms},
        }
    )
    return {"start": "-PT6H", "periodOverride": "inherit", "widgets": body}


def _sagemaker_body(region: str, endpoint: str) -> dict:
    """Invocations, latency, errors, instance count (= Invocations / InvocationsPerInstance)."""
    sm, dims = "AWS/SageMaker", ["EndpointName", endpoint, "VariantName", SAGEMAKER_VARIANT]
    widgets: list[tuple[str, list[list], dict]] = [
        ("Invocations", [[sm, "Invocations", *dims, {"stat": "Sum"}]], {}),
        (
            "Latency (microseconds)",
            [
                [sm, "ModelLatency", *dims, {"stat": "p95", "label": "model p95"}],
                [sm, "OverheadLatency", *dims, {"stat": "p95", "label": "overhead p95"}],
            ],
            {},
        ),
        (
            "Errors",
            [
                [sm, "Invocation4XXErrors", *dims, {"stat": "Sum"}],
                [sm, "Invocation5XXErrors", *dims, {"stat": "Sum"}],
                [sm, "InvocationModelErrors", *dims, {"stat": "Sum"}],
            ],
            {},
        ),
        (
            "Instances (while invoked)",
            [
                [sm, "Invocations", *dims, {"stat": "Sum", "id": "inv", "visible": False}],
                [sm, "InvocationsPerInstance", *dims, {"stat": "Sum", "id": "per", "visible": False}],
                [{"expression": "IF(per > 0, inv / per, 0)", "label": "instances", "id": "instances"}],
            ],
            {},
        ),
        (
            "Instance utilisation (%)",
            [
                ["/aws/sagemaker/Endpoints", "CPUUtilization", *dims, {"stat": "Average"}],
                ["/aws/sagemaker/Endpoints", "MemoryUtilization", *dims, {"stat": "Average"}],
            ],
            {},
        ),
    ]
    return {"start": "-PT6H", "widgets": _grid(widgets, region)}
