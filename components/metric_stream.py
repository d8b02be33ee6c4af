"""CloudWatch Metric Streams into the API: metric stream -> Kinesis Data Firehose -> ``POST /firehose/cloudwatch``.

Two components, because the ingest function must know the access key's secret before the API
(whose URL Firehose needs) exists:

- `FirehoseAccessKey`, before the ingest tier: a random key, kept in Secrets Manager only, as
  ``{"api_key": ...}``. Firehose reads it there itself (its Secrets Manager integration), so the
  key is in no other resource's inputs; the ingest function reads the same secret to check it.
- `MetricStream`, after the API: the metric stream (JSON, one include filter per namespace), the
  Firehose stream (HTTP endpoint, failed deliveries to a private backup bucket, errors to a log
  group), and a role for each with only what it does.

Nothing of this exists unless ``metricStreamNamespaces`` names a namespace (docs/ingest.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.code import private_bucket
from components.iam import assume_role_policy
from handlers.definitions import ROUTES

FIREHOSE_PATH = next(r.path for r in ROUTES if r.firehose_key)
"""The route Firehose delivers to (`handlers.definitions`)."""
STREAM_PRINCIPAL = "streams.metrics.cloudwatch.amazonaws.com"
FIREHOSE_PRINCIPAL = "firehose.amazonaws.com"
BACKUP_S3_ACTIONS = (
    # what Firehose needs to write failed deliveries to a bucket (AWS's documented set)
    "s3:AbortMultipartUpload",
    "s3:GetBucketLocation",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:PutObject",
)
STREAM_ACTIONS = ("firehose:PutRecord", "firehose:PutRecordBatch")
KEY_LENGTH = 48


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass
class FirehoseAccessKeyArgs:
    prefix: str


class FirehoseAccessKey(pulumi.ComponentResource):
    """The key Firehose sends in ``X-Amz-Firehose-Access-Key``, in a Secrets Manager secret and nowhere else."""

    password: random.RandomPassword
    secret: aws.secretsmanager.Secret
    version: aws.secretsmanager.SecretVersion
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: FirehoseAccessKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:metricstream:FirehoseAccessKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # letters and digits only: a header value needs no escaping
        self.password = random.RandomPassword(f"{name}-value", length=KEY_LENGTH, special=False, opts=child)
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            # a prefix, not a name: a deleted secret keeps its name for the recovery window
            name_prefix=f"{args.prefix}-firehose-access-key-",
            description="X-Amz-Firehose-Access-Key of the metric stream's Firehose (POST /firehose/cloudwatch)",
            recovery_window_in_days=7,
            opts=child,
        )
        self.version = aws.secretsmanager.SecretVersion(
            f"{name}-version",
            secret_id=self.secret.id,
            secret_string=pulumi.Output.secret(self.password.result.apply(lambda key: json.dumps({"api_key": key}))),
            opts=child,
        )
        self.arn = self.secret.arn
        self.register_outputs({"secretArn": self.secret.arn})


@dataclass
class MetricStreamArgs:
    prefix: str
    namespaces: list[str]
    """CloudWatch namespaces streamed (``AWS/EC2``...): one include filter each."""
    api_url: pulumi.Input[str]
    """The API stage's invoke URL; Firehose delivers to `FIREHOSE_PATH` under it."""
    access_key: FirehoseAccessKey
    log_retention_days: int
    buffering_interval_s: int = 60
    """Firehose sends what it has at least this often (60-900 s): a minute, like the metrics' own period."""
    buffering_size_mib: int = 1
    """...or once it holds this much (1-64 MiB); `iops.logic.firehose.MAX_BODY_BYTES` allows for base64 of it."""
    retry_duration_s: int = 300
    """How long Firehose retries a failed delivery before it goes to the backup bucket."""
    backup_days: int = 14
    """Failed deliveries are kept this long in the backup bucket."""


