"""`iops local` as a separate process, the way users (and the fuzz, fault and load tests) run it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from local.emulator import free_port

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout_s: float, what: str, every_s: float = 0.5) -> T:
    """``check()``'s first truthy answer, polled every ``every_s`` until ``timeout_s``; else the test fails saying ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every_s)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


ROOT = Path(__file__).resolve().parents[2]


class IopsLocal:
    """Start, stop and restart ``iops local`` on a free port with a known API key; ``token`` signs its user in."""

    def __init__(
        self,
        api_key: str = "hardening-key",
        port: int | None = None,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        keep: int | None = 200,
    ) -> None:
        self.api_key = api_key
        self.port = port or free_port()
        self.extra_args = extra_args
        self.env = env or {}
        self.proc: subprocess.Popen[str] | None = None
        self.output: deque[str] = deque(maxlen=keep)
        """What it printed: the last ``keep`` lines (every line when None)."""
        self._token: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        """An ID token of this run's user, as `iops token --api URL` prints it (signed in once per run)."""
        if self._token is None:
            from cli.token_cmd import local_token

            self._token = local_token(self.url)
        return self._token

    def start(self, timeout_s: float = 60) -> IopsLocal:
        self._token = None
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "local",
                "--port",
                str(self.port),
                "--api-key",
                self.api_key,
                *self.extra_args,
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout_s
        banner: list[str] = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline() if self.proc.stdout else ""
            banner.append(line)
            self.output.append(line)
            if self.api_key in line:
                threading.Thread(target=self._drain, name="iops-local-output", daemon=True).start()
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("iops local exited: " + "".join(banner))
        raise RuntimeError("iops local did not start: " + "".join(banner))

    def _drain(self) -> None:
        """Keep reading the server's output (a full pipe would block it); keep the tail for failures."""
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def stop(self, timeout_s: float = 20) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __enter__(self) -> IopsLocal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.stop()


def http(
    method: str, url: str, body: Any = None, key: str | None = None, timeout: float = 30, token: str | None = None
) -> tuple[int, Any]:
    """One request (with a writer's ``key``, a user's ``token``); the status and the JSON body (None when empty)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if key:
        headers["x-api-key"] = key
    if token:
        headers["Authorization"] = token
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
