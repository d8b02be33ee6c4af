"""The REST API: routes from `handlers.definitions.ROUTES`, sign-in, writers' keys, CORS, validation, throttling.

Built once, after the functions exist: `RestApiArgs.functions` maps every function key the routes
name to its `LambdaFunction`, and the component creates the routes, the deployment and the stage
in its constructor. Who may call what comes from each `Route` (docs/security.md): ``signed_in``
routes get the user pool's ``COGNITO_USER_POOLS`` authorizer, ``api_key`` routes a writer's key;
each writer has its own key and usage plan (throttle and daily quota).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.auth import slug
from components.config import StackConfig
from components.function import LambdaFunction
from components.iam import assume_role_policy
from handlers.definitions import BINARY_MEDIA_TYPES, ROUTES, Route

CORS_HEADERS = "'Content-Type,X-Api-Key,Authorization'"
AUTHORIZER = "COGNITO_USER_POOLS"
TOKEN_HEADER = "method.request.header.Authorization"
"""Where the authorizer reads the ID token (sent raw, no ``Bearer``)."""
GATEWAY_RESPONSES = ("UNAUTHORIZED", "ACCESS_DENIED", "DEFAULT_4XX", "DEFAULT_5XX")
"""Errors API Gateway answers itself (no token, a bad token, no API key, throttled...): CORS headers and a
JSON ``{"message": ...}`` on each, so the browser can read a 401 and sign in again."""
ERROR_BODY = '{"message": $context.error.messageString}'
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "apiKeyId": "$context.identity.apiKeyId",
    }
)
METRICS_BODY_SCHEMA = {
    # A gate on shape only: per-item validation happens in the Lambda so valid siblings survive.
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "MetricsBody",
    "type": ["object", "array"],
}
SAMPLING_RULE_PRIORITY = 100
"""Below AWS's default rule (10000), so the stage's requests are sampled by the stack's rule."""


@dataclass
class RestApiArgs:
    api_name: str
    functions: Mapping[str, LambdaFunction]
    """Function key (`handlers.definitions`) -> the function serving that key's routes: exactly the keys ROUTES names."""
    throttle_rate_limit: int
    throttle_burst_limit: int
    allowed_origins: list[pulumi.Input[str]]
    """Never ``*``. The first one is what API Gateway itself answers (preflight, its own errors); the Lambdas match any."""
    log_retention_days: int
    user_pool_arn: pulumi.Input[str]
    """The pool whose ID tokens the authorizer accepts on ``signed_in`` routes."""
    writers: list[str]
    """Writer names: one API key and usage plan each, named after the writer."""
    writer_rate_limit: int
    writer_burst_limit: int
    writer_quota_per_day: int
    web_acl_arn: pulumi.Input[str] | None = None
    """A REGIONAL WAF web ACL to associate with the stage (none: no WAF)."""
    stage_name: str = "v1"
    detailed_metrics: bool | None = None
    """Per-method CloudWatch metrics on every method (``*/*``; `iops cost` prices them as custom
    metrics); None: the stack's ``apiDetailedMetrics``."""
    sampling_rate: float | None = None
    """X-Ray's share of the stage's requests beyond the reservoir; None: the stack's ``xraySamplingRate``."""
    sampling_reservoir_per_s: int | None = None
    """Requests per second traced before the rate; None: the stack's ``xrayReservoirPerSecond``."""


def _quoted(value: pulumi.Input[str]) -> pulumi.Output[str]:
    """API Gateway header mappings take static values in single quotes."""
    return pulumi.Output.from_input(value).apply(lambda v: f"'{v}'")


def _slug(path: str) -> str:
    """A resource-name fragment for an API path: /insights/{id} -> insights-id."""
    return path.strip("/").replace("/", "-").replace("{", "").replace("}", "").replace(".", "-")


