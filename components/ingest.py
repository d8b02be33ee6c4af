"""Ingest tier: the Metrics table (with its stream), the REST API, ingest and query Lambdas."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.api import RestApi, RestApiArgs
from components.code import LambdaCode
from components.function import FunctionArgs, LambdaFunction
from components.tables import dynamodb_table
from handlers.definitions import INGEST_FN, METRICS, QUERY_FN
from handlers.metrics import TOKEN_SECRET_ENV


@dataclass
class IngestArgs:
    prefix: str
    code: LambdaCode
    ingest_memory_mb: int
    ingest_timeout_s: int
    ingest_reserved_concurrency: int
    query_memory_mb: int
    query_timeout_s: int
    max_metrics_per_request: int
    metrics_ttl_days: int
    log_retention_days: int
    throttle_rate_limit: int
    throttle_burst_limit: int
    allowed_origins: list[pulumi.Input[str]]


class IngestTier(pulumi.ComponentResource):
    def __init__(self, name: str, args: IngestArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:ingest:IngestTier", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.metrics_table = dynamodb_table(f"{name}-metrics", METRICS, args.prefix, self)
        self.api = RestApi(
            f"{name}-rest",
            RestApiArgs(
                api_name=f"{args.prefix}-api",
                throttle_rate_limit=args.throttle_rate_limit,
                throttle_burst_limit=args.throttle_burst_limit,
                allowed_origins=args.allowed_origins,
                log_retention_days=args.log_retention_days,
            ),
            opts=child,
        )
        env = {
            METRICS.env_var: self.metrics_table.name,
            "METRICS_TTL_DAYS": str(args.metrics_ttl_days),
            "MAX_METRICS_PER_REQUEST": str(args.max_metrics_per_request),
            "ALLOWED_ORIGINS": pulumi.Output.all(*args.allowed_origins).apply(",".join),
        }
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
                environment=env,
                statements=[
                    self.metrics_table.arn.apply(
                        lambda arn: {"Effect": "Allow", "Action": ["dynamodb:UpdateItem"], "Resource": arn}
                    )
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
                log_retention_days=args.log_retention_days,
                environment={**env, TOKEN_SECRET_ENV: token_secret.result},
                statements=[
                    self.metrics_table.arn.apply(
                        lambda arn: {"Effect": "Allow", "Action": ["dynamodb:Query", "dynamodb:Scan"], "Resource": arn}
                    )
                ],
            ),
            opts=child,
        )
        self.api.add_routes(INGEST_FN, self.ingest_fn)
        self.api.add_routes(QUERY_FN, self.query_fn)
        self.register_outputs(
            {
                "metricsTable": self.metrics_table.name,
                "metricsStreamArn": self.metrics_table.stream_arn,
                "ingestFunction": self.ingest_fn.name,
                "queryFunction": self.query_fn.name,
            }
        )
