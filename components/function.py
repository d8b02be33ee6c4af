"""A Lambda function with what every function in this stack needs: role, log group, tracing, a concurrency cap."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.code import LambdaCode
from components.config import StackConfig
from components.iam import assume_role_policy

LAMBDA_RUNTIME = "python3.12"
APPLICATION_LOG_LEVELS = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR"}
"""``logLevel`` (Powertools' names) -> Lambda's application log level: the same, so Powertools, which
defers to Lambda's level when both are set, logs what ``logLevel`` says."""
XRAY_STATEMENT = {
    # X-Ray's write actions support no resource-level permissions: AWS requires "*" here.
    "Effect": "Allow",
    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
    "Resource": "*",
}


@dataclass
class FunctionArgs:
    function_name: str
    handler: str
    code: LambdaCode
    memory_mb: int
    timeout_s: int
    log_retention_days: int
    reserved_concurrency: int
    """Required: a function without a cap can take the account's whole concurrency (policy ``lambda-reserved-concurrency``)."""
    environment: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    statements: list[pulumi.Input[dict[str, Any]]] = field(default_factory=list)
    """IAM statements beyond logging and tracing (least privilege: name the resources)."""
    description: str = ""
    tracing_mode: str | None = None
    """X-Ray mode; None: the stack's ``lambdaTracingMode`` (one setting for every function, read here
    so that no tier has to pass it)."""
    log_level: str | None = None
    """POWERTOOLS_LOG_LEVEL; None: the stack's ``logLevel``."""


class LambdaFunction(pulumi.ComponentResource):
    """Role (logs + X-Ray + the given statements), a log group with retention, the function."""

    log_group: aws.cloudwatch.LogGroup
    role: aws.iam.Role
    policy: aws.iam.RolePolicy
    function: aws.lambda_.Function
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: FunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:lambda:Function", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = StackConfig()
        tracing_mode = args.tracing_mode or cfg.lambda_tracing_mode
        log_level = args.log_level or cfg.log_level
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{args.function_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role", assume_role_policy=assume_role_policy("lambda.amazonaws.com"), opts=child
        )
        logs_statement = self.log_group.arn.apply(
            lambda arn: {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{arn}:*",
            }
        )
        self.policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=pulumi.Output.all(logs_statement, *args.statements).apply(
                lambda stmts: json.dumps({"Version": "2012-10-17", "Statement": [*stmts, XRAY_STATEMENT]})
            ),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            f"{name}-fn",
            name=args.function_name,
            description=args.description,
            runtime=LAMBDA_RUNTIME,
            handler=args.handler,
            s3_bucket=args.code.bucket,
            s3_key=args.code.key,
            role=self.role.arn,
            memory_size=args.memory_mb,
            timeout=args.timeout_s,
            reserved_concurrent_executions=args.reserved_concurrency,
            tracing_config={"mode": tracing_mode},
            # JSON lines, so the platform's own (START/END/REPORT) can be filtered by level like the function's
            logging_config={
                "log_format": "JSON",
                "log_group": self.log_group.name,
                "system_log_level": cfg.lambda_system_log_level,
                "application_log_level": APPLICATION_LOG_LEVELS[log_level],
            },
            environment={
                "variables": {
                    "POWERTOOLS_SERVICE_NAME": args.function_name,
                    "POWERTOOLS_LOG_LEVEL": log_level,
                    **args.environment,
                }
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group, self.policy]),
        )
        self.name = self.function.name
        self.arn = self.function.arn
        self.register_outputs({"name": self.function.name, "arn": self.function.arn, "logGroup": self.log_group.name})
