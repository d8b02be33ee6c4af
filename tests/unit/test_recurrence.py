"""`iops evaluate --recurrence` (`detectors.recurrence`): what it measures, with known detectors."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest
from iops_detector_sdk.contract import Point, SeriesKey, State

from cli.main import main
from detectors import recurrence
from detectors.evaluate import StackConfig

STACK = StackConfig(["oracle"], 0.5)
QUICK = {"shapes": ("flat",), "kinds": ("spike", "level_shift")}


class Fixed:
    """Scores 1 at the given times of each series (inside [start, end]), 0 elsewhere."""

    remote = False
    calibrated = True  # scores as they are: the runtime does not calibrate them

    def __init__(self, name: str, spans: dict[str, list[tuple[float, float]]]) -> None:
        self.name, self.spans = name, spans

    def new_state(self, series: SeriesKey) -> State:
        return {}

    def score(self, series: SeriesKey, state: State, points: Sequence[Point]) -> list[float]:
        spans = self.spans.get(series.entity, [])
        return [1.0 if any(a <= p.timestamp <= b for a, b in spans) else 0.0 for p in points]


@pytest.fixture(autouse=True)
def _small(monkeypatch: pytest.MonkeyPatch) -> None:
    """A smaller run: the suites' logic is the same for every shape, level and rate."""
    monkeypatch.setattr(recurrence, "NEW_NORMAL_SHAPES", ("flat",))
    monkeypatch.setattr(recurrence, "NOISE_LEVELS", [(50.0, 5.0)])
    monkeypatch.setattr(recurrence, "NOISE_RATES", ("1min", "irregular"))


def _oracle() -> Fixed:
    series = recurrence.recurrence_series(**QUICK)
    return Fixed("oracle", {s.key: s.spans for *_, s in series})


def test_oracle_finds_every_recurrence_and_raises_no_false_alarm() -> None:
    out = recurrence.evaluate(["oracle"], stack=STACK, detectors={"oracle": _oracle()}, **QUICK)
    rec = out["recurrence"]
    assert set(rec["by_delay"]) == {"1h", "1d", "3d", "7d"}
    assert all(d["recall"] == 1.0 and d["first_recall"] == 1.0 for d in rec["by_delay"].values())
    assert rec["false_alarms_per_series_day"] == 0.0
    assert out["noise_insights_per_series_day"] == 0.0 and rec["new_normal_alert_hours"] == 0.0
    assert out["threshold"] == 0.5 and rec["series"] == 1 * 2 * 4


def test_zero_detector_finds_nothing() -> None:
    out = recurrence.evaluate(["oracle"], stack=STACK, detectors={"oracle": Fixed("oracle", {})}, **QUICK)
    assert all(d["recall"] == 0.0 for d in out["recurrence"]["by_delay"].values())
    assert out["recurrence"]["false_alarms_per_series_day"] == 0.0


def test_alarms_outside_spans_are_counted_as_events_and_noise_as_points() -> None:
    always = Fixed("oracle", {})
    always.score = lambda series, state, points: [1.0] * len(points)  # type: ignore[method-assign]
    out = recurrence.evaluate(["oracle"], stack=STACK, detectors={"oracle": always}, **QUICK)
    rec = out["recurrence"]
    # one long event per stretch between spans: about 3 per series of 10-18 days
    assert 0.1 < rec["false_alarms_per_series_day"] < 0.4, rec["false_alarms_per_series_day"]
    # every noise point is an insight: 1-minute series give 1440 per day
    assert out["noise_insights_per_series_day"] > 288
    assert rec["new_normal_censored"] and rec["new_normal_alert_hours"] > 6 * 24 - 1
    assert rec["new_normal_alert_hours_vs_twin"] == 0.0  # the unchanged twin alarms just as much
    json.dumps(out)  # plain JSON types only


def test_threshold_is_the_deployed_one_unless_given() -> None:
    det = {"oracle": Fixed("oracle", {})}
    assert (
        recurrence.evaluate(["oracle"], stack=StackConfig(["oracle"], 0.7), detectors=det, **QUICK)["threshold"] == 0.7
    )
    got = recurrence.evaluate(["oracle"], threshold=0.3, stack=STACK, detectors=det, **QUICK)
    assert got["threshold"] == 0.3


def test_events_merge_alarms_closer_than_30_minutes() -> None:
    assert recurrence.events(np.array([])) == 0
    assert recurrence.events(np.array([0.0, 600.0, 1200.0, 5000.0])) == 2


def test_series_are_deterministic() -> None:
    a = recurrence.recurrence_series(**QUICK)
    b = recurrence.recurrence_series(**QUICK)
    assert all(np.array_equal(x[3].values, y[3].values) for x, y in zip(a, b, strict=True))
    assert len({s.key for *_, s in a}) == len(a)


def test_cli_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    det = _oracle()
    monkeypatch.setattr(recurrence.plugins, "get_detector", lambda name: det)
    monkeypatch.setattr(recurrence, "SHAPES", QUICK["shapes"])
    monkeypatch.setattr(recurrence, "KINDS", QUICK["kinds"])
    assert main(["evaluate", "--recurrence", "--detector", "oracle", "--threshold", "0.5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recurrence"]["by_delay"]["7d"]["recall"] == 1.0
    assert "false_alarms_per_series_day" in out["recurrence"] and "noise_insights_per_series_day" in out
