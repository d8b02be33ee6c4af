"""`iops.auth`: an ID token passes only when API Gateway's COGNITO_USER_POOLS authorizer would pass it."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from iops.auth import TokenVerifier, Unauthorized, issuer, jwks_url, token_from_header
from tests.local.tokens import CLIENT_ID, POOL_ID, REGION, Signer


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture(scope="module")
def verifier(signer: Signer) -> TokenVerifier:
    return TokenVerifier(REGION, POOL_ID, CLIENT_ID, signer.jwks())


def refused(verifier: TokenVerifier, token: str, reason: str) -> None:
    with pytest.raises(Unauthorized, match=reason) as caught:
        verifier.verify(token)
    assert token not in str(caught.value)  # the reason goes to logs: never the token


def test_a_token_of_the_pool_for_its_client_gives_its_claims(signer: Signer, verifier: TokenVerifier) -> None:
    claims = verifier.verify(signer.token(**{"cognito:username": "alice"}))
    assert claims["cognito:username"] == "alice" and claims["token_use"] == "id"
    assert claims["iss"] == f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"


def test_the_header_may_carry_the_raw_token_or_a_bearer_token(signer: Signer, verifier: TokenVerifier) -> None:
    token = signer.token()
    assert token_from_header(token) == token_from_header(f"Bearer {token}") == token_from_header(f"bearer  {token} ")
    assert verifier.verify_header(f"Bearer {token}")["aud"] == CLIENT_ID
    for value in (None, "", "   ", "Bearer", "Bearer ", f"Bearer {token} extra", f"Basic {token}"):
        with pytest.raises(Unauthorized):
            verifier.verify_header(value)


def test_a_token_signed_by_another_key_is_refused(verifier: TokenVerifier) -> None:
    forger = Signer()  # same kid, another RSA key
    refused(verifier, forger.token(), "bad signature")
    refused(verifier, Signer(kid="other").token(), "key the pool does not publish")


def test_a_tampered_payload_is_refused(signer: Signer, verifier: TokenVerifier) -> None:
    head, payload, sig = signer.token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["cognito:username"] = "root"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    refused(verifier, f"{head}.{forged}.{sig}", "bad signature")


def test_algorithms_other_than_rs256_are_refused(signer: Signer, verifier: TokenVerifier) -> None:
    claims = jwt.decode(signer.token(), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": signer.kid})
    refused(verifier, unsigned, "algorithm 'none'")
    hmac = jwt.encode(claims, "a-guessable-shared-secret-of-32-bytes", algorithm="HS256", headers={"kid": signer.kid})
    refused(verifier, hmac, "algorithm 'HS256'")


def test_an_expired_token_is_refused_past_the_leeway(signer: Signer, verifier: TokenVerifier) -> None:
    refused(verifier, signer.token(expires_in=-60), "expired")
    assert verifier.verify(signer.token(expires_in=-2))  # within 5 s of clock skew


def test_another_pool_or_client_or_token_use_is_refused(signer: Signer, verifier: TokenVerifier) -> None:
    refused(verifier, signer.token(pool_id="us-east-1_otherpool"), "another user pool")
    refused(verifier, signer.token(region="eu-west-1"), "another user pool")
    refused(verifier, signer.token(client_id="another-client"), "another app client")
    refused(verifier, signer.token(token_use="access"), "token_use is 'access'")


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "token_use"])
def test_a_token_without_a_required_claim_is_refused(signer: Signer, verifier: TokenVerifier, claim: str) -> None:
    refused(verifier, signer.token(**{claim: None}), "invalid token|another")


@pytest.mark.parametrize("garbage", ["x", "a.b.c", "....", "eyJ9.eyJ9.x", "é.é.é", "Bearer", "{}"])
def test_garbage_is_refused(verifier: TokenVerifier, garbage: str) -> None:
    with pytest.raises(Unauthorized):
        verifier.verify(garbage)


def test_the_pool_publishes_its_keys_under_its_issuer() -> None:
    assert issuer("eu-west-1", "eu-west-1_abc") == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"
    assert jwks_url("eu-west-1", "eu-west-1_abc") == (
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json"
    )
    assert jwks_url("us-east-1", "us-east-1_x", "http://127.0.0.1:5000/") == (
        "http://127.0.0.1:5000/us-east-1_x/.well-known/jwks.json"
    )
