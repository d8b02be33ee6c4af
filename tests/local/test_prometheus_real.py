"""A real Prometheus (Debian's ``prometheus``) scraping a real node exporter, remote-writing into ``iops local``.

Both run as subprocesses on free ports with temporary directories; ``make agents`` installs them.
Debian bookworm's Prometheus 2.42.0+ds parses ``remote_write.headers`` but does not send them
(upstream issue prometheus/prometheus#13030), so the API key cannot reach the API from it directly:
`KeyProxy` stands where a user would put nginx, adding ``x-api-key`` when the request lacks one.

Checks what a user would: the host's metrics (gauges, and counters as per-second rates) are
readable through ``GET /metrics`` soon after Prometheus starts, and a spike in a gauge written
to the node exporter's textfile collector becomes an insight.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from local.emulator import free_port
from tests.local.iops_process import IopsLocal, http, wait_for

pytestmark = pytest.mark.slow

PROMETHEUS = shutil.which("prometheus")
NODE_EXPORTER = shutil.which("prometheus-node-exporter")
KEY = "prometheus-test-key"
HOST = "prom-node-1"
"""The ``instance`` label the scrape config sets (``prom-node-1:9100``): the stored host, port stripped."""
SPIKE_FIELD = "iops_test_temperature_celsius"
WARMUP_POINTS = 40
"""Steady points before the spike: more than the statistical detector's warm-up (30)."""

if not (PROMETHEUS and NODE_EXPORTER):
    pytest.skip(
        "needs Debian's prometheus and prometheus-node-exporter binaries (`make agents` installs them)",
        allow_module_level=True,
    )


class KeyProxy(ThreadingHTTPServer):
    """Forwards each POST to ``target`` with the writer's key (kept if sent), answering what the API answered."""

    daemon_threads = True

    def __init__(self, target: str, key: str) -> None:
        self.target, self.key = target, key
        self.statuses: list[int] = []
        self.sent_key: list[bool] = []
        """Whether Prometheus itself sent ``x-api-key`` (it does, from ``headers``, in releases without the bug)."""
        super().__init__(("127.0.0.1", 0), _Forward)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    server: KeyProxy

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        self.server.sent_key.append("x-api-key" in {k.lower() for k in headers})
        headers.setdefault("x-api-key", self.server.key)
        req = urllib.request.Request(self.server.target + self.path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, answer = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read()
        self.server.statuses.append(status)
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


def write_gauge(textfile_dir: Path, value: float) -> None:
    """The textfile collector's gauge, replaced atomically so a scrape never reads half a file."""
    tmp = textfile_dir / "iops.prom.tmp"
    tmp.write_text(f"# TYPE {SPIKE_FIELD} gauge\n{SPIKE_FIELD} {value}\n")
    tmp.rename(textfile_dir / "iops.prom")


def prometheus_config(node_port: int, iops_url: str) -> str:
    """Scrape every second; send each batch within a second (the documented block plus test timings)."""
    return f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["127.0.0.1:{node_port}"]
        labels:
          instance: "{HOST}:9100"
remote_write:
  - url: "{iops_url}/api/v1/write"
    headers:
      x-api-key: "{KEY}"
    queue_config:
      batch_send_deadline: 1s
      max_samples_per_send: 1000
      min_backoff: 100ms
      max_backoff: 1s
"""


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[tuple[IopsLocal, Path, KeyProxy]]:
    """``iops local`` <- key proxy <- Prometheus <- node exporter; yields the system, textfile directory, proxy."""
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    write_gauge(textfiles, 30.0)
    system = IopsLocal(api_key=KEY, extra_args=("--detectors", "statistical")).start()
    proxy = KeyProxy(system.url, KEY)
    threading.Thread(target=proxy.serve_forever, name="key-proxy", daemon=True).start()
    node_port, prom_port = free_port(), free_port()
    node = start(
        [
            NODE_EXPORTER,
            f"--web.listen-address=127.0.0.1:{node_port}",
            "--web.disable-exporter-metrics",
            "--collector.disable-defaults",
            "--collector.loadavg",
            "--collector.meminfo",
            "--collector.cpu",
            "--collector.textfile",
            f"--collector.textfile.directory={textfiles}",
        ],
        tmp_path / "node_exporter.log",
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus_config(node_port, proxy.url))
    prom = start(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        tmp_path / "prometheus.log",
    )
    try:
        yield system, textfiles, proxy
    finally:
        stop(prom)
        stop(node)
        proxy.shutdown()
        proxy.server_close()
        system.stop()
        print(f"prometheus sent x-api-key itself: {any(proxy.sent_key)}; answers: {sorted(set(proxy.statuses))}")
        print((tmp_path / "prometheus.log").read_text()[-3000:])


def points(system: IopsLocal) -> list[dict]:
    status, page = http("GET", f"{system.url}/metrics?hostname={HOST}&limit=1000", token=system.token)
    assert status == 200, page
    return page["metrics"]


def test_node_exporter_through_prometheus_remote_write(pipeline: tuple[IopsLocal, Path, KeyProxy]) -> None:
    system, textfiles, proxy = pipeline
    cpu_rate = "node_cpu_seconds_total.cpu_0.mode_idle"

    def gauges_and_rates() -> list[dict]:
        got = points(system)
        return got if any("node_load1" in p for p in got) and any(cpu_rate in p for p in got) else []

    first = wait_for(gauges_and_rates, 30, f"node_load1 and the {cpu_rate} rate of host {HOST}")
    rates = [p[cpu_rate] for p in first if cpu_rate in p]
    assert all(0 <= r <= 1.5 for r in rates), rates  # CPU seconds per second of one CPU: a rate, not the total
    assert any(p.get("node_memory_MemTotal_bytes", 0) > 0 for p in first)

    wait_for(
        lambda: sum(SPIKE_FIELD in p for p in points(system)) >= WARMUP_POINTS,
        WARMUP_POINTS + 30,
        f"{WARMUP_POINTS} steady points of {SPIKE_FIELD}",
    )
    write_gauge(textfiles, 97.0)

    def spike() -> list[dict]:
        query = urllib.parse.urlencode({"host": HOST, "limit": "100"})
        status, page = http("GET", f"{system.url}/insights?{query}", token=system.token)
        assert status == 200, page
        return [i for i in page["insights"] if i["metric"] == SPIKE_FIELD and i["observed"] == 97.0]

    found = wait_for(spike, 60, f"an insight on the {SPIKE_FIELD} spike")
    assert found[0]["entity_id"] == HOST
    assert set(proxy.statuses) == {204}, proxy.statuses  # every batch stored: none refused, none to retry
