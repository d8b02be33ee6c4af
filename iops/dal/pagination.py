"""Pagination tokens: a DynamoDB start key handed to clients as an opaque, signed string."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from iops.errors import BadRequest
from iops.logs import get_logger
from iops.settings import PaginationSettings

log = get_logger(__name__)

MAX_TOKEN_CHARS = 1024
TOKEN_SECRET_ENV = PaginationSettings.env_name("token_secret")


def _token_key() -> bytes:
    """The key that signs pagination tokens: the stack's secret, else one per process (local runs)."""
    global _TOKEN_KEY
    if _TOKEN_KEY is None:
        configured = PaginationSettings.from_env().token_secret or ""
        if not configured:
            log.warning("no pagination token secret: tokens are valid in this process only", variable=TOKEN_SECRET_ENV)
        _TOKEN_KEY = (configured or secrets.token_hex(32)).encode()
    return _TOKEN_KEY


_TOKEN_KEY: bytes | None = None


def _signature(payload: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(_token_key(), payload, hashlib.sha256).digest()[:18]).decode()


def encode_token(key: dict | None) -> str | None:
    """A DynamoDB start key as an opaque token: base64url JSON, then an HMAC of it."""
    if not key:
        return None
    payload = base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode())
    return f"{payload.decode()}.{_signature(payload)}"


def decode_token(token: str | None) -> dict | None:
    """The start key of a token this API issued; anything else (forged, altered, oversized) is a 400.

    The signature is checked before the JSON is parsed, so no client-made JSON is ever parsed here.
    """
    if not token:
        return None
    refused = BadRequest("nextToken is not a token this API returned")
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise refused
    payload, signature = token.split(".")
    if not hmac.compare_digest(signature.encode(), _signature(payload.encode()).encode()):
        raise refused
    try:
        key = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, UnicodeDecodeError):
        raise refused from None
    if not isinstance(key, dict) or not all(isinstance(v, dict) and len(v) == 1 for v in key.values()):
        raise refused
    return key
