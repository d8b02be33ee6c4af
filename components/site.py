"""Dashboard site tier: the built web app in a private bucket, served by CloudFront (OAC, HTTPS).

The distribution does not depend on the API, so it is created first: the API's CORS origins
and the AI Lambda's alert links can then name the dashboard URL. The generated ``config.json``
carries the API URL and the user pool the dashboard signs in to (docs/signin.md), which exist
only after the API: it is its own component, `DashboardConfig`, built once the API is.

TLS: the distribution serves ``*.cloudfront.net`` with CloudFront's default certificate, whose
minimum protocol CloudFront does not let anyone set (docs/security.md); a custom domain's ACM
certificate would take ``minimum_protocol_version="TLSv1.2_2021"`` (the policy pack's
``cloudfront-tls`` rule requires TLS 1.2 or later wherever it can be set).
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.auth import DASHBOARD_FLOW
from components.code import private_bucket, tls_only_statement

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # AWS managed cache policy
SPA_REWRITE = """function handler(event) {
  var request = event.request;
  var last = request.uri.split('/').pop();
  if (last.indexOf('.') === -1) { request.uri = '/index.html'; }
  return request;
}
"""
"""Client routes (/insights/abc, /hosts/web-01) get the app's index.html; files are served as they are."""


def cache_control(key: str) -> str:
    """Hashed build assets are immutable; the entry page and config must revalidate."""
    return "public, max-age=31536000, immutable" if key.startswith("assets/") else "no-cache"


def content_security_policy(*urls: str) -> str:
    """Scripts, styles and images from the site only; fetches to the site and ``urls``' origins (API, Cognito)."""
    origins = " ".join("/".join(u.split("/")[:3]) if "://" in u else u for u in urls)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"connect-src 'self' {origins}; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
    )


@dataclass
class SiteArgs:
    prefix: str
    dist_dir: Path
    api_origin: pulumi.Input[str]
    """Where the app's fetches go (for the Content-Security-Policy connect-src)."""
    sign_in_origin: pulumi.Input[str]
    """Where the app signs in (Cognito's endpoint, ``https://cognito-idp.<region>.amazonaws.com``): connect-src too."""
    price_class: str = "PriceClass_100"
    web_acl_arn: pulumi.Input[str] | None = None
    """A CLOUDFRONT-scope WAF web ACL (us-east-1) in front of the distribution (none: no WAF)."""


