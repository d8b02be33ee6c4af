"""Built-in statistical detector: seasonal-naive surprise and range novelty, each scored
against the series' own recent records so that one threshold serves every series.

Why this shape (measured with ``iops evaluate`` on the NAB development corpus, see
docs/detection.md):

* Forecast. Each point is compared with what the series did at the same time of day
  (a 5-minute-bin daily profile, updated with a Huber-clipped EWMA so one spike does not
  become tomorrow's expectation, matched within one bin either side because daily jobs
  drift), or, when it explains the point better, with the same hour on past weeks (an hourly
  weekly profile: quiet weekends). Before a full day has been seen a Huber-clipped EWMA level
  stands in. Bins are keyed by wall-clock time, so gaps and irregular sampling need no care;
  the runtime already drops repeated timestamps.
* Surprise. ``u = log(1 + |residual| / b)`` with ``b`` the robust (clipped) mean absolute
  residual: scale-free, so CPU percent and bytes per second look alike, and compressed
  so that heavy-tailed metrics (disk bursts) do not saturate. ``u`` is averaged over 1 point
  (spikes) and over about 10 points (level shifts, bursts, variance changes, flat-lining
  where the profile expects movement).
* Range novelty. A value, or the 10-point mean, beyond the envelope of its recent values
  (upper and lower extremes, fading toward the level) is evidence by itself, in proportion
  to how far beyond the envelope's width it lands: this is what catches level shifts to
  never-seen levels and spikes larger than any before, which residuals alone under-rate
  on bursty metrics.
* Calibration. Each surprise average is divided by its own fading record (the highest
  value in roughly the last twelve days); range novelty is ``1 + excess / width``. Both read
  "1 = as extreme as anything recently seen on this series", the same on every series, and
  a recurring pattern (a nightly job) stops alarming once it has set the record.
  Score = evidence / (1 + evidence), in [0, 1); 0.5 is "at the record".
* Noise floors (issue 15: noise must stay quiet). A record never counts as lower than what
  Gaussian noise reaches once in 100,000 points (``NOISE_FLOOR``), and the envelope is never
  narrower than ``NOISE_Z`` noise standard deviations either side of its middle, the noise
  scale being the level's mean absolute residual: a young or quiet series no longer alarms
  when noise sets a new record or a new extreme. A young-model gate (``YOUNG_S``) exists
  but is off by default.
* Stuck values (``STILL_ON``, off by default): a run of exactly repeated values on a series
  whose values practically never repeat, scored against the longest unflagged run seen, not
  learned when flagged (so a recurring stuck metric is flagged again) unless it lasts a day.
  It catches flat-lines (recurrence suite) and adds 3.8 points of CV on the generated corpus,
  but costs 2.5 on ../shared/nab, so it is not on by default.

statsmodels was not used: its smoothers refit on whole arrays, while the Lambda needs an
O(1) per-point update from a small JSON state; the recursions here are the online forms.
State is about 4.5 KB of JSON per series (the 288 + 168 profile bins dominate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from iops_detector_sdk.contract import Point, SeriesKey, State
from iops_detector_sdk.hookspecs import hookimpl

from detectors.envelope import episode_step, forget, range_novelty, snapshot

DAY_S = 86400.0
BIN_S = 300.0
"""Profile resolution: 5-minute bins (288 a day), the usual CloudWatch period."""
PROFILE_ALPHA = 0.6
"""Profile update weight: mostly 'same time yesterday', smoothed a little."""
LEVEL_ALPHA = 0.1
"""Fallback level forecast during the first day."""
SCALE_ALPHA = 0.01
CLIP = 4.0
"""Residuals are clipped at CLIP * b before updating forecasts and scale (Huber)."""
SCALES = (1.0, 10.0)
"""Averaging horizons of the surprise, in points."""
MEMORY = 0.9998
"""Decay of records and of the value envelope per BIN_S of time: half-life about 12 days,
longer than a week so that last weekend's lows are still known this weekend."""
JITTER = 1
"""Daily patterns wander by a bin or two (a cron job at 02:00 or 02:05): tolerate it."""
WARMUP = 30
"""Points before any score (the scale estimate needs a few residuals)."""
DEFAULT_THRESHOLD = 0.5268
"""NAB-optimised threshold (standard profile, ``iops evaluate --corpus ../shared/nab``)."""
NOISE_Z = 4.42
"""The envelope is never narrower than this many noise standard deviations either side of its
middle (the two-sided Gaussian tail of 1e-5: what noise reaches once in 100,000 points), the
noise standard deviation of each smoothed value being estimated from the level's mean absolute
residual. Without this floor a young or quiet series alarms whenever noise sets a new extreme."""
YOUNG_S = 0.0
"""A young-model gate: nothing is scored until a series is this old (seconds). Off: the noise
floors alone keep noise quiet (0.03 insights per series-day on the recurrence suite's noise;
0.0 with a one-day gate), and a gate of even two hours hides the early spikes that the local
end-to-end tests and the demo rely on (tests/local/test_alerts_local.py, tests/unit/test_emf.py)."""
STILL_FLOOR = 6.0
"""Stuck values: a run of exactly repeated values on a series that moves is evidence in
proportion to its length over the longest unflagged run seen (never less than this many points)."""
STILL_ON = False
STILL_RATE = 0.01
"""...only on a series whose values practically never repeat (under this fraction of points, a
slow average over about 100 points): quantised metrics repeat all the time."""
NOISE_FLOOR = (1.877, 0.977)
"""A record never counts as lower than what Gaussian noise reaches once in 100,000 points, per
surprise scale: the 1 - 1e-5 quantile of ``log(1 + |z| / E|z|)`` and of its 10-point EWMA
(simulated, 4 million draws), for the same reason."""

