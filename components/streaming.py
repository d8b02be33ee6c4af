"""Streaming tier: InfiniBand events through Kinesis into the metrics table.

Kinesis stream (on-demand or provisioned, KMS-encrypted) -> process Lambda (event source
mapping: batch 100, partial batch failures, bisect on error, on-failure SQS queue) -> per-stream,
per-minute metric items in the metrics table, where the AI tier scores them like any metric.
Optionally a simulator Lambda on an EventBridge schedule puts realistic events on the stream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.code import LambdaCode
from components.function import FunctionArgs, LambdaFunction
from components.tables import dynamodb_table
from handlers.definitions import IB_EVENTS, IB_WINDOWS, METRICS, simulator_interval_s


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
    batch_size: int = 100
    batching_window_s: int = 1
    parallelization_factor: int = 1
    max_retries: int = 5
    lateness_s: int = 30
    simulator_enabled: bool = False
    simulator_schedule: str = "rate(1 minute)"
    simulator_streams: int = 8
    simulator_events_per_minute: int = 60
    simulator_degradation_rate: str = "0.02"


def _statement(arn: pulumi.Input[str], actions: list[str], suffix: str = "") -> pulumi.Output[dict]:
    return pulumi.Output.from_input(arn).apply(
        lambda a: {"Effect": "Allow", "Action": actions, "Resource": f"{a}{suffix}"}
    )


class StreamingTier(pulumi.ComponentResource):
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
                log_retention_days=args.log_retention_days,
                environment={
                    METRICS.env_var: args.metrics_table_name,
                    IB_WINDOWS.env_var: self.state_table.name,
                    "IB_DLQ_URL": self.dlq.url,
                    "METRICS_TTL_DAYS": str(args.metrics_ttl_days),
                    "IB_LATENESS_S": str(args.lateness_s),
                },
                statements=[
                    _statement(
                        self.stream.arn,
                        [
                            "kinesis:DescribeStream",
                            "kinesis:DescribeStreamSummary",
                            "kinesis:GetRecords",
                            "kinesis:GetShardIterator",
                            "kinesis:ListShards",
                        ],
                    ),
                    # TransactWriteItems is authorised per item: PutItem on each table.
                    _statement(args.metrics_table_arn, ["dynamodb:UpdateItem"]),
                    _statement(self.state_table.arn, ["dynamodb:BatchGetItem", "dynamodb:PutItem"]),
                    _statement(self.dlq.arn, ["sqs:SendMessage"]),
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
        self.simulator_fn: LambdaFunction | None = None
        if args.simulator_enabled:
            self._simulator(name, args, child)
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
                memory_mb=256,
                timeout_s=30,
                log_retention_days=args.log_retention_days,
                environment={
                    IB_EVENTS.env_var: self.stream.name,
                    "SIM_INTERVAL_S": str(simulator_interval_s(args.simulator_schedule)),
                    "SIM_STREAMS": str(args.simulator_streams),
                    "SIM_EVENTS_PER_MINUTE": str(args.simulator_events_per_minute),
                    "SIM_DEGRADATION_RATE": args.simulator_degradation_rate,
                },
                statements=[
                    _statement(self.stream.arn, ["kinesis:PutRecords", "kinesis:PutRecord"]),
                    _statement(self.dlq.arn, ["sqs:SendMessage"]),
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
            policy=pulumi.Output.all(self.dlq.arn, rule.arn).apply(
                lambda a: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "TheScheduleDeadLetters",
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sqs:SendMessage",
                                "Resource": a[0],
                                "Condition": {"ArnEquals": {"aws:SourceArn": a[1]}},
                            }
                        ],
                    }
                )
            ),
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
