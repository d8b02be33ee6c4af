"""NAB evaluation through the production streaming path.

Every file is one series fed to `detectors.runtime.score_series` in batches of
`BATCH` points with the series state round-tripped through JSON between batches, exactly
as the AI Lambda does with DynamoDB Streams batches, so what is measured is what runs.
A name like ``statistical+lstm`` evaluates the combination (`runtime.combine`) of detectors
that ran side by side in the same `score_series` calls.

Names (`parse_name`):

* ``a`` one detector; ``a+b`` the runtime's combination (the max) of a and b;
* ``0.7*a+0.3*b`` a weighted ensemble with fixed weights (`cv.weighted_max`, as ``detectorWeights``);
* ``w:a+b`` a weighted ensemble whose weights are fitted per profile (a grid on the simplex,
  like the threshold: on the whole corpus in-sample, on the training folds under ``cv``);
  ``weights`` reports the standard profile's, ``weights_by_profile`` all three;
* ``default`` what the stack deploys: Pulumi.yaml's ``detectors`` default, combined as the
  runtime does (``detectorWeights`` when that key exists), also scored at the deployed
  ``anomalyThreshold`` (``at_stack_threshold``).

``cv=K`` adds ``cv.<profile>`` (`detectors.cv`): thresholds (and fitted weights) per fold.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from iops_detector_sdk.contract import Detector, Point, SeriesKey
from tqdm import tqdm

from detectors import cv as cvmod
from detectors import nab, plugins
from detectors.runtime import SeriesState, combine, score_series

BATCH = 100
"""Stream records per AI Lambda invocation (the event source mapping's batch size)."""
METRIC = "value"


PULUMI_YAML = Path(__file__).resolve().parents[1] / "Pulumi.yaml"
PROJECT = "iops-dashboard"


def members(name: str) -> list[str]:
    """Detectors behind an evaluated name: ``a+b`` is the combination of a and b."""
    parts = [p.strip() for p in name.removeprefix("w:").split("+") if p.strip()]
    if not parts:
        raise ValueError(f"empty detector name {name!r}")
    return [p.split("*", 1)[1].strip() if "*" in p else p for p in parts]


@dataclass(slots=True)
class StackConfig:
    """What the stack deploys: detector set, their combination and the alert threshold."""

    detectors: list[str]
    threshold: float
    weights: dict[str, float] | None = None
    """``detectorWeights`` (detector -> weight) when configured; None: the runtime's max."""


def _config_value(entry: object) -> object:
    return entry.get("default") if isinstance(entry, dict) and "type" in entry else entry


def stack_config(pulumi_yaml: Path | None = None, stack: str | None = None) -> StackConfig:
    """Read Pulumi.yaml's config defaults (and a ``Pulumi.<stack>.yaml``'s overrides)."""
    import yaml

    path = Path(pulumi_yaml or PULUMI_YAML)
    doc = yaml.safe_load(path.read_text()) or {}
    raw = {k: _config_value(v) for k, v in (doc.get("config") or {}).items()}
    if stack:
        over = yaml.safe_load((path.parent / f"Pulumi.{stack}.yaml").read_text()) or {}
        project = doc.get("name", PROJECT)
        for key, value in (over.get("config") or {}).items():
            if key.startswith(f"{project}:"):
                raw[key.split(":", 1)[1]] = value
    names = raw.get("detectors") or list(plugins.DEFAULT_DETECTORS)
    if isinstance(names, str):
        names = json.loads(names) if names.strip().startswith("[") else names.split(",")
    weights = raw.get("detectorWeights")
    if isinstance(weights, str):
        weights = json.loads(weights) if weights.strip() else None
    weights = {str(k): float(v) for k, v in weights.items()} if weights else None
    return StackConfig([str(n).strip() for n in names], float(raw.get("anomalyThreshold", 0.5)), weights)


@dataclass(slots=True)
class Spec:
    """How one evaluated name turns member scores into one score per row."""

    name: str
    members: list[str]
    mode: str
    """``single``, ``max`` (runtime.combine), ``weighted`` (fixed) or ``fitted`` (weights fitted)."""
    weights: tuple[float, ...] | None = None
    threshold: float | None = None
    """The deployed threshold (``default`` only)."""


def parse_name(name: str, stack: StackConfig | None = None) -> Spec:
    name = name.strip()
    if name == "default":
        cfg = stack or stack_config()
        if cfg.weights:
            w = tuple(float(cfg.weights.get(m, 1.0)) for m in cfg.detectors)  # as the runtime: 1 unless given
            return Spec(name, list(cfg.detectors), "weighted", w, cfg.threshold)
        mode = "single" if len(cfg.detectors) == 1 else "max"
        return Spec(name, list(cfg.detectors), mode, None, cfg.threshold)
    parts = members(name)
    if name.startswith("w:"):
        return Spec(name, parts, "fitted" if len(parts) > 1 else "single")
    raw_parts = [p.strip() for p in name.split("+") if p.strip()]
    if any("*" in p for p in raw_parts):
        w = tuple(float(p.split("*", 1)[0]) if "*" in p else 1.0 for p in raw_parts)
        return Spec(name, parts, "weighted", w)
    return Spec(name, parts, "single" if len(parts) == 1 else "max")


def spec_scores(spec: Spec, scores: dict[str, np.ndarray], weights: tuple[float, ...] | None = None) -> np.ndarray:
    """One file's per-row scores of ``spec`` (``weights`` for a fitted ensemble)."""
    if spec.mode == "single":
        return scores[spec.members[0]]
    if spec.mode == "max":
        return combined(scores, spec.members)
    w = weights or spec.weights or ()
    return cvmod.weighted_max([scores[m] for m in spec.members], w)


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


def at_threshold(scores: list[np.ndarray], weights: list[nab.RowWeights], threshold: float) -> dict:
    """Every profile's score with every file at one fixed threshold (nothing optimised), and what
    it finds there: windows with a detection, and detections (points) outside every window."""
    out = {}
    for profile in nab.PROFILES:
        raw, norm = cvmod.score_at(scores, weights, profile, [threshold] * len(scores))
        out[profile] = {"score": None if norm is None else round(norm, 2), "raw": round(raw, 4)}
    counts = [nab.detections_at(s, w, threshold) for s, w in zip(scores, weights, strict=True)]
    out["threshold"] = threshold
    out["windows"] = sum(w.windows for w in weights)
    out["windows_found"] = sum(found for found, _ in counts)
    out["false_positive_points"] = sum(fp for _, fp in counts)
    return out


def evaluate(
    corpus: Path,
    names: list[str] | None = None,
    results_dir: Path | None = None,
    progress: bool = True,
    batch: int = BATCH,
    cv: int | None = None,
    stack: StackConfig | None = None,
    threshold: float | None = None,
    detectors: dict[str, Detector] | None = None,
) -> dict:
    """Score ``names`` (default: every local detector) on a NAB-layout corpus.

    ``cv=K`` adds cross-validated scores (`detectors.cv`); ``threshold`` adds every name's
    scores at that fixed threshold (``at_threshold``); ``detectors`` bypasses the plugins (tests).
    """
    started = time.perf_counter()
    names = names or default_names()
    specs = [parse_name(n, stack) for n in names]
    base = list(dict.fromkeys(m for sp in specs for m in sp.members))
    source = detectors
    detectors = {m: plugins.get_detector(m) if source is None else source[m] for m in base}
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
    folds = cvmod.make_folds(files, cv) if cv else None
    if folds is not None:
        out["cv"] = {
            "method": folds.method,
            "k": len(folds.names),
            "requested_k": cv,
            "folds": {n: [files[i].key for i in m] for n, m in zip(folds.names, folds.members, strict=True)},
        }
    for spec in specs:
        name, parts = spec.name, spec.members
        fitted_w = None
        if spec.mode == "fitted":  # weights fitted per profile, like the threshold
            member_scores = [[fs.scores[m] for m in parts] for fs in per_file]
            grid = cvmod.weight_grid(len(parts))
            by_profile = {p: cvmod.fit_weights(member_scores, weights, p, grid)[0] for p in nab.PROFILES}
            fitted_w = by_profile["standard"]
            entry = {"by_category": {}}
            for profile, w in by_profile.items():
                part = report([spec_scores(spec, fs.scores, w) for fs in per_file], files, weights)
                entry[profile] = part[profile]
                for category, cat in part["by_category"].items():
                    entry["by_category"].setdefault(category, {"files": cat["files"], "windows": cat["windows"]})
                    entry["by_category"][category][profile] = cat[profile]
            entry["weights_by_profile"] = {p: dict(zip(parts, w, strict=True)) for p, w in by_profile.items()}
        scores = [spec_scores(spec, fs.scores, fitted_w) for fs in per_file]
        if spec.mode != "fitted":
            entry = report(scores, files, weights)
        if fitted_w is not None:
            entry["weights"] = dict(zip(parts, fitted_w, strict=True))
        elif spec.weights is not None:
            entry["weights"] = dict(zip(parts, spec.weights, strict=True))
        if spec.name == "default":
            entry["members"] = parts
            entry["combine"] = "weighted" if spec.mode == "weighted" else "max"
        if spec.threshold is not None:
            entry["at_stack_threshold"] = at_threshold(scores, weights, spec.threshold)
        if threshold is not None:
            entry["at_threshold"] = at_threshold(scores, weights, threshold)
        if folds is not None:
            if spec.mode == "fitted":
                entry["cv"] = cvmod.cross_validate_weighted(
                    [[fs.scores[m] for m in parts] for fs in per_file], weights, folds
                )
            else:
                entry["cv"] = cvmod.cross_validate(scores, weights, folds)
        secs = sum(fs.seconds[m] for fs in per_file for m in parts)
        entry["scoring_seconds"] = round(secs, 3)
        entry["failures"] = [f"{d}: {err}" for fs in per_file for d, err in fs.failures if d in parts]
        out["detectors"][name] = entry
        if results_dir is not None:
            write_results(Path(results_dir), name, files, scores)
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out
