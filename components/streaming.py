"""Streaming tier: InfiniBand events through Kinesis into the metrics table.

Kinesis stream (on-demand or provisioned, KMS-encrypted) -> process Lambda (event source
mapping: batch 100, partial batch failures, bisect on error, on-failure SQS queue) -> per-stream,
per-minute metric items in the metrics table, where the AI tier scores them like any metric.
Optionally a simulator Lambda on an EventBridge schedule puts realistic events on the stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.code import LambdaCode
from components.function import FunctionArgs, LambdaFunction
from components.iam import allow, rule_dead_letter_policy, table_statements
from components.observability import Monitored
from components.tables import dynamodb_table
from handlers.definitions import (
    IB_EVENTS,
    IB_PROCESS_FN,
    IB_SIMULATOR_FN,
    IB_WINDOWS,
    METRICS,
    simulator_interval_s,
)
from iops.settings import IbProcessSettings, IbSimulatorSettings

SIMULATOR_MEMORY_MB = 256
SIMULATOR_TIMEOUT_S = 30


@dataclass
class StreamingArgs:
    prefix: str
    code: LambdaCode
    metrics_table_name: pulumi.Input[str]
    metrics_table_arn: pulumi.Input[str]
    metrics_ttl_days: int
    log_retention_days: int
    shard_count: int = 0
    """0 = on-demand capacity; otherwise a provisioned stream with this many shards."""
    retention_hours: int = 24
    process_memory_mb: int = 256
    process_timeout_s: int = 60
    process_reserved_concurrency: int = 20
    simulator_reserved_concurrency: int = 1
    batch_size: int = 100
    batching_window_s: int = 1
    parallelization_factor: int = 1
    max_retries: int = 5
    lateness_s: int = 30
    simulator_enabled: bool = False
    simulator_schedule: str = "rate(1 minute)"
    simulator_streams: int = 8
    simulator_events_per_minute: int = 60
    simulator_degradation_rate: float = 0.02


class StreamingTier(pulumi.ComponentResource):
    stream: aws.kinesis.Stream
    state_table: aws.dynamodb.Table
    dlq: aws.sqs.Queue
    process_fn: LambdaFunction
    mapping: aws.lambda_.EventSourceMapping
    simulator_fn: LambdaFunction | None
    """None unless ``simulator_enabled``."""
    monitored: Monitored

    def __init__(self, name: str, args: StreamingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:streaming:StreamingTier", name, None, opts)
        if not 1 <= args.parallelization_factor <= 10:
            raise ValueError(f"kinesisParallelizationFactor must be 1-10, got {args.parallelization_factor}")
        if not 24 <= args.retention_hours <= 8760:
            raise ValueError(f"kinesisRetentionHours must be 24-8760, got {args.retention_hours}")
        child = pulumi.ResourceOptions(parent=self)
        on_demand = args.shard_count == 0
        self.stream = aws.kinesis.Stream(
            f"{name}-events",
            name=IB_EVENTS.physical_name(args.prefix),
            shard_count=None if on_demand else args.shard_count,
            stream_mode_details={"stream_mode": "ON_DEMAND" if on_demand else "PROVISIONED"},
            retention_period=args.retention_hours,
            encryption_type="KMS",
            # The AWS managed key: its key policy lets this account's principals use it through
            # Kinesis, so neither producer nor consumer needs a kms: statement.
            kms_key_id="alias/aws/kinesis",
            opts=child,
        )
        self.state_table = dynamodb_table(f"{name}-windows", IB_WINDOWS, args.prefix, self)
        self.dlq = aws.sqs.Queue(
            f"{name}-dlq",
            name=f"{args.prefix}-ib-dlq",
            message_retention_seconds=14 * 86_400,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        self.process_fn = LambdaFunction(
            f"{name}-process",
            FunctionArgs(
                function_name=f"{args.prefix}-ib-process",
                description="Kinesis InfiniBand events -> per-stream, per-minute metrics",
                handler="handlers.ib_process.handler",
                code=args.code,
                memory_mb=args.process_memory_mb,
                timeout_s=args.process_timeout_s,
                reserved_concurrency=args.process_reserved_concurrency,
                log_retention_days=args.log_retention_days,
                environment=IbProcessSettings(
                    metrics_table=args.metrics_table_name,
                    state_table=self.state_table.name,
                    dlq_url=self.dlq.url,
                    metrics_ttl_days=args.metrics_ttl_days,
                    lateness_s=args.lateness_s,
                ).to_env(),
                statements=[
                    allow(
                        [
                            "kinesis:DescribeStream",
                            "kinesis:DescribeStreamSummary",
                            "kinesis:GetRecords",
                            "kinesis:GetShardIterator",
                            "kinesis:ListShards",
                        ],
                        self.stream.arn,
                    ),
                    *table_statements(
                        IB_PROCESS_FN,
                        {METRICS.logical: args.metrics_table_arn, IB_WINDOWS.logical: self.state_table.arn},
                    ),
                    allow(["sqs:SendMessage"], self.dlq.arn),
                ],
            ),
            opts=child,
        )
        self.mapping = aws.lambda_.EventSourceMapping(
            f"{name}-mapping",
            event_source_arn=self.stream.arn,
            function_name=self.process_fn.arn,
            # Records put before the mapping exists (e.g. by the simulator on first deploy) are
            # still read; replays are harmless because the aggregation is idempotent.
            starting_position="TRIM_HORIZON",
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=args.batching_window_s,
            parallelization_factor=args.parallelization_factor,
            function_response_types=["ReportBatchItemFailures"],
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=args.max_retries,
            destination_config={"on_failure": {"destination_arn": self.dlq.arn}},
            opts=child,
        )
        self.simulator_fn = None
        if args.simulator_enabled:
            self._simulator(name, args, child)
        functions = {IB_PROCESS_FN: self.process_fn.name}
        if self.simulator_fn is not None:
            functions[IB_SIMULATOR_FN] = self.simulator_fn.name
        self.monitored = Monitored(
            functions=functions,
            stream_consumers={IB_PROCESS_FN: self.process_fn.name},
            tables={IB_WINDOWS.logical: self.state_table.name},
            dead_letter_queues={"ib": self.dlq.name},
        )
        self.register_outputs(
            {
                "streamName": self.stream.name,
                "streamArn": self.stream.arn,
                "stateTable": self.state_table.name,
                "processFunction": self.process_fn.name,
                "dlqUrl": self.dlq.url,
                "simulatorFunction": self.simulator_fn.name if self.simulator_fn else None,
            }
        )

    def _simulator(self, name: str, args: StreamingArgs, child: pulumi.ResourceOptions) -> None:
        """The simulator Lambda, invoked by an EventBridge schedule, allowed only PutRecords."""
        self.simulator_fn = LambdaFunction(
            f"{name}-simulator",
            FunctionArgs(
                function_name=f"{args.prefix}-ib-simulator",
                description="Puts simulated InfiniBand stream events on the Kinesis stream",
                handler="handlers.ib_simulator.handler",
                code=args.code,
                memory_mb=SIMULATOR_MEMORY_MB,
                timeout_s=SIMULATOR_TIMEOUT_S,
                reserved_concurrency=args.simulator_reserved_concurrency,
                log_retention_days=args.log_retention_days,
                environment=IbSimulatorSettings(
                    stream=self.stream.name,
                    interval_s=simulator_interval_s(args.simulator_schedule),
                    streams=args.simulator_streams,
                    events_per_minute=args.simulator_events_per_minute,
                    degradation_rate=args.simulator_degradation_rate,
                ).to_env(),
                statements=[
                    allow(["kinesis:PutRecords", "kinesis:PutRecord"], self.stream.arn),
                    allow(["sqs:SendMessage"], self.dlq.arn),
                ],
            ),
            opts=child,
        )
        # A retried scheduled run would put the same minute twice (new sequence numbers, so
        # counted twice): a skipped minute is the lesser harm, but it is recorded in the DLQ.
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-simulator-invoke",
            function_name=self.simulator_fn.name,
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=120,
            destination_config={"on_failure": {"destination": self.dlq.arn}},
            opts=child,
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-simulator-schedule",
            name=f"{args.prefix}-ib-simulator",
            description="Runs the InfiniBand event simulator",
            schedule_expression=args.simulator_schedule,
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-dlq-policy",
            queue_url=self.dlq.url,
            policy=rule_dead_letter_policy(self.dlq.arn, rule.arn),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-simulator-target",
            rule=rule.name,
            arn=self.simulator_fn.arn,
            dead_letter_config={"arn": self.dlq.arn},
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-simulator-invoke-permission",
            action="lambda:InvokeFunction",
            function=self.simulator_fn.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=child,
        )
