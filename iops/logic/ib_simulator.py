"""The InfiniBand event generator behind the simulator Lambda (and behind `iops demo --kinesis`).

Each stream has its own baseline (latency ~1.5-2.2 us, bandwidth ~170-190 Gbps, rare packet
errors, no link flaps). Events arrive as a Poisson process, so per-minute event counts vary
the way real telemetry does. Degradation episodes make one stream congested (latency x3),
starved (bandwidth x0.35), lossy (packet error bursts) or flapping (link flaps, with latency
and bandwidth hit). On a schedule, episodes are drawn per (stream, 5-minute block) from a
hash, so a stateless function agrees with itself from one invocation to the next.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from typing import Any

from handlers.definitions import IB_EVENTS

KINDS = ("latency", "bandwidth", "errors", "flaps")
EPISODE_S = 300.0
PUT_LIMIT = 500
"""PutRecords takes at most 500 records per call."""
DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Degradation:
    stream: str
    kind: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Baseline:
    latency_us: float
    bandwidth_gbps: float
    error_rate: float
    """Mean packet errors per event."""
    phase: float


def baseline(stream: str) -> Baseline:
    """A stream's own normal, fixed by its name (the same on every run and in every process)."""
    rng = random.Random(f"baseline:{stream}")
    return Baseline(rng.uniform(1.5, 2.2), rng.uniform(170, 190), rng.uniform(0.01, 0.04), rng.uniform(0, DAY_S))


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: fine for the small means used here (no numpy in the Lambda package)."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class IbGenerator:
    """Events for ``streams`` InfiniBand streams named ``ib_stream_1..N``."""

    def __init__(
        self, streams: int = 3, events_per_minute: float = 60.0, seed: int | None = None, degradation_rate: float = 0.0
    ) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.names = [f"ib_stream_{i}" for i in range(1, streams + 1)]
        self.baselines = {s: baseline(s) for s in self.names}
        self.events_per_minute = events_per_minute
        self.degradation_rate = degradation_rate
        self.injected: list[Degradation] = []

    def inject(self, stream: str, kind: str, start: float, end: float) -> Degradation:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        d = Degradation(stream, kind, start, end)
        self.injected.append(d)
        return d

    def scheduled(self, start: float, end: float) -> list[Degradation]:
        """Episodes overlapping [start, end): each (stream, 5-minute block) degrades with ``degradation_rate``."""
        out = []
        for block in range(int(start // EPISODE_S), int(math.ceil(end / EPISODE_S))):
            for stream in self.names:
                rng = random.Random(f"episode:{self.seed}:{stream}:{block}")
                if rng.random() < self.degradation_rate:
                    out.append(Degradation(stream, rng.choice(KINDS), block * EPISODE_S, (block + 1) * EPISODE_S))
        return out

    def event(self, stream: str, t: float, active: list[Degradation]) -> dict:
        b, rng = self.baselines[stream], self.rng
        daily = 1 + 0.03 * math.sin(2 * math.pi * (t + b.phase) / DAY_S)
        latency = b.latency_us * daily * rng.lognormvariate(0, 0.05)
        bandwidth = rng.gauss(b.bandwidth_gbps, 4.0)
        errors = poisson(rng, b.error_rate)
        flaps = 0
        for d in active:
            if d.stream != stream or not d.start <= t < d.end:
                continue
            if d.kind == "latency":
                latency *= 3 * rng.lognormvariate(0, 0.2)
            elif d.kind == "bandwidth":
                bandwidth *= 0.35
            elif d.kind == "errors":
                errors += poisson(rng, 2.0)
            elif d.kind == "flaps":
                flaps += int(rng.random() < 0.1)
                latency *= 1.5
                bandwidth *= 0.6
        return {
            "eventId": f"{stream}-{int(t * 1e6)}",
            "stream": stream,
            "timestamp": round(t, 3),
            "latencyUs": round(latency, 4),
            "bandwidthGbps": round(min(400.0, max(0.0, bandwidth)), 3),
            "packetErrors": errors,
            "linkFlaps": flaps,
        }

    def events(self, start: float, end: float) -> list[dict]:
        """Every stream's events in [start, end), oldest first."""
        active = self.injected + self.scheduled(start, end)
        rate = self.events_per_minute / 60.0
        out = []
        for stream in self.names:
            t = start + self.rng.expovariate(rate)
            while t < end:
                out.append(self.event(stream, t, active))
                t += self.rng.expovariate(rate)
        out.sort(key=lambda e: e["timestamp"])
        return out

    def history(self, minutes: int, end: float) -> list[dict]:
        """``minutes`` of events ending at ``end``, one stream's latency degraded for 5 minutes late in it."""
        start = end - minutes * 60
        late = start + 0.75 * (end - start)
        self.inject(self.rng.choice(self.names), "latency", late, late + 300)
        return self.events(start, end)


def put_events(kinesis: Any, stream_name: str, events: list[dict], retries: int = 5) -> int:
    """PutRecords in chunks of 500, partition key = the event's stream; retries throttled entries."""
    sent = 0
    for start in range(0, len(events), PUT_LIMIT):
        entries = [
            {"Data": json.dumps(e, separators=(",", ":")).encode(), "PartitionKey": e[IB_EVENTS.partition_key_field]}
            for e in events[start : start + PUT_LIMIT]
        ]
        for attempt in range(retries + 1):
            resp = kinesis.put_records(StreamName=stream_name, Records=entries)
            if not resp.get("FailedRecordCount"):
                break
            entries = [e for e, r in zip(entries, resp["Records"], strict=True) if r.get("ErrorCode")]
            if attempt == retries:
                raise RuntimeError(f"{len(entries)} records still throttled after {retries} retries")
            time.sleep(min(2.0, 0.1 * 2**attempt))
        sent += len(events[start : start + PUT_LIMIT])
    return sent
