"""Who may do what (docs/security.md): readers sign in, writers have their own keys, abuse has limits.

Every read route needs the user pool's token, each writer its own key and usage plan, every
function a concurrency cap; WAF fronts the API and the dashboard when enabled; CORS names origins.
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from components.waf import MANAGED_RULE_GROUPS
from handlers.definitions import ROUTES
from iops.settings import ApiSettings
from policy import rules
from tests.infra.harness import Graph, run_program

METHOD = "aws:apigateway/method:Method"
POOL = "aws:cognito/userPool:UserPool"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
USER = "aws:cognito/user:User"
PLAN = "aws:apigateway/usagePlan:UsagePlan"
KEY = "aws:apigateway/apiKey:ApiKey"
PLAN_KEY = "aws:apigateway/usagePlanKey:UsagePlanKey"
ACL = "aws:wafv2/webAcl:WebAcl"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
FN = "aws:lambda/function:Function"
CDN = "aws:cloudfront/distribution:Distribution"


def graph(stack: str, **overrides: object) -> Graph:
    """The program's graph for ``stack`` with ``overrides``, run once per distinct config."""
    return _graph(stack, json.dumps(overrides, sort_keys=True))


@cache
def _graph(stack: str, overrides: str) -> Graph:
    return run_program(stack, json.loads(overrides))


def route_methods(g: Graph) -> dict[tuple[str, str], dict]:
    """(method, path) -> the method's inputs, for every route of ROUTES."""
    by_name = {m.name: m.inputs for m in g.of_type(METHOD)}
    out = {}
    for r in ROUTES:
        slug = r.path.strip("/").replace("/", "-").replace("{", "").replace("}", "").replace(".", "-")
        out[(r.method, r.path)] = by_name[f"ingest-rest-{r.method.lower()}-{slug}"]
    return out


# --- Readers sign in -------------------------------------------------------------------------------


def test_every_signed_in_route_has_the_pool_authorizer_and_the_others_none() -> None:
    g = graph("dev")
    (authorizer,) = g.of_type("aws:apigateway/authorizer:Authorizer")
    pool = g.one(POOL, "auth-pool")
    assert authorizer.inputs["type"] == "COGNITO_USER_POOLS"
    assert authorizer.inputs["providerArns"] == [pool.outputs["arn"]]
    assert authorizer.inputs["identitySource"] == "method.request.header.Authorization"
    methods = route_methods(g)
    assert sum(r.signed_in for r in ROUTES) >= 4  # every read: GET /metrics, /insights...
    for r in ROUTES:
        m = methods[(r.method, r.path)]
        if r.signed_in:
            assert (m["authorization"], m["authorizerId"]) == ("COGNITO_USER_POOLS", f"{authorizer.name}-id"), r
        else:
            assert m["authorization"] == "NONE" and "authorizerId" not in m, r
        assert bool(m.get("apiKeyRequired")) == r.api_key, r
    assert methods[("POST", "/metrics")]["apiKeyRequired"] is True
    open_routes = {(r.method, r.path) for r in ROUTES if not r.signed_in and not r.api_key}
    assert open_routes == {
        ("GET", "/openapi.json"),
        ("POST", "/firehose/cloudwatch"),
    }  # Firehose: its key, checked by the handler
    assert all(r.firehose_key for r in ROUTES if (r.method, r.path) == ("POST", "/firehose/cloudwatch"))
    preflight = [m for m in g.of_type(METHOD) if m.inputs["httpMethod"] == "OPTIONS"]
    assert preflight and all(m.inputs["authorization"] == "NONE" for m in preflight)  # browsers send no token


