"""The policy pack: every rule over the whole mocked graph of each stack, and every rule biting.

The graph is what `pulumi up` would register (``tests/infra/harness.py``); each rule must find
nothing there, and each must flag a resource built to break it. The pack itself is started as
the Pulumi CLI starts it (a gRPC analyzer) and asked to judge a bad resource.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from components.function import XRAY_STATEMENT
from handlers.definitions import ROUTES
from policy import pack, rules
from tests.infra.harness import ROOT, Graph, run_program

STACKS = ("dev", "prod")


@cache
def graph(stack: str) -> Graph:
    return run_program(stack)


def as_resources(g: Graph) -> list[rules.Res]:
    """The mocked graph as the rules see a stack: outputs (with the mock's ids) linked by value."""
    return rules.link_by_value([rules.Res(r.type, r.name, {**r.outputs, "id": f"{r.name}-id"}) for r in g.resources])


@pytest.mark.parametrize("stack", STACKS)
def test_every_rule_passes_on_the_whole_stack(stack: str) -> None:
    g = graph(stack)
    assert {(rule, key) for rule, key, _ in rules.violations(as_resources(g))} == set()
    counts = g.counts()
    # The rules are not vacuous: the graph holds what they judge.
    for kind in (rules.TABLE, rules.QUEUE, rules.LOG_GROUP, rules.REST_METHOD, rules.EVENT_SOURCE_MAPPING):
        assert counts.get(kind), f"{stack} stack has no {kind}"
    assert any(counts.get(b) for b in rules.BUCKETS)
    assert counts.get("aws:iam/rolePolicy:RolePolicy", 0) >= 4


def test_prod_config_is_a_different_stack() -> None:
    """The prod-like config really changes the graph (else the second run proves nothing)."""
    dev = {r.name: r.inputs for r in graph("dev").resources}
    prod = {r.name: r.inputs for r in graph("prod").resources}
    assert dev != prod


def allow(action: object, resource: object, **extra: object) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}]}
    )


TABLE_OK = {"serverSideEncryption": {"enabled": True}, "pointInTimeRecovery": {"enabled": True}}
TLS_DENY = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t"
ACM_CERT = {"acmCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/c", "sslSupportMethod": "sni-only"}
CDN_OK = {
    "defaultCacheBehavior": {"viewerProtocolPolicy": "redirect-to-https"},
    "viewerCertificate": {"cloudfrontDefaultCertificate": True},
}

