"""The numpy LSTM detector: equal to torch, contract-abiding, and able to tell a spike from noise."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detectors import plugins
from detectors.contract import Point, SeriesKey
from detectors.lstm import DEFAULT_MODEL, LstmDetector
from detectors.lstm_model import LstmModel, likelihood_scores, new_series_state
from detectors.testing import assert_detector_contract

SERIES = SeriesKey("host-01", "cpuUsage")


def _noisy(n: int, seed: int = 1) -> list[float]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return list(50 + 10 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 1.0, n))


@pytest.mark.parametrize("layers", [1, 2])
def test_numpy_forward_equals_torch_on_random_inputs(layers: int) -> None:
    torch = pytest.importorskip("torch")
    from training.train import Forecaster

    torch.manual_seed(layers)
    net = Forecaster(hidden=16, layers=layers)
    meta = {"window": 24, "hidden": 16, "layers": layers}
    model = LstmModel(meta, {k: v.astype(np.float64) for k, v in net.export_weights().items()})
    x = np.random.default_rng(layers).normal(0, 3, (257, 24)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    got = model.forecast(x.astype(np.float64))
    assert np.max(np.abs(got - expected)) < 1e-5


def test_shipped_artifact_is_small_versioned_and_calibrated() -> None:
    meta = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    assert meta["schema_version"] == 1
    assert DEFAULT_MODEL.with_suffix(".npz").stat().st_size < 300_000
    probs = meta["calibration"]["probs"]
    assert probs == sorted(probs) and meta["calibration"]["tail_scale"] > 0
    assert meta["training"]["data"]["source"] == "generator"


def test_detector_is_registered_as_builtin_plugin() -> None:
    plugins.reset()
    assert isinstance(plugins.get_detector("lstm"), LstmDetector)


def test_detector_honours_the_contract() -> None:
    figures = assert_detector_contract(LstmDetector())
    assert figures["max_score"] > 0.5


def test_spike_scores_far_above_ordinary_noise() -> None:
    det = LstmDetector()
    values = _noisy(600)
    values[500] += 25.0
    state = det.new_state(SERIES)
    scores = det.score(SERIES, state, [Point(300.0 * i, v) for i, v in enumerate(values)])
    assert scores[500] > 0.5
    assert max(scores[100:500]) < 0.25
    warmup = det.model.window + det.model.meta["likelihood"]["warmup"]
    assert scores[:warmup] == [0.0] * warmup


PARAMS = {"short": 10, "alpha": 0.005, "warmup": 50, "cap": 30.0, "min_var": 0.05, "floor": 2.0, "span": 30.0}


def test_likelihood_is_quiet_on_ordinary_surprise_and_loud_on_a_sustained_burst() -> None:
    rng = np.random.default_rng(4)
    ordinary = list(rng.exponential(1 / np.log(10), 2000))  # -log10 of uniform p
    state = new_series_state()
    quiet = likelihood_scores(state, ordinary, PARAMS)
    assert max(quiet) < 0.2
    loud = likelihood_scores(state, [6.0] * 10, PARAMS)
    assert loud[-1] > 0.5 and loud == sorted(loud)  # evidence accumulates over the short window
    assert loud[-1] < 1.0


def test_flat_series_cannot_blow_up_the_likelihood() -> None:
    state = new_series_state()
    likelihood_scores(state, [0.0] * 3000, PARAMS)
    assert state["var"] < 1e-6
    assert likelihood_scores(state, [1.0], PARAMS)[0] == 0.0  # min_var floors the long-run spread


def test_warmup_and_missing_history_score_zero() -> None:
    assert likelihood_scores(new_series_state(), [None, None, 25.0], PARAMS) == [0.0, 0.0, 0.0]


def test_state_is_the_recurrent_window_and_stays_bounded() -> None:
    det = LstmDetector()
    state = det.new_state(SERIES)
    det.score(SERIES, state, [Point(float(i), v) for i, v in enumerate(_noisy(500))])
    assert len(state["context"]) == det.model.window
    assert json.loads(json.dumps(state)) == state


def test_schema_version_mismatch_is_refused(tmp_path) -> None:
    meta = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    meta["schema_version"] = 99
    (tmp_path / "m.json").write_text(json.dumps(meta))
    (tmp_path / "m.npz").write_bytes(DEFAULT_MODEL.with_suffix(".npz").read_bytes())
    with pytest.raises(ValueError, match="schema_version"):
        LstmModel.load(tmp_path / "m")
