"""The streaming path: runs detectors over new points of one series, isolated.

The AI Lambda and ``iops evaluate`` both call `score_series`, so a detector is scored
exactly the way it runs in production: batches of new points, state carried between
batches as JSON, replayed points skipped, every detector isolated from the others.
Each detector's run over a batch is an X-Ray subsegment (``## detector <name>``, in its own thread).
A detector that does not declare ``calibrated = True`` has its scores calibrated here
(`detectors.calibration`) before they are combined, so a plugin's scale cannot drown the others.
"""

from __future__ import annotations

import json
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from iops_detector_sdk.contract import Detector, Point, SeriesKey, State
from iops_detector_sdk.severity import severity_of

from detectors import calibration
from iops.logs import get_logger
from iops.tracing import subsegment

log = get_logger(__name__)

RECENT_POINTS = 60
"""History kept per series for explanations, expected values and enrichers."""
DETECTOR_TIMEOUT_S = 10.0
"""`score_series`' budget for one series batch (the AI Lambda gives `score_batch` its own deadline)."""


@dataclass(slots=True)
class SeriesState:
    """Everything the runtime stores for one series between batches."""

    last_timestamp: float | None = None
    recent: list[list[float]] = field(default_factory=list)
    detectors: dict[str, State] = field(default_factory=dict)
    forecast: State = field(default_factory=dict)
    """Capacity forecast state (`detectors.forecast`); empty for series without a limit."""
    calibration: dict[str, State] = field(default_factory=dict)
    """Per uncalibrated detector, the distribution of its scores (`detectors.calibration`); kept by
    the runtime, not the plugin, so a plugin cannot change how it is calibrated."""

    def to_json(self) -> str:
        raw = {"last": self.last_timestamp, "recent": self.recent, "detectors": self.detectors}
        if self.forecast:
            raw["forecast"] = self.forecast
        if self.calibration:
            raw["cal"] = self.calibration
        return json.dumps(raw, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> SeriesState:
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(
            raw.get("last"), raw.get("recent", []), raw.get("detectors", {}), raw.get("forecast", {}), raw.get("cal", {})
        )


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


def new_points(state: SeriesState, points: Sequence[Point]) -> tuple[list[Point], int, list[Point]]:
    """Sort, keep the last value per timestamp, and split off what is not after the last scored point.

    Returns (fresh, duplicates, late): a duplicate is a point the series already scored (a stream
    re-delivery: same timestamp and value among the recent points); a late point is older than the
    last scored one and not known (a slow agent, a re-send after a 503, a replay).
    """
    by_ts: dict[float, Point] = {}
    for p in points:
        by_ts[p.timestamp] = p
    last = state.last_timestamp
    fresh = [by_ts[t] for t in sorted(by_ts) if last is None or t > last]
    seen = {(t, v) for t, v in state.recent}
    older = [by_ts[t] for t in sorted(by_ts) if last is not None and t <= last]
    late = [p for p in older if (p.timestamp, p.value) not in seen]
    return fresh, len(points) - len(fresh) - len(late), late


def _checked(name: str, raw: Sequence[float], expected: int) -> list[float]:
    scores = [float(s) for s in raw]
    if len(scores) != expected:
        raise ValueError(f"detector {name} returned {len(scores)} scores for {expected} points")
    return [min(1.0, max(0.0, s)) if math.isfinite(s) else 0.0 for s in scores]


@dataclass(slots=True)
class _Job:
    """One series' points for every detector; ``learn`` False scores on a copy of the state (replayed late points)."""

    series: SeriesKey
    state: SeriesState
    points: list[Point]
    learn: bool


class _Worker:
    """One detector's daemon thread, kept from batch to batch: a new thread per batch cost a quarter
    of the default set's time per point (each new thread also sets up its own BLAS buffers)."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], None], threading.Event]] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name=f"detector-{name}", daemon=True).start()

    def run(self, job: Callable[[], None]) -> threading.Event:
        """Queue ``job``; the event is set when it has ended."""
        done = threading.Event()
        self._jobs.put((job, done))
        return done

    def _loop(self) -> None:
        while True:
            job, done = self._jobs.get()
            try:
                job()
            except BaseException:  # noqa: BLE001 - the worker outlives what escapes a job
                log.exception("detector worker job failed")
            finally:
                done.set()


_workers: dict[str, _Worker] = {}
_busy: dict[str, threading.Event] = {}
"""Detector name -> its job that was still running at an earlier batch's deadline. Such a
detector is skipped (and counted) until that job ends, so a hung plugin holds one thread, not one per batch."""
_busy_lock = threading.Lock()


def _run_detector(name: str, detector: Detector, jobs: list[_Job], out: dict[int, tuple]) -> None:
    """Score every job with one detector, in order; each job's outcome lands in ``out`` when done.

    State is kept under ``name``, the key the detector was given under (usually its own name)."""
    failures = 0
    with subsegment(f"detector {name}", detector=name, series=len(jobs)) as segment:
        for i, job in enumerate(jobs):
            before = job.state.detectors.get(name)
            started = time.perf_counter()
            try:
                det_state = json.loads(json.dumps(before)) if before is not None else detector.new_state(job.series)
                scores = _checked(name, detector.score(job.series, det_state, job.points), len(job.points))
                out[i] = (scores, det_state, None, time.perf_counter() - started)
            except BaseException as exc:  # noqa: BLE001 - isolate every plugin failure
                out[i] = (None, None, exc, time.perf_counter() - started)
                failures += 1
        segment.put_annotation("failures", failures)


def combine(scores: dict[str, float], weights: Mapping[str, float] | None = None) -> float:
    """One score from several detectors: the strongest evidence wins, each weighted (default 1,
    ``detectorWeights``; 0 mutes a detector without removing it), at most 1."""
    if not scores:
        return 0.0
    if not weights:
        return max(scores.values())
    return min(1.0, max(s * weights.get(n, 1.0) for n, s in scores.items()))


@dataclass(slots=True)
class BatchScores:
    results: list[SeriesResult]
    timed_out: dict[str, int]
    """Detector -> series it did not score before the batch's deadline (or skipped, still hung)."""
    late: int
    """Points older than their series' last scored point (scored only when replaying)."""


def score_batch(
    detectors: dict[str, Detector],
    work: dict[SeriesKey, tuple[SeriesState, Sequence[Point]]],
    deadline: float,
    replay: bool = False,
    weights: Mapping[str, float] | None = None,
) -> BatchScores:
    """Score the new points of many series with every detector, one thread per detector, by ``deadline``.

    A detector that has not finished when the deadline (``time.monotonic()``) passes keeps the
    series it finished; the rest are scored without it and counted in ``timed_out``. With
    ``replay``, late points are scored too, on a copy of the state that is then thrown away, so an
    old point never teaches a state that has moved past it. ``weights`` go to `combine`.
    """
    jobs: list[_Job] = []
    split: dict[SeriesKey, tuple[int, int]] = {}
    late_total = 0
    for series, (state, points) in work.items():
        fresh, duplicates, late = new_points(state, points)
        late_total += len(late)
        if fresh:
            jobs.append(_Job(series, state, fresh, learn=True))
        if replay and late:
            jobs.append(_Job(series, SeriesState.from_json(state.to_json()), late, learn=False))
        split[series] = (duplicates, 0 if replay else len(late))
    outputs: dict[str, dict[int, tuple]] = {name: {} for name in detectors}
    timed_out: dict[str, int] = {}
    workers: dict[str, threading.Event] = {}
    for name, detector in detectors.items() if jobs else ():
        with _busy_lock:
            hung = _busy.get(name)
            if hung is not None and not hung.is_set():
                timed_out[name] = len(jobs)
                continue
            _busy.pop(name, None)
            worker = _workers.get(name) or _workers.setdefault(name, _Worker(name))
        workers[name] = worker.run(partial(_run_detector, name, detector, jobs, outputs[name]))
    for name, done in workers.items():
        if not done.wait(max(0.0, deadline - time.monotonic())):
            with _busy_lock:
                _busy[name] = done
            log.error("detector did not finish before the batch deadline", detector=name)
    done = {name: dict(out) for name, out in outputs.items()}  # a late worker may still add entries: ignore them
    for name in workers:
        missing = len(jobs) - len(done[name])
        if missing:
            timed_out[name] = missing
    per_series: dict[SeriesKey, SeriesResult] = {
        s: SeriesResult(s, [], state, [], {}, split[s][0] + split[s][1]) for s, (state, _) in work.items()
    }
    for i, job in enumerate(jobs):
        result = per_series[job.series]
        per_detector: dict[str, list[float]] = {}
        for name in workers:
            got = done[name].get(i)
            if got is None:
                continue
            scores, det_state, error, seconds = got
            result.seconds[name] = result.seconds.get(name, 0.0) + seconds
            if error is not None:
                result.failures.append(DetectorFailure(name, f"{type(error).__name__}: {error}", seconds))
                log.warning("detector failed", detector=name, series=job.series, error=error)
                continue
            if not getattr(detectors[name], "calibrated", False):
                cal = job.state.calibration.setdefault(name, calibration.new_state())
                scores = calibration.calibrate(cal, scores)
            per_detector[name] = scores
            job.state.detectors[name] = det_state
        result.results.extend(_point_results(job, per_detector, weights))
    return BatchScores(list(per_series.values()), timed_out, late_total)


def _point_results(
    job: _Job, per_detector: dict[str, list[float]], weights: Mapping[str, float] | None
) -> list[PointResult]:
    """Per point: the detectors' scores, their combination, the expected value and recent context."""
    results: list[PointResult] = []
    known = [Point(t, v) for t, v in job.state.recent]
    timeline = known + list(job.points)
    expected = _medians_before(np.array([p.value for p in timeline], float), len(known))
    for i, p in enumerate(job.points):
        end = len(known) + i + 1
        scores = {name: s[i] for name, s in per_detector.items()}
        context = timeline[max(0, end - RECENT_POINTS) : end]
        results.append(PointResult(p, scores, combine(scores, weights), expected[i], context))
    if job.learn:
        job.state.last_timestamp = job.points[-1].timestamp
        job.state.recent = [[p.timestamp, p.value] for p in timeline[-RECENT_POINTS:]]
    return results


def _medians_before(values: np.ndarray, first: int) -> list[float | None]:
    """For each of ``values[first:]``: the median of the up to ``RECENT_POINTS`` values before it
    (None when there are none). One vectorised pass per batch: the per-point median was most of the
    runtime's own cost per point."""
    out: list[float | None] = []
    i = first
    while i < len(values) and i < RECENT_POINTS:  # a young series: the window still grows
        out.append(float(np.median(values[:i])) if i else None)
        i += 1
    if i < len(values):
        windows = np.lib.stride_tricks.sliding_window_view(values[:-1], RECENT_POINTS)[i - RECENT_POINTS :]
        out.extend(float(m) for m in np.median(windows, axis=1))
    return out


def score_series(
    detectors: dict[str, Detector],
    series: SeriesKey,
    state: SeriesState,
    points: Sequence[Point],
    timeout: float | None = None,
    weights: Mapping[str, float] | None = None,
) -> SeriesResult:
    """Score the new points of one series with every detector within ``timeout``; update ``state``."""
    deadline = time.monotonic() + (DETECTOR_TIMEOUT_S if timeout is None else timeout)
    return score_batch(detectors, {series: (state, points)}, deadline, weights=weights).results[0]


def risk_and_severity(score: float) -> tuple[int, str]:
    """Map a combined score in [0, 1] to a 0-100 risk score and a severity name."""
    risk = int(round(100 * min(1.0, max(0.0, score))))
    return risk, severity_of(risk)


def confidence(scores: dict[str, float], threshold: float) -> float:
    """How sure: the margin above threshold, raised when several detectors agree."""
    if not scores:
        return 0.0
    top = max(scores.values())
    margin = (top - threshold) / max(1e-9, 1.0 - threshold)
    agreeing = sum(1 for s in scores.values() if s >= threshold) / len(scores)
    return round(min(1.0, max(0.0, 0.5 + 0.3 * margin + 0.2 * agreeing)), 3)
