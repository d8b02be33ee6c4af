"""The REST API: routes from `handlers.definitions.ROUTES`, CORS, validation, throttling, API key.

Built once, after the functions exist: `RestApiArgs.functions` maps every function key the routes
name to its `LambdaFunction`, and the component creates the routes, the deployment and the stage
in its constructor.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.function import LambdaFunction
from components.iam import assume_role_policy
from handlers.definitions import ROUTES, Route

CORS_HEADERS = "'Content-Type,X-Api-Key,Authorization'"
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
DETAILED_METRICS = True
"""Per-method CloudWatch metrics on every method (``*/*``); `iops cost` prices them as custom metrics."""


@dataclass
class RestApiArgs:
    api_name: str
    functions: Mapping[str, LambdaFunction]
    """Function key (`handlers.definitions`) -> the function serving that key's routes: exactly the keys ROUTES names."""
    throttle_rate_limit: int
    throttle_burst_limit: int
    allowed_origins: list[pulumi.Input[str]]
    """The first one is what API Gateway itself answers (preflight, its own errors); the Lambdas match any."""
    log_retention_days: int
    stage_name: str = "v1"


def _quoted(value: pulumi.Input[str]) -> pulumi.Output[str]:
    """API Gateway header mappings take static values in single quotes."""
    return pulumi.Output.from_input(value).apply(lambda v: f"'{v}'")


def _slug(path: str) -> str:
    """A resource-name fragment for an API path: /insights/{id} -> insights-id."""
    return path.strip("/").replace("/", "-").replace("{", "").replace("}", "").replace(".", "-")


class RestApi(pulumi.ComponentResource):
    """Every route of `ROUTES` proxied to its function, CORS preflight per path, the stage, usage plan and key."""

    api: aws.apigateway.RestApi
    validator: aws.apigateway.RequestValidator
    metrics_model: aws.apigateway.Model
    deployment: aws.apigateway.Deployment
    access_logs: aws.cloudwatch.LogGroup
    stage: aws.apigateway.Stage
    usage_plan: aws.apigateway.UsagePlan
    api_key: aws.apigateway.ApiKey
    url: pulumi.Output[str]
    """The stage's invoke URL (``https://<id>.execute-api.<region>.amazonaws.com/v1``)."""

    def __init__(self, name: str, args: RestApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:api:RestApi", name, None, opts)
        routed = {r.function for r in ROUTES}
        if set(args.functions) != routed:
            raise ValueError(
                f"RestApiArgs.functions must map exactly the route functions {sorted(routed)}, got {sorted(args.functions)}"
            )
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self.api = aws.apigateway.RestApi(
            f"{name}-api",
            name=args.api_name,
            description="IOps Dashboard: metrics in, insights out",
            endpoint_configuration={"types": "REGIONAL"},
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
        self._resources: dict[str, aws.apigateway.Resource] = {}
        for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
            # Errors API Gateway itself returns (missing API key, throttling) carry CORS headers too.
            aws.apigateway.Response(
                f"{name}-{kind.lower().replace('_', '-')}",
                rest_api_id=self.api.id,
                response_type=kind,
                response_parameters={
                    "gatewayresponse.header.Access-Control-Allow-Origin": _quoted(args.allowed_origins[0]),
                    "gatewayresponse.header.Access-Control-Allow-Headers": CORS_HEADERS,
                },
                opts=self._child,
            )
        deps: list[pulumi.Resource] = []
        for route in ROUTES:
            deps += self._route(route, args.functions[route.function])
        for path in dict.fromkeys(r.path for r in ROUTES):
            deps += self._cors_preflight(path, self._resource(path))
        self._stage(deps)
        self.url = self.stage.invoke_url
        self.register_outputs({"url": self.url, "apiId": self.api.id, "apiKeyId": self.api_key.id})

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
            authorization="NONE",
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
        """Deployment (after every route), stage (throttling, access logs, tracing), usage plan and API key."""
        name, args = self._name, self._args
        fingerprint = hashlib.sha256(json.dumps([(r.method, r.path, r.api_key) for r in ROUTES]).encode()).hexdigest()
        self.deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=self.api.id,
            triggers={"routes": fingerprint},
            opts=pulumi.ResourceOptions(parent=self, depends_on=routes),
        )
        # Access logging needs the account-wide (per region) API Gateway CloudWatch role.
        push_role = aws.iam.Role(
            f"{name}-cloudwatch-role", assume_role_policy=assume_role_policy("apigateway.amazonaws.com"), opts=self._child
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
        aws.apigateway.MethodSettings(
            f"{name}-throttling",
            rest_api=self.api.id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings={
                "throttling_rate_limit": args.throttle_rate_limit,
                "throttling_burst_limit": args.throttle_burst_limit,
                "metrics_enabled": DETAILED_METRICS,
            },
            opts=self._child,
        )
        self.usage_plan = aws.apigateway.UsagePlan(
            f"{name}-usage-plan",
            name=f"{args.api_name}-writers",
            api_stages=[{"api_id": self.api.id, "stage": self.stage.stage_name}],
            throttle_settings={"rate_limit": args.throttle_rate_limit, "burst_limit": args.throttle_burst_limit},
            opts=self._child,
        )
        self.api_key = aws.apigateway.ApiKey(f"{name}-writer-key", name=f"{args.api_name}-writer", opts=self._child)
        aws.apigateway.UsagePlanKey(
            f"{name}-usage-plan-key",
            key_id=self.api_key.id,
            key_type="API_KEY",
            usage_plan_id=self.usage_plan.id,
            opts=self._child,
        )
