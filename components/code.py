"""Where Lambda code packages live: a private, encrypted bucket the functions load from.

The AI package is over Lambda's 50 MB limit for direct (zip) uploads, so every function
takes its code from S3; the object key carries the package's content hash, so an unchanged
package is neither re-uploaded nor redeployed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class LambdaCode:
    bucket: pulumi.Input[str]
    key: pulumi.Input[str]


def tls_only_statement(arn: str) -> dict:
    """Refuse any request to the bucket that is not made over TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def tls_only_policy(bucket_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """A bucket policy that refuses any request not made over TLS."""
    return pulumi.Output.from_input(bucket_arn).apply(
        lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [tls_only_statement(arn)]})
    )


def private_bucket(
    name: str, bucket_prefix: str, parent: pulumi.Resource, versioned: bool = True, tls_policy: bool = True
) -> aws.s3.Bucket:
    """An S3 bucket (globally unique name from the prefix) with public access blocked, SSE, versioning, TLS only."""
    opts = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(name, bucket_prefix=bucket_prefix, force_destroy=True, opts=opts)
    aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": True}],
        opts=opts,
    )
    if versioned:
        aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=opts
        )
    if tls_policy:  # a bucket has one policy: callers adding statements write their own, with tls_only_statement
        aws.s3.BucketPolicy(f"{name}-tls-only", bucket=bucket.id, policy=tls_only_policy(bucket.arn), opts=opts)
    return bucket


@dataclass
class CodeBucketArgs:
    bucket_prefix: str
    packages: Sequence[Path] = field(default_factory=list)
    """Built package directories (`components.artifacts.build`: named ``<kind>-<hash>``), one zip each."""


class CodeBucket(pulumi.ComponentResource):
    """The stack's Lambda code packages, one object per package content hash."""

    bucket: aws.s3.Bucket
    packages: dict[str, LambdaCode]
    """Package kind (``api``, ``ai``) -> where its zip is, for `FunctionArgs.code`."""

    def __init__(self, name: str, args: CodeBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:code:CodeBucket", name, None, opts)
        self.bucket = private_bucket(f"{name}-bucket", args.bucket_prefix, self, versioned=False)
        self.packages = {}
        for package_dir in args.packages:
            kind = package_dir.name.split("-")[0]
            if kind in self.packages:
                raise ValueError(f"two {kind} packages: {[str(p) for p in args.packages]}")
            obj = aws.s3.BucketObjectv2(
                f"{name}-{kind}",
                bucket=self.bucket.id,
                key=f"lambda/{package_dir.name}.zip",
                source=pulumi.FileArchive(str(package_dir)),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.packages[kind] = LambdaCode(bucket=obj.bucket, key=obj.key)
        self.register_outputs({"bucket": self.bucket.bucket})
