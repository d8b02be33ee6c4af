"""A generated, labelled development corpus unlike ../shared/nab, in NAB layout.

``python -m detectors.gencorpus --out build/gencorpus [--seed N]`` (``make corpus``) writes
``data/<category>/<file>.csv`` (``timestamp,value``) and ``labels/combined_windows.json``
(NAB's format: ``{"category/file.csv": [["YYYY-MM-DD HH:MM:SS.ffffff", end], ...]}``), so that
``iops evaluate --corpus build/gencorpus`` scores it. Same seed, byte-identical files.

Categories are domains, so that leave-one-category-out cross-validation means something:

Anomaly kinds: spikes, temporary level shifts, persistent step changes, slow leaks, flat-lines
(stuck collectors or sensors), variance bursts, pattern changes, drops (outages), counter resets
and rate changes.

* ``genLatency``: heavy-tailed (log-normal with Pareto outliers) request latencies whose level
  follows load; regressions (level shifts), latency storms (variance bursts), slow leaks that a
  restart ends, extreme spikes.
* ``genDemand``: request rates, orders, traffic counts with daily and weekly demand curves,
  trend and Poisson noise; outages (drops), flash crowds (spikes), pattern changes (a weekday
  shaped like a weekend, a peak hours late), a stuck collector (flat-line).
* ``genCounters``: integer counts: sparse error counts, cumulative counters, queue depths;
  error bursts, counter resets, rate changes, backlogs that grow and drain.
* ``genInfra``: CPU with regime drift, memory with a garbage-collector sawtooth, disk usage with
  weekly clean-ups, temperatures sampled hourly or irregularly with dropouts; stuck sensors,
  spikes, step changes, memory leaks, variance bursts.
* ``genNoAnomaly``: the same families without any anomaly (every alarm is a false positive).

Windows follow NAB: 10 % of the file's rows, split evenly over its anomalies, each centred on
the anomaly's labelled onset (for a slow leak, the point where it reaches half its size).
Anomalies are placed after the probationary 15 % and apart, so windows do not overlap.
No NAB data is read or copied: every value comes from the generators below.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SEED = 20261202
DAY = 86400.0
WEEK = 7 * DAY
WINDOW_FRACTION = 0.10
FIRST_ANOMALY = 0.22
"""Earliest anomaly onset as a fraction of the file (after NAB's 15 % probation)."""


# --- time axes ---------------------------------------------------------------------------


def regular(start: float, n: int, step: float) -> np.ndarray:
    return start + step * np.arange(n, dtype=float)


def irregular(rng: np.random.Generator, start: float, n: int, mean_step: float) -> np.ndarray:
    """Jittered sampling: gaps between 0.3 and ~3 mean steps, whole seconds, strictly increasing."""
    gaps = np.maximum(1.0, np.round(mean_step * (0.3 + rng.exponential(0.7, n))))
    return start + np.cumsum(gaps)


def with_dropouts(rng: np.random.Generator, ts: np.ndarray, count: int, max_rows: int) -> np.ndarray:
    """Remove ``count`` stretches of up to ``max_rows`` rows (collector outages)."""
    keep = np.ones(len(ts), dtype=bool)
    for _ in range(count):
        at = int(rng.integers(len(ts) // 10, len(ts) - max_rows))
        keep[at : at + int(rng.integers(max_rows // 3, max_rows + 1))] = False
    return ts[keep]


# --- shapes --------------------------------------------------------------------------------


def hour_of_day(ts: np.ndarray) -> np.ndarray:
    return (ts % DAY) / 3600.0


def daily_curve(ts: np.ndarray, peaks: list[tuple[float, float, float]]) -> np.ndarray:
    """Sum of circular Gaussian bumps (hour, width hours, height) over the hour of day, in [0, ~1]."""
    h = hour_of_day(ts)
    out = np.zeros(len(ts))
    for centre, width, height in peaks:
        d = np.abs(h - centre)
        d = np.minimum(d, 24.0 - d)
        out += height * np.exp(-0.5 * (d / width) ** 2)
    return out


def weekend(ts: np.ndarray) -> np.ndarray:
    """1 on Saturday and Sunday (UTC; 1970-01-01 was a Thursday), smoothed over 2 hours."""
    day = ((ts // DAY).astype(int) + 3) % 7  # 0 = Monday
    raw = (day >= 5).astype(float)
    k = 24
    return np.convolve(np.pad(raw, (k, k), mode="edge"), np.ones(2 * k + 1) / (2 * k + 1), mode="same")[k:-k]


def random_walk(rng: np.random.Generator, n: int, step: float) -> np.ndarray:
    return np.cumsum(rng.normal(0.0, step, n))


def slow_drift(rng: np.random.Generator, ts: np.ndarray, amplitude: float) -> np.ndarray:
    """A smooth wander: a few long sinusoids of random period (3-20 days) and phase."""
    out = np.zeros(len(ts))
    for _ in range(3):
        period = rng.uniform(3, 20) * DAY
        out += rng.uniform(0.3, 1.0) * np.sin(2 * math.pi * ts / period + rng.uniform(0, 2 * math.pi))
    return amplitude * out / 3.0


def robust_scale(x: np.ndarray) -> float:
    """Point-to-point noise scale (MAD of first differences / sqrt 2)."""
    d = np.diff(x)
    mad = float(np.median(np.abs(d - np.median(d)))) * 1.4826 / math.sqrt(2.0)
    return mad if mad > 0 else max(1e-3, float(np.std(x)) * 0.1)


# --- anomalies -----------------------------------------------------------------------------


@dataclass(slots=True)
class Anomaly:
    kind: str
    """spike, level_shift (temporary), step (persists), slow_leak, flat_line, variance_burst,
    pattern_change, drop, reset, rate_change."""
    onset: int
    """Row of the anomaly's start."""
    rows: int
    """Duration in rows."""
    label: int = -1
    """Row the window is centred on (onset unless set)."""


def inject(rng: np.random.Generator, x: np.ndarray, a: Anomaly, scale: float, *, positive: bool = False) -> np.ndarray:
    """Apply one anomaly to ``x`` (returns a new array); ``scale`` is the noise scale."""
    x = x.copy()
    i, j = a.onset, min(len(x), a.onset + a.rows)
    sign = 1.0 if positive or rng.random() < 0.6 else -1.0
    level = float(np.median(np.abs(x[max(0, i - 288) : i]))) or 1.0
    if a.kind == "spike":
        x[i:j] += sign * rng.uniform(8, 15) * scale * (1 + rng.random(j - i))
    elif a.kind == "level_shift":
        x[i:j] += sign * max(rng.uniform(5, 9) * scale, 0.25 * level)
    elif a.kind == "step":  # a step change that persists (a new normal, labelled at its onset)
        x[i:] += sign * max(rng.uniform(5, 9) * scale, 0.2 * level)
    elif a.kind == "drop":
        x[i:j] *= rng.uniform(0.05, 0.35)
    elif a.kind == "slow_leak":
        x[i:j] += np.linspace(0, 1, j - i) ** 1.3 * max(rng.uniform(8, 14) * scale, 0.5 * level)
    elif a.kind == "flat_line":
        x[i:j] = x[i - 1]
    elif a.kind == "variance_burst":
        centre = np.convolve(x, np.ones(9) / 9, mode="same")
        x[i:j] = centre[i:j] + (x[i:j] - centre[i:j]) * rng.uniform(4, 7) + rng.normal(0, 2 * scale, j - i)
    elif a.kind == "reset":
        x[i:] -= x[i] - rng.uniform(0, 0.01) * abs(x[i])
    elif a.kind == "rate_change":
        inc = np.diff(x[i - 1 : j])
        extra = np.cumsum(inc * (rng.uniform(4, 8) - 1.0))
        x[i:j] += extra
        x[j:] += extra[-1]
    elif a.kind != "pattern_change":  # pattern changes are made by the generator itself
        raise ValueError(a.kind)
    return x


def place(rng: np.random.Generator, n: int, kinds: list[str], durations: list[int]) -> list[Anomaly]:
    """Onsets spread over [22 %, 92 %] of the file, one per equal slot, jittered, not overlapping."""
    out: list[Anomaly] = []
    slots = len(kinds)
    if not slots:
        return out
    span = (0.92 - FIRST_ANOMALY) * n / slots
    for k, (kind, rows) in enumerate(zip(kinds, durations, strict=True)):
        lo = FIRST_ANOMALY * n + k * span
        onset = int(lo + rng.uniform(0.2, 0.6) * span)
        rows = int(min(rows, 0.3 * span))
        label = onset + rows // 2 if kind in ("slow_leak", "rate_change") else onset
        out.append(Anomaly(kind, onset, max(1, rows), label))
    return out


# --- the files -----------------------------------------------------------------------------


@dataclass(slots=True)
class Generated:
    timestamps: np.ndarray
    values: np.ndarray
    anomalies: list[Anomaly] = field(default_factory=list)
    decimals: int = 4


def _start(rng: np.random.Generator) -> float:
    """A midnight between 2023-01-02 and 2024-12-30 (UTC)."""
    return float(1672617600 + DAY * int(rng.integers(0, 728)))


def latency(rng: np.random.Generator, kinds: list[str], *, step: float = 300.0, days: float = 21) -> Generated:
    n = int(days * DAY / step)
    ts = regular(_start(rng), n, step)
    load = daily_curve(ts, [(rng.uniform(9, 12), 2.5, 1.0), (rng.uniform(15, 19), 3.0, 0.8)]) * (1 - 0.4 * weekend(ts))
    base = rng.uniform(20, 300) * (1 + rng.uniform(0.2, 0.8) * load)
    sigma = rng.uniform(0.08, 0.25)
    x = base * np.exp(rng.normal(0, sigma, n))
    tail = rng.random(n) < 0.004  # normal heavy tail: a few slow requests
    x[tail] *= 1 + rng.pareto(2.5, tail.sum())
    scale = robust_scale(x)
    anomalies = place(rng, n, kinds, [int(rng.integers(12, 72)) if k != "spike" else 3 for k in kinds])
    for a in anomalies:
        if a.kind == "variance_burst":
            i, j = a.onset, a.onset + a.rows
            x[i:j] = base[i:j] * np.exp(rng.normal(0, sigma * rng.uniform(3, 5), j - i))
        elif a.kind == "level_shift":
            i = a.onset
            x[i : i + a.rows] *= rng.uniform(1.6, 2.4)
        else:
            x = inject(rng, x, a, scale, positive=True)
    return Generated(ts, np.maximum(x, 0.1), anomalies, 3)


def demand(rng: np.random.Generator, kinds: list[str], *, step: float = 300.0, days: float = 28) -> Generated:
    n = int(days * DAY / step)
    ts = regular(_start(rng), n, step)
    peaks = [(rng.uniform(8, 11), rng.uniform(1.5, 3), 1.0), (rng.uniform(18, 21), rng.uniform(1.5, 3), 0.7)]
    anomalies = place(rng, n, kinds, [int(rng.integers(12, 40)) for _ in kinds])
    shape = daily_curve(ts, peaks)
    for a in anomalies:
        if a.kind == "pattern_change":  # a day whose peaks come 4-6 hours late
            a.rows = int(DAY / step)
            late = daily_curve(ts - rng.uniform(4, 6) * 3600, peaks)
            shape[a.onset : a.onset + a.rows] = late[a.onset : a.onset + a.rows]
    wk = weekend(ts)
    trend = 1 + rng.uniform(-0.15, 0.3) * (ts - ts[0]) / (ts[-1] - ts[0])
    rate = rng.uniform(5, 400) * (0.15 + shape) * (1 - rng.uniform(0.3, 0.6) * wk) * trend
    x = rng.poisson(rate * step / 60.0).astype(float) / (step / 60.0)  # per-minute rate from counts
    scale = robust_scale(x)
    for a in anomalies:
        if a.kind != "pattern_change":
            x = inject(rng, x, a, scale, positive=True)
    return Generated(ts, np.maximum(x, 0.0), anomalies, 3)


def error_counts(rng: np.random.Generator, kinds: list[str], *, step: float = 60.0, days: float = 6) -> Generated:
    n = int(days * DAY / step)
    ts = regular(_start(rng), n, step)
    lam = rng.uniform(0.3, 2.0) * (1 + 0.5 * daily_curve(ts, [(rng.uniform(10, 16), 4, 1.0)]))
    anomalies = place(rng, n, kinds, [int(rng.integers(20, 60)) for _ in kinds])
    for a in anomalies:
        lam[a.onset : a.onset + a.rows] *= rng.uniform(8, 15)
    return Generated(ts, rng.poisson(lam).astype(float), anomalies, 0)


def cumulative(rng: np.random.Generator, kinds: list[str], *, step: float = 300.0, days: float = 20) -> Generated:
    n = int(days * DAY / step)
    ts = regular(_start(rng), n, step)
    rate = rng.uniform(50, 500) * (0.3 + daily_curve(ts, [(rng.uniform(10, 15), 3, 1.0)]))
    x = rng.uniform(1e5, 1e7) + np.cumsum(rng.poisson(rate).astype(float))
    anomalies = place(rng, n, kinds, [int(rng.integers(72, 288)) for _ in kinds])
    for a in anomalies:
        x = inject(rng, x, a, robust_scale(x))
    return Generated(ts, x, anomalies, 0)


def queue_depth(rng: np.random.Generator, kinds: list[str], *, step: float = 60.0, days: float = 5) -> Generated:
    n = int(days * DAY / step)
    ts = regular(_start(rng), n, step)
    x = rng.poisson(rng.uniform(1, 4) * (1 + daily_curve(ts, [(13, 4, 1.0)]))).astype(float)
    anomalies = place(rng, n, kinds, [int(rng.integers(60, 180)) for _ in kinds])
    for a in anomalies:
        if a.kind == "slow_leak":  # backlog grows, then drains quickly
            i, j = a.onset, a.onset + a.rows
            grow = np.linspace(0, rng.uniform(40, 120), j - i)
            drain = np.linspace(grow[-1], 0, max(2, (j - i) // 6))
            x[i:j] += grow
            x[j : j + len(drain)] += drain[: len(x) - j]
        else:
            x = inject(rng, x, a, robust_scale(x), positive=True)
    return Generated(ts, np.round(np.maximum(x, 0)), anomalies, 0)


def cpu(rng: np.random.Generator, kinds: list[str], *, step: float = 300.0, days: float = 18) -> Generated:
    n = int(days * DAY / step)
    ts = regular(_start(rng), n, step)
    level = rng.uniform(15, 50) + slow_drift(rng, ts, rng.uniform(3, 10))
    x = level + rng.uniform(5, 25) * daily_curve(ts, [(rng.uniform(9, 15), 3, 1.0)]) + rng.normal(0, 2.5, n)
    batch = (hour_of_day(ts) >= 2) & (hour_of_day(ts) < 2.5)  # nightly batch job: normal
    x[batch] += rng.uniform(10, 30)
    anomalies = place(rng, n, kinds, [int(rng.integers(12, 60)) for _ in kinds])
    for a in anomalies:
        x = inject(rng, x, a, robust_scale(x), positive=True)
    return Generated(ts, np.clip(x, 0, 100), anomalies, 2)


def memory(rng: np.random.Generator, kinds: list[str], *, step: float = 300.0, days: float = 16) -> Generated:
    """Garbage-collected heap: a sawtooth (grow, collect) is normal; a leak grows past it."""
    n = int(days * DAY / step)
    ts = regular(_start(rng), n, step)
    period = int(rng.integers(30, 90))
    saw = (np.arange(n) % period) / period
    x = rng.uniform(30, 50) + rng.uniform(5, 12) * saw + rng.normal(0, 0.4, n)
    anomalies = place(rng, n, kinds, [int(rng.integers(150, 400)) if k == "slow_leak" else 24 for k in kinds])
    for a in anomalies:
        x = inject(rng, x, a, robust_scale(x), positive=True)
    return Generated(ts, np.clip(x, 0, 100), anomalies, 2)


def disk(rng: np.random.Generator, kinds: list[str], *, step: float = 600.0, days: float = 35) -> Generated:
    """Disk usage: slow fill with a clean-up every Sunday 03:00 (normal)."""
    n = int(days * DAY / step)
    ts = regular(_start(rng), n, step)
    fill = rng.uniform(0.5, 2.0) / (DAY / step)  # percent per row
    x = np.empty(n)
    level = rng.uniform(30, 50)
    cleanup_at = (((ts // DAY).astype(int) + 3) % 7 == 6) & (np.abs(hour_of_day(ts) - 3) < step / 7200)
    for k in range(n):
        level = level - rng.uniform(8, 12) if cleanup_at[k] else level + fill * rng.uniform(0.5, 1.5)
        x[k] = level
    x += rng.normal(0, 0.05, n)
    anomalies = place(rng, n, kinds, [int(rng.integers(6, 30)) for _ in kinds])
    for a in anomalies:
        x = inject(rng, x, a, max(robust_scale(x), 0.3), positive=True)
    return Generated(ts, x, anomalies, 3)


def temperature(
    rng: np.random.Generator, kinds: list[str], *, mean_step: float = 3600.0, days: float = 150, sparse: bool = False
) -> Generated:
    """Hourly or irregular sensor readings: daily cycle, slow seasonal drift, dropouts."""
    n = int(days * DAY / mean_step)
    start = _start(rng)
    ts = irregular(rng, start, n, mean_step) if sparse else regular(start, n, mean_step)
    ts = with_dropouts(rng, ts, int(rng.integers(2, 5)), max(3, n // 80))
    n = len(ts)
    x = (
        rng.uniform(15, 30)
        + rng.uniform(2, 6) * np.sin(2 * math.pi * (hour_of_day(ts) - 9) / 24)
        + slow_drift(rng, ts, rng.uniform(2, 5))
        + 0.3 * random_walk(rng, n, 0.05)
        + rng.normal(0, 0.4, n)
    )
    anomalies = place(rng, n, kinds, [int(rng.integers(6, 30)) for _ in kinds])
    for a in anomalies:
        x = inject(rng, x, a, robust_scale(x))
    return Generated(ts, x, anomalies, 2)


def network(rng: np.random.Generator, kinds: list[str], *, step: float = 60.0, days: float = 5) -> Generated:
    """Bursty bytes/s: log-normal around a daily curve, bursts are normal."""
    n = int(days * DAY / step)
    ts = regular(_start(rng), n, step)
    base = rng.uniform(1e5, 1e8) * (0.2 + daily_curve(ts, [(rng.uniform(10, 20), 4, 1.0)]))
    x = base * np.exp(rng.normal(0, 0.3, n))
    anomalies = place(rng, n, kinds, [int(rng.integers(20, 90)) for _ in kinds])
    for a in anomalies:
        if a.kind == "variance_burst":
            i, j = a.onset, a.onset + a.rows
            x[i:j] = base[i:j] * np.exp(rng.normal(0, 1.2, j - i))
        else:
            x = inject(rng, x, a, robust_scale(x), positive=True)
    return Generated(ts, x, anomalies, 0)


Generator = Callable[..., Generated]
FILES: list[tuple[str, str, Generator, list[str], dict]] = [
    # category, file, generator, anomaly kinds, options
    ("genLatency", "api_p50_latency_ms", latency, ["level_shift", "spike"], {}),
    ("genLatency", "api_p99_latency_ms", latency, ["variance_burst", "spike"], {}),
    ("genLatency", "db_query_latency_ms", latency, ["slow_leak"], {"days": 14}),
    ("genLatency", "checkout_latency_1min", latency, ["spike", "level_shift"], {"step": 60.0, "days": 5}),
    ("genLatency", "cache_get_latency_us", latency, ["variance_burst"], {"days": 12}),
    ("genLatency", "auth_latency_ms", latency, ["level_shift", "variance_burst", "spike"], {"days": 28}),
    ("genLatency", "search_latency_10min", latency, ["slow_leak", "spike"], {"step": 600.0, "days": 40}),
    ("genDemand", "web_requests_per_min", demand, ["drop", "spike"], {}),
    ("genDemand", "orders_per_min", demand, ["pattern_change"], {}),
    ("genDemand", "api_calls_per_min", demand, ["flat_line", "spike"], {"days": 21}),
    ("genDemand", "video_starts_per_min", demand, ["pattern_change", "drop"], {"days": 35}),
    ("genDemand", "logins_per_min", demand, ["step"], {"days": 21}),
    ("genDemand", "traffic_count_hourly", demand, ["drop", "pattern_change"], {"step": 3600.0, "days": 120}),
    ("genDemand", "payments_per_min_1min", demand, ["spike", "drop"], {"step": 60.0, "days": 5}),
    ("genCounters", "http_5xx_per_min", error_counts, ["level_shift"], {}),
    ("genCounters", "auth_failures_per_min", error_counts, ["level_shift", "level_shift"], {"days": 5}),
    ("genCounters", "bytes_sent_total", cumulative, ["rate_change"], {}),
    ("genCounters", "requests_total", cumulative, ["reset", "rate_change"], {"days": 25}),
    ("genCounters", "queue_depth", queue_depth, ["slow_leak"], {}),
    ("genCounters", "worker_queue_depth", queue_depth, ["spike", "slow_leak"], {"days": 6}),
    ("genInfra", "cpu_utilization_web", cpu, ["step", "spike"], {}),
    ("genInfra", "cpu_utilization_batch", cpu, ["variance_burst", "flat_line"], {"days": 14}),
    ("genInfra", "jvm_heap_used_pct", memory, ["slow_leak"], {}),
    ("genInfra", "container_memory_pct", memory, ["slow_leak", "spike"], {"days": 20}),
    ("genInfra", "disk_used_pct", disk, ["level_shift"], {}),
    ("genInfra", "rack_temperature_hourly", temperature, ["flat_line", "spike"], {}),
    (
        "genInfra",
        "inlet_temperature_irregular",
        temperature,
        ["step", "flat_line"],
        {"mean_step": 900.0, "days": 40, "sparse": True},
    ),
    ("genInfra", "network_out_bytes", network, ["variance_burst", "drop"], {}),
    ("genNoAnomaly", "api_latency_quiet", latency, [], {"days": 14}),
    ("genNoAnomaly", "requests_per_min_quiet", demand, [], {"days": 21}),
    ("genNoAnomaly", "errors_per_min_quiet", error_counts, [], {"days": 4}),
    ("genNoAnomaly", "memory_sawtooth_quiet", memory, [], {"days": 10}),
    ("genNoAnomaly", "temperature_irregular_quiet", temperature, [], {"mean_step": 900.0, "days": 30, "sparse": True}),
]


def _stamp(t: float) -> str:
    return np.datetime64(int(round(t)), "s").astype(str).replace("T", " ")


def windows_of(ts: np.ndarray, anomalies: list[Anomaly]) -> list[list[str]]:
    """NAB windows: 10 % of the rows split over the anomalies, centred on each label row."""
    if not anomalies:
        return []
    half = int(WINDOW_FRACTION * len(ts) / len(anomalies)) // 2
    out = []
    for a in sorted(anomalies, key=lambda a: a.label):
        lo, hi = max(0, a.label - half), min(len(ts) - 1, a.label + half)
        out.append([_stamp(ts[lo]) + ".000000", _stamp(ts[hi]) + ".000000"])
    return out


def generate(out: Path, seed: int = SEED) -> dict[str, list[list[str]]]:
    """Write the corpus under ``out``; returns the labels."""
    out = Path(out)
    labels: dict[str, list[list[str]]] = {}
    for index, (category, name, gen, kinds, options) in enumerate(FILES):
        rng = np.random.default_rng([seed, index])
        g = gen(rng, list(kinds), **options)
        path = out / "data" / category / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = f"{{}},{{:.{g.decimals}f}}\n"
        with open(path, "w", newline="") as fh:
            fh.write("timestamp,value\n")
            fh.writelines(fmt.format(_stamp(t), v) for t, v in zip(g.timestamps, g.values, strict=True))
        labels[f"{category}/{name}.csv"] = windows_of(g.timestamps, g.anomalies)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    (out / "labels" / "combined_windows.json").write_text(json.dumps(labels, indent=1, sort_keys=True) + "\n")
    return labels


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("build/gencorpus"))
    p.add_argument("--seed", type=int, default=SEED)
    args = p.parse_args(argv)
    labels = generate(args.out, args.seed)
    rows = sum(1 for _ in (args.out / "data").glob("*/*.csv"))
    print(f"{rows} files, {sum(len(w) for w in labels.values())} windows -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
