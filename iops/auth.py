"""Check a Cognito user-pool ID token the way API Gateway's COGNITO_USER_POOLS authorizer does.

The deployed API never runs this: API Gateway checks the token before any Lambda. The local API
(`local.server`) must refuse exactly what API Gateway refuses, so it calls :class:`TokenVerifier`:
an RS256 signature by one of the pool's keys (its JWKS), the pool's issuer, the app client as
audience, ``token_use`` "id", and not expired (a few seconds of leeway for clock skew).

Every refusal is one :class:`Unauthorized` whose message says why, for logs; no message ever
contains the token.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from typing import Any

import jwt

ALGORITHM = "RS256"
"""Cognito signs ID tokens with RS256 only; accepting any other (``none``, HS256) would let a client choose."""
LEEWAY_S = 5.0
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "token_use")


class Unauthorized(Exception):
    """The request carries no valid ID token of this pool; the message is the reason (never the token)."""


def issuer(region: str, user_pool_id: str) -> str:
    """The ``iss`` Cognito (and moto) puts in a pool's tokens."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def jwks_url(region: str, user_pool_id: str, endpoint: str | None = None) -> str:
    """Where the pool publishes its signing keys: under the issuer in AWS, under ``endpoint`` on an emulator."""
    base = issuer(region, user_pool_id) if endpoint is None else f"{endpoint.rstrip('/')}/{user_pool_id}"
    return f"{base}/.well-known/jwks.json"


def fetch_jwks(url: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """The pool's JWKS document (fetched once: verifying then needs no network, so an outage elsewhere
    never turns a valid token into a 401)."""
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return json.loads(resp.read())


def token_from_header(value: str | None) -> str:
    """The token in an ``Authorization`` header: the raw token (what API Gateway expects) or ``Bearer <token>``."""
    text = (value or "").strip()
    scheme, _, rest = text.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else text
    if not token:
        raise Unauthorized("no token in Authorization")
    if any(c.isspace() for c in token):
        raise Unauthorized("malformed Authorization header")
    return token


class TokenVerifier:
    """Verifies ID tokens of one user pool and app client against the pool's keys."""

    def __init__(
        self, region: str, user_pool_id: str, client_id: str, jwks: Mapping[str, Any], leeway_s: float = LEEWAY_S
    ) -> None:
        self.issuer = issuer(region, user_pool_id)
        self.client_id = client_id
        self.leeway_s = leeway_s
        self._keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(dict(jwks)).keys if key.key_id}

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, if the pool issued it for this client as an ID token and it has not expired."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"not a JWT ({type(exc).__name__})") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthorized(f"algorithm {header.get('alg')!r} is not {ALGORITHM}")
        key = self._keys.get(header.get("kid"))
        if key is None:
            raise Unauthorized("signed with a key the pool does not publish")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.client_id,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("bad signature") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("issued by another user pool") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("issued to another app client") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token ({type(exc).__name__}: {exc})") from None
        if claims["token_use"] != "id":
            raise Unauthorized(f"token_use is {claims['token_use']!r}, not 'id'")
        return claims

    def verify_header(self, value: str | None) -> dict[str, Any]:
        """The claims of the token in an ``Authorization`` header value."""
        return self.verify(token_from_header(value))
