"""The stack's guardrails as plain functions, so the policy pack and the tests run the same code.

Two kinds of rule:

* resource rules, ``check(type, props) -> [message]``: one resource is enough to judge it
  (``props`` use Pulumi's camelCase property names, as the engine hands them to a policy pack);
* stack rules, ``check(resources) -> [(key, message)]``: the verdict needs another resource
  (a bucket and its encryption configuration, a Lambda function and its log group...).

Nothing here imports pulumi or pulumi_policy: `policy/pack.py` adapts these to a PolicyPack and
`tests/infra/test_policy.py` runs them over the mocked resource graph.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers.definitions import ROUTES

Props = Mapping[str, Any]

# --- Resource types -------------------------------------------------------------------------------

TABLE = "aws:dynamodb/table:Table"
BUCKETS = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}
BUCKET_SSE = {
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
}
BUCKET_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ACLS = {"aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2"}
TOPIC = "aws:sns/topic:Topic"
QUEUE = "aws:sqs/queue:Queue"
KINESIS = "aws:kinesis/stream:Stream"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
REST_API = "aws:apigateway/restApi:RestApi"
REST_RESOURCE = "aws:apigateway/resource:Resource"
REST_METHOD = "aws:apigateway/method:Method"
GATEWAY_RESPONSE = "aws:apigateway/response:Response"
METHOD_RESPONSE = "aws:apigateway/methodResponse:MethodResponse"
INTEGRATION_RESPONSE = "aws:apigateway/integrationResponse:IntegrationResponse"
STAGE = "aws:apigateway/stage:Stage"
USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
HTTP_ROUTE = "aws:apigatewayv2/route:Route"
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
ROLE = "aws:iam/role:Role"
ROLE_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY_DOCUMENT_PROPS = {
    # type -> the property holding a JSON policy document
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    BUCKET_POLICY: "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": "policy",
    KMS_KEY: "policy",
    KMS_KEY_POLICY: "policy",
}
KEY_POLICY_TYPES = {KMS_KEY, KMS_KEY_POLICY}

# --- Exceptions AWS imposes -----------------------------------------------------------------------

RESOURCE_WILDCARD_ACTIONS = frozenset(
    {
        # Actions with no resource-level permissions: IAM accepts only "Resource": "*" for them.
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
        "cloudwatch:PutMetricData",  # scope it with a cloudwatch:namespace condition
        "cloudwatch:GetMetricData",
        "cloudwatch:ListMetrics",
        "ecr:GetAuthorizationToken",
        "logs:DescribeLogGroups",
        "sts:GetCallerIdentity",
        "ec2:CreateNetworkInterface",  # Lambda in a VPC
        "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface",
    }
)
"""Allow statements made only of these actions may use ``Resource: "*"``."""
KEY_POLICY_NOTE = (
    'In a KMS key policy "Resource": "*" means "this key" (AWS requires it), and the account root '
    'principal keeps "kms:*" (the default key policy; without it the key becomes unmanageable).'
)
BROAD_MANAGED_POLICY = re.compile(
    r"arn:aws[\w-]*:iam::aws:policy/(AdministratorAccess|PowerUserAccess|IAMFullAccess|.*FullAccess)$"
)
STRONG_AUTH = {"AWS_IAM", "COGNITO_USER_POOLS", "CUSTOM", "JWT"}
AUTHORIZER_AUTH = {"COGNITO_USER_POOLS", "CUSTOM", "JWT"}
"""Authorization types that mean nothing without an authorizer id."""
PUBLIC_METHODS = frozenset({("GET", "/openapi.json")})
"""The only (method, path) pairs anyone may call (besides CORS preflight, OPTIONS): the API's own description."""
FIREHOSE_KEY_METHODS = frozenset((r.method, r.path) for r in ROUTES if r.firehose_key)
"""Routes whose handler checks Firehose's ``X-Amz-Firehose-Access-Key`` (`Route.firehose_key`): Firehose
cannot send an API Gateway key, so the gateway lets them through and the function refuses a wrong key."""
CORS_ENV = "ALLOWED_ORIGINS"
"""The API functions' CORS origins variable (`iops.settings.ApiSettings`)."""
CORS_ORIGIN_HEADERS = (
    "gatewayresponse.header.Access-Control-Allow-Origin",
    "method.response.header.Access-Control-Allow-Origin",
)
TLS12_OR_LATER = re.compile(r"TLSv1\.[23]_\d{4}")
"""CloudFront security policies with TLS 1.2 or later as the viewer minimum (TLSv1.2_2021...)."""
SECURE_VIEWER_POLICIES = {"https-only", "redirect-to-https"}
SOURCE_CONDITION_KEYS = {"aws:sourceaccount", "aws:sourcearn"}
PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
ASYNC_PRINCIPALS = {"events.amazonaws.com", "sns.amazonaws.com", "s3.amazonaws.com", "scheduler.amazonaws.com"}
"""Services that invoke a Lambda function asynchronously (the event is lost unless a DLQ catches it)."""


