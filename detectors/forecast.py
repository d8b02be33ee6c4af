"""Capacity forecasts per series: will a metric cross its limit within the horizon, when, how sure.

Why this shape:

- Points are averaged into fixed 5-minute buckets and at most two days and two hours of buckets are
  kept, so the state of a series stays bounded (about 600 floats) whatever the point rate, and it
  survives the JSON round trip the runtime does between batches.
- The model is statsmodels' Holt-Winters: additive daily seasonality once two full days are stored,
  an additive damped trend otherwise (a damped trend does not extrapolate a short rise forever).
- The model's states (level, damped trend, one seasonal term per bucket of the day) are updated by
  the Holt-Winters recursion as each bucket closes, O(1) per point, and a refresh (every ``every``
  points, once a new bucket has closed) only projects them `steps` buckets ahead. The smoothing
  parameters and initial states are estimated with statsmodels on the stored buckets, which costs
  about 10 ms (0.2 s with seasonality): on the first forecast, then every `REESTIMATE_BUCKETS`
  buckets, or sooner when the one-step errors since the last estimation grew by `DRIFT_RATIO`
  (e.g. a leak starting on a series that was flat when it was estimated).
- A spike is an anomaly, not capacity: buckets are fed to the model robustly (the one-step error is
  clipped at `HUBER_K` sigma, as in Gelper, Fried and Croux's robust Holt-Winters), and the history
  is Hampel-filtered before estimation, so one or two outlying buckets neither bend the trend nor
  the parameters, while a leak or a level shift (which lasts) goes through.
- The 90 % interval comes from the ETS state-space variance of the damped (seasonal) trend model,
  so the ETA gets an earliest (upper band crosses) and latest (lower band crosses) time, and the
  confidence is the largest probability, over the horizon, that the value is above the limit.
- A forecast is trusted no further ahead than the history it was fitted on: two hours of a daily
  cycle look like a trend, and extrapolating that for 12 hours would predict saturation every day.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from iops_detector_sdk.contract import Point, State

BUCKET_S = 300.0
SEASON = int(86_400 / BUCKET_S)
"""Buckets per day: the seasonal period."""
MAX_BUCKETS = 2 * SEASON + 24
MIN_BUCKETS = 12
"""An hour of buckets before the first forecast: fewer cannot tell a trend from noise."""
MAX_GAP_BUCKETS = 12
"""Gaps up to an hour carry the last value forward; a longer gap starts the history again."""
REESTIMATE_BUCKETS = 144
"""Re-estimate the parameters every 12 hours of data (sooner on drift)."""
DRIFT_RATIO = 1.5
DRIFT_MIN_BUCKETS = 6
"""Judge drift on at least 30 min of errors: with fewer, noise alone trips it (3 buckets: 8 % per check)."""
HUBER_K = 3.0
HAMPEL_WINDOW = 11
HAMPEL_K = 6.0
PHI_MAX = 0.98
"""Trend damping per bucket at most: a trend adds at most phi/(1-phi) = 49 buckets (4 h) of its slope.
Measured (``iops evaluate --predictions``): undamped, a day's rising half reads as a leak."""
BETA_MAX = 0.2
"""Trend smoothing at most: a trend that may jump every bucket makes the interval explode after a kink
(flat, then a leak), and a sure leak would read as a coin toss."""
MIN_CONFIDENCE = 0.7
"""Raise a prediction only when it is at least this likely that the limit is crossed in the horizon."""
INTERVAL_Z = 1.645
"""90 % two-sided normal interval."""
HISTORY_FACTOR = 1.0
"""Forecast at most this many times the stored history span ahead."""
ETA_CHANGE_FRACTION = 0.25
ETA_CHANGE_MIN_S = 1800.0
"""A new ETA is material when it moves by more than a quarter of the time left, and at least 30 min."""


@dataclass(frozen=True, slots=True)
class Forecast:
    """Mean and standard deviation of the next buckets, each at its bucket's mid time."""

    times: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    seasonal: bool
    current: float
    """The last completed bucket's mean."""


@dataclass(frozen=True, slots=True)
class Crossing:
    """A forecast crossing of ``limit``: when (with a 90 % interval) and how sure."""

    limit: float
    made_at: float
    eta: float
    earliest: float
    latest: float | None
    """None when the lower band stays under the limit within the horizon."""
    confidence: float
    current: float
    heading_to: float
    """Forecast mean at the end of the horizon used."""
    seasonal: bool


def new_state() -> State:
    """``v`` bucket means from bucket index ``b``; ``cur`` the open bucket [index, sum, count];
    ``m`` the fitted model; ``sent`` the last prediction raised (for de-duplication)."""
    return {"b": None, "v": [], "cur": None, "n": 0, "closed": 0, "m": None, "sent": None}


