"""Browser end-to-end fixtures: `iops local` as a subprocess, Debian's Chromium via Playwright.

`iops local` gets a known user and password (through the environment, never argv) so the tests sign
in as a person would: on the dashboard's sign-in page.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.emulator import free_port
from tests.local import iops_process

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("IOPS_CHROMIUM", "/usr/bin/chromium"))
DIST_INDEX = ROOT / "dashboard" / "dist" / "index.html"
ARTIFACTS = ROOT / "test-artifacts"
API_KEY = "e2e-key-0123456789"
USER = "e2e-reader"
PASSWORD = "E2e-Passw0rd!2026"  # meets the local pool's policy: 12+, upper, lower, digit, symbol
SIGNED_IN = '[data-testid="signed-in-user"]'
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def skip_reason() -> str | None:
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing (apt-get install chromium, or `make browser`)"
    if not DIST_INDEX.is_file():
        return "dashboard/dist is not built (cd dashboard && npm ci && npm run build, or `make dashboard`)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


def http_json(method: str, url: str, body: object | None = None, key: str | None = API_KEY) -> tuple[int, Any]:
    return iops_process.http(method, url, body, key=key)


@dataclass
class LocalSystem:
    url: str
    key: str
    user: str = USER
    password: str = PASSWORD
    log: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def local_system() -> Iterator[LocalSystem]:
    """`iops local --port P --api-key K`, exactly as a user starts it."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "local", "--port", str(port), "--api-key", API_KEY],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "IOPS_LOCAL_USER": USER, "IOPS_LOCAL_PASSWORD": PASSWORD},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    system = LocalSystem(url=f"http://127.0.0.1:{port}", key=API_KEY)
    deadline = time.monotonic() + 90
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        system.log.append(line)
        if API_KEY in line:
            break
        if proc.poll() is not None:
            pytest.fail("iops local exited early:\n" + "".join(system.log) + proc.stdout.read())
    else:
        proc.kill()
        pytest.fail("iops local did not print its banner within 90 s:\n" + "".join(system.log))

    # Keep draining its output so a chatty server never blocks on a full pipe.
    def drain() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            system.log.append(line)

    threading.Thread(target=drain, daemon=True).start()
    status, body = http_json("GET", f"{system.url}/insights/recent?limit=1", key=None)
    assert status == 401, (status, body, "".join(system.log))  # reads need a signed-in user
    status, config = http_json("GET", f"{system.url}/config.json", key=None)
    assert status == 200 and config["auth"]["flow"] == "USER_PASSWORD_AUTH", config
    yield system
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@dataclass
class Probe:
    """A page plus everything it complained about, requested, navigated to and logged."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    navigations: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


def _on_request(probe: Probe, request: Any) -> None:
    probe.requests.append((request.url, request.headers.get("accept")))
    if request.headers.get("authorization"):
        probe.authorizations.append(request.headers["authorization"])


def _on_console(probe: Probe, message: Any) -> None:
    probe.console.append(message.text)
    if message.type == "error":
        probe.errors.append(f"console: {message.text}")


def sign_in(page: Any, system: LocalSystem, url: str | None = None) -> None:
    """Open `url` (default: the feed), which shows the sign-in page, and sign in as the local user."""
    page.goto(url or system.url + "/")
    page.fill('[data-testid="signin-form"] input[name="username"]', system.user)
    page.fill('[data-testid="signin-form"] input[name="password"]', system.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(SIGNED_IN)


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """Factory: a fresh browser context and page that records console errors and requests."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] = LAPTOP, *, phone: bool = False, dark: bool = False) -> Probe:
        ctx = browser.new_context(
            viewport=viewport,
            device_scale_factor=2 if phone else 1,
            is_mobile=phone,
            has_touch=phone,
            color_scheme="dark" if dark else "light",
        )
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        probe = Probe(page)
        page.on("console", lambda m: _on_console(probe, m))
        page.on("pageerror", lambda e: probe.errors.append(f"pageerror: {e}"))
        page.on("request", lambda r: _on_request(probe, r))
        page.on("framenavigated", lambda f: probe.navigations.append(f.url))
        return probe

    yield make
    for ctx in contexts:
        with contextlib.suppress(Exception):
            ctx.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def send_history_then_spike(system: LocalSystem, host: str) -> float:
    """60 normal points at 1-minute spacing (cpuUsage 10±1), then a spike (99). Returns the
    monotonic time just before the spike's POST."""
    now = datetime.now(UTC)
    rng = random.Random(host)
    history = [
        {
            "hostname": host,
            "timestamp": (now - timedelta(minutes=60 - i)).isoformat(),
            "cpuUsage": round(10 + rng.uniform(-1, 1), 2),
            "memoryUsage": round(40 + rng.uniform(-1, 1), 2),
        }
        for i in range(60)
    ]
    status, body = http_json("POST", f"{system.url}/metrics", {"metrics": history}, key=system.key)
    assert status == 200 and body["accepted"] == 60, body
    t0 = time.monotonic()
    spike = {"hostname": host, "timestamp": now.isoformat(), "cpuUsage": 99.0, "memoryUsage": 40.2}
    status, body = http_json("POST", f"{system.url}/metrics", spike, key=system.key)
    assert status == 200 and body["accepted"] == 1, body
    return t0
