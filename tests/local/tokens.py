"""Tokens for tests: a signer with its own RSA key (or moto's), so tests can mint valid, forged and expired ID tokens."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from iops.auth import issuer

REGION = "us-east-1"
POOL_ID = "us-east-1_testpool"
CLIENT_ID = "test-client"


class Signer:
    """An RSA key published as ``kid``: ``jwks()`` is what a verifier trusts, ``token()`` signs claims."""

    def __init__(self, kid: str = "test-key", key: Any = None) -> None:
        self.kid = kid
        self.key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @classmethod
    def moto(cls) -> Signer:
        """moto's own signing key (one for every pool it emulates): tokens it would accept as its own."""
        from moto.utilities.utils import load_resource

        private = load_resource("cognitoidp/resources/jwks-private.json")
        return cls(private["kid"], RSAAlgorithm.from_jwk(private))

    def jwks(self) -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def token(
        self,
        pool_id: str = POOL_ID,
        client_id: str = CLIENT_ID,
        region: str = REGION,
        expires_in: float = 3600,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """An ID token of ``pool_id`` for ``client_id``; ``claims`` override (None drops a claim)."""
        now = int(time.time())
        payload = {
            "iss": issuer(region, pool_id),
            "sub": str(uuid.uuid4()),
            "aud": client_id,
            "token_use": "id",
            "iat": now,
            "auth_time": now,
            "exp": int(now + expires_in),
            "cognito:username": "tester",
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": self.kid, **(headers or {})})
