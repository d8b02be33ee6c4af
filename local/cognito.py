"""The local user pool: created in the emulator's Cognito, one user who can sign in, and the browser's door to it.

What the stack will declare (self sign-up off, a password policy, an app client without a secret)
is created in moto with one user whose password is permanent, so signing in needs no "new
password" step. The dashboard signs in with Cognito's JSON API, which the local API forwards
same-origin (:func:`forward`) for the few operations a browser needs.
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from iops.auth import TokenVerifier, fetch_jwks, jwks_url

DEFAULT_USER = "admin"
PASSWORD_POLICY = {
    "MinimumLength": 12,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
}
AUTH_FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
LOCAL_FLOW = "USER_PASSWORD_AUTH"
"""What the local dashboard and `iops token` use. Not SRP: moto's USER_SRP_AUTH never checks the
password (its RespondToAuthChallenge accepts any PASSWORD_VERIFIER), so a wrong password would sign
in. USER_PASSWORD_AUTH checks it. The deployed stack's config.json says USER_SRP_AUTH."""
TARGET_PREFIX = "AWSCognitoIdentityProviderService."
BROWSER_TARGETS = frozenset(
    TARGET_PREFIX + op for op in ("InitiateAuth", "RespondToAuthChallenge", "GetUser", "GlobalSignOut", "RevokeToken")
)
"""The only Cognito operations forwarded for the browser: signing in and out, never administration."""
FORWARD_TIMEOUT_S = 10.0
SYMBOLS = re.compile(r"[\^$*.\[\]{}()?\"!@#%&/\\,><':;|_~`=+-]")


@dataclass(frozen=True, slots=True)
class UserPool:
    """A user pool and its app client in the emulator: what config.json, the API and `iops token` need."""

    region: str
    user_pool_id: str
    client_id: str
    endpoint: str
    """The emulator's URL: its Cognito JSON API (``POST /``) and the pool's JWKS."""

    def verifier(self) -> TokenVerifier:
        """A verifier with the pool's keys, fetched now (the API checks tokens without calling the emulator)."""
        keys = fetch_jwks(jwks_url(self.region, self.user_pool_id, self.endpoint))
        return TokenVerifier(self.region, self.user_pool_id, self.client_id, keys)


def satisfies_policy(password: str) -> bool:
    """Whether ``password`` meets `PASSWORD_POLICY` (Cognito's symbol set)."""
    return (
        len(password) >= PASSWORD_POLICY["MinimumLength"]
        and re.search(r"[A-Z]", password) is not None
        and re.search(r"[a-z]", password) is not None
        and re.search(r"[0-9]", password) is not None
        and SYMBOLS.search(password) is not None
    )


def generate_password() -> str:
    """A random password the pool's policy accepts."""
    while True:
        candidate = secrets.token_urlsafe(15)  # 20 characters of [A-Za-z0-9_-]
        if satisfies_policy(candidate):
            return candidate


def check_password(password: str) -> None:
    """Raise ``ValueError`` saying what the policy wants, unless ``password`` meets it."""
    if not satisfies_policy(password):
        raise ValueError(
            "the password needs 12 or more characters with upper and lower case letters, a digit and a symbol"
        )


def create_user_pool(emu: Any, user: str, password: str) -> UserPool:
    """In the emulator ``emu``: the pool, its dashboard client and one confirmed user with a permanent ``password``."""
    cognito = emu.client("cognito-idp")
    pool = cognito.create_user_pool(
        PoolName=f"{emu.prefix}-users",
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        Policies={"PasswordPolicy": PASSWORD_POLICY},
    )["UserPool"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName=f"{emu.prefix}-dashboard",
        GenerateSecret=False,
        ExplicitAuthFlows=AUTH_FLOWS,
    )["UserPoolClient"]
    cognito.admin_create_user(UserPoolId=pool["Id"], Username=user, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool["Id"], Username=user, Password=password, Permanent=True)
    region = cognito.meta.region_name
    return UserPool(region=region, user_pool_id=pool["Id"], client_id=client["ClientId"], endpoint=emu.endpoint)


@dataclass(frozen=True, slots=True)
class Forwarded:
    """The emulator's answer to a forwarded call: status, body and the headers worth passing on."""

    status: int
    body: bytes
    headers: dict[str, str]


def error(status: int, kind: str, message: str) -> Forwarded:
    """An answer in Cognito's error shape (``__type``), with ``message`` as every API error has."""
    body = json.dumps({"__type": kind, "message": message}).encode()
    return Forwarded(status, body, {"Content-Type": "application/x-amz-json-1.1", "X-Amzn-ErrorType": kind})


def forward(endpoint: str, target: str, content_type: str, body: bytes) -> Forwarded:
    """Forward one browser call of Cognito's JSON API to the emulator (only `BROWSER_TARGETS`).

    Unsigned, like the browser's own call, so moto routes it by ``X-Amz-Target``. moto answers some
    calls it cannot serve (RevokeToken, a missing parameter) with an HTML 500; Cognito would answer
    those with a 400, so that is what the browser gets. Raises ``OSError`` when the emulator is down.
    """
    if target not in BROWSER_TARGETS:
        return error(400, "InvalidActionException", "this Cognito operation is not served here")
    req = urllib.request.Request(
        endpoint.rstrip("/") + "/",
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": content_type or "application/x-amz-json-1.1"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=FORWARD_TIMEOUT_S) as resp:
            status, payload, headers = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as exc:
        status, payload, headers = exc.code, exc.read(), exc.headers
    if status >= 500:
        op = target.removeprefix(TARGET_PREFIX)
        return error(400, "InvalidParameterException", f"the local Cognito (moto) cannot serve this {op} request")
    kept = {k: headers[k] for k in ("Content-Type", "X-Amzn-ErrorType", "x-amzn-RequestId") if headers.get(k)}
    return Forwarded(status, payload, kept)
