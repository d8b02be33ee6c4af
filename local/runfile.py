"""Where a running `iops local` leaves its API key, so `iops demo --api http://127.0.0.1:PORT` finds it.

`iops local` generates a key unless given one and, like API Gateway, refuses writes without it.
Copying the key from the banner is one step too many for a first demo, so the server writes
``{"url", "api_key", "pid", "environment"}`` to a file readable only by its user, one per port, and
removes it on a clean stop. ``environment`` is what the run's handlers read (emulator endpoint,
table names, detectors), so that ``iops replay --local`` runs the AI handler against that run.
Only loopback URLs are looked up: a deployed API's key never comes from here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlparse

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def run_dir() -> Path:
    """``$IOPS_RUN_DIR``, else ``$XDG_RUNTIME_DIR/iops-dashboard``, else ``~/.cache/iops-dashboard``."""
    if os.environ.get("IOPS_RUN_DIR"):
        return Path(os.environ["IOPS_RUN_DIR"])
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.environ["XDG_RUNTIME_DIR"]) / "iops-dashboard"
    return Path.home() / ".cache" / "iops-dashboard"


def path(port: int) -> Path:
    return run_dir() / f"local-{port}.json"


def write(port: int, url: str, api_key: str, environment: dict[str, str] | None = None) -> Path:
    """Record the running server's key and handler environment (mode 0600: the key is a secret, even a local one)."""
    target = path(port)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"url": url, "api_key": api_key, "pid": os.getpid(), "environment": environment or {}}, out)
    return target


def remove(port: int) -> None:
    path(port).unlink(missing_ok=True)


def local_api_key(api_url: str) -> str | None:
    """The key of the `iops local` serving ``api_url``, when it is a loopback URL with a run file."""
    parsed = urlparse(api_url)
    if parsed.hostname not in LOOPBACK:
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        return json.loads(path(port).read_text())["api_key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def local_environment(port: int) -> dict[str, str] | None:
    """The handler environment of the `iops local` on ``port``, when one is running there."""
    try:
        env = json.loads(path(port).read_text())["environment"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return env if isinstance(env, dict) and env else None