class MetricStream(pulumi.ComponentResource):
    """The metric stream, its Firehose stream, the backup bucket, the error log, the two roles."""

    bucket: aws.s3.Bucket
    log_group: aws.cloudwatch.LogGroup
    log_stream: aws.cloudwatch.LogStream
    firehose_role: aws.iam.Role
    firehose_policy: aws.iam.RolePolicy
    delivery_stream: aws.kinesis.FirehoseDeliveryStream
    stream_role: aws.iam.Role
    stream_policy: aws.iam.RolePolicy
    metric_stream: aws.cloudwatch.MetricStream

    def __init__(self, name: str, args: MetricStreamArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:metricstream:MetricStream", name, None, opts)
        if not args.namespaces or len(set(args.namespaces)) != len(args.namespaces):
            raise ValueError(f"metricStreamNamespaces must name distinct namespaces, got {args.namespaces}")
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output().account_id
        stream_name = f"{args.prefix}-metric-stream"

        # Failed deliveries only: encrypted, private, TLS only (the code bucket's recipe), expiring.
        self.bucket = private_bucket(f"{name}-backup", f"{args.prefix}-metric-stream-backup-", self, versioned=False)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-backup-lifecycle",
            bucket=self.bucket.id,
            rules=[
                {
                    "id": f"expire-after-{args.backup_days}-days",
                    "status": "Enabled",
                    "filter": {},
                    "expiration": {"days": args.backup_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            opts=child,
        )
        # Firehose writes a line here for each delivery it could not make (status, the endpoint's answer).
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/kinesisfirehose/{stream_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.log_stream = aws.cloudwatch.LogStream(
            f"{name}-log-stream", name="DestinationDelivery", log_group_name=self.log_group.name, opts=child
        )

        self.firehose_role = aws.iam.Role(
            f"{name}-firehose-role",
            assume_role_policy=account.apply(
                lambda a: assume_role_policy(FIREHOSE_PRINCIPAL, {"StringEquals": {"sts:ExternalId": a}})
            ),
            opts=child,
        )
        self.firehose_policy = aws.iam.RolePolicy(
            f"{name}-firehose-policy",
            role=self.firehose_role.id,
            policy=pulumi.Output.all(
                self.bucket.arn, args.access_key.arn, self.log_group.arn, self.log_stream.name
            ).apply(
                lambda a: _policy(
                    {"Effect": "Allow", "Action": list(BACKUP_S3_ACTIONS), "Resource": [a[0], f"{a[0]}/*"]},
                    {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": a[1]},
                    {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": f"{a[2]}:log-stream:{a[3]}"},
                )
            ),
            opts=child,
        )
        self.delivery_stream = aws.kinesis.FirehoseDeliveryStream(
            f"{name}-firehose",
            name=stream_name,
            destination="http_endpoint",
            server_side_encryption={"enabled": True, "key_type": "AWS_OWNED_CMK"},
            http_endpoint_configuration={
                "url": pulumi.Output.from_input(args.api_url).apply(lambda url: f"{url.rstrip('/')}{FIREHOSE_PATH}"),
                "name": f"{args.prefix}-api",
                "role_arn": self.firehose_role.arn,
                "secrets_manager_configuration": {
                    "enabled": True,
                    "secret_arn": args.access_key.arn,
                    "role_arn": self.firehose_role.arn,
                },
                "buffering_interval": args.buffering_interval_s,
                "buffering_size": args.buffering_size_mib,
                "retry_duration": args.retry_duration_s,
                # API Gateway hands application/json to the Lambda as text: a gzip body would not survive it
                "request_configuration": {"content_encoding": "NONE"},
                "s3_backup_mode": "FailedDataOnly",
                "s3_configuration": {
                    "role_arn": self.firehose_role.arn,
                    "bucket_arn": self.bucket.arn,
                    "prefix": "failed/",
                    "compression_format": "GZIP",
                },
                "cloudwatch_logging_options": {
                    "enabled": True,
                    "log_group_name": self.log_group.name,
                    "log_stream_name": self.log_stream.name,
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.firehose_policy, args.access_key.version]),
        )

        self.stream_role = aws.iam.Role(
            f"{name}-stream-role",
            assume_role_policy=account.apply(
                lambda a: assume_role_policy(STREAM_PRINCIPAL, {"StringEquals": {"aws:SourceAccount": a}})
            ),
            opts=child,
        )
        self.stream_policy = aws.iam.RolePolicy(
            f"{name}-stream-policy",
            role=self.stream_role.id,
            policy=self.delivery_stream.arn.apply(
                lambda arn: _policy({"Effect": "Allow", "Action": list(STREAM_ACTIONS), "Resource": arn})
            ),
            opts=child,
        )
        self.metric_stream = aws.cloudwatch.MetricStream(
            f"{name}-stream",
            name=stream_name,
            output_format="json",
            include_filters=[{"namespace": ns} for ns in args.namespaces],
            firehose_arn=self.delivery_stream.arn,
            role_arn=self.stream_role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.stream_policy]),
        )
        self.register_outputs(
            {
                "metricStream": self.metric_stream.name,
                "deliveryStream": self.delivery_stream.name,
                "backupBucket": self.bucket.bucket,
            }
        )
