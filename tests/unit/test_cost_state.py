"""Detector state as stored: the codec is lossless (same JSON, same scores), old items stay readable,
and `iops cost` sizes what the AI tier writes."""

from __future__ import annotations

import csv
import json
import math
import random
import zlib
from datetime import UTC, datetime

import pytest
from iops_detector_sdk.contract import Point, SeriesKey

from cli import cost
from cli.main import main
from detectors import plugins
from detectors.runtime import SeriesState, score_series
from iops.dal import detector_state, state_codec
from tests.conftest import SHARED

NAB = SHARED / "nab" / "data"
DEFAULT = ("statistical", "contextual", "lstm")


def _state(detectors: tuple[str, ...], points: list[Point]) -> SeriesState:
    available = {name: plugins.get_detector(name) for name in detectors}
    state, series = SeriesState(), SeriesKey("host-0001", "cpuUsage")
    for p in points:
        state = score_series(available, series, state, [p]).state
    return state


def _synthetic(n: int, decimals: int | None) -> list[Point]:
    rng = random.Random(3)
    out = []
    for i in range(n):
        v = 40 + 10 * math.sin(i / 50) + rng.gauss(0, 3)
        out.append(Point(1.7e9 + 60 * i, v if decimals is None else round(v, decimals)))
    return out


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -7,
        2**70,
        0.0,
        -0.0,
        1.0,
        0.1 + 0.2,
        38.63800000000001,
        1e-300,
        5e-324,
        1.7976931348623157e308,
        -123.456,
        1700000000.0,
        1e22,
        float("nan"),
        float("inf"),
        "é/x",
        [],
        {},
        [1, 2.5, None, "a"],
        [[1.5, 2.0], [3.25, None]],
        [[1, 2], [3, 4]],
        [0.1, 0.12345678, None, 1e-9, -0.0, 2.0],
        {"a": [1.0, 2.0], "b": {"c": [None, None]}},
        [1e308, -0.0, float("nan"), None, 5e-324, 2**0.5, 1e16, -3.5] * 4,  # long: the vectorised form
        [[1.7e9 + 60 * i, round(0.37 * i, 2), None] for i in range(40)],
        list(range(-20, 20)),
    ],
)
def test_codec_gives_back_the_same_json_text(value) -> None:
    text = json.dumps(value, separators=(",", ":"))
    assert state_codec.decode(state_codec.encode(text)) == text


def test_codec_is_exact_on_random_json_numbers() -> None:
    rng = random.Random(11)
    for _ in range(200):
        values = [rng.choice([rng.uniform(-1e6, 1e6), round(rng.gauss(0, 100), rng.randrange(8)), None, 0.0])]
        values += [rng.uniform(-1, 1) * 10 ** rng.randrange(-12, 12) for _ in range(20)]
        text = json.dumps({"v": values, "t": [[float(i), v] for i, v in enumerate(values)]}, separators=(",", ":"))
        assert state_codec.decode(state_codec.encode(text)) == text


@pytest.mark.parametrize("detectors", [("statistical",), DEFAULT], ids=["dev", "default"])
@pytest.mark.parametrize("decimals", [None, 2], ids=["full-precision", "2-decimals"])
def test_real_detector_state_round_trips_exactly_and_scores_the_same(detectors, decimals) -> None:
    points = _synthetic(1500, decimals)
    state = _state(detectors, points[:1400])
    decoded = detector_state.decode_state(detector_state.encode_state(state))
    assert decoded.to_json() == state.to_json()
    available = {name: plugins.get_detector(name) for name in detectors}
    series = SeriesKey("host-0001", "cpuUsage")
    via_json, via_store = SeriesState.from_json(state.to_json()), decoded
    for p in points[1400:]:
        a = score_series(available, series, via_json, [p])
        b = score_series(available, series, via_store, [p])
        assert [r.scores for r in a.results] == [r.scores for r in b.results]
        via_json = SeriesState.from_json(a.state.to_json())
        via_store = detector_state.decode_state(detector_state.encode_state(b.state))


@pytest.mark.skipif(not NAB.exists(), reason="NAB corpus not present (../shared/nab)")
def test_nab_states_round_trip_and_fit_fewer_write_units_than_zlib() -> None:
    path = NAB / "realAWSCloudwatch" / "ec2_cpu_utilization_5f5533.csv"
    with path.open() as f:
        rows = list(csv.DictReader(f))
    points = [
        Point(datetime.fromisoformat(r["timestamp"]).replace(tzinfo=UTC).timestamp(), float(r["value"])) for r in rows
    ]
    state = _state(DEFAULT, points)
    encoded = detector_state.encode_state(state)["B"]
    assert state_codec.decode(encoded) == state.to_json()
    assert len(encoded) < 0.85 * len(zlib.compress(state.to_json().encode(), 6))


def test_items_written_by_earlier_versions_stay_readable() -> None:
    state = _state(("statistical",), _synthetic(200, 2))
    text = state.to_json()
    assert detector_state.decode_state({"S": text}).to_json() == text
    assert detector_state.decode_state({"B": zlib.compress(text.encode(), 6)}).to_json() == text
    assert detector_state.decode_state({"B": bytearray(detector_state.encode_state(state)["B"])}).to_json() == text


def test_write_units_per_started_kilobyte() -> None:
    assert [detector_state.write_units(b) for b in (1, 1024, 1025, 2048, 2049)] == [1, 1, 2, 2, 3]


def test_measuring_an_hour_per_call_sizes_the_state_like_point_by_point() -> None:
    one = cost.measure_state_series(("statistical",), 60, 2, days=1, batch_s=60)
    hour = cost.measure_state_series(("statistical",), 60, 2, days=1)
    a, b = detector_state.stored_bytes(*one), detector_state.stored_bytes(*hour)
    assert abs(a - b) <= 0.01 * a


def test_state_size_command_reports_series_and_host(capsys) -> None:
    assert main(["cost", "--state-size", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    now = out["series"]["state codec (now)"]
    assert (
        now["bytes"]
        < out["series"]["zlib of the JSON (606a08e)"]["bytes"]
        < out["series"]["plain JSON (before 606a08e)"]["bytes"]
    )
    assert now["write_units"] == detector_state.write_units(now["bytes"]) == 2
    # the dev stack writes state every 15 points (stateCheckpointPoints) or 15 minutes: 15 samples at 60 s
    assert out["host"] == {
        "metrics": 4,
        "bytes": 4 * now["bytes"],
        "write_units_per_write": 8,
        "samples_per_write": 15,
        "write_units_per_sample": round(8 / 15, 3),
    }
