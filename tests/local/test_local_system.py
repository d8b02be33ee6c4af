"""`iops local` as a user runs it: a subprocess on a free port, spoken to over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.local import iops_process
from tests.local.iops_process import IopsLocal

KEY = "test-key-123"


def http(
    method: str, url: str, body: object | None = None, key: str | None = KEY, token: str | None = None
) -> tuple[int, object]:
    return iops_process.http(method, url, body, key=key, token=token)


@pytest.fixture(scope="module")
def server():
    server = IopsLocal(api_key=KEY).start()
    assert any(server.url in line for line in server.output), list(server.output)
    yield server
    assert server.stop() == 0
    deadline = time.monotonic() + 5
    while not any("stopping" in line for line in server.output) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any("stopping" in line for line in server.output), list(server.output)


@pytest.fixture(scope="module")
def local_url(server: IopsLocal) -> str:
    return server.url


@pytest.fixture(scope="module")
def token(server: IopsLocal) -> str:
    """The local user's ID token (what `iops token` prints): every read needs it."""
    return server.token


def test_hundred_metrics_round_trip(local_url, token) -> None:
    start = time.time() - 200 * 60
    metrics = [{"hostname": "rt-host", "timestamp": start + 60 * i, "cpuUsage": 10 + i % 3} for i in range(100)]
    status, body = http("POST", f"{local_url}/metrics", {"metrics": metrics})
    assert status == 200 and body["accepted"] == 100
    status, page = http("GET", f"{local_url}/metrics?hostname=rt-host", token=token)
    assert status == 200 and len(page["metrics"]) == 100


def test_api_key_is_enforced_like_api_gateway(local_url, token) -> None:
    one = {"hostname": "k", "timestamp": time.time(), "cpuUsage": 1}
    assert http("POST", f"{local_url}/metrics", one, key=None)[0] == 403
    assert http("POST", f"{local_url}/metrics", one, key="wrong")[0] == 403
    assert http("POST", f"{local_url}/metrics", one, key=None, token=token)[0] == 403  # a user is no writer
    assert http("GET", f"{local_url}/insights/recent", key=None, token=token)[0] == 200
    assert http("GET", f"{local_url}/insights/recent", key=KEY)[0] == 401  # a writer is no reader


def test_bad_input_never_5xx(local_url) -> None:
    for body in ("{", "[]", '{"metrics": "x"}', '"x"', "null", "1e999", json.dumps({"hostname": "a" * 300})):
        req = urllib.request.Request(
            f"{local_url}/metrics", data=body.encode(), headers={"x-api-key": KEY}, method="POST"
        )
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError(f"accepted {body!r}")
        except urllib.error.HTTPError as exc:
            assert 400 <= exc.code < 500, (body, exc.code)
            assert json.loads(exc.read())["message"]
    assert http("GET", f"{local_url}/nowhere")[0] == 404
    assert http("DELETE", f"{local_url}/metrics")[0] == 405


def test_spike_becomes_an_insight_within_ten_seconds(local_url, token) -> None:
    start = time.time() - 400 * 60
    normal = [{"hostname": "spiky", "timestamp": start + 60 * i, "cpuUsage": 30 + (i % 5) * 0.7} for i in range(300)]
    assert http("POST", f"{local_url}/metrics", {"metrics": normal})[0] == 200
    time.sleep(2)  # let the history be scored first, as it would be in production
    spike_ts = start + 60 * 300
    sent = time.monotonic()
    assert http("POST", f"{local_url}/metrics", {"hostname": "spiky", "timestamp": spike_ts, "cpuUsage": 99})[0] == 200
    found = None
    while time.monotonic() - sent < 10 and found is None:
        _, page = http("GET", f"{local_url}/insights?host=spiky", token=token)
        found = next((i for i in page["insights"] if i["observed"] == 99), None)
        time.sleep(0.2)
    assert found, "no insight for the spike within 10 s"
    latency = time.monotonic() - sent
    print(f"spike to insight: {latency:.2f} s")
    _, recent = http("GET", f"{local_url}/insights/recent?limit=100", token=token)
    assert found["alert_id"] in {i["alert_id"] for i in recent}
    status, one = http("GET", f"{local_url}/insights/{found['alert_id']}", token=token)
    assert status == 200 and one == found
    assert found["explanation"] and found["recommendations"]


def demo(url: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`iops demo --api URL` as a user types it: no key on the command line or in the environment."""
    clean = {k: v for k, v in os.environ.items() if k != "IOPS_API_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "demo", "--api", url, "--minutes", "3", "--hosts", "2"],
        cwd=iops_process.ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_finds_the_key_of_the_local_system_by_itself(local_url, token) -> None:
    run = demo(local_url)
    assert run.returncode == 0, run.stderr
    assert "using the API key of the iops local" in run.stderr
    status, page = http("GET", f"{local_url}/metrics?hostname=web-01", token=token)
    assert status == 200 and page["metrics"]


def test_demo_without_a_key_says_so_instead_of_a_traceback(local_url, tmp_path) -> None:
    run = demo(local_url, IOPS_RUN_DIR=str(tmp_path))  # a run directory without this server's file
    assert run.returncode == 1
    assert "answered 403" in run.stderr and "--api-key" in run.stderr and "Traceback" not in run.stderr
