"""Recurring incidents, persistent changes and pure noise, scored as the stack runs.

``iops evaluate --recurrence [--detector NAME] [--threshold T] [--json]``. Every series goes
through the streaming path (`detectors.evaluate.stream_file`: `score_series` in batches of
100 with the JSON state round trip) and is judged at one fixed alert threshold, the deployed
``anomalyThreshold`` (Pulumi.yaml) unless ``--threshold`` is given; the detector set is the
deployed one (``default``) unless ``--detector`` is given. Nothing is fitted. Fixed seed.

Three suites, 5-minute sampling unless said otherwise:

* **Recurrence.** One series per (base shape, incident kind, delay): shapes ``flat`` (noisy
  constant), ``daily`` (sinusoid), ``weekly`` (daily demand peaks, quiet weekends), ``trend``
  (rising with a small daily cycle), ``heavy_tailed`` (log-normal with Pareto outliers);
  kinds ``spike`` (3 points, +10 sigma), ``level_shift`` (2 h, +6 sigma), ``slow_leak``
  (6 h ramp to +10 sigma, then back: a restart), ``flat_line`` (3 h stuck at the last
  value), ``variance_burst`` (1 h, noise x5); delays ``1h``, ``1d``, ``3d``, ``7d``: the time
  from the END of the first occurrence to the start of the identical second one (so that a
  2-hour shift can recur an hour later). The first occurrence comes after 9 days of normal
  history (plus a random hour), so it hits an established series; a tail of one day follows
  the recurrence. An occurrence is *flagged* when any point of its span (start to end plus
  15 minutes, the return to normal is part of it) scores >= threshold.
  ``by_delay.<d>.recall`` = flagged recurrences / recurrences; ``first_recall`` is the same for
  the first occurrences, ``recall_given_first`` for recurrences whose first one was flagged.
  ``false_alarms_per_series_day``: flagged points outside every span, as alarm events
  (flagged points less than 30 minutes apart are one event), per series-day (also without
  each series' first day, when only a level forecast exists: ``..._after_first_day``).
* **Persistent change** (``new_normal``): ``flat``, ``daily`` and ``weekly`` series with a
  change at day 9 that stays for 7 days: level +8 sigma, level -8 sigma, noise x3.
  ``new_normal_alert_hours`` = hours from the change to the last flagged point (worst case);
  ``censored`` when that last point is in the series' final 6 hours (it may not stop at all).
  Background false alarms count there too, so ``new_normal_alert_hours_vs_twin`` also runs the
  same series without the change and ignores alarms within an hour of one of the twin's.
* **Noise** (``noise_insights_per_series_day``): stationary Gaussian noise, levels 0, 1, 50 and
  1e6 (relative sigma 1 % and 10 %; sigma 1 at level 0), sampled every minute, every 5 minutes
  and irregularly (mean 2 minutes), each as a new host's first day and as a 7-day series.
  Every flagged point counts (each becomes an insight in the runtime), per series-day.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np
from iops_detector_sdk.contract import Detector
from tqdm import tqdm

from detectors import nab, plugins
from detectors.evaluate import StackConfig, parse_name, spec_scores, stack_config, stream_file

SEED = 15
STEP = 300.0
DAY = 86400.0
START = 1_700_006_400.0  # 2023-11-15 00:00 UTC, a Wednesday
WARMUP_DAYS = 9.0
DELAYS = {"1h": 3600.0, "1d": DAY, "3d": 3 * DAY, "7d": 7 * DAY}
SHAPES = ("flat", "daily", "weekly", "trend", "heavy_tailed")
KINDS = ("spike", "level_shift", "slow_leak", "flat_line", "variance_burst")
DURATION_S = {"spike": 3 * STEP, "level_shift": 2 * 3600.0, "slow_leak": 6 * 3600.0, "flat_line": 3 * 3600.0}
DURATION_S["variance_burst"] = 3600.0
GRACE_S = 900.0
"""An occurrence's span runs to its end plus this (the return to normal belongs to it)."""
EVENT_GAP_S = 1800.0
"""Flagged points closer than this belong to one alarm event."""
CHANGES = ("level_up", "level_down", "noise_x3")
NEW_NORMAL_SHAPES = ("flat", "daily", "weekly")
NOISE_LEVELS = [(0.0, 1.0)] + [(level, level * r) for level in (1.0, 50.0, 1e6) for r in (0.01, 0.1)]
"""(level, sigma) of the noise-only series."""
NOISE_RATES = ("1min", "5min", "irregular")


