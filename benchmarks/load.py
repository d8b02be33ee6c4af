"""Bounded load on `iops local` from a second process: a mix of writes and reads, then a loss check.

    python benchmarks/load.py                      # starts `iops local`, 2,000 requests, 8 clients
    python benchmarks/load.py --requests 300 --json
    python benchmarks/load.py --api http://127.0.0.1:8000 --api-key KEY

Reads are signed in: with the ID token in ``IOPS_TOKEN`` (``IOPS_TOKEN=$(iops token --user ...)``
for a deployed stack), else as the user of the `iops local` serving ``--api`` (`iops token`).

Each write POSTs a batch of metrics for one of ``--hosts`` hosts (timestamps unique per run); reads
are `GET /metrics?hostname=`, `/insights/recent` and `/insights`. The run stops at ``--requests``
or ``--duration``, whichever comes first. Then every metric the API acknowledged (200, or the
ones a 503 did not list) is read back; the report gives requests/s, p50/p99 per kind and overall,
errors, and how many acknowledged metrics are missing (must be 0).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import quantiles
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Tally:
    """What the clients saw; appended to under one lock."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)
    no_response: int = 0
    """Requests that got no HTTP answer at all (connection refused, reset, timeout)."""
    acknowledged: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client:
    """One keep-alive connection (reconnects after a failure); ``token`` signs its reads in."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.token = token
        parts = urlsplit(base)
        self.host, self.port, self.prefix = parts.hostname or "127.0.0.1", parts.port or 80, parts.path.rstrip("/")
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if key:
            headers["x-api-key"] = key
        if self.token:
            headers["Authorization"] = self.token
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                self.conn.request(method, self.prefix + path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
            except (ConnectionError, http.client.HTTPException):
                self.conn = None  # a keep-alive connection the server closed: once more on a new one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def run_load(
    api: str,
    key: str,
    token: str,
    requests: int,
    duration_s: float,
    concurrency: int,
    write_share: float,
    batch: int,
    hosts: int,
    seed: int,
) -> tuple[Tally, float]:
    tally = Tally()
    counter = itertools.count()
    base_ts = int(time.time()) - 30 * 86_400
    run_id = f"{seed}-{int(time.time())}"
    stop_at = time.monotonic() + duration_s

    def worker(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        client = Client(api, token)
        while time.monotonic() < stop_at:
            i = next(counter)
            if i >= requests:
                return
            host = f"load-{run_id}-{i % hosts:02d}"
            if rng.random() < write_share:
                kind = "write"
                stamps = [base_ts + i * batch + j for j in range(batch)]
                metrics = [
                    {
                        "hostname": host,
                        "timestamp": ts,
                        "cpuUsage": round(rng.uniform(5, 60), 2),
                        "diskIO": rng.randint(0, 900),
                    }
                    for ts in stamps
                ]
                call = ("POST", "/metrics", {"metrics": metrics}, key)
            else:
                kind, path = rng.choice(
                    [
                        ("read-metrics", f"/metrics?hostname={host}&limit=100"),
                        ("read-recent", "/insights/recent?limit=50"),
                        ("read-insights", "/insights?limit=20"),
                    ]
                )
                call, stamps = ("GET", path, None, None), []
            started = time.perf_counter()
            try:
                status, body = client.request(*call)
            except Exception as exc:  # noqa: BLE001 - counted as an error, the run goes on
                with tally.lock:
                    tally.no_response += 1
                    tally.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - started
            with tally.lock:
                tally.latencies[kind].append(elapsed)
                tally.statuses[status] += 1
                if kind == "write" and status in (200, 207, 503) and isinstance(body, dict):
                    refused = {e["index"] for e in body.get("errors", [])}
                    tally.acknowledged[host].update(ts for k, ts in enumerate(stamps) if k not in refused)
                if status >= 400 and status != 503:
                    tally.errors.append(f"{kind}: HTTP {status}: {str(body)[:200]}")

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally, time.monotonic() - started


def missing_metrics(api: str, acknowledged: dict[str, set[int]], token: str) -> int:
    """Acknowledged metrics the API cannot return (paging through every host)."""
    client = Client(api, token)
    missing = 0
    for host, stamps in acknowledged.items():
        seen: set[int] = set()
        token = None
        while True:
            status, page = client.request(
                "GET", f"/metrics?hostname={host}&limit=1000" + (f"&nextToken={token}" if token else "")
            )
            if status != 200:
                raise RuntimeError(f"reading back {host}: HTTP {status} {page}")
            for p in page["metrics"]:
                seen.add(int(round(_epoch(p["timestamp"]))))
            token = page.get("nextToken")
            if not token:
                break
        missing += len(stamps - seen)
    return missing


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def pct(values: list[float], q: int) -> float:
    """The q-th percentile in milliseconds (inclusive method; one value is its own percentile)."""
    if len(values) == 1:
        return values[0] * 1000
    return quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def report(tally: Tally, elapsed: float, missing: int, args: argparse.Namespace) -> dict:
    every = [v for vs in tally.latencies.values() for v in vs]
    kinds = {
        kind: {"requests": len(vs), "p50_ms": round(pct(vs, 50), 1), "p99_ms": round(pct(vs, 99), 1)}
        for kind, vs in sorted(tally.latencies.items())
        if vs
    }
    acknowledged = sum(len(s) for s in tally.acknowledged.values())
    return {
        "requests": len(every) + tally.no_response,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(every) / elapsed, 1) if elapsed else 0.0,
        "metrics_per_s": round(acknowledged / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(pct(every, 50), 1) if every else None,
        "p99_ms": round(pct(every, 99), 1) if every else None,
        "by_kind": kinds,
        "statuses": dict(sorted(tally.statuses.items())),
        "errors": len(tally.errors),
        "error_samples": tally.errors[:5],
        "acknowledged_metrics": acknowledged,
        "missing_metrics": missing,
        "settings": {
            k: getattr(args, k) for k in ("requests", "duration", "concurrency", "write_share", "batch", "hosts")
        },
    }


def start_local(key: str) -> tuple[subprocess.Popen[str], str]:
    sys.path.insert(0, str(ROOT))
    from local.emulator import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "local", "--port", str(port), "--api-key", key],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if key in line:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, f"http://127.0.0.1:{port}"
    raise RuntimeError(f"iops local exited with {proc.wait()}")


def reader_token(api: str) -> str:
    """``IOPS_TOKEN``, else an ID token of the user of the `iops local` at ``api``."""
    if os.environ.get("IOPS_TOKEN"):
        return os.environ["IOPS_TOKEN"]
    sys.path.insert(0, str(ROOT))
    from cli.token_cmd import local_token

    return local_token(api)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--api", help="API base URL (default: start `iops local`)")
    p.add_argument("--api-key", default="load-key")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--duration", type=float, default=120.0, help="stop after this many seconds")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--write-share", type=float, default=0.5)
    p.add_argument("--batch", type=int, default=25, help="metrics per write")
    p.add_argument("--hosts", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    proc = None
    api = args.api
    if api is None:
        proc, api = start_local(args.api_key)
    try:
        token = reader_token(api)
        tally, elapsed = run_load(
            api,
            args.api_key,
            token,
            args.requests,
            args.duration,
            args.concurrency,
            args.write_share,
            args.batch,
            args.hosts,
            args.seed,
        )
        result = report(tally, elapsed, missing_metrics(api, tally.acknowledged, token), args)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['requests']} requests in {result['seconds']} s: {result['requests_per_s']} req/s, "
            f"{result['metrics_per_s']} metrics/s stored; p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms; "
            f"errors {result['errors']}; acknowledged {result['acknowledged_metrics']}, missing {result['missing_metrics']}"
        )
        for kind, figures in result["by_kind"].items():
            print(
                f"  {kind:14} {figures['requests']:6} requests  p50 {figures['p50_ms']:8.1f} ms  p99 {figures['p99_ms']:8.1f} ms"
            )
        print(f"  statuses {result['statuses']}")
    return 0 if result["errors"] == 0 and result["missing_metrics"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
