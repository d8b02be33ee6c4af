"""Bounded load on `iops local` from a second process (benchmarks/load.py): no errors, nothing lost.

The figures (requests/s, p50/p99) are printed, not asserted: 2 shared cores make them noisy.
The bigger run is `python benchmarks/load.py` (docs/hardening.md has measured figures).
"""

from __future__ import annotations

import json
import subprocess
import sys
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
    assert load.missing_metrics(server.url, {"loss-check": stored}) == 0
    assert load.missing_metrics(server.url, {"loss-check": stored | {1_700_000_003}}) == 1