EPISODE_QUIET_S = 1800.0
EPISODE_LONGEST_S = 86400.0
EPISODE_PEAK = 3.0
EPISODE_KEEP = 0.5
"""Incidents do not become the baseline (issue 15): a flagged episode (evidence at the record) that
reached EPISODE_PEAK and ended (EPISODE_QUIET_S without evidence at the record) within
EPISODE_LONGEST_S is forgotten: the records, envelope and residual scales go back to what they
were before it, so the same incident recurring is flagged again. A longer one is a new normal."""

NBINS = int(DAY_S // BIN_S)
WEEK_S = 7 * DAY_S
WEEK_BIN_S = 3600.0
WEEK_BINS = int(WEEK_S // WEEK_BIN_S)
WEEK_ALPHA = 0.1
"""Weekly profile (hourly bins) update weight: a slow mean of the same hour on past weeks."""
SQRT2 = math.sqrt(2.0)


def _clip(e: float, limit: float) -> float:
    return max(-limit, min(limit, e))


def _compact(v: float) -> float:
    """7 significant digits: halves the JSON of the profiles (most of the state), loses nothing."""
    return float(f"{v:.7g}")


class StatisticalDetector:
    name = "statistical"
    remote = False
    calibrated = True
    """Scores fitted to the stack threshold by cross-validation (docs/detection.md): no runtime calibration."""

    def new_state(self, series: SeriesKey) -> State:
        return {
            "n": 0,
            "t0": None,
            "last": None,
            "level": 0.0,
            "b_level": 0.0,
            "b_prof": 0.0,
            "sm": [0.0] * len(SCALES),
            "hi": [0.0] * len(SCALES),
            "lo": [0.0] * len(SCALES),
            "prof": [None] * NBINS,
            "week": [None] * WEEK_BINS,
            "b_week": 0.0,
            "avg": [0.0] * len(SCALES),
            "rec": [0.0] * len(SCALES),
        }

    def score(self, series: SeriesKey, state: State, points: Sequence[Point]) -> list[float]:
        n, t0, last, level = state["n"], state["t0"], state["last"], state["level"]
        sm, hi, lo = state["sm"], state["hi"], state["lo"]
        b_level, b_prof = state["b_level"], state["b_prof"]
        prof, avg, rec = state["prof"], state["avg"], state["rec"]
        week, b_week = state["week"], state["b_week"]
        weights = [1.0 / k for k in SCALES]
        # noise sd of each smoothed value per unit of the level's mean absolute residual (Gaussian)
        reach_per_b = [NOISE_Z * math.sqrt(math.pi / 2) * math.sqrt(w / (2.0 - w)) for w in weights]
        noise_floor, young = NOISE_FLOOR, YOUNG_S
        run, srec, prev, still_on = state.get("run", 0), state.get("srec", 0.0), state.get("prev"), STILL_ON
        rs, rep, rr = state.get("rs"), state.get("rep", 0.0), state.get("rr", 1.0)
        ep = state.get("ep")
        out: list[float] = []
        for p in points:
            x, t = p.value, p.timestamp
            if not math.isfinite(x):  # never let one bad value poison the state
                out.append(0.0)
                continue
            k = int((t % DAY_S) // BIN_S) % NBINS
            kw = int((t % WEEK_S) // WEEK_BIN_S) % WEEK_BINS
            if n == 0:
                t0, last, level, n = t, t, x, 1
                sm[:] = hi[:] = lo[:] = [x] * len(SCALES)
                prof[k] = x
                out.append(0.0)
                continue
            floor = 1e-3 * abs(level) + 1e-9  # flat series: any change is news, not a division by 0
            before = snapshot(rec, hi, lo, [b_level, b_prof, b_week]) if ep is None else None
            seasonal = t - t0 >= DAY_S and prof[k] is not None
            # memory fades with time, not with points: sparse series keep their records as long
            fade = MEMORY ** max(0.0, (t - last) / BIN_S)
            last = t
            if seasonal:
                near = (prof[(k + j) % NBINS] for j in range(-JITTER, JITTER + 1))
                resid = min(abs(x - v) for v in near if v is not None) / max(b_prof, floor)
            else:
                resid = abs(x - level) / max(b_level, floor)
            weekly = t - t0 >= WEEK_S and week[kw] is not None
            if weekly:
                # a weekly rhythm (quiet weekends) explains what yesterday cannot
                resid = min(resid, abs(x - week[kw]) / max(b_week, floor))
            u = math.log1p(resid)
            ratio = 0.0
            scored = n >= WARMUP and t - t0 >= young
            for i, w in enumerate(weights):
                avg[i] += w * (u - avg[i])
                if scored:
                    ratio = max(ratio, avg[i] / (max(rec[i], noise_floor[i]) + 1e-9))
                rec[i] = max(rec[i] * fade, avg[i])
            scale = max(b_level, floor)
            reach = [r * scale for r in reach_per_b]
            ratio = max(ratio, range_novelty(sm, hi, lo, x, weights, reach, level, fade, floor, scored))
            if still_on:
                same = x == prev
                if same:
                    run += 1
                    if run == 1:
                        rs, rr = t, rep  # repeat rate before this run
                rep += 0.01 * ((1.0 if same else 0.0) - rep)
                if same:
                    if scored and rr < STILL_RATE and b_level > 1e-9 * (abs(level) + 1.0) and t - rs < DAY_S:
                        # a flagged run is not learned (the same stuck metric recurring is news
                        # again) unless it lasts a day: then it is the new normal
                        e_still = run / max(srec * fade, STILL_FLOOR)
                        if e_still > 1.0:
                            ratio = max(ratio, min(e_still, 3.0))
                        elif run > srec:
                            srec = float(run)
                    else:
                        srec = max(srec * fade, float(run))
                else:
                    srec *= fade
                    run = 0
                prev = x
            ep, restore = (
                episode_step(ep, ratio, t, before, avg, noise_floor, EPISODE_QUIET_S, EPISODE_LONGEST_S, EPISODE_PEAK)
                if scored
                else (ep, None)
            )
            if restore is not None:
                fade_since = MEMORY ** ((t - restore[0]) / BIN_S)
                scales = [b_level, b_prof, b_week]
                b_level, b_prof, b_week = forget(restore, rec, hi, lo, sm, scales, level, fade_since, EPISODE_KEEP)
            # update the forecasts after scoring (causal), with clipped residuals
            e = x - level
            lim = CLIP * max(b_level, floor)
            level += LEVEL_ALPHA * _clip(e, lim)
            b_level += (SCALE_ALPHA if n > WARMUP else 1.0 / (n + 1)) * (min(abs(e), lim) - b_level)
            if prof[k] is None:
                prof[k] = x
            else:
                e = x - prof[k]
                lim = CLIP * max(b_prof, floor)
                b_prof += SCALE_ALPHA * (min(abs(e), lim) - b_prof)
                prof[k] = _compact(prof[k] + PROFILE_ALPHA * _clip(e, lim))
            if week[kw] is None:
                week[kw] = x
            else:
                e = x - week[kw]
                lim = CLIP * max(b_week, floor)
                if weekly:
                    b_week += SCALE_ALPHA * (min(abs(e), lim) - b_week)
                week[kw] = _compact(week[kw] + WEEK_ALPHA * _clip(e, lim))
            if not weekly:
                b_week = b_prof
            if not seasonal:
                # yesterday-vs-today differences two noisy points: sqrt(2) times the level spread
                b_prof = SQRT2 * b_level
            n += 1
            out.append(ratio / (1.0 + ratio))
        state.update(
            n=n,
            t0=t0,
            last=last,
            level=level,
            b_level=b_level,
            b_prof=b_prof,
            run=run,
            srec=srec,
            prev=prev,
            rs=rs,
            rep=rep,
            rr=rr,
            ep=ep,
        )
        return out


@hookimpl
def register_detectors(register):
    register(StatisticalDetector())
