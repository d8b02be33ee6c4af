"""Query-string parameters shared by the read routes, each refused with a message the client can act on."""

from __future__ import annotations

from iops.errors import BadRequest
from iops.models.common import parse_timestamp


def parse_limit(raw: str | None, default: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"limit must be an integer between 1 and {maximum}") from None
    if not 1 <= value <= maximum:
        raise BadRequest(f"limit must be an integer between 1 and {maximum}")
    return value


def parse_time_param(name: str, raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return parse_timestamp(raw)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None
