"""Labelled multi-host metric histories, written as files a training run or SageMaker channel reads.

Layout of a data directory (the ``training`` channel): one CSV per host, ``<host>.csv``, in long
format ``timestamp,metric,value,label,kind`` (epoch seconds; ``label`` 1 inside an injected anomaly,
``kind`` names it), plus ``manifest.json`` describing how it was made. `export_metrics_table` writes
the same layout from a deployed Metrics table (labels 0), so training never cares where data came from.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FIELDS = ("timestamp", "metric", "value", "label", "kind")
METRICS = ("cpuUsage", "memoryUsage", "diskIO", "networkIO")
PERCENT_METRICS = ("cpuUsage", "memoryUsage")
ANOMALY_KINDS = ("spike", "level_shift", "drift", "variance_burst", "flatline")
DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """What to generate; the defaults make the data the shipped model is trained on."""

    hosts: int = 8
    days: float = 14.0
    interval_s: int = 300
    seed: int = 7
    metrics: tuple[str, ...] = METRICS
    anomalies_per_series: float = 4.0
    """Mean number of injected anomalies per host metric (Poisson)."""
    missing_rate: float = 0.005
    """Probability that a point is dropped, besides occasional multi-point gaps."""
    start: int = 1_767_225_600
    """Epoch seconds of the first point (2026-01-01, a Thursday)."""


@dataclass(slots=True)
class Series:
    """One host metric: timestamps, values, 0/1 labels and anomaly kinds ("" when normal)."""

    host: str
    metric: str
    timestamps: np.ndarray
    values: np.ndarray
    labels: np.ndarray
    kinds: list[str] = field(default_factory=list)


def _baseline(metric: str, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Level, daily and weekly seasonality, slow trend and autocorrelated noise, per metric."""
    n = len(t)
    hour_phase = rng.normal(14.0, 1.5)  # busiest around mid-afternoon, host-specific
    daily = np.cos(2 * np.pi * ((t % DAY_S) / DAY_S - hour_phase / 24))
    weekday = ((t // DAY_S + 3) % 7) < 5  # epoch day 0 was a Thursday
    weekly = np.where(weekday, 1.0, rng.uniform(0.5, 0.8))
    trend = rng.normal(0, 0.02) * (t - t[0]) / DAY_S
    ar = np.empty(n)
    eps = rng.normal(0, 1, n)
    phi = rng.uniform(0.3, 0.8)
    ar[0] = eps[0]
    for i in range(1, n):
        ar[i] = phi * ar[i - 1] + eps[i]
    ar *= math.sqrt(1 - phi * phi)
    if metric == "cpuUsage":
        level = rng.uniform(15, 45)
        x = level * (1 + trend) + rng.uniform(5, 20) * daily * weekly + rng.uniform(1, 4) * ar
        return np.clip(x, 0.5, 100)
    if metric == "memoryUsage":
        level = rng.uniform(40, 70)
        x = level + 3 * trend * level + rng.uniform(2, 6) * daily * weekly + rng.uniform(0.3, 1.5) * ar
        return np.clip(x, 1, 100)
    # I/O metrics: positive, multiplicative, heavier tailed
    scale = rng.uniform(50, 400) if metric == "diskIO" else rng.uniform(200, 2000)
    log_x = np.log(scale) + 0.4 * daily * weekly + trend + rng.uniform(0.08, 0.25) * ar
    return np.exp(log_x)


def _inject(values: np.ndarray, labels: np.ndarray, kinds: list[str], rng: np.random.Generator, count: int) -> None:
    """Add ``count`` labelled anomalies of random kinds, in place, away from the series edges."""
    n = len(values)
    spread = float(np.std(np.diff(values))) + 1e-6 + 0.02 * float(np.mean(np.abs(values)))
    for _ in range(count):
        kind = ANOMALY_KINDS[rng.integers(len(ANOMALY_KINDS))]
        length = {"spike": int(rng.integers(1, 4))}.get(kind, int(rng.integers(12, 72)))
        start = int(rng.integers(n // 10, max(n // 10 + 1, n - length - 1)))
        end = min(n, start + length)
        if labels[start:end].any():
            continue
        sign = rng.choice([-1.0, 1.0])
        seg = slice(start, end)
        if kind == "spike":
            values[seg] += sign * rng.uniform(6, 15) * spread
        elif kind == "level_shift":
            values[seg] += sign * rng.uniform(4, 10) * spread
        elif kind == "drift":
            values[seg] += sign * np.linspace(0, rng.uniform(6, 15) * spread, end - start)
        elif kind == "variance_burst":
            values[seg] += rng.normal(0, rng.uniform(3, 6) * spread, end - start)
        else:  # flatline: a stuck sensor repeats its last value
            values[seg] = values[start - 1]
        labels[seg] = 1
        for i in range(start, end):
            kinds[i] = kind


def generate_series(config: GeneratorConfig) -> Iterator[Series]:
    """Yield every host metric of a labelled history, deterministic for a given config."""
    rng = np.random.default_rng(config.seed)
    n = int(config.days * DAY_S / config.interval_s)
    t = config.start + config.interval_s * np.arange(n, dtype=np.int64)
    for h in range(config.hosts):
        host = f"host-{h:02d}"
        for metric in config.metrics:
            values = _baseline(metric, t.astype(float), rng)
            labels = np.zeros(n, dtype=np.int8)
            kinds = [""] * n
            _inject(values, labels, kinds, rng, int(rng.poisson(config.anomalies_per_series)))
            np.clip(values, 0.0, 100.0 if metric in PERCENT_METRICS else None, out=values)
            keep = rng.random(n) >= config.missing_rate
            for _ in range(int(rng.integers(0, 3))):  # an agent outage: a gap of up to two hours
                gap = int(rng.integers(0, n))
                keep[gap : gap + int(rng.integers(3, 24))] = False
            idx = np.flatnonzero(keep)
            yield Series(host, metric, t[idx], values[idx], labels[idx], [kinds[i] for i in idx])


def write_rows(path: Path, rows: Iterable[tuple[Any, ...]]) -> int:
    """Write long-format rows (see `FIELDS`) to one CSV; returns how many were written."""
    count = 0
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(FIELDS)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def generate(out_dir: str | Path, config: GeneratorConfig | None = None) -> dict[str, Any]:
    """Write a generated history to ``out_dir``; returns the manifest it also writes."""
    config = config or GeneratorConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    by_host: dict[str, list[Series]] = {}
    for s in generate_series(config):
        by_host.setdefault(s.host, []).append(s)
    points = anomalous = 0
    for host, series in by_host.items():
        rows = (
            (int(ts), s.metric, f"{v:.6g}", int(lab), kind)
            for s in series
            for ts, v, lab, kind in zip(s.timestamps, s.values, s.labels, s.kinds, strict=True)
        )
        points += write_rows(out / f"{host}.csv", rows)
        anomalous += sum(int(s.labels.sum()) for s in series)
    manifest = {
        "source": "generator",
        "config": asdict(config),
        "hosts": len(by_host),
        "points": points,
        "anomalous_points": anomalous,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def export_metrics_table(
    table: Any,
    out_dir: str | Path,
    hostnames: Iterable[str],
    since_ms: int | None = None,
    progress: Callable[[str, int], None] | None = None,
    page_size: int | None = None,
) -> dict[str, Any]:
    """Export real history from a deployed Metrics table (hash ``hostname``, range ``timestamp`` ms).

    ``table`` is a boto3 DynamoDB Table resource. Each host is read with a paginated Query
    (never a Scan of the whole table), ``page_size`` items a page when given (to bound read bursts);
    ``progress(host, values_so_far)`` is called per page.
    Numeric attributes other than the keys and ``ttl`` become metrics; labels are 0.
    """
    from boto3.dynamodb.conditions import Key

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    hosts = []
    for host in hostnames:
        condition = Key("hostname").eq(host)
        if since_ms is not None:
            condition = condition & Key("timestamp").gte(since_ms)
        rows: list[tuple[Any, ...]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition}
        if page_size:
            kwargs["Limit"] = page_size
        while True:
            page = table.query(**kwargs)
            for item in page.get("Items", []):
                ts = int(item["timestamp"]) // 1000
                for name, value in sorted(item.items()):
                    if name in ("hostname", "timestamp", "ttl") or isinstance(value, (str, bool)):
                        continue
                    try:
                        rows.append((ts, name, f"{float(value):.6g}", 0, ""))
                    except (TypeError, ValueError):
                        continue
            if progress:
                progress(host, len(rows))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        total += write_rows(out / f"{_safe_name(host)}.csv", rows)
        hosts.append(host)
    manifest = {"source": "metrics-table", "table": getattr(table, "name", None), "hosts": len(hosts), "points": total}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _safe_name(host: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in host) or "host"
