"""The numpy LSTM detector: equal to torch, contract-abiding, and able to tell a spike from noise."""

from __future__ import annotations

import json

import numpy as np
import pytest
from iops_detector_sdk.contract import Point, SeriesKey
from iops_detector_sdk.testing import assert_detector_contract

from detectors import plugins
from detectors.lstm import DEFAULT_MODEL, LstmDetector
from detectors.lstm_model import NOISE_FLOOR, LstmModel, likelihood_scores, new_series_state

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


def test_shipped_artifact_is_small_versioned_and_trained_on_both_corpora() -> None:
    meta = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    assert meta["schema_version"] == 2
    assert DEFAULT_MODEL.with_suffix(".npz").stat().st_size < 300_000
    assert {"memory", "warmup", "scale_alpha", "level_alpha", "clip", "rel_floor"} <= set(meta["likelihood"])
    training = meta["training"]
    categories = set(training["data"]["series_by_category"])
    assert "generated" in categories  # iops train generate
    assert {"realAWSCloudwatch", "artificialWithAnomaly"} <= categories  # the NAB development corpus
    assert any(c.startswith("gen") and c != "generated" for c in categories)  # build/gencorpus
    assert training["data"]["excluded_categories"] == []
    assert training["val_mae"] < training["val_mae_last_value"]  # a forecaster, not "same as last value"


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
    # ordinary points score at most about 0.5 ("as extreme as this series' record"), the spike beyond
    assert max(scores[200:500]) < 0.55
    assert scores[500] > 0.6 and scores[500] > max(scores[200:500]) + 0.1
    warmup = det.model.window + det.model.meta["likelihood"]["warmup"]
    assert scores[:warmup] == [0.0] * warmup


PARAMS = {"memory": 0.9999, "warmup": 30, "scale_alpha": 0.01, "level_alpha": 0.1, "clip": 4.0, "rel_floor": 1e-3}


def test_calibration_reads_one_as_the_series_record_whatever_its_scale() -> None:
    rng = np.random.default_rng(4)
    for scale in (1e-3, 1.0, 1e6):
        values = list(100 * scale + scale * rng.normal(0, 1, 3000))
        resid = [v - 100 * scale for v in values]
        state = new_series_state()
        quiet = likelihood_scores(state, resid, PARAMS, values)
        # ordinary noise stays below its own record, or sets a new one by a little now and then
        assert np.quantile(quiet[500:], 0.95) < 0.5 and max(quiet[500:]) < 0.6
        jump = likelihood_scores(state, [20 * scale], PARAMS, [120 * scale])[0]
        assert jump > 0.7


def test_flat_series_scores_zero_then_its_first_move_high() -> None:
    state = new_series_state()
    flat = likelihood_scores(state, [0.0] * 500, PARAMS, [5.0] * 500)
    assert flat == [0.0] * 500
    assert likelihood_scores(state, [0.5], PARAMS, [5.5])[0] > 0.8


def test_without_values_the_residual_alone_scores() -> None:
    """What a caller with only the endpoint's residuals gets: no range novelty, still a spike."""
    rng = np.random.default_rng(5)
    state = new_series_state()
    likelihood_scores(state, list(rng.normal(0, 1, 1000)), PARAMS)
    assert likelihood_scores(state, [40.0], PARAMS)[0] > 0.55


def test_noise_floors_keep_a_young_quiet_series_below_its_first_records() -> None:
    """Envelope floor (shipped) and record floor (optional): a new series of pure noise stays quieter."""
    rng = np.random.default_rng(6)
    values = list(10.0 + rng.normal(0, 1, 2000))
    resid = [v - 10.0 for v in values]
    bare = likelihood_scores(new_series_state(), resid, {**PARAMS, "noise_z": 0.0}, values)
    envelope = likelihood_scores(new_series_state(), resid, PARAMS, values)
    both = likelihood_scores(new_series_state(), resid, {**PARAMS, "noise_floor": list(NOISE_FLOOR)}, values)
    assert max(both) <= max(envelope) <= max(bare)
    assert sum(s >= 0.5268 for s in both) <= sum(s >= 0.5268 for s in envelope) <= sum(s >= 0.5268 for s in bare)
    assert sum(s >= 0.5268 for s in both) == 0


def test_warmup_and_missing_history_score_zero() -> None:
    assert likelihood_scores(new_series_state(), [None, None, 25.0], PARAMS, [1.0, 1.0, 26.0]) == [0.0, 0.0, 0.0]


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