def _close_bucket(state: State, index: int, mean: float) -> None:
    values: list[float] = state["v"]
    if state["b"] is None or index - (state["b"] + len(values)) > MAX_GAP_BUCKETS:
        state["b"], state["m"], values[:] = index, None, [mean]
    else:
        gap = index - (state["b"] + len(values))
        values.extend([values[-1]] * gap)
        values.append(mean)
        if state["m"] is not None:
            for k in range(index - gap, index + 1):
                _update(state["m"], k, values[k - state["b"]])
    if len(values) > MAX_BUCKETS:
        drop = len(values) - MAX_BUCKETS
        del values[:drop]
        state["b"] += drop
    state["closed"] += 1


def add_point(state: State, point: Point) -> None:
    """Fold one point into its bucket; closing the open bucket when the point starts a later one."""
    index = int(point.timestamp // BUCKET_S)
    cur = state["cur"]
    if cur is not None and index > cur[0]:
        _close_bucket(state, cur[0], float(f"{cur[1] / cur[2]:.6g}"))
        cur = None
    if cur is None:
        state["cur"] = [index, point.value, 1]
    elif index == cur[0]:
        cur[1] += point.value
        cur[2] += 1
    # a point older than the open bucket (late arrival) is ignored: buckets already closed stay as they are
    state["n"] += 1


def due(state: State, every: int) -> bool:
    """A refresh is due after ``every`` points, once a bucket closed since the last one."""
    return state["n"] >= every and state["closed"] > 0 and len(state["v"]) >= MIN_BUCKETS


def hampel(values: np.ndarray, window: int = HAMPEL_WINDOW, k: float = HAMPEL_K) -> np.ndarray:
    """Replace points more than ``k`` robust sigmas from their centred rolling median by that median."""
    if len(values) < window:
        return values
    half = window // 2
    padded = np.pad(values, half, mode="reflect")
    rolling = np.lib.stride_tricks.sliding_window_view(padded, window)
    med = np.median(rolling, axis=1)
    mad = 1.4826 * np.median(np.abs(rolling - med[:, None]), axis=1)
    out = values.copy()
    outlier = np.abs(values - med) > k * np.maximum(mad, 1e-9)
    out[outlier] = med[outlier]
    return out


def _estimate(values: np.ndarray, seasonal: bool) -> dict:
    """Fit Holt-Winters with statsmodels; return its parameters and final states, JSON-ready."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    model = ExponentialSmoothing(
        values,
        trend="add",
        damped_trend=True,
        seasonal="add" if seasonal else None,
        seasonal_periods=SEASON if seasonal else None,
        initialization_method="heuristic",
        bounds={"damping_trend": (0.8, PHI_MAX), "smoothing_trend": (0.0, BETA_MAX)},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on flat or short series
        fit = model.fit(use_brute=False)
    p = fit.params
    season = [round(float(x), 6) for x in fit.season[-SEASON:]] if seasonal else []
    return {
        "a": round(float(p["smoothing_level"]), 6),
        "b": round(float(p["smoothing_trend"]), 6),
        "phi": round(float(p["damping_trend"]), 6),
        "g": round(float(p["smoothing_seasonal"]), 6) if seasonal else 0.0,
        "sig": round(math.sqrt(max(float(fit.sse), 0.0) / len(values)), 6),
        "l": float(fit.level[-1]),
        "t": float(fit.trend[-1]),
        "s": season,
        "e2": 0.0,
        "ne": 0,
        "age": 0,
    }


def _slot(model: dict, index: int) -> int:
    """Where bucket ``index``'s seasonal term lives: model["s"][-1] belongs to model["last"]."""
    return (index - model["last"] - 1) % SEASON


def _update(model: dict, index: int, y: float) -> None:
    """One robust Holt-Winters step (error-correction form, error clipped) for the bucket at ``index``."""
    season = model["s"][_slot(model, index)] if model["s"] else 0.0
    bound = HUBER_K * max(model["sig"], 1e-9)
    error = min(bound, max(-bound, y - (model["l"] + model["phi"] * model["t"] + season)))
    model["l"] += model["phi"] * model["t"] + model["a"] * error
    model["t"] = model["phi"] * model["t"] + model["a"] * model["b"] * error
    if model["s"]:
        model["s"][_slot(model, index)] = season + model["g"] * error
    model["e2"] += error * error
    model["ne"] += 1
    model["age"] += 1


def _needs_estimate(model: dict | None, seasonal: bool) -> bool:
    if model is None or bool(model["s"]) != seasonal or model["age"] >= REESTIMATE_BUCKETS:
        return True
    return model["ne"] >= DRIFT_MIN_BUCKETS and math.sqrt(model["e2"] / model["ne"]) > DRIFT_RATIO * model["sig"] + 1e-9


def interval_sd(sigma: float, alpha: float, beta: float, phi: float, gamma: float, steps: int) -> np.ndarray:
    """Forecast standard deviation for h = 1..steps of ETS(A,Ad,A|N) (Hyndman et al. 2008, class 1).

    ``beta`` is the component-form trend smoothing (statsmodels' ``smoothing_trend``), so the
    state-space trend gain is ``alpha * beta``.
    """
    j = np.arange(1, steps)
    damp = phi * (1 - phi**j) / (1 - phi) if phi < 1 else j.astype(float)
    c = alpha + alpha * beta * damp + gamma * ((j % SEASON) == 0)
    var = np.concatenate(([0.0], np.cumsum(c * c)))
    return sigma * np.sqrt(1 + var)


def forecast(state: State, steps: int) -> Forecast:
    """Project the model ``steps`` buckets ahead, estimating it first when due."""
    values = state["v"]
    last = state["b"] + len(values) - 1
    seasonal = len(values) >= 2 * SEASON
    model = state["m"]
    if _needs_estimate(model, seasonal):
        model = _estimate(hampel(np.asarray(values, dtype=float)), seasonal)
        model["last"] = last
        state["m"] = model
    state["n"], state["closed"] = 0, 0
    h = np.arange(1, steps + 1)
    phi = model["phi"]
    damp = phi * (1 - phi**h) / (1 - phi) if phi < 1 else h.astype(float)
    mean = model["l"] + damp * model["t"]
    if model["s"]:
        mean = mean + np.asarray(model["s"])[[_slot(model, last + k) for k in h]]
    sd = interval_sd(model["sig"], model["a"], model["b"], phi, model["g"], steps)
    times = (last + 0.5 + h) * BUCKET_S
    return Forecast(times, mean, sd, seasonal, float(values[-1]))


def first_crossing(
    times: np.ndarray, values: np.ndarray, limit: float, start: float, start_value: float
) -> float | None:
    """When ``values`` (at ``times``, after ``start_value`` at ``start``) first reach ``limit``, interpolated."""
    above = np.nonzero(values >= limit)[0]
    if not len(above):
        return None
    i = int(above[0])
    t0, v0 = (start, start_value) if i == 0 else (float(times[i - 1]), float(values[i - 1]))
    t1, v1 = float(times[i]), float(values[i])
    return t0 if v1 == v0 else t0 + (limit - v0) / (v1 - v0) * (t1 - t0)


def crossing(fc: Forecast, limit: float, now: float, horizon_s: float) -> Crossing | None:
    """The forecast crossing of an upper ``limit`` within ``horizon_s`` of ``now``, if the mean crosses."""
    if fc.current >= limit:
        return None  # already there: an anomaly or an incident, not a prediction
    keep = fc.times <= now + horizon_s
    if not keep.any():
        return None
    times, mean, sd = fc.times[keep], fc.mean[keep], fc.sd[keep]
    eta = first_crossing(times, mean, limit, now, fc.current)
    if eta is None:
        return None
    earliest = first_crossing(times, mean + INTERVAL_Z * sd, limit, now, fc.current)
    latest = first_crossing(times, mean - INTERVAL_Z * sd, limit, now, fc.current)
    z = (mean - limit) / np.maximum(sd, 1e-9)
    confidence = float(np.max(0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))))
    if confidence < MIN_CONFIDENCE:
        return None
    return Crossing(
        limit=limit,
        made_at=now,
        eta=max(now, eta),
        earliest=max(now, earliest if earliest is not None else eta),
        latest=latest,
        confidence=round(confidence, 3),
        current=fc.current,
        heading_to=float(mean[-1]),
        seasonal=fc.seasonal,
    )


