"""NAB evaluation through the production streaming path.

Every file is one series fed to `detectors.runtime.score_series` in batches of
`BATCH` points with the series state round-tripped through JSON between batches, exactly
as the AI Lambda does with DynamoDB Streams batches, so what is measured is what runs.
A name like ``statistical+lstm`` evaluates the combination (`runtime.combine`) of detectors
that ran side by side in the same `score_series` calls.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from detectors import nab, plugins
from detectors.contract import Detector, Point, SeriesKey
from detectors.runtime import SeriesState, combine, score_series

BATCH = 100
"""Stream records per AI Lambda invocation (the event source mapping's batch size)."""
METRIC = "value"


def members(name: str) -> list[str]:
    """Detectors behind an evaluated name: ``a+b`` is the combination of a and b."""
    parts = [p.strip() for p in name.split("+") if p.strip()]
    if not parts:
        raise ValueError(f"empty detector name {name!r}")
    return parts


def default_names() -> list[str]:
    """Every detector that runs locally (remote ones need AWS)."""
    return sorted(name for name, det in plugins.all_detectors().items() if not det.remote)


@dataclass(slots=True)
class FileScores:
    scores: dict[str, np.ndarray]
    """Detector name -> one score per row of the file (failed batches score 0)."""
    seconds: dict[str, float]
    failures: list[tuple[str, str]] = field(default_factory=list)
    """(detector, "file: error") per failed batch."""


def stream_file(detectors: dict[str, Detector], file: nab.CorpusFile, batch: int = BATCH) -> FileScores:
    """Score one file through `score_series`, state persisted as JSON between batches."""
    series = SeriesKey(file.key, METRIC)
    points = [Point(float(t), float(v)) for t, v in zip(file.timestamps, file.values, strict=True) if math.isfinite(v)]
    by_ts: dict[str, dict[float, float]] = {name: {} for name in detectors}
    seconds = dict.fromkeys(detectors, 0.0)
    failures: list[tuple[str, str]] = []
    stored = SeriesState().to_json()
    for start in range(0, len(points), batch):
        state = SeriesState.from_json(stored)
        result = score_series(detectors, series, state, points[start : start + batch])
        stored = result.state.to_json()
        for name, s in result.seconds.items():
            seconds[name] += s
        failures.extend((f.detector, f"{file.key}: {f.error}") for f in result.failures)
        for r in result.results:
            for name, s in r.scores.items():
                by_ts[name][r.point.timestamp] = s
    # rows the runtime dropped (repeated timestamps) take the score of their timestamp; rows
    # without a finite value were never sent (a metric is finite by contract) and score 0
    scores = {
        name: np.array([got.get(float(t), 0.0) for t in file.timestamps], dtype=float) for name, got in by_ts.items()
    }
    return FileScores(scores, seconds, failures)


def combined(scores: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    """Per-row `runtime.combine` of the named detectors' scores."""
    stack = [scores[n] for n in names]
    return np.array([combine(dict(zip(names, row, strict=True))) for row in zip(*stack, strict=True)], dtype=float)


def report(scores: list[np.ndarray], files: list[nab.CorpusFile], weights: list[nab.RowWeights]) -> dict:
    """Per-profile optimised threshold and score, and per-category scores at that threshold."""
    out: dict = {}
    by_category: dict[str, dict] = {}
    for profile in nab.PROFILES:
        best = nab.sweep(scores, weights, profile)
        out[profile] = {"score": round(best.score, 2), "threshold": best.threshold, "raw": round(best.raw, 4)}
        for category in sorted({f.category for f in files}):
            idx = [i for i, f in enumerate(files) if f.category == category]
            raw = sum(nab.raw_at(scores[i], weights[i], profile, best.threshold) for i in idx)
            windows = sum(weights[i].windows for i in idx)
            norm = nab.normalise(raw, windows, profile)
            by_category.setdefault(category, {"files": len(idx), "windows": windows})[profile] = {
                "score": None if norm is None else round(norm, 2),
                "raw": round(raw, 4),
            }
    out["by_category"] = by_category
    return out


def write_results(results_dir: Path, name: str, files: list[nab.CorpusFile], scores: list[np.ndarray]) -> None:
    """NAB-style ``<dir>/<name>/<category>/<name>_<file>.csv`` for inspection."""
    for file, sc in zip(files, scores, strict=True):
        label = np.zeros(len(file.timestamps), dtype=int)
        for left, right in nab.window_rows(file.timestamps, file.windows):
            label[left : right + 1] = 1
        out = results_dir / name / file.category / f"{name}_{file.key.split('/', 1)[1]}"
        out.parent.mkdir(parents=True, exist_ok=True)
        stamps = pd.to_datetime(file.timestamps, unit="s").strftime("%Y-%m-%d %H:%M:%S")
        pd.DataFrame({"timestamp": stamps, "value": file.values, "anomaly_score": sc, "label": label}).to_csv(
            out, index=False
        )


def evaluate(
    corpus: Path,
    names: list[str] | None = None,
    results_dir: Path | None = None,
    progress: bool = True,
    batch: int = BATCH,
) -> dict:
    """Score ``names`` (default: every local detector) on a NAB-layout corpus."""
    started = time.perf_counter()
    names = names or default_names()
    base = list(dict.fromkeys(m for n in names for m in members(n)))
    detectors = {m: plugins.get_detector(m) for m in base}
    files = nab.read_corpus(Path(corpus))
    if not files:
        raise FileNotFoundError(f"no data/<category>/<file>.csv under {corpus}")
    weights = [nab.row_weights(f.timestamps, f.windows) for f in files]
    per_file: list[FileScores] = []
    total = sum(len(f.timestamps) for f in files)
    with tqdm(total=total, unit="pt", file=sys.stderr, disable=not progress, desc="evaluate") as bar:
        for file in files:
            per_file.append(stream_file(detectors, file, batch))
            bar.update(len(file.timestamps))
    out: dict = {"detectors": {}, "points": total, "seconds": 0.0}
    for name in names:
        parts = members(name)
        scores = [fs.scores[parts[0]] if len(parts) == 1 else combined(fs.scores, parts) for fs in per_file]
        entry = report(scores, files, weights)
        secs = sum(fs.seconds[m] for fs in per_file for m in parts)
        entry["scoring_seconds"] = round(secs, 3)
        entry["failures"] = [f"{d}: {err}" for fs in per_file for d, err in fs.failures if d in parts]
        out["detectors"][name] = entry
        if results_dir is not None:
            write_results(Path(results_dir), name, files, scores)
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out
