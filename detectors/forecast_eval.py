"""How good are the predictions: lead time and precision for limit crossings that really happened.

Every series is replayed point by point through `forecast.observe`, the function the AI Lambda
calls, with the production settings (horizon, refresh every N points). A *crossing* is a point at
or above the limit after at least `REARM_S` below it. A prediction made at ``t`` is right when a
crossing follows within the horizon (``t < c <= t + horizon``), wrong otherwise:

- precision: right predictions / predictions (de-duplicated ones, as they would be alerted);
- recall: crossings with at least one right prediction before them / crossings that had enough
  history to be forecast at all (`forecast.MIN_BUCKETS` buckets);
- lead time: for each predicted crossing, crossing time minus its first right prediction;
- ETA error: |ETA of that first prediction - crossing time|;
- cost: wall time of `observe` per point, and model estimations per 1,000 points.

Data: the NAB-layout development corpus (limits per series: the configured limit for CPU
utilisation series, and the series' own 95th / 99th percentile for all), and generated capacity
traces (memory leaks of random onset and speed, leaks that stop short of the limit, and series
whose daily peaks approach the limit without a leak).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import numpy as np
from iops_detector_sdk.contract import Point

from detectors import forecast

REARM_S = 3600.0
"""A crossing counts again only after the series spent this long below the limit."""
CPU_LIMIT = 98.0


@dataclass(slots=True)
class Tally:
    """Counts and lead times summed over series."""

    predictions: int = 0
    right: int = 0
    crossings: int = 0
    predicted: int = 0
    lead_s: list[float] = field(default_factory=list)
    eta_error_s: list[float] = field(default_factory=list)
    points: int = 0
    seconds: float = 0.0
    estimations: int = 0

    def add(self, other: Tally) -> None:
        for name in ("predictions", "right", "crossings", "predicted", "points", "seconds", "estimations"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.lead_s += other.lead_s
        self.eta_error_s += other.eta_error_s

    def summary(self) -> dict:
        def minutes(values: list[float]) -> float | None:
            return round(median(values) / 60, 1) if values else None

        return {
            "series_points": self.points,
            "predictions": self.predictions,
            "precision": round(self.right / self.predictions, 3) if self.predictions else None,
            "crossings": self.crossings,
            "recall": round(self.predicted / self.crossings, 3) if self.crossings else None,
            "median_lead_min": minutes(self.lead_s),
            "p25_lead_min": round(float(np.percentile(self.lead_s, 25)) / 60, 1) if self.lead_s else None,
            "median_eta_error_min": minutes(self.eta_error_s),
            "us_per_point": round(self.seconds / self.points * 1e6, 1) if self.points else None,
            "estimations_per_1000_points": round(1000 * self.estimations / self.points, 2) if self.points else None,
        }


def crossings(points: Sequence[Point], limit: float, rearm_s: float = REARM_S) -> list[float]:
    """Times the series reaches ``limit`` after at least ``rearm_s`` below it (the first point counts as below)."""
    out: list[float] = []
    below_since: float | None = points[0].timestamp if points else None
    for p in points:
        if p.value >= limit:
            if below_since is not None and p.timestamp - below_since >= rearm_s:
                out.append(p.timestamp)
            below_since = None
        elif below_since is None:
            below_since = p.timestamp
    return out


def score_series(points: Sequence[Point], limit: float, horizon_s: float, every: int) -> Tally:
    """Replay one series through the forecast and compare its predictions with what happened."""
    tally = Tally(points=len(points))
    state = forecast.new_state()
    hits: list[forecast.Crossing] = []
    for p in points:  # one at a time to count estimations (a new model object); same result as all at once
        model = state["m"]
        started = time.perf_counter()
        hits += forecast.observe(state, [p], limit, horizon_s, every)
        tally.seconds += time.perf_counter() - started
        tally.estimations += state["m"] is not model and state["m"] is not None
    first_forecastable = points[0].timestamp + forecast.MIN_BUCKETS * forecast.BUCKET_S if points else 0.0
    events = [c for c in crossings(points, limit) if c > first_forecastable]
    tally.crossings = len(events)
    tally.predictions = len(hits)
    first_right: dict[float, forecast.Crossing] = {}
    for hit in hits:
        following = [c for c in events if hit.made_at < c <= hit.made_at + horizon_s]
        if following:
            tally.right += 1
            first_right.setdefault(following[0], hit)
    tally.predicted = len(first_right)
    for c, hit in first_right.items():
        tally.lead_s.append(c - hit.made_at)
        tally.eta_error_s.append(abs(hit.eta - c))
    return tally


def corpus_series(corpus: Path) -> list[tuple[str, list[Point]]]:
    from detectors import nab

    return [
        (f.key, [Point(float(t), float(v)) for t, v in zip(f.timestamps, f.values, strict=True)])
        for f in nab.read_corpus(corpus)
    ]


def evaluate_corpus(corpus: Path, horizon_s: float, every: int) -> dict:
    """Per limit kind: the configured CPU limit on CPU series, and each series' p95 / p99."""
    kinds: dict[str, Tally] = {"cpu_limit_98": Tally(), "p99": Tally(), "p95": Tally()}
    for key, points in corpus_series(corpus):
        values = np.array([p.value for p in points])
        limits = {"p99": float(np.percentile(values, 99)), "p95": float(np.percentile(values, 95))}
        if "cpu_utilization" in key:
            limits["cpu_limit_98"] = CPU_LIMIT
        for kind, limit in limits.items():
            if limit > values.min():  # a flat series has nothing to cross
                kinds[kind].add(score_series(points, limit, horizon_s, every))
    return {kind: tally.summary() for kind, tally in kinds.items()}


