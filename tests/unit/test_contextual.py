"""The contextual (CAD-style) detector: contract, plugin registration, behaviour."""

from __future__ import annotations

import json
import random

from iops_detector_sdk.contract import Point, SeriesKey
from iops_detector_sdk.testing import assert_detector_contract

from detectors import plugins
from detectors.contextual import YOUNG_S, ContextualDetector

KEY = SeriesKey("host-1", "cpuUsage")
STEP = 300.0


def _score(values: list[float]) -> list[float]:
    det = ContextualDetector()
    state = det.new_state(KEY)
    pts = [Point(1_700_000_000.0 + i * STEP, v) for i, v in enumerate(values)]
    out: list[float] = []
    for i in range(0, len(pts), 100):
        out += det.score(KEY, state, pts[i : i + 100])
        state = json.loads(json.dumps(state))
    return out


def _noise(n: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [50 + rng.gauss(0, 2) for _ in range(n)]


def test_contract() -> None:
    assert_detector_contract(ContextualDetector())


def test_registered_as_builtin_plugin() -> None:
    assert isinstance(plugins.get_detector("contextual"), ContextualDetector)


def test_state_stays_small() -> None:
    det = ContextualDetector()
    state = det.new_state(KEY)
    det.score(KEY, state, [Point(1_700_000_000.0 + i * STEP, v) for i, v in enumerate(_noise(4032))])
    assert len(json.dumps(state)) < 12_000


def test_young_series_is_quiet_and_a_never_seen_level_is_news() -> None:
    young = int(YOUNG_S / STEP)
    values = _noise(young + 1500)
    values[50] = 400.0
    values[young + 1200 : young + 1210] = [90.0] * 10
    scores = _score(values)
    assert max(scores[:young]) == 0.0
    quiet = max(scores[young : young + 1200])
    assert max(scores[young + 1200 : young + 1210]) > max(0.5, 5 * quiet)


def test_flat_series_is_quiet() -> None:
    assert max(_score([42.0] * 800)) < 0.05