def is_material(state: State, found: Crossing) -> bool:
    """True unless the last prediction for this series and limit had nearly the same ETA."""
    sent = state["sent"]
    if sent is None or sent["limit"] != found.limit:
        return True
    allowed = max(ETA_CHANGE_MIN_S, ETA_CHANGE_FRACTION * max(sent["eta"] - found.made_at, 0.0))
    return abs(found.eta - sent["eta"]) > allowed


def observe(state: State, points: Iterable[Point], limit: float, horizon_s: float, every: int) -> list[Crossing]:
    """Feed points in order; return the new (not repeated) crossings found at refreshes.

    The one function the AI Lambda and the evaluation both call, so a prediction is measured the
    way it runs.
    """
    found: list[Crossing] = []
    for p in points:
        add_point(state, p)
        if not due(state, every):
            continue
        span = len(state["v"]) * BUCKET_S
        horizon = min(horizon_s, HISTORY_FACTOR * span)
        now = (state["b"] + len(state["v"])) * BUCKET_S  # end of the last completed bucket
        steps = int(math.ceil(horizon / BUCKET_S)) + 1
        hit = crossing(forecast(state, steps), limit, max(now, p.timestamp), horizon)
        if hit is not None and is_material(state, hit):
            state["sent"] = {"limit": hit.limit, "eta": round(hit.eta, 1)}
            found.append(hit)
    return found
