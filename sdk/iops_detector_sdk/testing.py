"""A contract test kit any detector plugin can run: ``assert_detector_contract(MyDetector())``, or
``assert_plugin_contract("myplugin")`` for what an installed plugin's entry point registers.

It checks what the runtime relies on: scores in [0, 1] and one per point; causality (a
point's score never changes when later points change); determinism; that state survives the
JSON round trip the runtime does between batches and that batching does not change scores;
sane behaviour on flat, gappy and noisy series; and a minimum speed.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import pluggy

from iops_detector_sdk import hookspecs
from iops_detector_sdk.contract import Detector, Enricher, GroupingRule, Point, SeriesKey

SERIES = SeriesKey("contract-host", "cpuUsage")


def sample_series(n: int = 1500, seed: int = 0) -> list[Point]:
    """Daily shape, noise, a gap, a repeated stretch, a spike and a level shift."""
    rng = random.Random(seed)
    points, t = [], 1_700_000_000.0
    for i in range(n):
        t += 300 if i != n // 3 else 6 * 3600  # one long gap
        value = 40 + 10 * math.sin(2 * math.pi * t / 86_400) + rng.gauss(0, 1.5)
        if n // 2 <= i < n // 2 + 20:
            value = 41.0  # flat stretch
        if i == 2 * n // 3:
            value = 99.0  # spike
        if i > 4 * n // 5:
            value += 25  # level shift
        points.append(Point(t, value))
    return points


def run_batched(detector: Detector, points: Sequence[Point], batch: int, round_trip: bool) -> list[float]:
    """Score ``points`` the way the runtime does: batches, state kept (optionally via JSON)."""
    state = detector.new_state(SERIES)
    scores: list[float] = []
    for start in range(0, len(points), batch):
        if round_trip:
            state = json.loads(json.dumps(state))
        scores.extend(detector.score(SERIES, state, list(points[start : start + batch])))
    return scores


def _close(a: list[float], b: list[float], tol: float) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def assert_detector_contract(
    detector: Detector, min_points_per_s: float = 2_000, tol: float = 1e-6
) -> dict[str, float]:
    """Raise AssertionError naming the first broken rule; return measured figures."""
    for attr in ("name", "remote"):
        assert hasattr(detector, attr), f"detector has no {attr!r} attribute"
    assert isinstance(detector.name, str) and detector.name == detector.name.lower(), "name must be a lowercase string"
    points = sample_series()
    state = detector.new_state(SERIES)
    assert json.loads(json.dumps(state)) == state, "new_state() must survive a JSON round trip"

    started = time.perf_counter()
    base = run_batched(detector, points, 100, round_trip=True)
    seconds = time.perf_counter() - started
    assert len(base) == len(points), f"{len(base)} scores for {len(points)} points"
    bad = [s for s in base if not (isinstance(s, float | int) and math.isfinite(s) and 0.0 <= s <= 1.0)]
    assert not bad, f"scores must be finite and in [0, 1]; got e.g. {bad[:3]}"

    assert _close(base, run_batched(detector, points, 100, round_trip=True), tol), "scores are not deterministic"
    assert _close(base, run_batched(detector, points, 100, round_trip=False), tol), (
        "JSON round trip of state changes scores"
    )
    assert _close(base, run_batched(detector, points, 37, round_trip=True), tol), (
        "scores depend on batch size: scores of a point changed when later points were in the same batch: "
        "the detector looks ahead (a score may use only its point, earlier points and the state)"
    )

    cut = len(points) // 2
    altered = points[:cut] + [Point(p.timestamp, p.value * 3 + 50) for p in points[cut:]]
    prefix = run_batched(detector, altered, 100, round_trip=True)[:cut]
    assert _close(base[:cut], prefix, tol), "not causal: a score changed when only later points changed"

    flat = [Point(1_700_000_000.0 + 60 * i, 5.0) for i in range(300)]
    flat_scores = run_batched(detector, flat, 100, round_trip=True)
    assert all(math.isfinite(s) and 0 <= s <= 1 for s in flat_scores), "a constant series broke the detector"

    speed = len(points) / seconds if seconds > 0 else float("inf")
    if not detector.remote:
        assert speed >= min_points_per_s, f"{speed:.0f} points/s is slower than {min_points_per_s:.0f}"
    return {"points_per_s": speed, "max_score": max(base)}


def registered(plugin: str) -> dict[str, list[Any]]:
    """What the installed plugin ``plugin`` (an ``iops_dashboard`` entry point) registers, per hook.

    Loads it the way the dashboard does (a fresh pluggy manager with the SDK's hookspecs), so a
    misspelt hookimpl or an entry point naming the wrong module fails here rather than in Lambda.
    """
    found = [ep for ep in metadata.entry_points(group=hookspecs.PROJECT) if ep.name == plugin]
    assert found, f"no {hookspecs.PROJECT!r} entry point named {plugin!r}: is the distribution installed?"
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(found[0].load(), name=plugin)
    pm.check_pending()
    out: dict[str, list[Any]] = {}
    for hook in ("register_detectors", "register_enrichers", "register_grouping_rules"):
        items: list[Any] = []
        impl = getattr(pm.get_plugin(plugin), hook, None)
        if impl is not None:
            impl(register=items.append)
        out[hook] = items
    return out


def assert_plugin_contract(plugin: str, **kit: float) -> dict[str, dict[str, float]]:
    """Run `assert_detector_contract` on every detector the installed ``plugin`` registers.

    Also checks its enrichers and grouping rules have the contract's shape. ``kit`` goes to
    `assert_detector_contract` (``min_points_per_s``, ``tol``); returns its figures per detector.
    """
    hooks = registered(plugin)
    assert any(hooks.values()), f"plugin {plugin!r} registers no detector, enricher or grouping rule"
    for kind, protocol in (("register_enrichers", Enricher), ("register_grouping_rules", GroupingRule)):
        for item in hooks[kind]:
            assert isinstance(item, protocol), f"{kind}: {item!r} is not a {protocol.__name__}"
    figures = {}
    for detector in hooks["register_detectors"]:
        assert isinstance(detector, Detector), f"register_detectors: {detector!r} is not a Detector"
        figures[detector.name] = assert_detector_contract(detector, **kit)
    return figures
