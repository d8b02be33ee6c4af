"""Capacity forecasts: the recursion matches statsmodels, ETAs come before the crossing, no repeats."""

from __future__ import annotations

import json
import math
import random
import warnings

import numpy as np
import pytest
from iops_detector_sdk.contract import Point
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from detectors import forecast as F
from local.traffic import Fleet

T0 = 1_700_000_100.0
HOUR = 3600.0


def memory(minutes: int, leak_from: int | None = None, per_min: float = 0.3, seed: int = 1) -> list[Point]:
    """One point a minute: 55 % with a daily wave and noise, plus a linear leak."""
    rng = random.Random(seed)
    out = []
    for i in range(minutes):
        t = T0 + 60 * i
        v = 55 + 5 * math.sin(2 * math.pi * t / 86_400) + rng.gauss(0, 1)
        if leak_from is not None and i >= leak_from:
            v += (i - leak_from) * per_min
        out.append(Point(t, v))
    return out


def first_at_or_above(points: list[Point], limit: float) -> float:
    return next(p.timestamp for p in points if p.value >= limit)


def _statsmodels(values: np.ndarray, seasonal: bool):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ExponentialSmoothing(
            values,
            trend="add",
            damped_trend=True,
            seasonal="add" if seasonal else None,
            seasonal_periods=F.SEASON if seasonal else None,
            initialization_method="heuristic",
            bounds={"damping_trend": (0.8, F.PHI_MAX), "smoothing_trend": (0.0, F.BETA_MAX)},
        ).fit(use_brute=False)


@pytest.mark.parametrize("n", [200, 2 * F.SEASON + 10])
def test_incremental_states_reproduce_statsmodels(n: int, monkeypatch) -> None:
    monkeypatch.setattr(F, "hampel", lambda values: values)  # the robust parts off: plain Holt-Winters
    monkeypatch.setattr(F, "HUBER_K", 1e9)
    rng = np.random.default_rng(0)
    y = 60 + 0.02 * np.arange(n + 10) + rng.normal(0, 1, n + 10) + 5 * np.sin(np.arange(n + 10) * 2 * np.pi / F.SEASON)
    state = F.new_state() | {"b": 1000, "v": list(y[:n]), "closed": 1, "n": 99}
    fc = F.forecast(state, 30)
    fit = _statsmodels(y[:n], fc.seasonal)
    assert fc.seasonal == (n >= 2 * F.SEASON)
    np.testing.assert_allclose(fc.mean, fit.forecast(30), atol=1e-5)
    # ten more buckets through the O(1) recursion == statsmodels re-running the filter with the same parameters
    for k in range(10):
        F._update(state["m"], 1000 + n + k, float(y[n + k]))
    state["v"] = list(y)
    p = fit.params
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = ExponentialSmoothing(
            y,
            trend="add",
            damped_trend=True,
            seasonal="add" if fc.seasonal else None,
            seasonal_periods=F.SEASON if fc.seasonal else None,
            initialization_method="known",
            initial_level=p["initial_level"],
            initial_trend=p["initial_trend"],
            initial_seasonal=p["initial_seasons"] if fc.seasonal else None,
        ).fit(
            smoothing_level=p["smoothing_level"],
            smoothing_trend=p["smoothing_trend"],
            damping_trend=p["damping_trend"],
            smoothing_seasonal=p["smoothing_seasonal"] if fc.seasonal else None,
            optimized=False,
        )
    np.testing.assert_allclose(F.forecast(state, 20).mean, again.forecast(20), atol=1e-4)


def test_leak_is_predicted_well_before_the_limit_is_reached() -> None:
    points = memory(360, leak_from=60)
    hits = F.observe(F.new_state(), points, 95.0, 12 * HOUR, every=10)
    assert hits, "no prediction for a leak of 18 %/h"
    first = hits[0]
    crossed = first_at_or_above(points, 95.0)
    assert first.made_at < crossed - 0.75 * HOUR, "less than 45 min of warning"
    assert first.earliest <= first.eta and (first.latest is None or first.eta <= first.latest)
    assert abs(first.eta - crossed) < 0.5 * (crossed - first.made_at), "ETA off by more than half the lead time"
    assert 0.5 <= first.confidence <= 1.0 and first.limit == 95.0 and first.current < 95.0


def test_no_prediction_without_a_leak_even_on_the_rising_side_of_the_day() -> None:
    rng = random.Random(3)
    # CPU at 35 +/- 15 on its rising half: extrapolated 12 h it would saturate; two days of it must not.
    points = [
        Point(T0 + 60 * i, 35 + 15 * math.sin(2 * math.pi * (60 * i) / 86_400) + rng.gauss(0, 2.5))
        for i in range(2 * 1440)
    ]
    assert F.observe(F.new_state(), points, 98.0, 12 * HOUR, every=10) == []


