"""Realistic demo traffic: hosts and InfiniBand streams with a daily shape, noise and injected anomalies."""

from __future__ import annotations

import json
import math
import random
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Injected:
    """A labelled anomaly the demo put in: where, what kind, from when."""

    entity: str
    metric: str
    kind: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Profile:
    base: float
    daily: float
    noise: float
    low: float = 0.0
    high: float | None = None


HOST_METRICS = {
    "cpuUsage": Profile(35, 15, 2.5, 0, 100),
    "memoryUsage": Profile(55, 5, 1.0, 0, 100),
    "diskIO": Profile(1200, 400, 60),
    "networkIO": Profile(5e6, 2e6, 2e5),
}
STREAM_METRICS = {
    "ibLatencyUs": Profile(1.8, 0.2, 0.05),
    "ibBandwidthGbps": Profile(180, 30, 4, 0, 400),
    "ibPacketErrors": Profile(0.5, 0.2, 0.3),
}


class Fleet:
    """A deterministic (seeded) fleet of hosts and streams."""

    def __init__(self, hosts: int = 5, streams: int = 3, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.entities: dict[str, dict[str, Profile]] = {}
        for i in range(1, hosts + 1):
            self.entities[f"{'web' if i % 3 else 'db'}-{i:02d}"] = HOST_METRICS
        for i in range(1, streams + 1):
            self.entities[f"ib_stream_{i}"] = STREAM_METRICS
        self.phase = {e: self.rng.uniform(0, DAY) for e in self.entities}
        self.injected: list[Injected] = []

    def value(self, entity: str, metric: str, t: float) -> float:
        p = self.entities[entity][metric]
        v = p.base + p.daily * math.sin(2 * math.pi * (t + self.phase[entity]) / DAY) + self.rng.gauss(0, p.noise)
        for inj in self.injected:
            if inj.entity == entity and inj.metric == metric and inj.start <= t <= inj.end:
                v = self._apply(inj, p, v, t)
        v = max(p.low, v)
        return round(min(p.high, v) if p.high is not None else v, 3)

    @staticmethod
    def _apply(inj: Injected, p: Profile, v: float, t: float) -> float:
        progress = (t - inj.start) / max(1.0, inj.end - inj.start)
        if inj.kind == "spike":
            return p.base + (p.high - p.base if p.high else 8 * (p.base + p.daily)) * 0.95
        if inj.kind == "level_shift":
            return v + 6 * p.daily + 10 * p.noise
        if inj.kind == "leak":  # creeps from normal to the ceiling (exhaustion) at the end of the leak
            return v + progress * ((p.high or 2 * p.base) - v)
        return v

    def inject(self, entity: str, metric: str, kind: str, start: float, end: float) -> Injected:
        inj = Injected(entity, metric, kind, start, end)
        self.injected.append(inj)
        return inj

    def sample(self, t: float) -> list[dict]:
        return [
            {"hostname": e, "timestamp": round(t, 3), **{m: self.value(e, m, t) for m in metrics}}
            for e, metrics in self.entities.items()
        ]

    def history(self, minutes: int, end: float, step: float = 60.0) -> Iterator[dict]:
        """``minutes`` of points ending at ``end``, with anomalies injected in the last fifth."""
        start = end - minutes * 60
        names = list(self.entities)
        hosts = [e for e in names if not e.startswith("ib_")] or names
        streams = [e for e in names if e.startswith("ib_")]
        late = start + 0.8 * (end - start)
        self.inject(self.rng.choice(hosts), "cpuUsage", "spike", late, late + 2 * step)
        self.inject(self.rng.choice(hosts), "networkIO", "level_shift", late + 10 * step, end)
        if streams:
            self.inject(self.rng.choice(streams), "ibLatencyUs", "spike", late + 5 * step, late + 7 * step)
        # A slow memory leak that reaches the limit about half the history after `end` (a prediction),
        # and one CPU spike on several hosts at once (a pattern, not one alert per host).
        self.inject(self.rng.choice(hosts), "memoryUsage", "leak", start + 0.4 * (end - start), end + 0.5 * (end - start))
        together = min(len(hosts), max(3, len(hosts) - 1))
        for host in self.rng.sample(hosts, together):
            self.inject(host, "cpuUsage", "spike", late + 14 * step, late + 15 * step)
        t = start
        while t <= end:
            yield from self.sample(t)
            t += step


def post(api: str, api_key: str | None, metrics: list[dict], retries: int = 5) -> dict:
    """POST a batch; retries on 503 / connection errors with backoff. Raises on other errors."""
    data = json.dumps({"metrics": metrics}).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["x-api-key"] = api_key
    delay = 0.2
    for attempt in range(retries + 1):
        req = urllib.request.Request(api.rstrip("/") + "/metrics", data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            if exc.code not in (429, 502, 503, 504) or attempt == retries:
                raise RuntimeError(f"POST /metrics answered {exc.code}: {body[:300]}") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if attempt == retries:
                raise
        time.sleep(delay)
        delay = min(5.0, delay * 2)
    raise AssertionError("unreachable")