class DashboardSiteTier(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    distribution: aws.cloudfront.Distribution
    files: list[aws.s3.BucketObjectv2]
    """The built app (none if ``dashboard/dist`` has no build); ``config.json`` is `DashboardConfig`'s."""
    url: pulumi.Output[str]
    """``https://<distribution>.cloudfront.net``."""

    def __init__(self, name: str, args: SiteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:site:DashboardSiteTier", name, None, opts)
        self._name = name
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = private_bucket(
            f"{name}-bucket", f"{args.prefix}-dashboard-", self, versioned=False, tls_policy=False
        )
        self.oac = aws.cloudfront.OriginAccessControl(
            f"{name}-oac",
            name=f"{args.prefix}-dashboard",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )
        self.headers = aws.cloudfront.ResponseHeadersPolicy(
            f"{name}-security-headers",
            name=f"{args.prefix}-dashboard-security",
            security_headers_config={
                "strict_transport_security": {
                    "access_control_max_age_sec": 63_072_000,
                    "include_subdomains": True,
                    "preload": True,
                    "override": True,
                },
                "content_type_options": {"override": True},
                "frame_options": {"frame_option": "DENY", "override": True},
                "referrer_policy": {"referrer_policy": "strict-origin-when-cross-origin", "override": True},
                "content_security_policy": {
                    "content_security_policy": pulumi.Output.all(args.api_origin, args.sign_in_origin).apply(
                        lambda urls: content_security_policy(*urls)
                    ),
                    "override": True,
                },
            },
            opts=child,
        )
        self.spa_routing = aws.cloudfront.Function(
            f"{name}-spa-routing",
            name=f"{args.prefix}-dashboard-spa",
            runtime="cloudfront-js-2.0",
            comment="client routes -> /index.html",
            code=SPA_REWRITE,
            publish=True,
            opts=child,
        )
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            comment=f"{args.prefix} dashboard",
            default_root_object="index.html",
            price_class=args.price_class,
            http_version="http2and3",
            origins=[
                {
                    "domain_name": self.bucket.bucket_regional_domain_name,
                    "origin_id": "dashboard-bucket",
                    "origin_access_control_id": self.oac.id,
                }
            ],
            default_cache_behavior={
                "target_origin_id": "dashboard-bucket",
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD"],
                "cached_methods": ["GET", "HEAD"],
                "compress": True,
                "cache_policy_id": CACHING_OPTIMIZED,
                "response_headers_policy_id": self.headers.id,
                "function_associations": [{"event_type": "viewer-request", "function_arn": self.spa_routing.arn}],
            },
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate={"cloudfront_default_certificate": True},
            web_acl_id=args.web_acl_arn,
            opts=child,
        )
        self.bucket_policy = aws.s3.BucketPolicy(
            f"{name}-bucket-policy",
            bucket=self.bucket.id,
            policy=pulumi.Output.all(self.bucket.arn, self.distribution.arn).apply(
                lambda a: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            tls_only_statement(a[0]),
                            {
                                "Sid": "OnlyThisDistributionReads",
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudfront.amazonaws.com"},
                                "Action": "s3:GetObject",
                                "Resource": f"{a[0]}/*",
                                "Condition": {"StringEquals": {"AWS:SourceArn": a[1]}},
                            },
                        ],
                    }
                )
            ),
            opts=child,
        )
        self.files = self._upload(args.dist_dir)
        self.url = pulumi.Output.concat("https://", self.distribution.domain_name)
        self.register_outputs({"url": self.url, "bucket": self.bucket.bucket})

    def _upload(self, dist: Path) -> list[aws.s3.BucketObjectv2]:
        if not (dist / "index.html").is_file():
            pulumi.log.warn(f"{dist} has no build: run `make dashboard` before `pulumi up` to publish the web app")
            return []
        objects = []
        for path in sorted(p for p in dist.rglob("*") if p.is_file()):
            key = path.relative_to(dist).as_posix()
            if key == "config.json":
                continue  # generated from the stack: DashboardConfig
            objects.append(
                aws.s3.BucketObjectv2(
                    f"{self._name}-file-{key.replace('/', '-')}",
                    bucket=self.bucket.id,
                    key=key,
                    source=pulumi.FileAsset(str(path)),
                    content_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                    cache_control=cache_control(key),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        return objects


@dataclass
class DashboardConfigArgs:
    site: DashboardSiteTier
    api_url: pulumi.Input[str]
    """What the app calls: the API stage's URL."""
    region: pulumi.Input[str]
    user_pool_id: pulumi.Input[str]
    client_id: pulumi.Input[str]
    """The user pool and app client readers sign in with (`components.auth.UserPool`)."""


def config_json(api_url: str, region: str, user_pool_id: str, client_id: str) -> str:
    """What the app reads at start: the API and how to sign in (``endpoint`` null: Cognito's own)."""
    auth = {
        "region": region,
        "userPoolId": user_pool_id,
        "clientId": client_id,
        "endpoint": None,
        "flow": DASHBOARD_FLOW,
    }
    return json.dumps({"apiUrl": api_url, "auth": auth})


class DashboardConfig(pulumi.ComponentResource):
    """The app's ``config.json`` in the site's bucket (the app reads the API URL and its user pool from it)."""

    object: aws.s3.BucketObjectv2

    def __init__(self, name: str, args: DashboardConfigArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:site:DashboardConfig", name, None, opts)
        self.object = aws.s3.BucketObjectv2(
            f"{name}-json",
            bucket=args.site.bucket.id,
            key="config.json",
            content=pulumi.Output.all(args.api_url, args.region, args.user_pool_id, args.client_id).apply(
                lambda a: config_json(*a)
            ),
            content_type="application/json",
            cache_control="no-cache",
            # It was the site tier's own child: the alias keeps the object on stacks deployed before.
            opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=args.site)]),
        )
        self.register_outputs({"key": self.object.key})