def generated_series(count: int = 30, days: float = 2.0, seed: int = 11) -> list[tuple[str, list[Point]]]:
    """Memory-like series at one point a minute: a third leak to the limit, a third leak and stop
    short of it, a third have daily peaks close to it (limit 95)."""
    rng = random.Random(seed)
    out = []
    minutes = int(days * 1440)
    t0 = 1_700_000_000.0
    for i in range(count):
        kind = ("leak", "stops_short", "peaks")[i % 3]
        base = rng.uniform(45, 65) if kind != "peaks" else rng.uniform(78, 84)
        daily = rng.uniform(2, 6) if kind != "peaks" else rng.uniform(6, 9)
        noise = rng.uniform(0.5, 1.5)
        phase = rng.uniform(0, 86_400)
        onset = rng.uniform(0.3, 0.8) * minutes
        rate = rng.uniform(3, 30) / 60  # % per minute: 3 to 30 % per hour
        cap = 100.0 if kind == "leak" else rng.uniform(80, 90)
        points = []
        for m in range(minutes):
            t = t0 + 60 * m
            v = base + daily * math.sin(2 * math.pi * (t + phase) / 86_400) + rng.gauss(0, noise)
            if kind != "peaks" and m >= onset:
                v += min((m - onset) * rate, cap - base)
            points.append(Point(t, min(100.0, v)))
        out.append((f"{kind}-{i:02d}", points))
    return out


def evaluate_generated(horizon_s: float, every: int, limit: float = 95.0, count: int = 30) -> dict:
    by_kind: dict[str, Tally] = {}
    for name, points in generated_series(count):
        by_kind.setdefault(name.split("-")[0], Tally()).add(score_series(points, limit, horizon_s, every))
    total = Tally()
    for tally in by_kind.values():
        total.add(tally)
    return {"all": total.summary(), **{k: t.summary() for k, t in by_kind.items()}}


def evaluate(corpus: Path | None, horizon_s: float, every: int) -> dict:
    """The prediction report ``iops evaluate --predictions`` prints."""
    out: dict = {"horizon_hours": horizon_s / 3600, "every_points": every}
    if corpus is not None:
        out["corpus"] = evaluate_corpus(corpus, horizon_s, every)
    out["generated"] = evaluate_generated(horizon_s, every)
    return out
