"""AI tier: the AI Lambda on the metrics stream, Insights and detector-state tables, insights API,
incidents (tables, and the sweeper on an EventBridge schedule, every minute).

The insights function's routes (insights, incidents, silences, feedback) are served by
`components.api.RestApi` (built in `__main__.py` from `routes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.code import LambdaCode
from components.function import FunctionArgs, LambdaFunction
from components.iam import allow, rule_dead_letter_policy, table_statements
from components.observability import Monitored
from components.tables import dynamodb_table
from handlers.definitions import (
    AI_FN,
    CORRELATION,
    DETECTOR_STATE,
    FEEDBACK,
    INCIDENT_SWEEPER_FN,
    INCIDENTS,
    INSIGHTS,
    INSIGHTS_FN,
    METRICS,
    SILENCES,
)
from iops.settings import (
    AiSettings,
    IncidentSettings,
    IncidentSweeperSettings,
    InsightsApiSettings,
    PaginationSettings,
    PatternSettings,
    PluginSettings,
    PredictionSettings,
)

SWEEPER_SCHEDULE = "rate(1 minute)"
"""How often the incident sweeper runs (auto-resolve, reminders); `iops cost` prices its runs from it."""


@dataclass
class AiArgs:
    prefix: str
    code: LambdaCode
    api_code: LambdaCode
    metrics_stream_arn: pulumi.Input[str]
    metrics_table_name: pulumi.Input[str]
    metrics_table_arn: pulumi.Input[str]
    memory_mb: int
    timeout_s: int
    reserved_concurrency: int
    query_memory_mb: int
    query_timeout_s: int
    insights_reserved_concurrency: int
    batch_size: int
    batching_window_s: int
    max_retries: int
    insights_ttl_days: int
    anomaly_threshold: float
    checkpoint_points: int
    checkpoint_seconds: int
    plugins: PluginSettings
    """Which detectors run, Bedrock, the SageMaker endpoint (the AI function's `PluginSettings`)."""
    predictions: PredictionSettings
    pattern_window_s: float
    pattern_min_hosts: int
    enrich_min_severity: str
    enrich_max_calls: int
    log_retention_days: int
    allowed_origins: list[pulumi.Input[str]]
    incident_quiet_minutes: float
    incident_repeat_hours: float
    sweeper_reserved_concurrency: int
    event_bus_name: pulumi.Input[str] | None = None
    event_bus_arn: pulumi.Input[str] | None = None
    dashboard_url: pulumi.Input[str] | None = None
    """Alerts link to the insight there."""
    extra_statements: list[pulumi.Input[dict]] = field(default_factory=list)
    """Permissions plugins need (e.g. bedrock:InvokeModel, sagemaker:InvokeEndpoint), scoped."""


class AiTier(pulumi.ComponentResource):
    insights_table: aws.dynamodb.Table
    state_table: aws.dynamodb.Table
    correlation_table: aws.dynamodb.Table
    dlq: aws.sqs.Queue
    """Where stream batches that keep failing go (``iops replay`` re-scores what a message points at)."""
    ai_fn: LambdaFunction
    mapping: aws.lambda_.EventSourceMapping
    insights_fn: LambdaFunction
    incidents_table: aws.dynamodb.Table
    silences_table: aws.dynamodb.Table
    feedback_table: aws.dynamodb.Table
    sweeper_fn: LambdaFunction
    """Every minute: resolves quiet incidents, sends reminders and notices a batch could not send."""
    sweeper_schedule: aws.cloudwatch.EventRule
    routes: dict[str, LambdaFunction]
    """Function key -> function, for the REST API (`RestApiArgs.functions`)."""
    monitored: Monitored

    def __init__(self, name: str, args: AiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:ai:AiTier", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.insights_table = dynamodb_table(f"{name}-insights", INSIGHTS, args.prefix, self)
        self.state_table = dynamodb_table(f"{name}-state", DETECTOR_STATE, args.prefix, self)
        self.correlation_table = dynamodb_table(f"{name}-correlation", CORRELATION, args.prefix, self)
        self.incidents_table = dynamodb_table(f"{name}-incidents", INCIDENTS, args.prefix, self)
        self.silences_table = dynamodb_table(f"{name}-silences", SILENCES, args.prefix, self)
        self.feedback_table = dynamodb_table(f"{name}-feedback", FEEDBACK, args.prefix, self)
        self.dlq = aws.sqs.Queue(
            f"{name}-dlq",
            name=f"{args.prefix}-ai-dlq",
            message_retention_seconds=14 * 86_400,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        tables = {
            METRICS.logical: args.metrics_table_arn,
            INSIGHTS.logical: self.insights_table.arn,
            DETECTOR_STATE.logical: self.state_table.arn,
            CORRELATION.logical: self.correlation_table.arn,
            INCIDENTS.logical: self.incidents_table.arn,
            SILENCES.logical: self.silences_table.arn,
            FEEDBACK.logical: self.feedback_table.arn,
        }
        incident_settings = IncidentSettings(
            table=self.incidents_table.name,
            silences_table=self.silences_table.name,
            feedback_table=self.feedback_table.name,
            quiet_minutes=args.incident_quiet_minutes,
            repeat_hours=args.incident_repeat_hours,
        )
        statements: list[pulumi.Input[dict]] = [
            *table_statements(AI_FN, tables, streams={METRICS.logical: args.metrics_stream_arn}),
            allow(["sqs:SendMessage"], self.dlq.arn),
            *args.extra_statements,
        ]
        publishes = args.event_bus_name is not None and args.event_bus_arn is not None
        settings = AiSettings(
            insights_table=self.insights_table.name,
            state_table=self.state_table.name,
            metrics_table=args.metrics_table_name,
            checkpoint_points=args.checkpoint_points,
            checkpoint_seconds=args.checkpoint_seconds,
            insights_ttl_days=args.insights_ttl_days,
            anomaly_threshold=args.anomaly_threshold,
            event_bus=args.event_bus_name if publishes else None,
            dashboard_url=args.dashboard_url,
            enrich_min_severity=args.enrich_min_severity,
            enrich_max_calls=args.enrich_max_calls,
            plugins=args.plugins,
            predictions=args.predictions,
            patterns=PatternSettings(
                table=self.correlation_table.name, window_s=args.pattern_window_s, min_hosts=args.pattern_min_hosts
            ),
            incidents=incident_settings,
        )
        if publishes:
            statements.append(allow(["events:PutEvents"], args.event_bus_arn))
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
                environment=settings.to_env(),
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
                description="Insights, incidents, silences and feedback routes",
                handler="handlers.insights_api.handler",
                code=args.api_code,
                memory_mb=args.query_memory_mb,
                timeout_s=args.query_timeout_s,
                reserved_concurrency=args.insights_reserved_concurrency,
                log_retention_days=args.log_retention_days,
                environment=InsightsApiSettings(
                    insights_table=self.insights_table.name,
                    allowed_origins=tuple(args.allowed_origins),
                    pagination=PaginationSettings(
                        token_secret=random.RandomPassword(
                            f"{name}-token-secret", length=48, special=False, opts=child
                        ).result
                    ),
                    incidents=incident_settings,
                ).to_env(),
                statements=table_statements(INSIGHTS_FN, tables),
            ),
            opts=child,
        )
        self._sweeper(name, args, incident_settings, tables, publishes, child)
        self.routes = {INSIGHTS_FN: self.insights_fn}
        self.monitored = Monitored(
            functions={
                AI_FN: self.ai_fn.name,
                INSIGHTS_FN: self.insights_fn.name,
                INCIDENT_SWEEPER_FN: self.sweeper_fn.name,
            },
            stream_consumers={AI_FN: self.ai_fn.name},
            tables={
                INSIGHTS.logical: self.insights_table.name,
                DETECTOR_STATE.logical: self.state_table.name,
                CORRELATION.logical: self.correlation_table.name,
                INCIDENTS.logical: self.incidents_table.name,
                SILENCES.logical: self.silences_table.name,
                FEEDBACK.logical: self.feedback_table.name,
            },
            dead_letter_queues={"ai": self.dlq.name, "sweeper": self.sweeper_dlq.name},
        )
        self.register_outputs(
            {
                "insightsTable": self.insights_table.name,
                "stateTable": self.state_table.name,
                "correlationTable": self.correlation_table.name,
                "aiFunction": self.ai_fn.name,
                "insightsFunction": self.insights_fn.name,
                "incidentsTable": self.incidents_table.name,
                "sweeperFunction": self.sweeper_fn.name,
                "dlqUrl": self.dlq.url,
            }
        )

    def _sweeper(
        self,
        name: str,
        args: AiArgs,
        incidents: IncidentSettings,
        tables: dict[str, pulumi.Input[str]],
        publishes: bool,
        child: pulumi.ResourceOptions,
    ) -> None:
        """The incident sweeper and its schedule (rate(1 minute)) on the default bus.

        A failed or dropped run is harmless (the next one does the same work), so it is not retried;
        it is recorded in the sweeper's DLQ, which the policy pack demands of scheduled functions.
        """
        self.sweeper_dlq = aws.sqs.Queue(
            f"{name}-sweeper-dlq",
            name=f"{args.prefix}-sweeper-dlq",
            message_retention_seconds=4 * 86_400,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        statements = [
            *table_statements(INCIDENT_SWEEPER_FN, tables),
            allow(["sqs:SendMessage"], self.sweeper_dlq.arn),
        ]
        if publishes:
            statements.append(allow(["events:PutEvents"], args.event_bus_arn))
        self.sweeper_fn = LambdaFunction(
            f"{name}-incident-sweeper",
            FunctionArgs(
                function_name=f"{args.prefix}-{INCIDENT_SWEEPER_FN}",
                description="Every minute: resolves quiet incidents, sends reminders and pending notices",
                handler="handlers.incident_sweeper.handler",
                code=args.api_code,
                memory_mb=args.query_memory_mb,
                timeout_s=max(args.query_timeout_s, 30),
                reserved_concurrency=args.sweeper_reserved_concurrency,
                log_retention_days=args.log_retention_days,
                environment=IncidentSweeperSettings(
                    event_bus=args.event_bus_name if publishes else None,
                    dashboard_url=args.dashboard_url,
                    incidents=incidents,
                ).to_env(),
                statements=statements,
            ),
            opts=child,
        )
        self.sweeper_schedule = aws.cloudwatch.EventRule(
            f"{name}-incident-sweep",
            name=f"{args.prefix}-incident-sweep",
            description="Runs the incident sweeper every minute",
            schedule_expression=SWEEPER_SCHEDULE,
            opts=child,
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-incident-sweep-invoke-config",
            function_name=self.sweeper_fn.name,
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=120,
            destination_config={"on_failure": {"destination": self.sweeper_dlq.arn}},
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-sweeper-dlq-policy",
            queue_url=self.sweeper_dlq.url,
            policy=rule_dead_letter_policy(self.sweeper_dlq.arn, self.sweeper_schedule.arn),
            opts=child,
        )
        self.sweeper_permission = aws.lambda_.Permission(
            f"{name}-incident-sweep-invoke",
            action="lambda:InvokeFunction",
            function=self.sweeper_fn.function.name,
            principal="events.amazonaws.com",
            source_arn=self.sweeper_schedule.arn,
            opts=child,
        )
        self.sweeper_target = aws.cloudwatch.EventTarget(
            f"{name}-incident-sweep-target",
            rule=self.sweeper_schedule.name,
            arn=self.sweeper_fn.function.arn,
            retry_policy={"maximum_retry_attempts": 0, "maximum_event_age_in_seconds": 60},
            dead_letter_config={"arn": self.sweeper_dlq.arn},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.sweeper_permission]),
        )
