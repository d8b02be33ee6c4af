"""Dashboard site tier: private bucket behind CloudFront (OAC), HTTPS, headers, SPA routing, config.json."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.artifacts import ROOT
from tests.infra.harness import run_program

CDN = "aws:cloudfront/distribution:Distribution"
OBJ = "aws:s3/bucketObjectv2:BucketObjectv2"


@pytest.fixture(scope="module")
def graph():
    return run_program("dev")


def resolved(output: pulumi.Output) -> str:
    box: list[str] = []

    @pulumi.runtime.test
    def resolve():
        return output.apply(box.append)

    resolve()
    return box[0]


def test_bucket_is_private_and_only_the_distribution_reads_it(graph) -> None:
    block = graph.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "site-bucket").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    cdn = graph.one(CDN, "site-cdn")
    statements = graph.one("aws:s3/bucketPolicy:BucketPolicy", "site-bucket-policy").json_input("policy")["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "OnlyThisDistributionReads",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": f"{graph.one('aws:s3/bucket:Bucket', 'site-bucket').outputs['arn']}/*",
            "Condition": {"StringEquals": {"AWS:SourceArn": cdn.outputs["arn"]}},
        }
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )


def test_cloudfront_uses_oac_https_security_headers_and_spa_routing(graph) -> None:
    cdn = graph.one(CDN, "site-cdn").inputs
    oac = graph.one("aws:cloudfront/originAccessControl:OriginAccessControl", "site-oac")
    assert oac.inputs["signingBehavior"] == "always" and oac.inputs["originAccessControlOriginType"] == "s3"
    (origin,) = cdn["origins"]
    assert origin["originAccessControlId"] == f"{oac.name}-id"
    behavior = cdn["defaultCacheBehavior"]
    assert behavior["viewerProtocolPolicy"] == "redirect-to-https"
    assert cdn["defaultRootObject"] == "index.html"
    headers = graph.one("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy", "site-security-headers")
    assert behavior["responseHeadersPolicyId"] == f"{headers.name}-id"
    sec = headers.inputs["securityHeadersConfig"]
    assert (
        sec["frameOptions"]["frameOption"] == "DENY"
        and sec["strictTransportSecurity"]["accessControlMaxAgeSec"] >= 31_536_000
    )
    assert (
        "connect-src 'self' https://*.execute-api.us-east-1.amazonaws.com https://cognito-idp.us-east-1.amazonaws.com;"
        in sec["contentSecurityPolicy"]["contentSecurityPolicy"]  # the API, and Cognito for signing in
    )
    spa = graph.one("aws:cloudfront/function:Function", "site-spa-routing")
    assert behavior["functionAssociations"] == [{"eventType": "viewer-request", "functionArn": spa.outputs["arn"]}]
    assert "/index.html" in spa.inputs["code"]


def test_config_json_carries_the_api_url_and_the_user_pool_and_the_build_is_uploaded(graph) -> None:
    config = graph.one(OBJ, "site-config-json").inputs
    api_url = graph.one("aws:apigateway/stage:Stage", "stage").outputs["invokeUrl"]
    pool = graph.one("aws:cognito/userPool:UserPool", "auth-pool")
    client = graph.one("aws:cognito/userPoolClient:UserPoolClient", "auth-dashboard-client")
    assert json.loads(config["content"]) == {
        "apiUrl": api_url,
        "auth": {
            "region": "us-east-1",
            "userPoolId": f"{pool.name}-id",
            "clientId": f"{client.name}-id",
            "endpoint": None,
            "flow": "USER_SRP_AUTH",  # the password never leaves the browser (docs/signin.md)
        },
    }
    assert config["cacheControl"] == "no-cache" and config["contentType"] == "application/json"
    files = {o.inputs["key"]: o.inputs for o in graph.of_type(OBJ) if o.name.startswith("site-file-")}
    if (ROOT / "dashboard" / "dist" / "index.html").is_file():
        assert files["index.html"]["cacheControl"] == "no-cache" and files["index.html"]["contentType"] == "text/html"
        assets = [k for k in files if k.startswith("assets/")]
        assert assets and all(files[k]["cacheControl"].endswith("immutable") for k in assets)
    else:
        assert not files


def test_dashboard_url_is_exported_and_alert_links_use_it(graph) -> None:
    site = graph.namespace["site"]
    url = resolved(site.url)
    assert url == "https://site-cdn.cloudfront.net"
    ai = graph.one("aws:lambda/function:Function", "ai-ai")
    assert ai.inputs["environment"]["variables"]["DASHBOARD_URL"] == url


def test_cors_is_the_dashboard_then_the_configured_origins_never_any() -> None:
    url = "https://site-cdn.cloudfront.net"
    for extra in ([], ["https://ops.example.com"]):
        g = run_program("dev", {"allowedOrigins": extra})
        for fn in ("ingest-ingest", "ingest-query", "ai-insights-api"):
            env = g.one("aws:lambda/function:Function", fn).inputs["environment"]["variables"]
            assert env["ALLOWED_ORIGINS"] == ",".join([url, *extra])
        preflight = g.one("aws:apigateway/integrationResponse:IntegrationResponse", "options-metrics").inputs
        assert preflight["responseParameters"]["method.response.header.Access-Control-Allow-Origin"] == f"'{url}'"


def test_site_can_be_switched_off_when_other_origins_call_the_api() -> None:
    g = run_program("dev", {"dashboardEnabled": "false", "allowedOrigins": ["https://ops.example.com"]})
    assert not g.of_type(CDN) and g.namespace["site"] is None
    assert not [o for o in g.of_type(OBJ) if o.inputs["key"] == "config.json"]
    env = g.one("aws:lambda/function:Function", "ai-insights-api").inputs["environment"]["variables"]
    assert env["ALLOWED_ORIGINS"] == "https://ops.example.com"
