"""Throughput of every local detector through the streaming path, and NAB evaluation wall time.

Run: ``python benchmarks/detector_throughput.py [--corpus ../shared/nab] [--json]``.
Points go through `detectors.runtime.score_series` in batches of 100 with the series state
round-tripped through JSON between batches, as in the AI Lambda; one process, one core.
Without a corpus, synthetic 5-minute series (daily pattern, noise, spikes) are used.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iops_detector_sdk.contract import Point, SeriesKey  # noqa: E402

from detectors import plugins  # noqa: E402
from detectors.evaluate import BATCH, default_names, evaluate, members, stack_config  # noqa: E402
from detectors.runtime import SeriesState, score_series  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "nab"


def synthetic(series: int = 20, points: int = 5000, seed: int = 7) -> list[list[Point]]:
    rng = random.Random(seed)
    out = []
    for _ in range(series):
        base, amp = rng.uniform(10, 80), rng.uniform(0, 20)
        pts = []
        for i in range(points):
            v = base + amp * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 2)
            if rng.random() < 0.002:
                v += rng.uniform(20, 60)
            pts.append(Point(1_700_000_000.0 + 300.0 * i, v))
        out.append(pts)
    return out


def corpus_series(corpus: Path) -> list[list[Point]]:
    from detectors import nab

    return [
        [Point(float(t), float(v)) for t, v in zip(f.timestamps, f.values, strict=True)]
        for f in nab.read_corpus(corpus)
    ]


def throughput(name: str, series: list[list[Point]]) -> dict:
    """Points per second of a detector (``a+b``: side by side; ``default``: the stack's set) through
    `score_series` with JSON state between batches."""
    parts = stack_config().detectors if name == "default" else members(name)
    detectors = {m: plugins.get_detector(m) for m in parts}
    total = sum(len(s) for s in series)
    started = time.perf_counter()
    for i, pts in enumerate(series):
        key = SeriesKey(f"bench-{i}", "value")
        stored = SeriesState().to_json()
        for b in range(0, len(pts), BATCH):
            result = score_series(detectors, key, SeriesState.from_json(stored), pts[b : b + BATCH])
            stored = result.state.to_json()
    seconds = time.perf_counter() - started
    return {"points": total, "seconds": round(seconds, 3), "points_per_s": round(total / seconds)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--detector",
        action="append",
        help="'a+b' for a set, 'default' for the stack's (default: each local one and 'default')",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    names = args.detector or [*default_names(), "default"]
    have_corpus = (args.corpus / "data").is_dir()
    series = corpus_series(args.corpus) if have_corpus else synthetic()
    report: dict = {"source": str(args.corpus) if have_corpus else "synthetic", "detectors": {}}
    for name in names:
        report["detectors"][name] = throughput(name, series)
    if have_corpus:
        ev = evaluate(args.corpus, names, progress=False)
        report["evaluate_seconds"] = ev["seconds"]
        report["evaluate_points"] = ev["points"]
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"series: {report['source']}")
    for name, r in report["detectors"].items():
        print(f"{name:<28} {r['points_per_s']:>9,} points/s  ({r['points']:,} points in {r['seconds']:.2f}s)")
    if have_corpus:
        print(f"iops evaluate wall time: {report['evaluate_seconds']:.2f}s for {report['evaluate_points']:,} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
