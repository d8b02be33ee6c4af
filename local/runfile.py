"""Where a running `iops local` leaves its keys and its user, so local tools find them without copying.

`iops local` generates a key per writer and a password for its one user unless given them and, like
API Gateway, refuses writes without a writer's key and reads without a signed-in user's token.
Copying these from the banner is one step too many for a first demo, so the server writes
``{"url", "api_key", "writers", "pid", "environment", "user", "password", "user_pool_id",
"client_id", "region", "cognito_endpoint"}`` to a file readable only by its user, one per port, and
removes it on a clean stop. ``api_key`` is the first writer's key (what `iops demo` sends);
``writers`` maps every writer's name to its key. ``environment`` is what the run's handlers read
(emulator endpoint, table names, detectors), so that ``iops replay --local`` runs the AI handler
against that run. The user's fields are what `iops token` signs in with (``cognito_endpoint`` is the
emulator's Cognito). Only loopback URLs are looked up: a deployed API's key never comes from here.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True, slots=True)
class SignIn:
    """The local user and the pool it belongs to."""

    user: str
    password: str
    user_pool_id: str
    client_id: str
    region: str
    cognito_endpoint: str


def run_dir() -> Path:
    """``$IOPS_RUN_DIR``, else ``$XDG_RUNTIME_DIR/iops-dashboard``, else ``~/.cache/iops-dashboard``."""
    if os.environ.get("IOPS_RUN_DIR"):
        return Path(os.environ["IOPS_RUN_DIR"])
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.environ["XDG_RUNTIME_DIR"]) / "iops-dashboard"
    return Path.home() / ".cache" / "iops-dashboard"


def path(port: int) -> Path:
    return run_dir() / f"local-{port}.json"


def write(
    port: int,
    url: str,
    api_key: str,
    environment: dict[str, str] | None = None,
    *,
    writers: dict[str, str] | None = None,
    sign_in: SignIn | None = None,
) -> Path:
    """Record the running server's keys, user and handler environment (mode 0600: they are secrets, even local ones)."""
    target = path(port)
    target.parent.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "url": url,
        "api_key": api_key,
        "writers": writers or {},
        "pid": os.getpid(),
        "environment": environment or {},
        **(asdict(sign_in) if sign_in else {}),
    }
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(record, out)
    return target


def remove(port: int) -> None:
    path(port).unlink(missing_ok=True)


def read(api_url: str) -> dict[str, Any] | None:
    """The run file of the `iops local` serving ``api_url``, when it is a loopback URL with one."""
    parsed = urlparse(api_url)
    if parsed.hostname not in LOOPBACK:
        return None
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        record = json.loads(path(port).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def local_api_key(api_url: str) -> str | None:
    """The (first writer's) key of the `iops local` serving ``api_url``."""
    key = (read(api_url) or {}).get("api_key")
    return key if isinstance(key, str) else None


def local_sign_in(api_url: str) -> SignIn | None:
    """The user of the `iops local` serving ``api_url``, and its pool."""
    record = read(api_url) or {}
    try:
        return SignIn(**{f.name: record[f.name] for f in fields(SignIn)})
    except KeyError:
        return None


def local_environment(port: int) -> dict[str, str] | None:
    """The handler environment of the `iops local` on ``port``, when one is running there."""
    try:
        env = json.loads(path(port).read_text())["environment"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return env if isinstance(env, dict) and env else None