class RestApi(pulumi.ComponentResource):
    """Every route of `ROUTES` proxied to its function, the authorizer, CORS, the stage, a key and plan per writer."""

    api: aws.apigateway.RestApi
    validator: aws.apigateway.RequestValidator
    metrics_model: aws.apigateway.Model
    authorizer: aws.apigateway.Authorizer
    deployment: aws.apigateway.Deployment
    access_logs: aws.cloudwatch.LogGroup
    stage: aws.apigateway.Stage
    sampling_rule: aws.xray.SamplingRule
    usage_plans: dict[str, aws.apigateway.UsagePlan]
    """Writer name -> its usage plan."""
    api_keys: dict[str, aws.apigateway.ApiKey]
    """Writer name -> its API key (the value is a secret: never log it)."""
    url: pulumi.Output[str]
    """The stage's invoke URL (``https://<id>.execute-api.<region>.amazonaws.com/v1``)."""

    def __init__(self, name: str, args: RestApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:api:RestApi", name, None, opts)
        routed = {r.function for r in ROUTES}
        if set(args.functions) != routed:
            raise ValueError(
                f"RestApiArgs.functions must map exactly the route functions {sorted(routed)}, got {sorted(args.functions)}"
            )
        if not args.allowed_origins or "*" in args.allowed_origins:
            raise ValueError("the API needs its browser origins (the dashboard's, allowedOrigins), never '*'")
        if not args.writers or len({slug(w) for w in args.writers}) != len(args.writers):
            raise ValueError(f"writers must be at least one name, distinct once slugged: {args.writers}")
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self.api = aws.apigateway.RestApi(
            f"{name}-api",
            name=args.api_name,
            description="IOps Dashboard: metrics in, insights out",
            endpoint_configuration={"types": "REGIONAL"},
            # protobuf bodies (OTLP, remote write) reach the Lambda base64-encoded, byte for byte
            binary_media_types=list(BINARY_MEDIA_TYPES) if any(r.binary for r in ROUTES) else None,
            opts=self._child,
        )
        self.validator = aws.apigateway.RequestValidator(
            f"{name}-validator",
            rest_api=self.api.id,
            name="body-and-params",
            validate_request_body=True,
            validate_request_parameters=True,
            opts=self._child,
        )
        self.metrics_model = aws.apigateway.Model(
            f"{name}-metrics-model",
            rest_api=self.api.id,
            name="MetricsBody",
            content_type="application/json",
            schema=json.dumps(METRICS_BODY_SCHEMA),
            opts=self._child,
        )
        self.authorizer = aws.apigateway.Authorizer(
            f"{name}-authorizer",
            name="readers",
            rest_api=self.api.id,
            type=AUTHORIZER,
            provider_arns=[args.user_pool_arn],
            identity_source=TOKEN_HEADER,
            opts=self._child,
        )
        self._resources: dict[str, aws.apigateway.Resource] = {}
        deps: list[pulumi.Resource] = [
            aws.apigateway.Response(
                f"{name}-{kind.lower().replace('_', '-')}",
                rest_api_id=self.api.id,
                response_type=kind,
                response_parameters={
                    "gatewayresponse.header.Access-Control-Allow-Origin": _quoted(args.allowed_origins[0]),
                    "gatewayresponse.header.Access-Control-Allow-Headers": CORS_HEADERS,
                },
                response_templates={"application/json": ERROR_BODY},
                opts=self._child,
            )
            for kind in GATEWAY_RESPONSES
        ]
        for route in ROUTES:
            deps += self._route(route, args.functions[route.function])
        for path in dict.fromkeys(r.path for r in ROUTES):
            deps += self._cors_preflight(path, self._resource(path))
        self._stage(deps)
        self.url = self.stage.invoke_url
        self.register_outputs(
            {
                "url": self.url,
                "apiId": self.api.id,
                "apiKeyIds": {writer: key.id for writer, key in self.api_keys.items()},
            }
        )

    def _resource(self, path: str) -> pulumi.Input[str]:
        """The API Gateway resource id for ``path``, creating parents as needed."""
        if path == "/":
            return self.api.root_resource_id
        if path not in self._resources:
            parent_path, _, part = path.rpartition("/")
            self._resources[path] = aws.apigateway.Resource(
                f"{self._name}-res-{_slug(path)}",
                rest_api=self.api.id,
                parent_id=self._resource(parent_path or "/"),
                path_part=part,
                opts=self._child,
            )
        return self._resources[path].id

    def _route(self, route: Route, fn: LambdaFunction) -> list[pulumi.Resource]:
        """``route`` proxied to ``fn``: method, AWS_PROXY integration, and API Gateway's permission to invoke."""
        slug = f"{route.method.lower()}-{_slug(route.path)}"
        resource_id = self._resource(route.path)
        method = aws.apigateway.Method(
            f"{self._name}-{slug}",
            rest_api=self.api.id,
            resource_id=resource_id,
            http_method=route.method,
            authorization=AUTHORIZER if route.signed_in else "NONE",
            authorizer_id=self.authorizer.id if route.signed_in else None,
            api_key_required=route.api_key,
            request_validator_id=self.validator.id,
            request_models={"application/json": self.metrics_model.name} if route.method == "POST" else None,
            request_parameters={
                **{f"method.request.querystring.{q}": q in route.required_query for q in route.query},
                **({"method.request.path.id": True} if "{id}" in route.path else {}),
            }
            or None,
            opts=self._child,
        )
        integration = aws.apigateway.Integration(
            f"{self._name}-{slug}-integration",
            rest_api=self.api.id,
            resource_id=resource_id,
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=fn.function.invoke_arn,
            opts=self._child,
        )
        aws.lambda_.Permission(
            f"{self._name}-{slug}-permission",
            action="lambda:InvokeFunction",
            function=fn.function.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(
                self.api.execution_arn, f"/*/{route.method}", route.path.replace("{id}", "*")
            ),
            opts=self._child,
        )
        return [method, integration]

    def _cors_preflight(self, path: str, resource_id: pulumi.Input[str]) -> list[pulumi.Resource]:
        """OPTIONS answered by API Gateway itself (MOCK), as browsers expect."""
        slug = _slug(path)
        methods = ",".join(sorted({r.method for r in ROUTES if r.path == path} | {"OPTIONS"}))
        headers = {
            "method.response.header.Access-Control-Allow-Origin": _quoted(self._args.allowed_origins[0]),
            "method.response.header.Access-Control-Allow-Methods": f"'{methods}'",
            "method.response.header.Access-Control-Allow-Headers": CORS_HEADERS,
        }
        options = aws.apigateway.Method(
            f"{self._name}-options-{slug}",
            rest_api=self.api.id,
            resource_id=resource_id,
            http_method="OPTIONS",
            authorization="NONE",
            opts=self._child,
        )
        mock = aws.apigateway.Integration(
            f"{self._name}-options-{slug}-integration",
            rest_api=self.api.id,
            resource_id=resource_id,
            http_method=options.http_method,
            type="MOCK",
            request_templates={"application/json": '{"statusCode": 200}'},
            opts=self._child,
        )
        response = aws.apigateway.MethodResponse(
            f"{self._name}-options-{slug}-response",
            rest_api=self.api.id,
            resource_id=resource_id,
            http_method=options.http_method,
            status_code="200",
            response_parameters={k: True for k in headers},
            opts=self._child,
        )
        integration_response = aws.apigateway.IntegrationResponse(
            f"{self._name}-options-{slug}-integration-response",
            rest_api=self.api.id,
            resource_id=resource_id,
            http_method=options.http_method,
            status_code=response.status_code,
            response_parameters=headers,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[mock]),
        )
        return [options, mock, response, integration_response]

    def _stage(self, routes: list[pulumi.Resource]) -> None:
        """Deployment (after every route), stage (throttling, access logs, tracing, WAF), the writers' keys and plans."""
        name, args = self._name, self._args
        shape = [(r.method, r.path, r.api_key, r.signed_in) for r in ROUTES]
        # What only takes effect once deployed: the routes and who may call them, CORS, the gateway responses.
        fingerprint = pulumi.Output.all(*args.allowed_origins).apply(
            lambda origins: hashlib.sha256(
                json.dumps([shape, origins, GATEWAY_RESPONSES, ERROR_BODY, CORS_HEADERS]).encode()
            ).hexdigest()
        )
        self.deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=self.api.id,
            triggers={"routes": fingerprint},
            opts=pulumi.ResourceOptions(parent=self, depends_on=routes),
        )
        # Access logging needs the account-wide (per region) API Gateway CloudWatch role.
        push_role = aws.iam.Role(
            f"{name}-cloudwatch-role",
            assume_role_policy=assume_role_policy("apigateway.amazonaws.com"),
            opts=self._child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-cloudwatch-role-policy",
            role=push_role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
            opts=self._child,
        )
        account = aws.apigateway.Account(f"{name}-account", cloudwatch_role_arn=push_role.arn, opts=self._child)
        self.access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/{args.api_name}/access",
            retention_in_days=args.log_retention_days,
            opts=self._child,
        )
        self.stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=self.api.id,
            deployment=self.deployment.id,
            stage_name=args.stage_name,
            xray_tracing_enabled=True,
            access_log_settings={"destination_arn": self.access_logs.arn, "format": ACCESS_LOG_FORMAT},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account]),
        )
        cfg = StackConfig()
        detailed = cfg.api_detailed_metrics if args.detailed_metrics is None else args.detailed_metrics
        aws.apigateway.MethodSettings(
            f"{name}-throttling",
            rest_api=self.api.id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings={
                "throttling_rate_limit": args.throttle_rate_limit,
                "throttling_burst_limit": args.throttle_burst_limit,
                "metrics_enabled": detailed,
            },
            opts=self._child,
        )
        self._sampling_rule(cfg)
        if args.web_acl_arn is not None:
            aws.wafv2.WebAclAssociation(
                f"{name}-waf", resource_arn=self.stage.arn, web_acl_arn=args.web_acl_arn, opts=self._child
            )
        self.usage_plans, self.api_keys = {}, {}
        for writer in args.writers:
            self._writer(writer)

    def _sampling_rule(self, cfg: StackConfig) -> None:
        """X-Ray samples the stage by this rule instead of AWS's default (1/s + 5 %): the functions
        behind the API follow API Gateway's decision, so this one rule sets the API's trace bill."""
        args = self._args
        rate = cfg.xray_sampling_rate if args.sampling_rate is None else args.sampling_rate
        reservoir = (
            cfg.xray_reservoir_per_second if args.sampling_reservoir_per_s is None else args.sampling_reservoir_per_s
        )
        self.sampling_rule = aws.xray.SamplingRule(
            f"{self._name}-sampling",
            rule_name=args.api_name[-32:],  # X-Ray rule names are at most 32 characters
            priority=SAMPLING_RULE_PRIORITY,
            version=1,
            reservoir_size=reservoir,
            fixed_rate=rate,
            service_name=f"{args.api_name}/{args.stage_name}",  # how API Gateway names a stage's segments
            service_type="*",
            host="*",
            http_method="*",
            url_path="*",
            resource_arn="*",
            opts=self._child,
        )

    def _writer(self, writer: str) -> None:
        """One writer's key and usage plan, named after the writer: removing a writer removes exactly these."""
        name, args = f"{self._name}-writer-{slug(writer)}", self._args
        plan = aws.apigateway.UsagePlan(
            f"{name}-plan",
            name=f"{args.api_name}-{slug(writer)}",
            description=f"writer {writer}: POST /metrics",
            api_stages=[{"api_id": self.api.id, "stage": self.stage.stage_name}],
            throttle_settings={"rate_limit": args.writer_rate_limit, "burst_limit": args.writer_burst_limit},
            quota_settings={"limit": args.writer_quota_per_day, "period": "DAY"},
            opts=self._child,
        )
        key = aws.apigateway.ApiKey(
            f"{name}-key", name=f"{args.api_name}-{slug(writer)}", description=f"writer {writer}", opts=self._child
        )
        aws.apigateway.UsagePlanKey(
            f"{name}-plan-key", key_id=key.id, key_type="API_KEY", usage_plan_id=plan.id, opts=self._child
        )
        self.usage_plans[writer], self.api_keys[writer] = plan, key
