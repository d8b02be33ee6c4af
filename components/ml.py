"""ML training tier: the bucket for training data and model artifacts, the SageMaker execution role,
and optionally an endpoint serving the LSTM (autoscaled, optionally only at business-hours size).

The AI Lambda does not need the endpoint: without it the sagemaker detector falls back to the
built-in LSTM. `invoke_statement` is the one IAM statement the AI Lambda needs to call it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.code import private_bucket
from components.iam import allow, assume_role_policy

DLC_ACCOUNT = "763104351884"
"""AWS Deep Learning Containers' ECR account (most commercial regions)."""
FRAMEWORK_TAG = "2.5-cpu-py311"
LIFECYCLE_DAYS = 90


@dataclass
class MlTrainingArgs:
    prefix: str
    """Physical name prefix, e.g. ``iops-dev``."""
    endpoint_enabled: bool = False
    model_data_url: str | None = None
    """``s3://.../model.tar.gz`` from ``iops train launch``; required when the endpoint is enabled."""
    image_uri: str | None = None
    """Serving image; default the AWS PyTorch CPU inference image of the stack's region."""
    instance_type: str = "ml.t2.medium"
    min_instances: int = 1
    max_instances: int = 3
    business_hours_only: bool = False
    """Cap the endpoint at ``min_instances`` outside business hours (weekdays 08:00-20:00)."""
    schedule_timezone: str = "UTC"
    target_invocations_per_instance: int = 100
    """Target of the scaling policy: invocations per instance per minute."""


def _ecr_repository_arn(image_uri: str) -> str:
    """``acct.dkr.ecr.region.amazonaws.com/repo:tag`` -> the repository's ARN (for scoped pulls)."""
    host, _, path = image_uri.partition("/")
    account, _, _, region, *_ = host.split(".")
    repo = path.split("@")[0].split(":")[0]
    return f"arn:aws:ecr:{region}:{account}:repository/{repo}"


