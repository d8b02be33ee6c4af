"""AWS WAF in front of the API stage (REGIONAL) and the dashboard's CloudFront (CLOUDFRONT).

Each web ACL allows by default and runs AWS's managed rule groups (common exploits, known bad
inputs, IP reputation) and one rate-based rule that blocks an IP sending more than
``rate_limit`` requests in 5 minutes. A CLOUDFRONT ACL must live in us-east-1, whatever the
stack's region: the component then makes its own us-east-1 provider.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)
COUNT_ONLY = {"AWSManagedRulesCommonRuleSet": ["SizeRestrictions_BODY"]}
"""Managed rules that only count: the common set blocks bodies over 8 KB, and a POST /metrics batch
(up to maxMetricsPerRequest metrics) is larger; the ingest function bounds the body itself."""
RATE_WINDOW_S = 300
SCOPES = ("REGIONAL", "CLOUDFRONT")
CLOUDFRONT_REGION = "us-east-1"


def _visibility(metric: str) -> dict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


def rules(prefix: str, rate_limit: int) -> list[dict]:
    """The managed rule groups (their own actions), then the per-IP rate rule (block)."""
    managed = [
        {
            "name": group,
            "priority": i,
            "override_action": {"none": {}},
            "statement": {
                "managed_rule_group_statement": {
                    "vendor_name": "AWS",
                    "name": group,
                    "rule_action_overrides": [
                        {"name": rule, "action_to_use": {"count": {}}} for rule in COUNT_ONLY.get(group, [])
                    ]
                    or None,
                }
            },
            "visibility_config": _visibility(f"{prefix}-{group}"),
        }
        for i, group in enumerate(MANAGED_RULE_GROUPS)
    ]
    rate = {
        "name": "rate-per-ip",
        "priority": len(managed),
        "action": {"block": {}},
        "statement": {
            "rate_based_statement": {
                "limit": rate_limit,
                "aggregate_key_type": "IP",
                "evaluation_window_sec": RATE_WINDOW_S,
            }
        },
        "visibility_config": _visibility(f"{prefix}-rate-per-ip"),
    }
    return [*managed, rate]


@dataclass
class WafArgs:
    prefix: str
    """Names the ACL and its CloudWatch metrics."""
    scope: str
    """REGIONAL (API Gateway) or CLOUDFRONT (created in us-east-1)."""
    rate_limit: int
    """Requests one IP may make in 5 minutes."""


class WebAcl(pulumi.ComponentResource):
    """One WAFv2 web ACL; the API associates it with its stage, the site sets it on its distribution."""

    acl: aws.wafv2.WebAcl
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: WafArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:waf:WebAcl", name, None, opts)
        if args.scope not in SCOPES:
            raise ValueError(f"WAF scope must be one of {SCOPES}, got {args.scope!r}")
        if args.rate_limit < 10:
            raise ValueError(f"wafRateLimit must be at least 10 (AWS's minimum), got {args.rate_limit}")
        acl_opts = pulumi.ResourceOptions(parent=self)
        if args.scope == "CLOUDFRONT":
            provider = aws.Provider(f"{name}-{CLOUDFRONT_REGION}", region=CLOUDFRONT_REGION, opts=acl_opts)
            acl_opts = pulumi.ResourceOptions(parent=self, provider=provider)
        self.acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            name=f"{args.prefix}-{args.scope.lower()}",
            description=f"{args.prefix}: AWS managed rules and {args.rate_limit} requests per IP per 5 minutes",
            scope=args.scope,
            default_action={"allow": {}},
            rules=rules(args.prefix, args.rate_limit),
            visibility_config=_visibility(f"{args.prefix}-{args.scope.lower()}"),
            opts=acl_opts,
        )
        self.arn = self.acl.arn
        self.register_outputs({"arn": self.acl.arn})
