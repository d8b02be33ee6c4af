"""The runtime's calibration of plugins that do not declare themselves calibrated."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
from iops_detector_sdk.contract import Point, SeriesKey

from detectors import calibration
from detectors.runtime import SeriesState, combine, score_series
from iops.settings import DEFAULT_ANOMALY_THRESHOLD

NAB = Path(__file__).resolve().parents[3] / "shared" / "nab"
T = DEFAULT_ANOMALY_THRESHOLD


class ZScoreNaive:
    """The kind of detector a new author writes: |z| against the last 60 values, divided by 6."""

    name = "zscore_naive"
    remote = False

    def new_state(self, series: SeriesKey) -> dict:
        return {"w": []}

    def score(self, series: SeriesKey, state: dict, points: list[Point]) -> list[float]:
        out = []
        w = state["w"]
        for p in points:
            if len(w) >= 10:
                m = sum(w) / len(w)
                sd = math.sqrt(sum((x - m) ** 2 for x in w) / len(w))
                out.append(min(1.0, abs(p.value - m) / (sd + 1e-9) / 6.0))
            else:
                out.append(0.0)
            w.append(p.value)
            del w[:-60]
        return out


class ZScoreClaimsCalibrated(ZScoreNaive):
    """The same scores, declared calibrated: the runtime takes them as they are."""

    name = "zscore_raw"
    calibrated = True


def reference(raw: list[float]) -> list[float]:
    """The definition, written plainly: a histogram that decays every point."""
    edges = np.array(calibration.EDGES)
    h = np.zeros(len(edges))
    decay = 0.5 ** (1 / calibration.HALF_LIFE_POINTS)
    out = []
    for x in raw:
        b = int(np.searchsorted(edges, x, side="right")) - 1
        total = h.sum()
        if total > 0:
            p = (h[b:].sum() + 1.0) / (total + 1.0)
            out.append(min(1.0, T * math.log(p) / math.log(calibration.TAIL_AT_THRESHOLD)) if p < 1 else 0.0)
        else:
            out.append(0.0)
        h *= decay
        h[b] += 1.0
    return out


def heavy_tailed(n: int, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    return [min(1.0, abs(rng.gauss(0, 1)) ** 3 / 40) for _ in range(n)]


def test_batches_with_json_state_match_the_plain_definition() -> None:
    raw = heavy_tailed(6000)
    state = calibration.new_state()
    got: list[float] = []
    for start in range(0, len(raw), 250):
        got += calibration.calibrate(state, raw[start : start + 250])
        state = json.loads(json.dumps(state))
    assert np.allclose(got, reference(raw), atol=1e-4)


def test_no_score_reaches_the_threshold_before_one_over_the_tail_probability_points() -> None:
    warm = int(1 / calibration.TAIL_AT_THRESHOLD)
    out = calibration.calibrate(calibration.new_state(), heavy_tailed(warm - 50) + [1.0])
    assert max(out) < T


def test_the_scale_of_raw_scores_does_not_decide_what_crosses_the_threshold() -> None:
    flat_high = [0.6 + 0.01 * (i % 3) for i in range(5000)]  # "everything is 0.6": uncalibrated
    assert max(calibration.calibrate(calibration.new_state(), flat_high)) < T
    rare = [0.001] * 4000 + [0.05] + [0.001] * 10  # tiny raw scores, one rare one
    out = calibration.calibrate(calibration.new_state(), rare)
    assert out[4000] >= T and max(out[:4000]) < T and max(out[4001:]) < T


def test_the_runtime_calibrates_only_detectors_that_do_not_declare_it() -> None:
    series = SeriesKey("h", "cpuUsage")
    points = [Point(60.0 * i, 10.0 + (i % 5)) for i in range(200)]
    state = SeriesState()
    result = score_series({"zscore_naive": ZScoreNaive(), "zscore_raw": ZScoreClaimsCalibrated()}, series, state, points)
    raw = [r.scores["zscore_raw"] for r in result.results]
    assert [r.scores["zscore_naive"] for r in result.results] == pytest.approx(
        calibration.calibrate(calibration.new_state(), raw)
    )
    assert set(state.calibration) == {"zscore_naive"}
    again = SeriesState.from_json(state.to_json())
    assert again.calibration == json.loads(json.dumps(state.calibration))


def test_weights_scale_each_detector_in_the_maximum() -> None:
    scores = {"a": 0.6, "b": 0.5}
    assert combine(scores) == 0.6
    assert combine(scores, {"a": 0.5}) == 0.5  # b keeps weight 1
    assert combine(scores, {"a": 0.0, "b": 0.0}) == 0.0
    assert combine(scores, {"b": 3.0}) == 1.0


@pytest.mark.slow
def test_an_uncalibrated_plugin_added_to_default_costs_at_most_one_cv_point_on_nab() -> None:
    """The done-when of "no plugin can break detection": default + naive under CV, against default."""
    from detectors import plugins
    from detectors.evaluate import evaluate

    members = {n: plugins.get_detector(n) for n in ("statistical", "contextual", "lstm")}
    dets = {**members, "zscore_naive": ZScoreNaive(), "zscore_raw": ZScoreClaimsCalibrated()}
    with_naive = "statistical+contextual+lstm+zscore_naive"
    uncalibrated = "statistical+contextual+lstm+zscore_raw"
    out = evaluate(NAB, ["default", with_naive, uncalibrated], progress=False, cv=5, detectors=dets)
    cv = {name: entry["cv"]["standard"]["score"] for name, entry in out["detectors"].items()}
    print(cv)
    assert cv["default"] > 65
    assert cv[with_naive] >= cv["default"] - 1.0
    assert cv[uncalibrated] < cv["default"] - 20, "without calibration the same plugin wrecks the combination"
