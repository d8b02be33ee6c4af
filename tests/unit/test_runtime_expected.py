"""The expected value of each point is the median of the recent points before it, as `statistics.median` gives it."""

from __future__ import annotations

import random
from statistics import median

from iops_detector_sdk.contract import Point, SeriesKey

from detectors.runtime import RECENT_POINTS, SeriesState, score_series


class Zero:
    name = "zero"
    remote = False
    calibrated = True

    def new_state(self, series: SeriesKey) -> dict:
        return {}

    def score(self, series: SeriesKey, state: dict, points: list[Point]) -> list[float]:
        return [0.0] * len(points)


def test_expected_and_context_match_a_point_by_point_window_for_young_and_old_series() -> None:
    rng = random.Random(3)
    values = [round(rng.gauss(50, 10), 2) if rng.random() > 0.1 else 7.0 for _ in range(500)]
    points = [Point(1_700_000_000.0 + 60 * i, v) for i, v in enumerate(values)]
    state = SeriesState()
    got = []
    for size in (1, 2, 5, 30, 40, 100, 7, 315):  # batches that cross the window's first fill
        batch = points[len(got) : len(got) + size]
        got += score_series({"zero": Zero()}, SeriesKey("h", "m"), state, batch).results
        state = SeriesState.from_json(state.to_json())
    assert len(got) == len(points)
    for i, r in enumerate(got):
        before = values[max(0, i - RECENT_POINTS) : i]
        assert r.expected == (median(before) if before else None), i
        assert [p.value for p in r.context] == values[max(0, i + 1 - RECENT_POINTS) : i + 1], i
    assert [v for _, v in state.recent] == values[-RECENT_POINTS:]