class MlTrainingTier(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    endpoint_name: pulumi.Output[str] | None
    """None unless ``endpoint_enabled``."""
    invoke_statement: pulumi.Output[dict] | None
    """The AI function's grant to invoke the endpoint; None unless ``endpoint_enabled``."""

    def __init__(self, name: str, args: MlTrainingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:ml:MlTrainingTier", name, None, opts)
        if args.endpoint_enabled and not args.model_data_url:
            raise ValueError(
                "sagemakerEndpointEnabled needs sagemakerModelDataUrl: run `iops train launch`, then "
                "`iops train deploy --model-data s3://.../model.tar.gz`"
            )
        if not 1 <= args.min_instances <= args.max_instances:
            raise ValueError(
                f"need 1 <= min_instances <= max_instances, got {args.min_instances}..{args.max_instances}"
            )
        child = pulumi.ResourceOptions(parent=self)
        region = aws.get_region_output().region
        account = aws.get_caller_identity_output().account_id

        # Versioned, encrypted, public access blocked, TLS only: the same private bucket as the code bucket.
        self.bucket = private_bucket(f"{name}-bucket", f"{args.prefix}-ml-", self, versioned=True)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[
                {
                    "id": "expire-after-90-days",
                    "status": "Enabled",
                    "filter": {},
                    "expiration": {"days": LIFECYCLE_DAYS},
                    "noncurrent_version_expiration": {"noncurrent_days": LIFECYCLE_DAYS},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                }
            ],
            opts=child,
        )

        self.role = aws.iam.Role(
            f"{name}-sagemaker-role",
            name=f"{args.prefix}-sagemaker",
            assume_role_policy=assume_role_policy("sagemaker.amazonaws.com"),
            opts=child,
        )
        image = (
            pulumi.Output.from_input(args.image_uri)
            if args.image_uri
            else region.apply(lambda r: f"{DLC_ACCOUNT}.dkr.ecr.{r}.amazonaws.com/pytorch-inference:{FRAMEWORK_TAG}")
        )
        aws.iam.RolePolicy(
            f"{name}-sagemaker-policy",
            role=self.role.id,
            policy=pulumi.Output.all(self.bucket.arn, region, account, image).apply(
                lambda a: json.dumps(self._role_policy(*a))
            ),
            opts=child,
        )
        self.bucket_name = self.bucket.bucket
        self.role_arn = self.role.arn
        self.endpoint_name = None
        self.invoke_statement = None
        if args.endpoint_enabled:
            self._endpoint(name, args, image)
        self.register_outputs(
            {"bucketName": self.bucket_name, "roleArn": self.role_arn, "endpointName": self.endpoint_name}
        )

    @staticmethod
    def _role_policy(bucket_arn: str, region: str, account: str, image: str) -> dict:
        """Least privilege for training jobs and the endpoint: this bucket, its logs, its images."""
        repos = sorted(
            {
                f"arn:aws:ecr:{region}:{DLC_ACCOUNT}:repository/pytorch-training",
                f"arn:aws:ecr:{region}:{DLC_ACCOUNT}:repository/pytorch-inference",
                _ecr_repository_arn(image),
            }
        )
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "ListBucket", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn},
                {
                    "Sid": "ReadWriteObjects",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": f"{bucket_arn}/*",
                },
                {
                    "Sid": "Logs",
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    "Resource": f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/*",
                },
                {
                    "Sid": "Metrics",
                    "Effect": "Allow",
                    "Action": ["cloudwatch:PutMetricData"],
                    "Resource": "*",  # PutMetricData has no resource-level permissions; scoped by namespace
                    "Condition": {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
                },
                {
                    "Sid": "EcrToken",
                    "Effect": "Allow",
                    "Action": ["ecr:GetAuthorizationToken"],
                    "Resource": "*",  # GetAuthorizationToken has no resource-level permissions
                },
                {
                    "Sid": "PullImages",
                    "Effect": "Allow",
                    "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    "Resource": repos,
                },
            ],
        }

    def _endpoint(
        self,
        name: str,
        args: MlTrainingArgs,
        image: pulumi.Output[str],
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        model = aws.sagemaker.Model(
            f"{name}-model",
            execution_role_arn=self.role.arn,
            primary_container={
                "image": image,
                "model_data_url": args.model_data_url,
                "environment": {"SAGEMAKER_PROGRAM": "inference.py"},
            },
            opts=child,
        )
        config = aws.sagemaker.EndpointConfiguration(
            f"{name}-endpoint-config",
            production_variants=[
                {
                    "variant_name": "AllTraffic",
                    "model_name": model.name,
                    "initial_instance_count": args.min_instances,
                    "instance_type": args.instance_type,
                }
            ],
            opts=child,
        )
        self.endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=f"{args.prefix}-lstm",
            endpoint_config_name=config.name,
            opts=child,
        )
        self.endpoint_name = self.endpoint.name
        resource_id = self.endpoint.name.apply(lambda n: f"endpoint/{n}/variant/AllTraffic")
        target = aws.appautoscaling.Target(
            f"{name}-scaling-target",
            service_namespace="sagemaker",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            resource_id=resource_id,
            min_capacity=args.min_instances,
            max_capacity=args.max_instances,
            opts=child,
        )
        aws.appautoscaling.Policy(
            f"{name}-scaling-policy",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration={
                "target_value": float(args.target_invocations_per_instance),
                "predefined_metric_specification": {"predefined_metric_type": "SageMakerVariantInvocationsPerInstance"},
                "scale_in_cooldown": 300,
                "scale_out_cooldown": 60,
            },
            opts=child,
        )
        if args.business_hours_only:
            for label, cron, max_capacity in (
                ("business-hours", "cron(0 8 ? * MON-FRI *)", args.max_instances),
                ("night", "cron(0 20 ? * MON-FRI *)", args.min_instances),
            ):
                aws.appautoscaling.ScheduledAction(
                    f"{name}-{label}",
                    name=f"{args.prefix}-lstm-{label}",
                    service_namespace=target.service_namespace,
                    scalable_dimension=target.scalable_dimension,
                    resource_id=target.resource_id,
                    schedule=cron,
                    timezone=args.schedule_timezone,
                    scalable_target_action={"min_capacity": args.min_instances, "max_capacity": max_capacity},
                    opts=child,
                )
        self.invoke_statement = allow(["sagemaker:InvokeEndpoint"], self.endpoint.arn)
