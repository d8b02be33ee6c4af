"""AWS clients, created once per process (Lambda container reuse) with bounded retries.

``AWS_ENDPOINT_URL`` (honoured by boto3) points them at the local emulator.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=3,
    read_timeout=10,
    account_id_endpoint_mode="disabled",
)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


def reset() -> None:
    """Drop cached clients (tests switch endpoints and credentials)."""
    client.cache_clear()
