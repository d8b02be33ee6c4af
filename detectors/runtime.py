"""The streaming path: runs detectors over new points of one series, isolated.

The AI Lambda and ``iops evaluate`` both call `score_series`, so a detector is scored
exactly the way it runs in production: batches of new points, state carried between
batches as JSON, replayed points skipped, every detector isolated from the others.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from detectors.contract import Detector, Point, SeriesKey, State

log = logging.getLogger(__name__)

RECENT_POINTS = 60
"""History kept per series for explanations, expected values and enrichers."""
DETECTOR_TIMEOUT_S = 10.0
"""A detector that takes longer than this on one series batch is abandoned."""

SEVERITY_FLOORS = ((90, "CRITICAL"), (80, "HIGH"), (60, "MEDIUM"), (0, "LOW"))


@dataclass(slots=True)
class SeriesState:
    """Everything the runtime stores for one series between batches."""

    last_timestamp: float | None = None
    recent: list[list[float]] = field(default_factory=list)
    detectors: dict[str, State] = field(default_factory=dict)
    forecast: State = field(default_factory=dict)
    """Capacity forecast state (`detectors.forecast`); empty for series without a limit."""

    def to_json(self) -> str:
        raw = {"last": self.last_timestamp, "recent": self.recent, "detectors": self.detectors}
        if self.forecast:
            raw["forecast"] = self.forecast
        return json.dumps(raw, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> SeriesState:
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(raw.get("last"), raw.get("recent", []), raw.get("detectors", {}), raw.get("forecast", {}))


@dataclass(slots=True)
class PointResult:
    point: Point
    scores: dict[str, float]
    combined: float
    expected: float | None
    context: list[Point]


@dataclass(slots=True)
class DetectorFailure:
    detector: str
    error: str
    seconds: float


@dataclass(slots=True)
class SeriesResult:
    series: SeriesKey
    results: list[PointResult]
    state: SeriesState
    failures: list[DetectorFailure]
    seconds: dict[str, float]
    skipped: int
    """Points at or before the last one already scored (a replayed batch)."""


def new_points(state: SeriesState, points: Sequence[Point]) -> tuple[list[Point], int]:
    """Sort, keep the last value per timestamp, and drop what was already scored."""
    by_ts: dict[float, Point] = {}
    for p in points:
        by_ts[p.timestamp] = p
    fresh = [by_ts[t] for t in sorted(by_ts) if state.last_timestamp is None or t > state.last_timestamp]
    return fresh, len(points) - len(fresh)


def _run_isolated(
    detector: Detector, series: SeriesKey, state: State, points: list[Point], timeout: float
) -> list[float]:
    """Run one detector in its own thread so an exception or a hang stays its own."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["scores"] = detector.score(series, state, points)
        except BaseException as exc:  # noqa: BLE001 - isolate every plugin failure
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"detector-{detector.name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"detector {detector.name} took longer than {timeout:.1f}s")
    if "error" in box:
        raise box["error"]
    scores = [float(s) for s in box["scores"]]
    if len(scores) != len(points):
        raise ValueError(f"detector {detector.name} returned {len(scores)} scores for {len(points)} points")
    return [min(1.0, max(0.0, s)) if math.isfinite(s) else 0.0 for s in scores]


def combine(scores: dict[str, float]) -> float:
    """One score from several detectors: the strongest evidence wins."""
    return max(scores.values()) if scores else 0.0


def score_series(
    detectors: dict[str, Detector],
    series: SeriesKey,
    state: SeriesState,
    points: Sequence[Point],
    timeout: float | None = None,
) -> SeriesResult:
    """Score the new points of one series with every detector; update ``state``."""
    timeout = DETECTOR_TIMEOUT_S if timeout is None else timeout
    fresh, skipped = new_points(state, points)
    per_detector: dict[str, list[float]] = {}
    failures: list[DetectorFailure] = []
    seconds: dict[str, float] = {}
    if fresh:
        for name, detector in detectors.items():
            before = state.detectors.get(name)
            det_state = json.loads(json.dumps(before)) if before is not None else detector.new_state(series)
            started = time.perf_counter()
            try:
                per_detector[name] = _run_isolated(detector, series, det_state, fresh, timeout)
                state.detectors[name] = det_state
            except Exception as exc:  # noqa: BLE001 - one plugin never stops the others
                failures.append(DetectorFailure(name, f"{type(exc).__name__}: {exc}", time.perf_counter() - started))
                log.warning("detector %s failed on %s: %s", name, series, exc)
            seconds[name] = time.perf_counter() - started
    results: list[PointResult] = []
    recent = [Point(t, v) for t, v in state.recent]
    for i, p in enumerate(fresh):
        expected = median(x.value for x in recent) if recent else None
        recent.append(p)
        if len(recent) > RECENT_POINTS:
            del recent[0]
        scores = {name: s[i] for name, s in per_detector.items()}
        results.append(PointResult(p, scores, combine(scores), expected, list(recent)))
    if fresh:
        state.last_timestamp = fresh[-1].timestamp
        state.recent = [[p.timestamp, p.value] for p in recent]
    return SeriesResult(series, results, state, failures, seconds, skipped)


def risk_and_severity(score: float) -> tuple[int, str]:
    """Map a combined score in [0, 1] to a 0-100 risk score and a severity name."""
    risk = int(round(100 * min(1.0, max(0.0, score))))
    return risk, next(name for floor, name in SEVERITY_FLOORS if risk >= floor)


def confidence(scores: dict[str, float], threshold: float) -> float:
    """How sure: the margin above threshold, raised when several detectors agree."""
    if not scores:
        return 0.0
    top = max(scores.values())
    margin = (top - threshold) / max(1e-9, 1.0 - threshold)
    agreeing = sum(1 for s in scores.values() if s >= threshold) / len(scores)
    return round(min(1.0, max(0.0, 0.5 + 0.3 * margin + 0.2 * agreeing)), 3)