def test_a_steady_prediction_is_not_repeated_but_a_moved_eta_is() -> None:
    points = memory(300, leak_from=60)
    state = F.new_state()
    hits = F.observe(state, points, 95.0, 12 * HOUR, every=10)
    assert len(hits) <= 3, [h.eta for h in hits]
    for earlier, later in zip(hits, hits[1:], strict=False):
        assert abs(later.eta - earlier.eta) > F.ETA_CHANGE_MIN_S
    sent = state["sent"]
    same = F.Crossing(95.0, sent["eta"] - 2 * HOUR, sent["eta"] + 60, sent["eta"], None, 0.9, 80, 99, False)
    moved = F.Crossing(95.0, sent["eta"] - 2 * HOUR, sent["eta"] - HOUR, sent["eta"], None, 0.9, 80, 99, False)
    other_limit = F.Crossing(90.0, sent["eta"] - 2 * HOUR, sent["eta"], sent["eta"], None, 0.9, 80, 99, False)
    assert not F.is_material(state, same)
    assert F.is_material(state, moved) and F.is_material(state, other_limit)


def test_short_spikes_neither_bend_the_trend_nor_predict() -> None:
    # demo traffic: every CPU series of 29 fleets has daily shape and spikes to 97 %; without the
    # robust parts (plain Holt-Winters) one of them predicts saturation
    predicted = []
    for seed in range(1, 30):
        fleet = Fleet(seed=seed)
        points = list(fleet.history(120, end=1_700_000_000.0 + seed * 3000))
        for host in (e for e in fleet.entities if not e.startswith("ib_")):
            series = [Point(p["timestamp"], p["cpuUsage"]) for p in points if p["hostname"] == host]
            if F.observe(F.new_state(), series, 98.0, 12 * HOUR, every=10):
                predicted.append((seed, host))
    assert predicted == []
    y = np.array([50.0] * 30 + [90.0, 88.0] + [50.0] * 30) + np.random.default_rng(1).normal(0, 1, 62)
    cleaned = F.hampel(y)
    assert cleaned[30] < 55 and cleaned[31] < 55 and np.sum(cleaned != y) <= 3


def test_already_above_the_limit_is_not_a_prediction() -> None:
    fc = F.Forecast(np.array([1.0, 2.0]), np.array([99.0, 100.0]), np.array([1.0, 1.0]), False, current=96.0)
    assert F.crossing(fc, 95.0, 0.0, 10.0) is None


def test_eta_interval_and_confidence_from_the_bands() -> None:
    times = np.arange(1, 11) * 100.0
    mean = np.linspace(80, 100, 10)
    fc = F.Forecast(times, mean, np.full(10, 2.0), False, current=78.0)
    hit = F.crossing(fc, 95.0, 0.0, 10_000)
    assert hit is not None and hit.earliest < hit.eta < hit.latest
    assert hit.eta == pytest.approx(100 * (1 + (95 - 80) / (20 / 9)))
    assert hit.confidence == pytest.approx(0.5 * (1 + math.erf(2.5 / math.sqrt(2))), abs=1e-3)
    assert F.crossing(fc, 95.0, 0.0, 300) is None, "crossing beyond the horizon"


def test_interval_widens_with_the_horizon() -> None:
    sd = F.interval_sd(1.0, 0.3, 0.1, 0.98, 0.0, 50)
    assert sd[0] == 1.0 and np.all(np.diff(sd) > 0)
    assert np.all(np.isfinite(F.interval_sd(1.0, 0.3, 0.1, 1.0, 0.05, 400)))


def test_batches_and_json_round_trips_change_nothing() -> None:
    points = memory(400, leak_from=100)
    whole = F.observe(F.new_state(), points, 95.0, 12 * HOUR, every=10)
    state = F.new_state()
    batched: list[F.Crossing] = []
    for start in range(0, len(points), 37):
        state = json.loads(json.dumps(state))
        batched.extend(F.observe(state, points[start : start + 37], 95.0, 12 * HOUR, every=10))
    assert [(h.made_at, round(h.eta, 3)) for h in batched] == [(h.made_at, round(h.eta, 3)) for h in whole]


def test_state_stays_bounded_and_refreshes_are_every_n_points() -> None:
    points = memory(5 * 1440, seed=4)
    state = F.new_state()
    refreshes = 0
    for p in points:
        F.add_point(state, p)
        if F.due(state, 30):
            F.forecast(state, 12)
            refreshes += 1
    assert len(state["v"]) <= F.MAX_BUCKETS
    assert len(json.dumps(state)) < 20_000
    assert abs(refreshes - len(points) / 30) <= 12


def test_long_gap_restarts_the_history() -> None:
    state = F.new_state()
    F.observe(state, memory(120), 95.0, HOUR, every=10)
    later = [Point(T0 + 120 * 60 + 3 * HOUR + 60 * i, 50.0) for i in range(8)]  # closes one later bucket
    F.observe(state, later, 95.0, HOUR, every=10)
    assert len(state["v"]) == 1 and state["m"] is None