@dataclass(slots=True)
class Series:
    key: str
    timestamps: np.ndarray
    values: np.ndarray
    spans: list[tuple[float, float]]
    """Incident spans [start, end] in epoch seconds (first occurrence, recurrence)."""


def base_shape(shape: str, ts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(values, noise sigma) of a base shape."""
    n = len(ts)
    hours = (ts % DAY) / 3600.0
    if shape == "flat":
        return 50 + rng.normal(0, 2, n), 2.0
    if shape == "daily":
        return 50 + 15 * np.sin(2 * math.pi * hours / 24) + rng.normal(0, 2, n), 2.0
    if shape == "weekly":
        day = ((ts // DAY).astype(int) + 3) % 7
        peaks = np.exp(-0.5 * ((hours - 10) / 2.5) ** 2) + 0.7 * np.exp(-0.5 * ((hours - 19) / 2) ** 2)
        return 100 * (0.2 + peaks) * np.where(day >= 5, 0.5, 1.0) + rng.normal(0, 3, n), 3.0
    if shape == "trend":
        x = 30 + 10 * (ts - ts[0]) / (10 * DAY) + 3 * np.sin(2 * math.pi * hours / 24) + rng.normal(0, 2, n)
        return x, 2.0
    if shape == "heavy_tailed":
        x = 100 * np.exp(rng.normal(0, 0.25, n))
        tail = rng.random(n) < 0.003
        x[tail] *= 1 + rng.pareto(3.0, int(tail.sum()))
        return x, 25.0
    raise ValueError(shape)


def apply_incident(kind: str, ts: np.ndarray, x: np.ndarray, start: float, sigma: float, rng: np.random.Generator):
    """Inject one occurrence starting at ``start``; returns its span (start, end)."""
    end = start + DURATION_S[kind]
    inside = (ts >= start) & (ts < end)
    idx = np.flatnonzero(inside)
    if kind == "spike":
        x[idx] += 10 * sigma
    elif kind == "level_shift":
        x[idx] += 6 * sigma
    elif kind == "slow_leak":
        x[idx] += 10 * sigma * (ts[idx] - start) / DURATION_S[kind]
    elif kind == "flat_line":
        x[idx] = x[idx[0] - 1]
    elif kind == "variance_burst":
        x[idx] += rng.normal(0, 4 * sigma, len(idx))
    else:
        raise ValueError(kind)
    return start, end


def recurrence_series(
    seed: int = SEED, shapes: tuple[str, ...] | None = None, kinds: tuple[str, ...] | None = None
) -> list[tuple[str, str, str, Series]]:
    shapes, kinds = shapes or SHAPES, kinds or KINDS
    out = []
    for si, shape in enumerate(SHAPES):
        for ki, kind in enumerate(KINDS):
            if shape not in shapes or kind not in kinds:
                continue
            for di, (delay, delay_s) in enumerate(DELAYS.items()):
                rng = np.random.default_rng([seed, si, ki, di])
                first = START + WARMUP_DAYS * DAY + STEP * int(rng.integers(0, 288))
                second = first + DURATION_S[kind] + delay_s
                end = second + DURATION_S[kind] + DAY
                ts = np.arange(START, end, STEP)
                x, sigma = base_shape(shape, ts, rng)
                spans = [apply_incident(kind, ts, x, t, sigma, rng) for t in (first, second)]
                out.append((shape, kind, delay, Series(f"recurrence/{shape}_{kind}_{delay}", ts, x, spans)))
    return out


def new_normal_series(seed: int = SEED) -> list[tuple[str, str, Series, float, Series]]:
    """(shape, change, changed series, change time, the same series without the change)."""
    out = []
    for si, shape in enumerate(("flat", "daily", "weekly")):
        if shape not in NEW_NORMAL_SHAPES:
            continue
        for ci, change in enumerate(CHANGES):
            rng = np.random.default_rng([seed, 100 + si, ci])
            ts = np.arange(START, START + (WARMUP_DAYS + 7) * DAY, STEP)
            x, sigma = base_shape(shape, ts, rng)
            twin = Series(f"new_normal/{shape}_{change}_twin", ts, x.copy(), [])
            at = START + WARMUP_DAYS * DAY + STEP * int(rng.integers(0, 288))
            after = ts >= at
            if change == "level_up":
                x[after] += 8 * sigma
            elif change == "level_down":
                x[after] -= 8 * sigma
            else:
                x[after] += rng.normal(0, sigma * math.sqrt(8.0), int(after.sum()))  # total sigma x3
            out.append((shape, change, Series(f"new_normal/{shape}_{change}", ts, x, []), at, twin))
    return out


def noise_series(seed: int = SEED) -> list[tuple[str, Series]]:
    out = []
    for ci, (level, sigma) in enumerate(NOISE_LEVELS):
        for ri, rate in enumerate(NOISE_RATES):
            for days in (1, 7):
                rng = np.random.default_rng([seed, 200 + ci, ri, days])
                if rate == "irregular":
                    n = int(days * DAY / 120)
                    ts = START + np.cumsum(np.maximum(1.0, np.round(120 * (0.2 + rng.exponential(0.8, n)))))
                    ts = ts[ts < START + days * DAY]
                else:
                    ts = np.arange(START, START + days * DAY, 60.0 if rate == "1min" else 300.0)
                x = level + rng.normal(0, sigma, len(ts))
                out.append((f"{days}d", Series(f"noise/{level:g}_{sigma:g}_{rate}_{days}d", ts, x, [])))
    return out


def _score(detectors: dict[str, Detector], spec, s: Series) -> tuple[np.ndarray, list[str]]:
    file = nab.CorpusFile(s.key, s.key.split("/", 1)[0], s.timestamps, s.values, [])
    got = stream_file(detectors, file)
    return spec_scores(spec, got.scores), [f"{d}: {e}" for d, e in got.failures]


def events(times: np.ndarray) -> int:
    """Alarm events: flagged times less than EVENT_GAP_S apart count once."""
    if len(times) == 0:
        return 0
    return 1 + int(np.sum(np.diff(np.sort(times)) >= EVENT_GAP_S))


def _days(s: Series) -> float:
    return max(float(s.timestamps[-1] - s.timestamps[0]), STEP) / DAY


def evaluate(
    names: list[str] | None = None,
    threshold: float | None = None,
    stack: StackConfig | None = None,
    detectors: dict[str, Detector] | None = None,
    seed: int = SEED,
    progress: bool = False,
    shapes: tuple[str, ...] | None = None,
    kinds: tuple[str, ...] | None = None,
) -> dict:
    """The three suites for one evaluated name (default: what the stack deploys).

    ``shapes`` / ``kinds`` restrict the recurrence suite (tests; so do the module's
    ``NEW_NORMAL_SHAPES``, ``NOISE_LEVELS`` and ``NOISE_RATES``).
    """
    shapes, kinds = shapes or SHAPES, kinds or KINDS
    started = time.perf_counter()
    if names and len(names) > 1:
        raise ValueError("--recurrence scores one detector name at a time (use a+b for a combination)")
    name = names[0] if names else "default"
    cfg = stack or stack_config()
    spec = parse_name(name, cfg)
    if spec.mode == "fitted":
        raise ValueError("--recurrence needs fixed weights (a w: ensemble has nothing to fit here)")
    thr = float(threshold if threshold is not None else cfg.threshold)
    dets = {m: plugins.get_detector(m) if detectors is None else detectors[m] for m in spec.members}
    rec = recurrence_series(seed, shapes, kinds)
    nn = new_normal_series(seed)
    noise = noise_series(seed)
    total = sum(len(s.timestamps) for *_, s in rec) + sum(2 * len(x[2].timestamps) for x in nn)
    total += sum(len(s.timestamps) for _, s in noise)
    failures: list[str] = []
    bar = tqdm(total=total, unit="pt", file=sys.stderr, disable=not progress, desc="recurrence")

    first_hit: dict[str, list[bool]] = {d: [] for d in DELAYS}
    second_hit: dict[str, list[bool]] = {d: [] for d in DELAYS}
    by_kind: dict[str, list[bool]] = {k: [] for k in kinds}
    by_shape: dict[str, list[bool]] = {k: [] for k in shapes}
    first_kind: dict[str, list[bool]] = {k: [] for k in kinds}
    first_shape: dict[str, list[bool]] = {k: [] for k in shapes}
    false_events, series_days, points = 0, 0.0, 0
    late_events, late_days = 0, 0.0
    for shape, kind, delay, s in rec:
        sc, fail = _score(dets, spec, s)
        failures += fail
        flagged = sc >= thr
        hits = [bool(np.any(flagged & (s.timestamps >= a) & (s.timestamps <= b + GRACE_S))) for a, b in s.spans]
        first_hit[delay].append(hits[0])
        second_hit[delay].append(hits[1])
        by_kind[kind].append(hits[1])
        by_shape[shape].append(hits[1])
        first_kind[kind].append(hits[0])
        first_shape[shape].append(hits[0])
        outside = flagged.copy()
        for a, b in s.spans:
            outside &= ~((s.timestamps >= a) & (s.timestamps <= b + GRACE_S))
        false_events += events(s.timestamps[outside])
        series_days += _days(s)
        late = s.timestamps >= s.timestamps[0] + DAY
        late_events += events(s.timestamps[outside & late])
        late_days += _days(s) - 1.0
        points += len(s.timestamps)
        bar.update(len(s.timestamps))

    def frac(xs: list[bool]) -> float | None:
        return None if not xs else round(sum(xs) / len(xs), 3)

    by_delay = {}
    for d in DELAYS:
        given = [b for a, b in zip(first_hit[d], second_hit[d], strict=True) if a]
        by_delay[d] = {
            "recall": frac(second_hit[d]),
            "first_recall": frac(first_hit[d]),
            "recall_given_first": frac(given),
            "series": len(second_hit[d]),
        }

    changes = {}
    worst = 0.0
    any_censored = False
    worst_twin = 0.0
    for shape, change, s, at, twin in nn:
        sc, fail = _score(dets, spec, s)
        tw, fail_twin = _score(dets, spec, twin)
        failures += fail + fail_twin
        flagged_t = s.timestamps[(sc >= thr) & (s.timestamps >= at)]
        hours = 0.0 if len(flagged_t) == 0 else (float(flagged_t[-1]) - at) / 3600.0
        censored = bool(len(flagged_t)) and bool(float(flagged_t[-1]) >= float(s.timestamps[-1]) - 6 * 3600)
        # alarms the unchanged twin also raises within an hour are background, not the change
        twin_t = twin.timestamps[(tw >= thr) & (twin.timestamps >= at)]
        own = [t for t in flagged_t if not np.any(np.abs(twin_t - t) <= 3600.0)]
        hours_twin = 0.0 if not own else (float(own[-1]) - at) / 3600.0
        changes[f"{shape}_{change}"] = {
            "alert_hours": round(hours, 2),
            "alert_hours_vs_twin": round(hours_twin, 2),
            "flagged_points": int(len(flagged_t)),
            "twin_flagged_points": int(len(twin_t)),
            "alerted": bool(len(flagged_t)),
            "censored": censored,
        }
        worst = max(worst, hours)
        worst_twin = max(worst_twin, hours_twin)
        any_censored |= censored
        points += 2 * len(s.timestamps)
        bar.update(2 * len(s.timestamps))

    noise_flags: dict[str, list[float]] = {"1d": [0.0, 0.0], "7d": [0.0, 0.0]}
    for group, s in noise:
        sc, fail = _score(dets, spec, s)
        failures += fail
        noise_flags[group][0] += float(np.sum(sc >= thr))
        noise_flags[group][1] += _days(s)
        points += len(s.timestamps)
        bar.update(len(s.timestamps))
    bar.close()
    noise_total = sum(v[0] for v in noise_flags.values()) / sum(v[1] for v in noise_flags.values())

    recurrence = {
        "by_delay": by_delay,
        "by_kind": {k: {"recall": frac(v), "first_recall": frac(first_kind[k])} for k, v in by_kind.items()},
        "by_shape": {k: {"recall": frac(v), "first_recall": frac(first_shape[k])} for k, v in by_shape.items()},
        "false_alarms_per_series_day": round(false_events / series_days, 4),
        "false_alarm_events": false_events,
        "false_alarms_per_series_day_after_first_day": round(late_events / late_days, 4),
        "series": len(rec),
        "series_days": round(series_days, 1),
        "new_normal_alert_hours": round(worst, 2),
        "new_normal_censored": any_censored,
        "new_normal_alert_hours_vs_twin": round(worst_twin, 2),
        "new_normal": changes,
        "noise_insights_per_series_day": round(noise_total, 4),
    }
    return {
        "detector": name,
        "members": spec.members,
        "threshold": thr,
        "recurrence": recurrence,
        "noise_insights_per_series_day": round(noise_total, 4),
        "noise": {
            "new_host_first_day": round(noise_flags["1d"][0] / noise_flags["1d"][1], 4),
            "seven_days": round(noise_flags["7d"][0] / noise_flags["7d"][1], 4),
            "series": len(noise),
            "insights": int(sum(v[0] for v in noise_flags.values())),
        },
        "points": points,
        "seconds": round(time.perf_counter() - started, 3),
        "failures": failures[:20],
    }


def print_report(out: dict) -> None:
    rec = out["recurrence"]
    print(
        f"{out['detector']} ({' + '.join(out['members'])}) at threshold {out['threshold']:g}: "
        f"{out['points']} points in {out['seconds']:.1f}s"
    )
    print("recurrence (second occurrence of the same incident)")
    for d, r in rec["by_delay"].items():
        print(
            f"  after {d:<3} recall {r['recall']:.3f}  (first occurrence {r['first_recall']:.3f}, "
            f"given the first was flagged {r['recall_given_first'] if r['recall_given_first'] is not None else 'n/a'})"
        )
    print(
        "  by kind   "
        + "  ".join(f"{k} {v['recall']:.2f} ({v['first_recall']:.2f})" for k, v in rec["by_kind"].items())
    )
    print(
        "  by shape  "
        + "  ".join(f"{k} {v['recall']:.2f} ({v['first_recall']:.2f})" for k, v in rec["by_shape"].items())
    )
    print("            (recurrence recall, in brackets the first occurrence's)")
    print(
        f"  false alarms per series-day {rec['false_alarms_per_series_day']:.4f} "
        f"({rec['false_alarm_events']} events in {rec['series_days']} series-days; "
        f"{rec['false_alarms_per_series_day_after_first_day']:.4f} after each series' first day)"
    )
    cens = " (censored: still alerting at the end)" if rec["new_normal_censored"] else ""
    print(
        f"new normal: alerts stop after at most {rec['new_normal_alert_hours']:.1f} h{cens}; "
        f"{rec['new_normal_alert_hours_vs_twin']:.1f} h not counting alarms the unchanged twin also raises"
    )
    for case, c in rec["new_normal"].items():
        print(
            f"  {case:<22} last alert {c['alert_hours']:7.2f} h after the change ({c['alert_hours_vs_twin']:7.2f} h "
            f"vs twin), {c['flagged_points']} points (twin {c['twin_flagged_points']})"
        )
    n = out["noise"]
    print(
        f"noise: {out['noise_insights_per_series_day']:.4f} insights per series-day "
        f"(new host's first day {n['new_host_first_day']:.4f}, 7-day series {n['seven_days']:.4f}; "
        f"{n['insights']} insights on {n['series']} series)"
    )
    for failure in out["failures"]:
        print(f"  failed: {failure}", file=sys.stderr)