def test_pool_admits_only_invited_users_with_strong_passwords() -> None:
    pool = graph("dev").one(POOL, "auth-pool").inputs
    assert pool["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True
    assert "{####}" in pool["adminCreateUserConfig"]["inviteMessageTemplate"]["emailMessage"]
    assert "https://site-cdn.cloudfront.net" in pool["adminCreateUserConfig"]["inviteMessageTemplate"]["emailMessage"]
    assert pool["passwordPolicy"] == {
        "minimumLength": 12,
        "requireUppercase": True,
        "requireLowercase": True,
        "requireNumbers": True,
        "requireSymbols": True,
        "temporaryPasswordValidityDays": 7,
    }
    assert pool["usernameAttributes"] == ["email"] and pool["autoVerifiedAttributes"] == ["email"]
    assert pool["mfaConfiguration"] == "OPTIONAL" and pool["softwareTokenMfaConfiguration"] == {"enabled": True}


@pytest.mark.parametrize(
    ("mfa", "expected"), [("off", "OFF"), ("optional", "OPTIONAL"), ("on", "ON"), ("false", "OFF")]
)
def test_mfa_follows_config(mfa: str, expected: str) -> None:
    pool = graph("dev", mfa=mfa).one(POOL, "auth-pool").inputs
    assert pool["mfaConfiguration"] == expected
    assert ("softwareTokenMfaConfiguration" in pool) == (expected != "OFF")


def test_mfa_refuses_an_unknown_mode() -> None:
    with pytest.raises(Exception, match="mfa must be off, optional or on"):
        run_program("dev", {"mfa": "sometimes"})


def test_dashboard_client_has_no_secret_the_three_flows_and_short_tokens() -> None:
    client = graph("dev").one(CLIENT, "auth-dashboard-client").inputs
    assert client["generateSecret"] is False
    assert client["explicitAuthFlows"] == [
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    ]
    assert client["preventUserExistenceErrors"] == "ENABLED" and client["enableTokenRevocation"] is True
    assert (client["idTokenValidity"], client["accessTokenValidity"], client["refreshTokenValidity"]) == (1, 1, 30)
    assert client["tokenValidityUnits"] == {"idToken": "hours", "accessToken": "hours", "refreshToken": "days"}
    assert "allowedOauthFlows" not in client  # no hosted UI: the dashboard signs in through the API


def test_dashboard_users_are_invited_by_email() -> None:
    g = graph("dev", dashboardUsers=["alice@example.com", "bob@example.org"])
    users = {u.name: u.inputs for u in g.of_type(USER)}
    assert set(users) == {"auth-user-alice-at-example-com", "auth-user-bob-at-example-org"}
    alice = users["auth-user-alice-at-example-com"]
    assert alice["username"] == "alice@example.com" and alice["attributes"]["email"] == "alice@example.com"
    assert alice["desiredDeliveryMediums"] == ["EMAIL"] and "password" not in alice
    assert not graph("dev").of_type(USER)  # none by default


# --- Writers have their own keys -------------------------------------------------------------------


def writer_resources(g: Graph) -> set[str]:
    return {r.name for r in g.resources if r.type in (PLAN, KEY, PLAN_KEY)}


def test_each_writer_has_a_key_and_a_plan_with_throttle_and_quota() -> None:
    g = graph("dev", writers=["rack-a", "rack-b"], writerRateLimit=5, writerBurstLimit=10, writerQuotaPerDay=5000)
    stage = g.one("aws:apigateway/stage:Stage", "stage")
    plans = {p.name: p.inputs for p in g.of_type(PLAN)}
    assert set(plans) == {"ingest-rest-writer-rack-a-plan", "ingest-rest-writer-rack-b-plan"}
    for plan in plans.values():
        assert plan["throttleSettings"] == {"rateLimit": 5, "burstLimit": 10}
        assert plan["quotaSettings"] == {"limit": 5000, "period": "DAY"}
        assert plan["apiStages"] == [{"apiId": "ingest-rest-api-id", "stage": stage.inputs["stageName"]}]
    bindings = {(k.inputs["keyId"], k.inputs["usagePlanId"]) for k in g.of_type(PLAN_KEY)}
    assert bindings == {
        (f"ingest-rest-writer-{w}-key-id", f"ingest-rest-writer-{w}-plan-id") for w in ("rack-a", "rack-b")
    }
    assert set(g.namespace["api"].api_keys) == {"rack-a", "rack-b"}


def test_removing_a_writer_removes_exactly_its_key_and_plan() -> None:
    three = writer_resources(graph("dev", writers=["a", "b", "c"]))
    two = writer_resources(graph("dev", writers=["a", "c"]))
    assert three - two == {"ingest-rest-writer-b-plan", "ingest-rest-writer-b-key", "ingest-rest-writer-b-plan-key"}
    assert two < three


def test_the_stacks_writers_and_no_shared_key() -> None:
    assert set(graph("dev").namespace["api"].api_keys) == {"local"}  # what `iops local` reads too
    assert set(graph("prod").namespace["api"].api_keys) == {"agents", "backfill"}
    assert not [r for r in graph("dev").resources if r.name in ("ingest-rest-writer-key", "ingest-rest-usage-plan")]


def test_no_key_value_reaches_any_resource_input() -> None:
    """A key is only ever in the secret writerKeys output: not in an environment, a policy, a log format."""
    g = graph("prod")
    value = g.one(KEY, "writer-agents").outputs["value"]
    assert value and not [r.name for r in g.resources if value in json.dumps(r.inputs, default=str)]


# --- Abuse limits ----------------------------------------------------------------------------------


def test_every_function_has_reserved_concurrency() -> None:
    g = graph("dev", streamingEnabled=True)  # every function: the process and simulator too
    caps = {f.inputs["name"]: f.inputs.get("reservedConcurrentExecutions") for f in g.of_type(FN)}
    assert caps == {
        "iops-dev-ingest": 100,
        "iops-dev-query": 20,
        "iops-dev-insights": 20,
        "iops-dev-ai": 50,
        "iops-dev-ib-process": 20,
        "iops-dev-ib-simulator": 1,
        "iops-dev-incident-sweeper": 1,
    }
    g = graph("dev", queryReservedConcurrency=5, insightsReservedConcurrency=6)
    assert g.one(FN, "ingest-query").inputs["reservedConcurrentExecutions"] == 5
    assert g.one(FN, "ai-insights-api").inputs["reservedConcurrentExecutions"] == 6


def test_waf_fronts_the_api_stage_and_the_distribution_when_enabled() -> None:
    g = graph("prod")
    acls = {a.inputs["scope"]: a for a in g.of_type(ACL)}
    assert set(acls) == {"REGIONAL", "CLOUDFRONT"}
    (association,) = g.of_type(ASSOCIATION)
    assert association.inputs["resourceArn"] == g.one("aws:apigateway/stage:Stage", "stage").outputs["arn"]
    assert association.inputs["webAclArn"] == acls["REGIONAL"].outputs["arn"]
    assert g.one(CDN, "site-cdn").inputs["webAclId"] == acls["CLOUDFRONT"].outputs["arn"]
    # A CLOUDFRONT ACL exists only in us-east-1: its own provider, whatever the stack's region.
    (provider,) = [p for p in g.of_type("pulumi:providers:aws") if p.name == "waf-cloudfront-us-east-1"]
    assert provider.inputs["region"] == "us-east-1"
    assert f"::{provider.name}::" in acls["CLOUDFRONT"].provider
    assert not acls["REGIONAL"].provider
    for acl in acls.values():
        assert acl.inputs["defaultAction"] == {"allow": {}}
        groups = [r["statement"]["managedRuleGroupStatement"]["name"] for r in acl.inputs["rules"][:-1]]
        assert groups == list(MANAGED_RULE_GROUPS)
        rate = acl.inputs["rules"][-1]
        assert rate["action"] == {"block": {}}
        assert rate["statement"]["rateBasedStatement"] == {
            "limit": 2000,
            "aggregateKeyType": "IP",
            "evaluationWindowSec": 300,
        }


def test_no_waf_when_disabled_and_the_rate_limit_is_config() -> None:
    dev = graph("dev")
    assert not dev.of_type(ACL) and not dev.of_type(ASSOCIATION)
    assert "webAclId" not in dev.one(CDN, "site-cdn").inputs
    g = graph("dev", wafEnabled=True, wafRateLimit=500)
    assert len(g.of_type(ACL)) == 2 and len(g.of_type(ASSOCIATION)) == 1
    assert {a.inputs["rules"][-1]["statement"]["rateBasedStatement"]["limit"] for a in g.of_type(ACL)} == {500}


# --- CORS and API Gateway's own errors -------------------------------------------------------------


def test_gateway_errors_carry_cors_and_a_json_message() -> None:
    g = graph("prod")
    responses = {r.inputs["responseType"]: r.inputs for r in g.of_type("aws:apigateway/response:Response")}
    assert set(responses) == {"UNAUTHORIZED", "ACCESS_DENIED", "DEFAULT_4XX", "DEFAULT_5XX"}
    for response in responses.values():
        params = response["responseParameters"]
        assert params["gatewayresponse.header.Access-Control-Allow-Origin"] == "'https://site-cdn.cloudfront.net'"
        assert "Authorization" in params["gatewayresponse.header.Access-Control-Allow-Headers"]
        assert response["responseTemplates"] == {"application/json": '{"message": $context.error.messageString}'}


def test_cors_never_admits_any_origin() -> None:
    prod = graph("prod")
    env = prod.one(FN, "ai-insights-api").inputs["environment"]["variables"]
    assert env["ALLOWED_ORIGINS"] == "https://site-cdn.cloudfront.net,https://dashboard.example.com"
    for g in (graph("dev"), prod):
        for fn in g.of_type(FN):
            origins = fn.inputs["environment"]["variables"].get(rules.CORS_ENV, "")
            assert "*" not in origins.split(","), fn.name
    with pytest.raises(Exception, match="allowedOrigins must name origins"):
        run_program("dev", {"allowedOrigins": ["*"]})
    with pytest.raises(Exception, match="no browser may call the API"):
        run_program("dev", {"dashboardEnabled": False})


def test_the_policy_packs_cors_variable_is_the_functions() -> None:
    (variable,) = [v for v in ApiSettings.variables() if v.field == "allowed_origins"]
    assert variable.env == rules.CORS_ENV


def test_waf_lets_a_full_metrics_batch_through() -> None:
    """The common rule set blocks bodies over 8 KB; a POST /metrics batch is larger, so that rule only counts."""
    for acl in graph("prod").of_type(ACL):
        (common,) = [r for r in acl.inputs["rules"] if r["name"] == "AWSManagedRulesCommonRuleSet"]
        overrides = common["statement"]["managedRuleGroupStatement"]["ruleActionOverrides"]
        assert overrides == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
        others = [r for r in acl.inputs["rules"] if "managedRuleGroupStatement" in r["statement"] and r is not common]
        assert all("ruleActionOverrides" not in r["statement"]["managedRuleGroupStatement"] for r in others)