@dataclass(frozen=True)
class Res:
    """One resource of the stack as a stack rule sees it."""

    type: str
    key: str
    """Unique within the stack: the URN in the policy pack, the resource name in tests."""
    props: Props
    refs: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Property name -> keys of the resources whose outputs it was built from."""

    def refers_to(self, prop: str, other: Res) -> bool:
        return other.key in self.refs.get(prop, frozenset())


@dataclass(frozen=True)
class ResourceRule:
    name: str
    description: str
    check: Callable[[str, Props], list[str]]


@dataclass(frozen=True)
class StackRule:
    name: str
    description: str
    check: Callable[[Sequence[Res]], list[tuple[str, str]]]


# --- Helpers ---------------------------------------------------------------------------------------


def _list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]


def _doc(value: Any) -> dict | None:
    """A policy document from a JSON string or a dict; None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return json.loads(value)
    return dict(value)


def _nested(props: Props, *path: str) -> Any:
    cur: Any = props
    for part in path:
        if isinstance(cur, Sequence) and not isinstance(cur, str):
            cur = cur[0] if cur else None
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _account_root(principal: Any) -> bool:
    if not isinstance(principal, Mapping):
        return False
    accounts = _list(principal.get("AWS"))
    return bool(accounts) and all(re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:root|\d{12}", str(p)) for p in accounts)


def _is_public_principal(principal: Any) -> bool:
    return principal == "*" or (isinstance(principal, Mapping) and "*" in _list(principal.get("AWS")))


IDENTITY_PROPS = ("id", "arn", "bucket", "name")
"""Outputs other resources use to point at a resource (``bucket=b.id``, ``function=f.name``...)."""


def link_by_value(resources: Sequence[Res], get: Callable[[Props, str], Any] = lambda p, k: p.get(k)) -> list[Res]:
    """Add to ``refs`` every top-level string property equal to another resource's id, ARN or name.

    Used where dependency information is missing (the mocked graph) and as a complement to it
    (a literal bucket name in a policy). ``get`` may hide values unknown during preview.
    """
    index: dict[str, set[str]] = {}
    for r in resources:
        for prop in IDENTITY_PROPS:
            value = get(r.props, prop)
            if isinstance(value, str) and value:
                index.setdefault(value, set()).add(r.key)
    out = []
    for r in resources:
        refs = {k: set(v) for k, v in r.refs.items()}
        for prop in r.props:
            value = get(r.props, prop)
            if isinstance(value, str) and value in index:
                refs.setdefault(prop, set()).update(index[value] - {r.key})
        out.append(Res(r.type, r.key, r.props, {k: frozenset(v) for k, v in refs.items()}))
    return out


# --- Resource rules --------------------------------------------------------------------------------


def statement_problems(doc: Mapping[str, Any], key_policy: bool = False) -> list[str]:
    """Allow statements granting every action, every resource (outside AWS's exceptions), or to anyone."""
    problems = []
    for i, st in enumerate(_list(doc.get("Statement"))):
        if st.get("Effect") != "Allow":
            continue  # Deny with wildcards only takes rights away
        sid = st.get("Sid") or f"#{i}"
        actions = [str(a) for a in _list(st.get("Action"))]
        if "NotAction" in st or "NotResource" in st:
            problems.append(f"statement {sid}: Allow with NotAction/NotResource grants everything else")
        root = key_policy and _account_root(st.get("Principal"))
        broad = [a for a in actions if a == "*" or a.endswith(":*")]
        if broad and not (root and broad == ["kms:*"]):
            problems.append(f"statement {sid}: action {broad[0]!r} allows every action")
        if "*" in _list(st.get("Resource")) and not key_policy:
            extra = sorted(set(actions) - RESOURCE_WILDCARD_ACTIONS)
            if extra:
                problems.append(f"statement {sid}: Resource '*' for {extra} (name the resources)")
        if _is_public_principal(st.get("Principal")) and not st.get("Condition"):
            problems.append(f"statement {sid}: allows any principal ('*') without a condition")
    return problems


def check_iam(type_: str, props: Props) -> list[str]:
    docs: list[tuple[str, Any]] = []
    if type_ in POLICY_DOCUMENT_PROPS:
        docs.append((POLICY_DOCUMENT_PROPS[type_], props.get(POLICY_DOCUMENT_PROPS[type_])))
    if type_ == ROLE:
        docs += [(f"inlinePolicies[{p.get('name')}]", p.get("policy")) for p in _list(props.get("inlinePolicies"))]
    problems = []
    for where, raw in docs:
        doc = _doc(raw)
        if doc is not None:
            problems += [f"{where}: {p}" for p in statement_problems(doc, key_policy=type_ in KEY_POLICY_TYPES)]
    arns = [props.get("policyArn")] if type_ == ROLE_ATTACHMENT else []
    if type_ == ROLE:
        arns += _list(props.get("managedPolicyArns"))
    problems += [f"attaches broad AWS managed policy {a}" for a in arns if a and BROAD_MANAGED_POLICY.match(str(a))]
    return problems


def check_encryption(type_: str, props: Props) -> list[str]:
    """Tables, topics, queues and streams encrypt at rest (buckets: see `check_bucket_encryption`)."""
    if type_ == TABLE and not _nested(props, "serverSideEncryption", "enabled"):
        return ["DynamoDB table without serverSideEncryption.enabled"]
    if type_ == TOPIC and not props.get("kmsMasterKeyId"):
        return ["SNS topic without kmsMasterKeyId"]
    if type_ == QUEUE and not (props.get("sqsManagedSseEnabled") or props.get("kmsMasterKeyId")):
        return ["SQS queue without sqsManagedSseEnabled or kmsMasterKeyId"]
    if type_ == KINESIS and not (props.get("encryptionType") == "KMS" and props.get("kmsKeyId")):
        return ["Kinesis stream without encryptionType KMS and a kmsKeyId"]
    if type_ == FIREHOSE and not _nested(props, "serverSideEncryption", "enabled"):
        return ["Firehose delivery stream without serverSideEncryption.enabled"]
    return []


def check_public_access(type_: str, props: Props) -> list[str]:
    if type_ == BUCKET_PAB:
        off = [f for f in PAB_FLAGS if props.get(f) is not True]
        return [f"public access block leaves {off} off"] if off else []
    if (type_ in BUCKETS or type_ in BUCKET_ACLS) and props.get("acl") in PUBLIC_ACLS:
        return [f"canned ACL {props['acl']!r} makes the bucket public"]
    return []


def check_log_retention(type_: str, props: Props) -> list[str]:
    if type_ == LOG_GROUP and not props.get("retentionInDays"):
        return ["log group without retentionInDays (kept forever, billed forever)"]
    return []


def check_pitr(type_: str, props: Props) -> list[str]:
    if type_ == TABLE and not _nested(props, "pointInTimeRecovery", "enabled"):
        return ["DynamoDB table without pointInTimeRecovery.enabled"]
    return []


def check_reserved_concurrency(type_: str, props: Props) -> list[str]:
    """A function without a cap can be driven (by load or abuse) to the account's whole concurrency."""
    reserved = props.get("reservedConcurrentExecutions")
    if type_ == FUNCTION and (reserved is None or int(reserved) < 0):
        return ["Lambda function without reservedConcurrentExecutions (one function could starve the account)"]
    return []


def check_usage_plan_quota(type_: str, props: Props) -> list[str]:
    if type_ == USAGE_PLAN and not (
        _nested(props, "quotaSettings", "limit") and _nested(props, "quotaSettings", "period")
    ):
        return ["usage plan without a quota (limit and period): a leaked key could write without end"]
    return []


def check_cloudfront_tls(type_: str, props: Props) -> list[str]:
    """Viewers use HTTPS, at TLS 1.2 or later wherever the distribution can set it.

    With CloudFront's default ``*.cloudfront.net`` certificate the minimum cannot be set (CloudFront
    fixes it), so that case passes; a custom certificate must name a TLS 1.2+ security policy.
    """
    if type_ != DISTRIBUTION:
        return []
    problems = []
    cert = _nested(props, "viewerCertificate") or {}
    if isinstance(cert, Sequence):
        cert = cert[0] if cert else {}
    if not cert.get("cloudfrontDefaultCertificate"):
        version = str(cert.get("minimumProtocolVersion") or "")
        if not TLS12_OR_LATER.fullmatch(version):
            problems.append(f"viewer certificate minimumProtocolVersion {version or None!r} is below TLS 1.2")
    behaviors = [_nested(props, "defaultCacheBehavior") or {}, *_list(props.get("orderedCacheBehaviors"))]
    for b in behaviors:
        if isinstance(b, Mapping) and b.get("viewerProtocolPolicy") not in SECURE_VIEWER_POLICIES:
            problems.append(f"cache behavior with viewerProtocolPolicy {b.get('viewerProtocolPolicy')!r} serves HTTP")
    return problems


def check_kms_service_conditions(type_: str, props: Props) -> list[str]:
    """A service principal in a key policy acts for any account unless aws:SourceAccount/SourceArn pins it."""
    if type_ not in KEY_POLICY_TYPES:
        return []
    doc = _doc(props.get("policy"))
    problems = []
    for i, st in enumerate(_list((doc or {}).get("Statement"))):
        principal = st.get("Principal")
        if st.get("Effect") != "Allow" or not (isinstance(principal, Mapping) and principal.get("Service")):
            continue
        keys = {str(k).lower() for cond in (st.get("Condition") or {}).values() for k in dict(cond)}
        if not keys & SOURCE_CONDITION_KEYS:
            services = _list(principal["Service"])
            problems.append(
                f"statement {st.get('Sid') or f'#{i}'}: service principal {services} without an "
                "aws:SourceAccount or aws:SourceArn condition (confused deputy)"
            )
    return problems


def check_http_api_auth(type_: str, props: Props) -> list[str]:
    """HTTP API routes and function URLs: an authorizer, an API key or IAM, except the public list."""
    if type_ == HTTP_ROUTE:
        method, _, path = str(props.get("routeKey", "")).partition(" ")
        public = method.upper() == "OPTIONS" or (method.upper(), path) in PUBLIC_METHODS | FIREHOSE_KEY_METHODS
        if not public and not props.get("apiKeyRequired") and props.get("authorizationType", "NONE") not in STRONG_AUTH:
            return [f"route {props.get('routeKey')!r} without an authorizer or API key"]
    if type_ == FUNCTION_URL and props.get("authorizationType") != "AWS_IAM":
        return ["function URL without AWS_IAM authorization lets anyone invoke it"]
    return []


def tls_only(doc: Mapping[str, Any] | None) -> bool:
    """The bucket policy denies every S3 action on the bucket and its objects without TLS."""
    for st in _list((doc or {}).get("Statement")):
        secure = _nested(st, "Condition", "Bool", "aws:SecureTransport")
        actions = {str(a) for a in _list(st.get("Action"))}
        resources = [str(r) for r in _list(st.get("Resource"))]
        if (
            st.get("Effect") == "Deny"
            and str(secure).lower() == "false"
            and actions & {"s3:*", "*"}
            and any(r.endswith("/*") for r in resources)
            and any(not r.endswith("/*") for r in resources)
        ):
            return True
    return False


def check_bucket_policy_tls(type_: str, props: Props) -> list[str]:
    """A bucket has one policy: one without the TLS deny replaces the one that had it."""
    if type_ == BUCKET_POLICY and not tls_only(_doc(props.get("policy"))):
        return ["bucket policy does not deny requests without TLS (aws:SecureTransport false)"]
    return []


def check_async_destinations(type_: str, props: Props) -> list[str]:
    """Stream mappings and EventBridge targets keep what they could not deliver."""
    if type_ == EVENT_SOURCE_MAPPING:
        source = str(props.get("eventSourceArn", ""))
        is_stream = ":kinesis:" in source or "/stream/" in source
        if is_stream and not _nested(props, "destinationConfig", "onFailure", "destinationArn"):
            return ["stream event source mapping without an on-failure destination"]
    if type_ == EVENT_TARGET and not _nested(props, "deadLetterConfig", "arn"):
        return ["EventBridge target without a dead-letter queue (undeliverable events are dropped)"]
    return []


# --- Stack rules -----------------------------------------------------------------------------------


def _uncovered(resources: Sequence[Res], kinds: Iterable[str] | str, ok: Callable[[Res], bool]) -> list[str]:
    """Keys of buckets with no resource of ``kinds`` that refers to them (through ``bucket``) and passes ``ok``."""
    kinds = {kinds} if isinstance(kinds, str) else set(kinds)
    helpers = [r for r in resources if r.type in kinds]
    return [
        b.key for b in resources if b.type in BUCKETS and not any(h.refers_to("bucket", b) and ok(h) for h in helpers)
    ]


def check_bucket_encryption(resources: Sequence[Res]) -> list[tuple[str, str]]:
    inline = {b.key for b in resources if b.type in BUCKETS and b.props.get("serverSideEncryptionConfiguration")}
    return [
        (key, "bucket without a server-side encryption configuration")
        for key in _uncovered(resources, BUCKET_SSE, lambda h: bool(h.props.get("rules")))
        if key not in inline
    ]


def check_bucket_public_access(resources: Sequence[Res]) -> list[tuple[str, str]]:
    return [
        (key, "bucket without a public access block (all four flags on)")
        for key in _uncovered(resources, BUCKET_PAB, lambda h: not check_public_access(h.type, h.props))
    ]


def check_bucket_tls(resources: Sequence[Res]) -> list[tuple[str, str]]:
    return [
        (key, "bucket without a TLS-only bucket policy")
        for key in _uncovered(resources, BUCKET_POLICY, lambda h: tls_only(_doc(h.props.get("policy"))))
    ]


def check_function_log_groups(resources: Sequence[Res]) -> list[tuple[str, str]]:
    """Lambda creates ``/aws/lambda/<name>`` with no retention unless the stack declares it."""
    groups = {str(r.props.get("name")) for r in resources if r.type == LOG_GROUP}
    out = []
    for fn in resources:
        if fn.type != FUNCTION:
            continue
        wanted = _nested(fn.props, "loggingConfig", "logGroup") or f"/aws/lambda/{fn.props.get('name')}"
        if wanted not in groups:
            out.append((fn.key, f"no declared log group {wanted} (Lambda would create it without retention)"))
    return out


def check_async_lambda_failures(resources: Sequence[Res]) -> list[tuple[str, str]]:
    """A function another service invokes asynchronously has a DLQ or an on-failure destination."""
    functions = [r for r in resources if r.type == FUNCTION]
    configs = [r for r in resources if r.type == EVENT_INVOKE_CONFIG]
    out = []
    for perm in resources:
        if perm.type != PERMISSION or perm.props.get("principal") not in ASYNC_PRINCIPALS:
            continue
        for fn in functions:
            if not perm.refers_to("function", fn):
                continue
            dlq = _nested(fn.props, "deadLetterConfig", "targetArn")
            dest = any(
                c.refers_to("functionName", fn) and _nested(c.props, "destinationConfig", "onFailure", "destination")
                for c in configs
            )
            if not (dlq or dest):
                out.append(
                    (
                        fn.key,
                        f"invoked asynchronously by {perm.props['principal']} without a DLQ or on-failure destination",
                    )
                )
    return out


def check_sqs_sources_redrive(resources: Sequence[Res]) -> list[tuple[str, str]]:
    """A queue a Lambda consumes has a redrive policy (its failures land in a DLQ)."""
    queues = [r for r in resources if r.type == QUEUE]
    out = []
    for m in resources:
        if m.type != EVENT_SOURCE_MAPPING:
            continue
        for q in queues:
            if m.refers_to("eventSourceArn", q) and not q.props.get("redrivePolicy"):
                out.append((q.key, "queue consumed by Lambda without a redrivePolicy"))
    return out


def _rest_paths(resources: Sequence[Res]) -> dict[str, str]:
    """REST API resource key -> its full path (``/insights/{id}``), walking ``parentId`` up to the API's root."""
    parts = {r.key: r for r in resources if r.type == REST_RESOURCE}
    paths: dict[str, str] = {}

    def path(key: str, seen: frozenset[str] = frozenset()) -> str:
        if key not in paths:
            r = parts[key]
            parent = next((p for p in parts if r.refers_to("parentId", parts[p]) and p not in seen), None)
            prefix = path(parent, seen | {key}) if parent is not None else ""
            paths[key] = f"{prefix}/{r.props.get('pathPart')}"
        return paths[key]

    for key in parts:
        path(key)
    return paths


def method_path(method: Res, resources: Sequence[Res], paths: Mapping[str, str]) -> str | None:
    """The path a REST method serves: its resource's, ``/`` for the API's root, None if not known."""
    for r in resources:
        if method.refers_to("resourceId", r):
            if r.type == REST_RESOURCE:
                return paths.get(r.key)
            if r.type == REST_API:
                return "/"
    return None


def check_api_auth(resources: Sequence[Res]) -> list[tuple[str, str]]:
    """Every REST method needs an authorizer (or IAM) or an API key, except OPTIONS, `PUBLIC_METHODS` and
    `FIREHOSE_KEY_METHODS` (their handler checks the key)."""
    paths = _rest_paths(resources)
    out = [(r.key, msg) for r in resources for msg in check_http_api_auth(r.type, r.props)]
    for m in resources:
        if m.type != REST_METHOD:
            continue
        verb = str(m.props.get("httpMethod", "")).upper()
        auth = m.props.get("authorization")
        if auth in AUTHORIZER_AUTH and not m.props.get("authorizerId"):
            out.append((m.key, f"{verb} method with authorization {auth} but no authorizerId"))
            continue
        if verb == "OPTIONS" or m.props.get("apiKeyRequired") or auth in STRONG_AUTH:
            continue
        where = method_path(m, resources, paths)
        if (verb, where) not in PUBLIC_METHODS | FIREHOSE_KEY_METHODS:
            out.append((m.key, f"{verb} {where or '?'} with authorization {auth!r} and no API key"))
    return out


def _star(value: Any) -> bool:
    """A CORS origin value (``'*'`` in API Gateway's quoting, or a comma list) that admits every origin."""
    return "*" in [v.strip().strip("'") for v in str(value).split(",")]


def check_cors_with_auth(resources: Sequence[Res]) -> list[tuple[str, str]]:
    """Once any method needs a signed-in user, no CORS answer of the stack may admit every origin."""
    if not any(r.type == REST_METHOD and r.props.get("authorization") in AUTHORIZER_AUTH for r in resources):
        return []
    out = []
    for r in resources:
        if r.type in (GATEWAY_RESPONSE, METHOD_RESPONSE, INTEGRATION_RESPONSE):
            params = r.props.get("responseParameters") or {}
            if any(_star(params.get(h)) for h in CORS_ORIGIN_HEADERS if isinstance(params.get(h), str)):
                out.append((r.key, "Access-Control-Allow-Origin '*' on an API with an authorizer"))
        if r.type == FUNCTION:
            env = _nested(r.props, "environment", "variables") or {}
            if CORS_ENV in env and _star(env[CORS_ENV]):
                out.append((r.key, f"{CORS_ENV} admits '*' on an API with an authorizer"))
    return out


def check_waf_coverage(resources: Sequence[Res]) -> list[tuple[str, str]]:
    """With WAF on (the stack has a web ACL: ``wafEnabled``), every stage and distribution is behind one."""
    acls = [r for r in resources if r.type == WEB_ACL]
    if not acls:
        return []
    regional = [a for a in acls if a.props.get("scope") == "REGIONAL"]
    cloudfront = [a for a in acls if a.props.get("scope") == "CLOUDFRONT"]
    associations = [r for r in resources if r.type == WEB_ACL_ASSOCIATION]
    out = []
    for r in resources:
        if r.type == STAGE and not any(
            a.refers_to("resourceArn", r) and any(a.refers_to("webAclArn", acl) for acl in regional)
            for a in associations
        ):
            out.append((r.key, "API stage without a REGIONAL WAF web ACL association"))
        if r.type == DISTRIBUTION and not any(r.refers_to("webAclId", acl) for acl in cloudfront):
            out.append((r.key, "CloudFront distribution without a CLOUDFRONT WAF web ACL (webAclId)"))
    return out


RESOURCE_RULES: tuple[ResourceRule, ...] = (
    ResourceRule(
        "iam-no-wildcards",
        'No Allow statement with "*" (or "service:*") actions, "*" resources outside the actions AWS '
        "only accepts that way, or public principals; no broad AWS managed policies. " + KEY_POLICY_NOTE,
        check_iam,
    ),
    ResourceRule("encryption-at-rest", "Tables, topics, queues and streams are encrypted at rest.", check_encryption),
    ResourceRule(
        "s3-no-public-access", "Public access blocks have every flag on; no public canned ACLs.", check_public_access
    ),
    ResourceRule("log-retention", "Every log group has a retention period.", check_log_retention),
    ResourceRule("dynamodb-pitr", "Every DynamoDB table has point-in-time recovery.", check_pitr),
    ResourceRule(
        "lambda-reserved-concurrency", "Every Lambda function has reserved concurrency.", check_reserved_concurrency
    ),
    ResourceRule("usage-plan-quota", "Every API usage plan has a quota (limit and period).", check_usage_plan_quota),
    ResourceRule(
        "cloudfront-tls",
        "Viewers reach CloudFront over HTTPS, TLS 1.2 or later where settable (not with the default certificate).",
        check_cloudfront_tls,
    ),
    ResourceRule(
        "kms-service-principal-condition",
        "A service principal in a KMS key policy is pinned by aws:SourceAccount or aws:SourceArn.",
        check_kms_service_conditions,
    ),
    ResourceRule(
        "async-failure-destination",
        "Stream event source mappings have an on-failure destination; EventBridge targets a DLQ.",
        check_async_destinations,
    ),
    ResourceRule("s3-tls-only-policy", "Every bucket policy denies requests without TLS.", check_bucket_policy_tls),
)

STACK_RULES: tuple[StackRule, ...] = (
    StackRule(
        "s3-bucket-encryption", "Every bucket has a server-side encryption configuration.", check_bucket_encryption
    ),
    StackRule(
        "s3-bucket-public-access-block", "Every bucket has a full public access block.", check_bucket_public_access
    ),
    StackRule("s3-bucket-tls-only", "Every bucket has a TLS-only bucket policy.", check_bucket_tls),
    StackRule(
        "lambda-log-retention",
        "Every function's log group is declared (so it has retention).",
        check_function_log_groups,
    ),
    StackRule(
        "lambda-async-dlq",
        "Functions invoked asynchronously (EventBridge, SNS, S3) have a DLQ or on-failure destination.",
        check_async_lambda_failures,
    ),
    StackRule("sqs-source-redrive", "Queues Lambda consumes have a redrive policy.", check_sqs_sources_redrive),
    StackRule(
        "api-auth",
        "Every API method needs an authorizer, IAM or an API key; only OPTIONS and GET /openapi.json are public, "
        "and routes marked firehose_key (their handler checks X-Amz-Firehose-Access-Key).",
        check_api_auth,
    ),
    StackRule(
        "cors-no-wildcard-with-auth",
        "No CORS answer admits '*' on a stack whose API has an authorizer.",
        check_cors_with_auth,
    ),
    StackRule(
        "waf-coverage",
        "With WAF on (a web ACL in the stack), every API stage and CloudFront distribution is behind one.",
        check_waf_coverage,
    ),
)


def violations(resources: Sequence[Res]) -> list[tuple[str, str, str]]:
    """Every (rule, resource key, message) over a whole stack."""
    out = [(rule.name, r.key, msg) for r in resources for rule in RESOURCE_RULES for msg in rule.check(r.type, r.props)]
    out += [(rule.name, key, msg) for rule in STACK_RULES for key, msg in rule.check(resources)]
    return out
