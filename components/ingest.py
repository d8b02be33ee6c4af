"""Ingest tier: the Metrics table (with its stream), the ingest and query Lambdas.

The REST API that fronts them (and the AI tier's insights function) is `components.api.RestApi`,
built in `__main__.py` from `routes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.code import LambdaCode
from components.function import FunctionArgs, LambdaFunction
from components.iam import allow, table_statements
from components.observability import Monitored
from components.tables import dynamodb_table
from handlers.definitions import COUNTERS, INGEST_FN, METRICS, QUERY_FN
from iops.settings import IngestSettings, PaginationSettings, QuerySettings


@dataclass
class IngestArgs:
    prefix: str
    code: LambdaCode
    ingest_memory_mb: int
    ingest_timeout_s: int
    ingest_reserved_concurrency: int
    query_memory_mb: int
    query_timeout_s: int
    query_reserved_concurrency: int
    max_metrics_per_request: int
    metrics_ttl_days: int
    log_retention_days: int
    allowed_origins: list[pulumi.Input[str]]
    firehose_key_secret_arn: pulumi.Input[str] | None = None
    """The secret of Firehose's access key (`components.metric_stream`); the ingest function may read it, and only it."""


class IngestTier(pulumi.ComponentResource):
    metrics_table: aws.dynamodb.Table
    """The Metrics table; its stream feeds the AI tier."""
    counters_table: aws.dynamodb.Table
    """Standard formats' cumulative counters, last reading per series (rates across requests)."""
    ingest_fn: LambdaFunction
    query_fn: LambdaFunction
    routes: dict[str, LambdaFunction]
    """Function key -> function, for the REST API (`RestApiArgs.functions`)."""
    monitored: Monitored

    def __init__(self, name: str, args: IngestArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:ingest:IngestTier", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.metrics_table = dynamodb_table(f"{name}-metrics", METRICS, args.prefix, self)
        self.counters_table = dynamodb_table(f"{name}-counters", COUNTERS, args.prefix, self)
        tables = {METRICS.logical: self.metrics_table.arn, COUNTERS.logical: self.counters_table.arn}
        # signs GET /metrics pagination tokens, so a forged token is refused before it is parsed
        token_secret = random.RandomPassword(f"{name}-token-secret", length=48, special=False, opts=child)
        self.ingest_fn = LambdaFunction(
            f"{name}-ingest",
            FunctionArgs(
                function_name=f"{args.prefix}-ingest",
                description="POST /metrics: validate and store metrics",
                handler="handlers.ingest.handler",
                code=args.code,
                memory_mb=args.ingest_memory_mb,
                timeout_s=args.ingest_timeout_s,
                reserved_concurrency=args.ingest_reserved_concurrency,
                log_retention_days=args.log_retention_days,
                environment=IngestSettings(
                    metrics_table=self.metrics_table.name,
                    counters_table=self.counters_table.name,
                    metrics_ttl_days=args.metrics_ttl_days,
                    max_metrics_per_request=args.max_metrics_per_request,
                    allowed_origins=tuple(args.allowed_origins),
                    firehose_key_secret_arn=args.firehose_key_secret_arn,
                ).to_env(),
                statements=[
                    *table_statements(INGEST_FN, tables),
                    *(
                        [allow(["secretsmanager:GetSecretValue"], args.firehose_key_secret_arn)]
                        if args.firehose_key_secret_arn is not None
                        else []
                    ),
                ],
            ),
            opts=child,
        )
        self.query_fn = LambdaFunction(
            f"{name}-query",
            FunctionArgs(
                function_name=f"{args.prefix}-query",
                description="GET /metrics and GET /openapi.json",
                handler="handlers.query.handler",
                code=args.code,
                memory_mb=args.query_memory_mb,
                timeout_s=args.query_timeout_s,
                reserved_concurrency=args.query_reserved_concurrency,
                log_retention_days=args.log_retention_days,
                environment=QuerySettings(
                    metrics_table=self.metrics_table.name,
                    allowed_origins=tuple(args.allowed_origins),
                    pagination=PaginationSettings(token_secret=token_secret.result),
                ).to_env(),
                statements=table_statements(QUERY_FN, tables),
            ),
            opts=child,
        )
        self.routes = {INGEST_FN: self.ingest_fn, QUERY_FN: self.query_fn}
        self.monitored = Monitored(
            functions={key: fn.name for key, fn in self.routes.items()},
            tables={METRICS.logical: self.metrics_table.name, COUNTERS.logical: self.counters_table.name},
        )
        self.register_outputs(
            {
                "metricsTable": self.metrics_table.name,
                "metricsStreamArn": self.metrics_table.stream_arn,
                "ingestFunction": self.ingest_fn.name,
                "queryFunction": self.query_fn.name,
            }
        )
