"""Secrets Manager reads: a secret fetched once per container, read again only when found stale.

A Lambda container serves many requests; fetching the secret on each would add a call (and its
latency and cost) to every one. A caller that finds the cached value stale (a key that no longer
matches, after a rotation) may ask for a fresh one, at most once per `MIN_REFRESH_S`, so a flood
of wrong keys cannot turn into a flood of Secrets Manager calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from iops.dal import aws

MIN_REFRESH_S = 60.0


def secret_string(secret_id: str) -> str:
    """The current ``SecretString`` of ``secret_id`` (a name or an ARN)."""
    return aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]


@dataclass(slots=True)
class CachedSecret:
    """One secret's value, fetched on first use and kept; `refreshed` fetches it again, rate-limited."""

    secret_id: str
    fetch: Callable[[str], str] = secret_string
    min_refresh_s: float = MIN_REFRESH_S
    clock: Callable[[], float] = time.monotonic
    _value: str | None = field(default=None, init=False)
    _fetched_at: float = field(default=float("-inf"), init=False)

    def value(self) -> str:
        return self._value if self._value is not None else self._load()

    def refreshed(self) -> str | None:
        """A freshly fetched value, or None when the last fetch was less than ``min_refresh_s`` ago."""
        if self.clock() - self._fetched_at < self.min_refresh_s:
            return None
        return self._load()

    def _load(self) -> str:
        value = self.fetch(self.secret_id)
        self._value, self._fetched_at = value, self.clock()
        return value


@cache
def cached(secret_id: str) -> CachedSecret:
    """The container's one cache of ``secret_id``."""
    return CachedSecret(secret_id)
