"""The sagemaker detector: one request per series batch, bounded calls, and an honest fallback."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.response import StreamingBody
from botocore.stub import Stubber
from iops_detector_sdk.contract import Point, SeriesKey
from iops_detector_sdk.testing import assert_detector_contract

from detectors.lstm import DEFAULT_MODEL, LstmDetector
from detectors.lstm_model import likelihood_scores, new_series_state
from detectors.sagemaker import ENDPOINT_ENV, SageMakerDetector
from training import inference

SERIES = SeriesKey("host-02", "diskIO")
POINTS = [Point(300.0 * i, 100.0 + (i % 7)) for i in range(60)]


def _client():
    return boto3.client("sagemaker-runtime", region_name="us-east-1", config=Config(retries={"max_attempts": 1}))


def _body(payload: dict) -> StreamingBody:
    raw = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def _lstm_scores(points: list[Point]) -> list[float]:
    det = LstmDetector()
    return det.score(SERIES, det.new_state(SERIES), points)


def test_without_endpoint_it_is_the_builtin_lstm_and_says_so(monkeypatch) -> None:
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    client = _client()
    det = SageMakerDetector(client=client)
    state = det.new_state(SERIES)
    with Stubber(client):  # any call would raise: none is expected
        scores = det.score(SERIES, state, POINTS)
    assert scores == _lstm_scores(POINTS)
    assert state["model_used"] == f"lstm (fallback: {ENDPOINT_ENV} not set)" == det.last_model_used


def test_one_request_per_series_batch_with_context_and_values(monkeypatch) -> None:
    monkeypatch.setenv(ENDPOINT_ENV, "iops-lstm")
    client = _client()
    det = SageMakerDetector(client=client)
    state = det.new_state(SERIES)
    first, second = POINTS[:50], POINTS[50:]
    answers = ([None] * 48 + [0.4, 0.3], [0.2] * 9 + [9.0])
    with Stubber(client) as stub:
        for batch, context, surprise in ((first, [], answers[0]), (second, [p.value for p in first][-48:], answers[1])):
            stub.add_response(
                "invoke_endpoint",
                {"Body": _body({"surprise": surprise, "window": 48}), "ContentType": "application/json"},
                {
                    "EndpointName": "iops-lstm",
                    "ContentType": "application/json",
                    "Accept": "application/json",
                    "Body": json.dumps({"context": context, "values": [p.value for p in batch]}).encode(),
                },
            )
        scores = det.score(SERIES, state, first) + det.score(SERIES, state, second)
        stub.assert_no_pending_responses()
    reference = new_series_state()
    params = LstmDetector().model.meta["likelihood"]
    expected = likelihood_scores(reference, answers[0], params) + likelihood_scores(reference, answers[1], params)
    assert scores == expected
    assert state["model_used"] == "sagemaker:iops-lstm"
    assert state["context"] == [p.value for p in POINTS][-48:]
    assert (state["n"], state["b"], state["rec"]) == (reference["n"], reference["b"], reference["rec"])


@pytest.mark.parametrize(
    ("code", "status"), [("ValidationException", 400), ("ThrottlingException", 400), ("ModelError", 424)]
)
def test_failing_endpoint_falls_back_then_cools_down(monkeypatch, code: str, status: int) -> None:
    monkeypatch.setenv(ENDPOINT_ENV, "iops-lstm")
    client = _client()
    det = SageMakerDetector(client=client)
    state = det.new_state(SERIES)
    with Stubber(client) as stub:
        stub.add_client_error("invoke_endpoint", service_error_code=code, http_status_code=status)
        scores = det.score(SERIES, state, POINTS)
        assert state["model_used"] == f"lstm (fallback: sagemaker {code})"
        # within the cool-down no request is sent (the stubber would raise on one)
        det.score(SERIES, state, [Point(1e9, 1.0)])
        assert state["model_used"].startswith("lstm (fallback: endpoint cooling down after sagemaker")
    assert scores == _lstm_scores(POINTS)


def test_default_client_has_tight_timeouts_and_bounded_retries() -> None:
    config = SageMakerDetector().client().meta.config
    assert (config.connect_timeout, config.read_timeout) == (1.0, 2.0)
    assert config.retries["total_max_attempts"] == 2  # one retry, no more


def test_endpoint_code_scores_exactly_like_the_builtin_detector(tmp_path: Path, monkeypatch) -> None:
    """inference.py (what the endpoint runs) behind a fake runtime client equals the in-Lambda LSTM."""
    for suffix in (".npz", ".json"):
        shutil.copy2(DEFAULT_MODEL.with_suffix(suffix), tmp_path / f"model{suffix}")
    model = inference.model_fn(str(tmp_path))

    class FakeRuntime:
        calls = 0

        def invoke_endpoint(self, EndpointName, ContentType, Accept, Body):  # noqa: N803 - boto3's names
            self.calls += 1
            out = inference.output_fn(inference.predict_fn(inference.input_fn(Body, ContentType), model), Accept)
            return {"Body": io.BytesIO(out.encode())}

    monkeypatch.setenv(ENDPOINT_ENV, "iops-lstm")
    fake = FakeRuntime()
    det = SageMakerDetector(client=fake)
    state = det.new_state(SERIES)
    # long enough to get past the window and the warm-up, with a spike the calibration must see
    points = [Point(300.0 * i, 100.0 + (i % 7) + (30.0 if i == 450 else 0.0)) for i in range(500)]
    scores = det.score(SERIES, state, points[:420]) + det.score(SERIES, state, points[420:])
    assert fake.calls == 2 and state["model_used"] == "sagemaker:iops-lstm"
    assert max(_lstm_scores(points)) > 0.5
    assert scores == pytest.approx(_lstm_scores(points), abs=1e-12)


def test_fallback_honours_the_detector_contract(monkeypatch) -> None:
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    assert_detector_contract(SageMakerDetector(client=_client()))


def test_inference_rejects_other_content_types() -> None:
    with pytest.raises(ValueError, match="content type"):
        inference.input_fn(b"1,2,3", "text/csv")
