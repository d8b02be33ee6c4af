"""AI tier: the AI Lambda on the metrics stream, Insights and detector-state tables, insights API."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.api import RestApi
from components.code import LambdaCode
from components.function import FunctionArgs, LambdaFunction
from components.tables import dynamodb_table, table_arns
from handlers.definitions import CORRELATION, DETECTOR_STATE, INSIGHTS, INSIGHTS_FN
from handlers.metrics import TOKEN_SECRET_ENV


@dataclass
class AiArgs:
    prefix: str
    code: LambdaCode
    api_code: LambdaCode
    api: RestApi
    metrics_stream_arn: pulumi.Input[str]
    memory_mb: int
    timeout_s: int
    reserved_concurrency: int
    query_memory_mb: int
    query_timeout_s: int
    batch_size: int
    batching_window_s: int
    max_retries: int
    insights_ttl_days: int
    anomaly_threshold: float
    detectors: list[str]
    enrich_min_severity: str
    enrich_max_calls: int
    log_retention_days: int
    allowed_origins: list[pulumi.Input[str]]
    event_bus_name: pulumi.Input[str] | None = None
    event_bus_arn: pulumi.Input[str] | None = None
    extra_environment: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    extra_statements: list[pulumi.Input[dict]] = field(default_factory=list)
    """Permissions plugins need (e.g. bedrock:InvokeModel, sagemaker:InvokeEndpoint), scoped."""


class AiTier(pulumi.ComponentResource):
    def __init__(self, name: str, args: AiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:ai:AiTier", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.insights_table = dynamodb_table(f"{name}-insights", INSIGHTS, args.prefix, self)
        self.state_table = dynamodb_table(f"{name}-state", DETECTOR_STATE, args.prefix, self)
        self.correlation_table = dynamodb_table(f"{name}-correlation", CORRELATION, args.prefix, self)
        self.dlq = aws.sqs.Queue(
            f"{name}-dlq",
            name=f"{args.prefix}-ai-dlq",
            message_retention_seconds=14 * 86_400,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        statements: list[pulumi.Input[dict]] = [
            pulumi.Output.from_input(args.metrics_stream_arn).apply(
                lambda arn: {
                    "Effect": "Allow",
                    "Action": [
                        "dynamodb:DescribeStream",
                        "dynamodb:GetRecords",
                        "dynamodb:GetShardIterator",
                        "dynamodb:ListStreams",
                    ],
                    "Resource": arn,
                }
            ),
            self.state_table.arn.apply(
                lambda arn: {"Effect": "Allow", "Action": ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"], "Resource": arn}
            ),
            self.insights_table.arn.apply(
                lambda arn: {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"], "Resource": arn}
            ),
            self.correlation_table.arn.apply(
                lambda arn: {
                    "Effect": "Allow",
                    "Action": ["dynamodb:BatchWriteItem", "dynamodb:Query", "dynamodb:PutItem"],
                    "Resource": arn,
                }
            ),
            self.dlq.arn.apply(lambda arn: {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": arn}),
            *args.extra_statements,
        ]
        env: dict[str, pulumi.Input[str]] = {
            INSIGHTS.env_var: self.insights_table.name,
            DETECTOR_STATE.env_var: self.state_table.name,
            CORRELATION.env_var: self.correlation_table.name,
            "INSIGHTS_TTL_DAYS": str(args.insights_ttl_days),
            "ANOMALY_THRESHOLD": str(args.anomaly_threshold),
            "IOPS_DETECTORS": ",".join(args.detectors),
            "ENRICH_MIN_SEVERITY": args.enrich_min_severity,
            "ENRICH_MAX_CALLS": str(args.enrich_max_calls),
            **args.extra_environment,
        }
        if args.event_bus_name is not None and args.event_bus_arn is not None:
            env["EVENT_BUS_NAME"] = args.event_bus_name
            statements.append(
                pulumi.Output.from_input(args.event_bus_arn).apply(
                    lambda arn: {"Effect": "Allow", "Action": ["events:PutEvents"], "Resource": arn}
                )
            )
        self.ai_fn = LambdaFunction(
            f"{name}-ai",
            FunctionArgs(
                function_name=f"{args.prefix}-ai",
                description="Scores every new metric with the detector plugins; writes insights",
                handler="handlers.ai.handler",
                code=args.code,
                memory_mb=args.memory_mb,
                timeout_s=args.timeout_s,
                reserved_concurrency=args.reserved_concurrency,
                log_retention_days=args.log_retention_days,
                environment=env,
                statements=statements,
            ),
            opts=child,
        )
        self.mapping = aws.lambda_.EventSourceMapping(
            f"{name}-stream-mapping",
            event_source_arn=args.metrics_stream_arn,
            function_name=self.ai_fn.function.arn,
            # TRIM_HORIZON: when the mapping is created after the table (a new tier on an existing
            # stack, or a re-created mapping) the stream's last 24 hours are scored instead of lost;
            # the runtime skips points it already scored. docs/hardening.md
            starting_position="TRIM_HORIZON",
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=args.batching_window_s,
            function_response_types=["ReportBatchItemFailures"],
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=args.max_retries,
            destination_config={"on_failure": {"destination_arn": self.dlq.arn}},
            opts=child,
        )
        self.insights_fn = LambdaFunction(
            f"{name}-insights-api",
            FunctionArgs(
                function_name=f"{args.prefix}-insights",
                description="GET /insights, /insights/recent, /insights/{id}",
                handler="handlers.insights_api.handler",
                code=args.api_code,
                memory_mb=args.query_memory_mb,
                timeout_s=args.query_timeout_s,
                log_retention_days=args.log_retention_days,
                environment={
                    INSIGHTS.env_var: self.insights_table.name,
                    TOKEN_SECRET_ENV: random.RandomPassword(
                        f"{name}-token-secret", length=48, special=False, opts=child
                    ).result,
                    "ALLOWED_ORIGINS": pulumi.Output.all(*args.allowed_origins).apply(",".join),
                },
                statements=[
                    table_arns(self.insights_table).apply(
                        lambda arns: {"Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": arns}
                    )
                ],
            ),
            opts=child,
        )
        args.api.add_routes(INSIGHTS_FN, self.insights_fn)
        self.register_outputs(
            {
                "insightsTable": self.insights_table.name,
                "stateTable": self.state_table.name,
                "correlationTable": self.correlation_table.name,
                "aiFunction": self.ai_fn.name,
                "insightsFunction": self.insights_fn.name,
                "dlqUrl": self.dlq.url,
            }
        )