BAD = [
    ("iam-no-wildcards", "aws:iam/rolePolicy:RolePolicy", {"policy": allow("*", ARN)}),
    ("iam-no-wildcards", "aws:iam/rolePolicy:RolePolicy", {"policy": allow("dynamodb:*", ARN)}),
    ("iam-no-wildcards", "aws:iam/rolePolicy:RolePolicy", {"policy": allow(["dynamodb:PutItem"], "*")}),
    (
        "iam-no-wildcards",
        "aws:iam/rolePolicy:RolePolicy",
        {"policy": allow([*XRAY_STATEMENT["Action"], "s3:GetObject"], "*")},
    ),
    (
        "iam-no-wildcards",
        "aws:iam/policy:Policy",
        {"policy": {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": ARN}]}},
    ),
    (
        "iam-no-wildcards",
        "aws:sns/topicPolicy:TopicPolicy",
        {"policy": allow("sns:Publish", "arn:aws:sns:us-east-1:1:t", Principal="*")},
    ),
    (
        "iam-no-wildcards",
        "aws:iam/role:Role",
        {"inlinePolicies": [{"name": "x", "policy": allow("s3:*", "arn:aws:s3:::b")}]},
    ),
    (
        "iam-no-wildcards",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    ),
    (
        "iam-no-wildcards",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        {"policyArn": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"},
    ),
    (
        "iam-no-wildcards",
        "aws:kms/key:Key",
        {"policy": allow("kms:*", "*", Principal={"Service": "events.amazonaws.com"})},
    ),
    ("encryption-at-rest", rules.TABLE, {"pointInTimeRecovery": {"enabled": True}}),
    ("encryption-at-rest", rules.TABLE, {**TABLE_OK, "serverSideEncryption": {"enabled": False}}),
    ("encryption-at-rest", rules.TOPIC, {"name": "alerts"}),
    ("encryption-at-rest", rules.QUEUE, {"name": "dlq"}),
    ("encryption-at-rest", rules.QUEUE, {"sqsManagedSseEnabled": False}),
    ("encryption-at-rest", rules.KINESIS, {"shardCount": 1}),
    ("encryption-at-rest", rules.KINESIS, {"encryptionType": "NONE", "kmsKeyId": "alias/aws/kinesis"}),
    ("encryption-at-rest", rules.FIREHOSE, {"destination": "extended_s3"}),
    ("s3-no-public-access", rules.BUCKET_PAB, {f: True for f in rules.PAB_FLAGS} | {"restrictPublicBuckets": False}),
    ("s3-no-public-access", "aws:s3/bucketAclV2:BucketAclV2", {"acl": "public-read"}),
    ("s3-no-public-access", "aws:s3/bucket:Bucket", {"acl": "public-read-write"}),
    ("log-retention", rules.LOG_GROUP, {"name": "/aws/lambda/x"}),
    ("log-retention", rules.LOG_GROUP, {"name": "/aws/lambda/x", "retentionInDays": 0}),
    ("dynamodb-pitr", rules.TABLE, {"serverSideEncryption": {"enabled": True}}),
    ("lambda-reserved-concurrency", rules.FUNCTION, {"name": "f", "memorySize": 128}),
    ("lambda-reserved-concurrency", rules.FUNCTION, {"name": "f", "reservedConcurrentExecutions": -1}),
    ("usage-plan-quota", rules.USAGE_PLAN, {"throttleSettings": {"rateLimit": 10, "burstLimit": 20}}),
    ("usage-plan-quota", rules.USAGE_PLAN, {"quotaSettings": {"limit": 1000}}),
    ("usage-plan-quota", rules.USAGE_PLAN, {"quotaSettings": {"limit": 0, "period": "DAY"}}),
    (
        "cloudfront-tls",
        rules.DISTRIBUTION,
        {**CDN_OK, "viewerCertificate": {**ACM_CERT, "minimumProtocolVersion": "TLSv1"}},
    ),
    (
        "cloudfront-tls",
        rules.DISTRIBUTION,
        {**CDN_OK, "viewerCertificate": {**ACM_CERT, "minimumProtocolVersion": "TLSv1.1_2016"}},
    ),
    ("cloudfront-tls", rules.DISTRIBUTION, {**CDN_OK, "viewerCertificate": ACM_CERT}),
    ("cloudfront-tls", rules.DISTRIBUTION, {**CDN_OK, "defaultCacheBehavior": {"viewerProtocolPolicy": "allow-all"}}),
    (
        "kms-service-principal-condition",
        "aws:kms/key:Key",
        {"policy": allow(["kms:Decrypt"], "*", Principal={"Service": "events.amazonaws.com"})},
    ),
    (
        "kms-service-principal-condition",
        "aws:kms/keyPolicy:KeyPolicy",
        {
            "policy": allow(
                ["kms:Decrypt"],
                "*",
                Principal={"Service": ["sns.amazonaws.com"]},
                Condition={"StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}},
            )
        },
    ),
    (
        "async-failure-destination",
        rules.EVENT_SOURCE_MAPPING,
        {"eventSourceArn": f"{ARN}/stream/2026-01-01T00:00:00.000", "functionName": "f"},
    ),
    (
        "async-failure-destination",
        rules.EVENT_SOURCE_MAPPING,
        {"eventSourceArn": "arn:aws:kinesis:us-east-1:1:stream/s", "destinationConfig": {"onFailure": {}}},
    ),
    ("async-failure-destination", rules.EVENT_TARGET, {"arn": "arn:aws:sns:us-east-1:1:alerts", "rule": "r"}),
    (
        "s3-tls-only-policy",
        rules.BUCKET_POLICY,
        {"policy": json.dumps({"Statement": [{**TLS_DENY, "Effect": "Allow"}]})},
    ),
    (
        "s3-tls-only-policy",
        rules.BUCKET_POLICY,
        {"policy": json.dumps({"Statement": [{**TLS_DENY, "Resource": "arn:aws:s3:::b"}]})},
    ),
    ("s3-tls-only-policy", rules.BUCKET_POLICY, {"policy": json.dumps({"Statement": [{**TLS_DENY, "Condition": {}}]})}),
]

GOOD = [
    ("iam-no-wildcards", "aws:iam/rolePolicy:RolePolicy", {"policy": json.dumps({"Statement": [XRAY_STATEMENT]})}),
    ("iam-no-wildcards", "aws:iam/rolePolicy:RolePolicy", {"policy": allow("dynamodb:Query", [ARN, f"{ARN}/index/*"])}),
    (
        "iam-no-wildcards",
        "aws:kms/key:Key",
        {"policy": allow("kms:*", "*", Principal={"AWS": "arn:aws:iam::123456789012:root"})},
    ),
    (
        "iam-no-wildcards",
        "aws:kms/key:Key",
        {"policy": allow(["kms:Decrypt", "kms:GenerateDataKey*"], "*", Principal={"Service": "events.amazonaws.com"})},
    ),
    ("iam-no-wildcards", rules.BUCKET_POLICY, {"policy": json.dumps({"Statement": [TLS_DENY]})}),
    (
        "iam-no-wildcards",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        {"policyArn": "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"},
    ),
    ("encryption-at-rest", rules.TABLE, TABLE_OK),
    ("encryption-at-rest", rules.KINESIS, {"encryptionType": "KMS", "kmsKeyId": "alias/aws/kinesis"}),
    ("encryption-at-rest", rules.QUEUE, {"kmsMasterKeyId": "alias/aws/sqs"}),
    ("lambda-reserved-concurrency", rules.FUNCTION, {"name": "f", "reservedConcurrentExecutions": 5}),
    ("lambda-reserved-concurrency", rules.FUNCTION, {"name": "off", "reservedConcurrentExecutions": 0}),
    ("usage-plan-quota", rules.USAGE_PLAN, {"quotaSettings": {"limit": 1000, "period": "DAY"}}),
    # The default *.cloudfront.net certificate: CloudFront fixes its minimum protocol (docs/security.md).
    ("cloudfront-tls", rules.DISTRIBUTION, CDN_OK),
    (
        "cloudfront-tls",
        rules.DISTRIBUTION,
        {**CDN_OK, "viewerCertificate": {**ACM_CERT, "minimumProtocolVersion": "TLSv1.2_2021"}},
    ),
    (
        "kms-service-principal-condition",
        "aws:kms/key:Key",
        {
            "policy": allow(
                ["kms:Decrypt"],
                "*",
                Principal={"Service": "events.amazonaws.com"},
                Condition={"StringEquals": {"aws:SourceAccount": "123456789012"}},
            )
        },
    ),
    (
        "kms-service-principal-condition",
        "aws:kms/key:Key",
        {
            "policy": allow(
                ["kms:Decrypt"],
                "*",
                Principal={"Service": "sns.amazonaws.com"},
                Condition={"ArnLike": {"AWS:SourceArn": "arn:aws:sns:us-east-1:123456789012:t"}},
            )
        },
    ),
    (
        "kms-service-principal-condition",
        "aws:kms/key:Key",
        {"policy": allow("kms:*", "*", Principal={"AWS": "arn:aws:iam::123456789012:root"})},
    ),
    ("async-failure-destination", rules.EVENT_SOURCE_MAPPING, {"eventSourceArn": "arn:aws:sqs:us-east-1:1:q"}),
    ("s3-tls-only-policy", rules.BUCKET_POLICY, {"policy": json.dumps({"Statement": [TLS_DENY]})}),
]

RULES = {r.name: r for r in rules.RESOURCE_RULES}


@pytest.mark.parametrize(("rule", "type_", "props"), BAD, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(BAD)])
def test_resource_rule_catches_bad_resource(rule: str, type_: str, props: dict) -> None:
    assert RULES[rule].check(type_, props)


@pytest.mark.parametrize(("rule", "type_", "props"), GOOD, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(GOOD)])
def test_resource_rule_accepts_listed_exceptions_and_good_resources(rule: str, type_: str, props: dict) -> None:
    assert RULES[rule].check(type_, props) == []


def test_every_rule_has_a_bad_case() -> None:
    assert {r for r, _, _ in BAD} == set(RULES)


def _without(res: list[rules.Res], drop: str) -> list[rules.Res]:
    return [r for r in res if r.key != drop]


def _edit(res: list[rules.Res], key: str, **props: object) -> list[rules.Res]:
    return [rules.Res(r.type, r.key, {**r.props, **props}, r.refs) if r.key == key else r for r in res]


def _stack_cases() -> list[tuple[str, str, str]]:
    """(stack rule, how to break the dev graph, resource the rule must then name)."""
    return [
        ("s3-bucket-encryption", "drop:code-bucket-encryption", "code-bucket"),
        ("s3-bucket-public-access-block", "drop:code-bucket-public-access", "code-bucket"),
        ("s3-bucket-public-access-block", "edit:code-bucket-public-access:blockPublicPolicy", "code-bucket"),
        ("s3-bucket-tls-only", "drop:code-bucket-tls-only", "code-bucket"),
        ("lambda-log-retention", "drop:ingest-ingest-logs", "ingest-ingest-fn"),
        ("lambda-async-dlq", "add:events-permission", "ingest-ingest-fn"),
        ("sqs-source-redrive", "add:sqs-mapping", "ai-dlq"),
    ]


@pytest.mark.parametrize(("rule", "how", "culprit"), _stack_cases())
def test_stack_rule_catches_broken_graph(rule: str, how: str, culprit: str) -> None:
    res = as_resources(graph("dev"))
    check = {r.name: r for r in rules.STACK_RULES}[rule].check
    assert check(res) == []
    verb, _, arg = how.partition(":")
    if verb == "drop":
        res = _without(res, arg)
    elif verb == "edit":
        key, _, prop = arg.partition(":")
        res = _edit(res, key, **{prop: False})
    elif arg == "events-permission":
        fn = next(r for r in res if r.key == "ingest-ingest-fn")
        res = rules.link_by_value(
            [
                *res,
                rules.Res(rules.PERMISSION, "p", {"principal": "events.amazonaws.com", "function": fn.props["name"]}),
            ]
        )
    else:
        dlq = next(r for r in res if r.key == "ai-dlq")
        res = rules.link_by_value(
            [*res, rules.Res(rules.EVENT_SOURCE_MAPPING, "m", {"eventSourceArn": dlq.props["arn"]})]
        )
    assert [key for key, _ in check(res)] == [culprit]


def test_function_with_on_failure_destination_passes_async_rule() -> None:
    res = as_resources(graph("dev"))
    fn = next(r for r in res if r.key == "ingest-ingest-fn")
    extra = [
        rules.Res(rules.PERMISSION, "p", {"principal": "sns.amazonaws.com", "function": fn.props["arn"]}),
        rules.Res(
            rules.EVENT_INVOKE_CONFIG,
            "c",
            {"functionName": fn.props["name"], "destinationConfig": {"onFailure": {"destination": "arn:aws:sqs:x"}}},
        ),
    ]
    assert rules.check_async_lambda_failures(rules.link_by_value([*res, *extra])) == []


def _rule(name: str):
    return {r.name: r for r in rules.STACK_RULES}[name].check


def _relinked(res: list[rules.Res], key: str, **props: object) -> list[rules.Res]:
    """``_edit``, with the value links made again (an edited reference no longer links)."""
    return rules.link_by_value([rules.Res(r.type, r.key, r.props) for r in _edit(res, key, **props)])


def test_api_auth_allows_only_preflight_the_openapi_document_and_firehose_key_routes_without_auth() -> None:
    res = as_resources(graph("dev"))
    check = _rule("api-auth")
    assert check(res) == []
    public = {
        (r.props["httpMethod"], r.key)
        for r in res
        if r.type == rules.REST_METHOD and r.props["authorization"] == "NONE" and not r.props.get("apiKeyRequired")
    }
    assert {k for m, k in public if m != "OPTIONS"} == {
        "ingest-rest-get-openapi-json",
        "ingest-rest-post-firehose-cloudwatch",
    }
    # the Firehose exemption is the routes marked firehose_key, and only their method
    assert rules.FIREHOSE_KEY_METHODS == {(r.method, r.path) for r in ROUTES if r.firehose_key} != set()
    firehose = [
        rules.Res(rules.HTTP_ROUTE, "fh", {"routeKey": "POST /firehose/cloudwatch", "authorizationType": "NONE"}),
        rules.Res(rules.HTTP_ROUTE, "fh-get", {"routeKey": "GET /firehose/cloudwatch", "authorizationType": "NONE"}),
    ]
    assert [k for k, _ in check([*res, *firehose])] == ["fh-get"]
    # A read route opened, the writer's key dropped, an authorizer type without its authorizer: each reported.
    opened = _edit(res, "ingest-rest-get-insights", authorization="NONE", authorizerId=None)
    assert check(opened) == [("ingest-rest-get-insights", "GET /insights with authorization 'NONE' and no API key")]
    assert [k for k, _ in check(_edit(res, "ingest-rest-post-metrics", apiKeyRequired=False))] == [
        "ingest-rest-post-metrics"
    ]
    assert [k for k, _ in check(_edit(res, "ingest-rest-get-metrics", authorizerId=None))] == [
        "ingest-rest-get-metrics"
    ]
    extra = [
        rules.Res(rules.HTTP_ROUTE, "r", {"routeKey": "GET /insights", "authorizationType": "NONE"}),
        rules.Res(rules.HTTP_ROUTE, "ok", {"routeKey": "GET /openapi.json", "authorizationType": "NONE"}),
        rules.Res(rules.FUNCTION_URL, "u", {"authorizationType": "NONE"}),
    ]
    assert [k for k, _ in check([*res, *extra])] == ["r", "u"]


def test_cors_wildcard_is_refused_once_the_api_has_an_authorizer() -> None:
    res = as_resources(graph("dev"))
    check = _rule("cors-no-wildcard-with-auth")
    assert check(res) == []
    header = "gatewayresponse.header.Access-Control-Allow-Origin"
    unauthorized = next(r for r in res if r.key == "ingest-rest-unauthorized")
    star = _edit(res, unauthorized.key, responseParameters={**unauthorized.props["responseParameters"], header: "'*'"})
    assert [k for k, _ in check(star)] == ["ingest-rest-unauthorized"]
    fn = next(r for r in res if r.key == "ai-insights-api-fn")
    env = {"variables": {**fn.props["environment"]["variables"], rules.CORS_ENV: "https://a.example.com,*"}}
    assert [k for k, _ in check(_edit(res, fn.key, environment=env))] == ["ai-insights-api-fn"]
    # Without any authorizer the rule has nothing to protect.
    no_auth = [
        rules.Res(r.type, r.key, {**r.props, "authorization": "NONE"}, r.refs) if r.type == rules.REST_METHOD else r
        for r in _edit(res, fn.key, environment=env)
    ]
    assert check(no_auth) == []


def test_waf_coverage_bites_on_prod_and_is_silent_without_waf() -> None:
    res = as_resources(graph("prod"))
    check = _rule("waf-coverage")
    assert check(res) == []
    assert [k for k, _ in check(_without(res, "ingest-rest-waf"))] == ["ingest-rest-stage"]
    assert [k for k, _ in check(_relinked(res, "site-cdn", webAclId=None))] == ["site-cdn"]
    regional = next(r for r in res if r.type == rules.WEB_ACL and r.props["scope"] == "REGIONAL")
    cloudfront = next(r for r in res if r.type == rules.WEB_ACL and r.props["scope"] == "CLOUDFRONT")
    # the distribution given the regional ACL: the wrong scope is no cover
    assert [k for k, _ in check(_relinked(res, "site-cdn", webAclId=regional.props["arn"]))] == ["site-cdn"]
    assert check(_relinked(res, "site-cdn", webAclId=cloudfront.props["arn"])) == []
    assert check(as_resources(graph("dev"))) == []  # dev: wafEnabled false, no ACL, nothing to cover


def test_the_program_with_an_uncapped_function_fails_the_pack() -> None:
    g = run_program("dev", {"queryReservedConcurrency": -1})
    found = {(rule, key) for rule, key, _ in rules.violations(as_resources(g))}
    assert found == {("lambda-reserved-concurrency", "ingest-query-fn")}


def test_kms_rule_passes_the_stacks_keys_and_they_are_not_vacuous() -> None:
    keys = graph("prod").of_type(rules.KMS_KEY)
    services = [s for k in keys for s in k.json_input("policy")["Statement"] if "Service" in s.get("Principal", {})]
    assert keys and len(services) >= 3
    assert all(rules.check_kms_service_conditions(k.type, k.outputs) == [] for k in keys)


# --- The pack, as pulumi_policy runs it ------------------------------------------------------------

OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _policy_resources(g: Graph) -> list[PolicyResource]:
    """The graph as StackValidationArgs carries it (URNs; dependencies left to value links)."""
    return [
        PolicyResource(r.type, {**r.outputs, "id": f"{r.name}-id"}, f"urn:{r.name}", r.name, OPTS, None, None, [], {})
        for r in g.resources
    ]


def test_pack_policies_are_mandatory_and_clean_on_the_stack() -> None:
    """The same verdicts through pulumi_policy's own argument types as through `rules.violations`."""
    policies = pack.policies()
    assert {p.name for p in policies} == {r.name for r in rules.RESOURCE_RULES} | {r.name for r in rules.STACK_RULES}
    assert all(p.enforcement_level.value == "mandatory" for p in policies)
    found: set[tuple[str, str]] = set()
    g = graph("prod")
    for p in policies:
        if isinstance(p, ResourceValidationPolicy):
            for r in g.resources:
                args = ResourceValidationArgs(r.type, r.outputs, f"urn:{r.name}", r.name, OPTS, None)
                p.validate(args, lambda _message, _urn=None, p=p, r=r: found.add((p.name, r.name)))
        else:
            p.validate(
                StackValidationArgs(_policy_resources(g)),
                lambda _message, urn=None, p=p: found.add((p.name, str(urn).removeprefix("urn:"))),
            )
    assert found == set()


def test_pack_stack_policy_reports_the_urn() -> None:
    stack_policy = next(p for p in pack.policies() if p.name == "s3-bucket-tls-only")
    found: list[tuple[str, str | None]] = []
    resources = [r for r in _policy_resources(graph("dev")) if r.name != "code-bucket-tls-only"]
    stack_policy.validate(StackValidationArgs(resources), lambda m, urn=None: found.append((m, urn)))
    assert found == [("bucket without a TLS-only bucket policy", "urn:code-bucket")]


def test_pack_runs_as_the_cli_runs_it() -> None:
    """`python policy/__main__.py` serves the analyzer; a table without PITR is a mandatory violation."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "policy")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = int(proc.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert info.name == pack.PACK_NAME
            assert {p.name for p in info.policies} == {p.name for p in pack.policies()}
            props = struct_pb2.Struct()
            props.update({"name": "t", "serverSideEncryption": {"enabled": True}})
            resp = stub.Analyze(
                analyzer_pb2.AnalyzeRequest(type=rules.TABLE, properties=props, urn="urn:t", name="t"), timeout=30
            )
            # In preview a policy document built from an ARN is not known yet: the rule says so
            # (advisory) instead of passing or failing, and is enforced at `pulumi up`.
            unknown = struct_pb2.Struct()
            unknown.update({"role": "r", "policy": UNKNOWN_STRING_VALUE})
            preview = stub.Analyze(
                analyzer_pb2.AnalyzeRequest(
                    type="aws:iam/rolePolicy:RolePolicy", properties=unknown, urn="urn:p", name="p"
                ),
                timeout=30,
            )
        assert [(d.policyName, d.enforcementLevel) for d in resp.diagnostics] == [
            ("dynamodb-pitr", analyzer_pb2.MANDATORY)
        ]
        assert [(d.policyName, d.enforcementLevel) for d in preview.diagnostics] == [
            ("iam-no-wildcards", analyzer_pb2.ADVISORY)
        ]
        assert "during preview" in preview.diagnostics[0].message
    finally:
        proc.kill()
        proc.wait()
