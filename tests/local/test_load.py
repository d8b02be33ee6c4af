"""Bounded load on `iops local` from a second process (benchmarks/load.py): no errors, nothing lost.

The figures (requests/s, p50/p99) are printed, not asserted: 2 shared cores make them noisy.
The bigger run is `python benchmarks/load.py` (docs/hardening.md has measured figures).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from benchmarks import load
from tests.local.iops_process import ROOT, IopsLocal

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[IopsLocal]:
    with IopsLocal(api_key="load-key") as srv:
        yield srv


def test_mixed_load_has_no_errors_and_loses_nothing(server: IopsLocal) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "load.py"), "--api", server.url, "--api-key", server.api_key]
        + ["--requests", "240", "--concurrency", "4", "--duration", "90", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result, indent=1))
    assert done.returncode == 0, result
    assert result["requests"] == 240 and result["errors"] == 0
    assert set(result["by_kind"]) == {"write", "read-metrics", "read-recent", "read-insights"}
    assert result["acknowledged_metrics"] > 1000 and result["missing_metrics"] == 0


def test_the_loss_check_notices_a_missing_metric(server: IopsLocal) -> None:
    client = load.Client(server.url)
    metrics = [{"hostname": "loss-check", "timestamp": 1_700_000_000 + i, "cpuUsage": 1} for i in range(3)]
    assert client.request("POST", "/metrics", {"metrics": metrics}, key=server.api_key)[0] == 200
    stored = {1_700_000_000, 1_700_000_001, 1_700_000_002}
    assert load.missing_metrics(server.url, {"loss-check": stored}, server.token) == 0
    assert load.missing_metrics(server.url, {"loss-check": stored | {1_700_000_003}}, server.token) == 1


def test_concurrent_writers_of_the_same_samples_lose_nothing(server: IopsLocal) -> None:
    """8 writers, one metric per request, the same hosts and timestamps: every acknowledged metric is read back."""
    hosts, stamps = [f"merge-{h}" for h in range(5)], [1_700_000_000 + 60 * t for t in range(25)]
    acknowledged: list[tuple[str, int, str, float]] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        client, name = load.Client(server.url), f"writer{n}Metric"
        for host in hosts:
            for ts in stamps:
                value = float(n * 1000 + ts % 1000)
                status, _ = client.request(
                    "POST", "/metrics", {"hostname": host, "timestamp": ts, name: value}, key=server.api_key
                )
                if status == 200:
                    with lock:
                        acknowledged.append((host, ts, name, value))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client = load.Client(server.url, server.token)
    stored = {}
    for host in hosts:
        status, page = client.request("GET", f"/metrics?hostname={host}&limit=1000")
        assert status == 200
        stored |= {(host, load._epoch(p["timestamp"])): p for p in page["metrics"]}
    missing = [a for a in acknowledged if stored.get((a[0], a[1]), {}).get(a[2]) != a[3]]
    print(f"{len(acknowledged)} metrics acknowledged by 8 concurrent writers, {len(missing)} missing")
    assert len(acknowledged) == 8 * len(hosts) * len(stamps) and missing == []
