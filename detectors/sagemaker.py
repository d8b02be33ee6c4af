"""Built-in sagemaker detector: the LSTM served by a SageMaker endpoint, with the built-in LSTM as fallback.

One ``InvokeEndpoint`` per series per stream batch: the request carries the series' context
(the last ``window`` values, the same state the lstm detector keeps) and the batch's new values;
the endpoint (``training/inference.py``) answers the model's surprise per value, and the
per-series layer (`lstm_model.likelihood_scores`) turns them into scores here, with the same
state the built-in LSTM keeps, so falling back and coming back leave no gap in a series.

The endpoint name comes from ``SAGEMAKER_ENDPOINT_NAME`` (`iops.settings.PluginSettings`). Calls use a tight botocore timeout
(connect 1 s, read 2 s) and at most 2 attempts, so a sick endpoint costs a batch seconds, not
the Lambda's minute. When the variable is unset, or the call fails (endpoint absent, throttled,
model error, timeout), the batch is scored by the built-in LSTM instead, and after a failure
the endpoint is skipped for ``COOLDOWN_S`` so one bad endpoint does not slow every series.

Which model scored the last batch of a series is recorded in its state as ``model_used``
(``"sagemaker:<endpoint>"`` or ``"lstm (fallback: <reason>)"``); the runtime reads
``state.detectors["sagemaker"]["model_used"]`` to fill the insight's ``model_used``.
``SageMakerDetector.last_model_used`` holds the same for the most recent call.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError
from iops_detector_sdk.contract import Point, SeriesKey, State
from iops_detector_sdk.hookspecs import hookimpl

from detectors.lstm import LstmDetector
from detectors.lstm_model import advance_context, likelihood_scores, new_series_state
from iops.settings import PluginSettings
from iops.tracing import subsegment

ENDPOINT_ENV = PluginSettings.env_name("sagemaker_endpoint")
CONNECT_TIMEOUT_S = 1.0
READ_TIMEOUT_S = 2.0
MAX_ATTEMPTS = 2
COOLDOWN_S = 60.0


class SageMakerDetector:
    name = "sagemaker"
    remote = True
    calibrated = True
    """The endpoint serves the lstm model, whose scores are fitted to the stack threshold: no runtime calibration."""

    def __init__(self, client: Any = None, fallback: LstmDetector | None = None, endpoint: str | None = None) -> None:
        self.endpoint = (
            endpoint if endpoint is not None else PluginSettings.from_env().sagemaker_endpoint or ""
        ).strip()
        """The endpoint's name (default: the settings' ``sagemaker_endpoint``); empty: the built-in LSTM."""
        self._client = client
        self._fallback = fallback or LstmDetector()
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._down_reason = ""
        self.last_model_used = ""

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                config = Config(
                    connect_timeout=CONNECT_TIMEOUT_S,
                    read_timeout=READ_TIMEOUT_S,
                    retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
                )
                self._client = boto3.client("sagemaker-runtime", config=config)
            return self._client

    def new_state(self, series: SeriesKey) -> State:
        return {**new_series_state(), "model_used": ""}

    def score(self, series: SeriesKey, state: State, points: Sequence[Point]) -> list[float]:
        values = [p.value for p in points]
        endpoint = self.endpoint
        local = self._fallback.model
        reason = self._unavailable(endpoint)
        if reason is None:
            try:
                surprise, window = self._invoke(endpoint, state["context"], values)
            except Exception as exc:  # noqa: BLE001 - any endpoint failure means: use the built-in model
                reason = self._mark_down(exc)
        if reason is None:
            scores = likelihood_scores(state, surprise, local.meta["likelihood"], values)
            advance_context(state, values, max(window, local.window))
            model_used = f"sagemaker:{endpoint}"
        else:
            scores = local.score_values(state, values)
            model_used = f"lstm (fallback: {reason})"
        state["model_used"] = self.last_model_used = model_used
        return scores

    def _unavailable(self, endpoint: str) -> str | None:
        if not endpoint:
            return f"{ENDPOINT_ENV} not set"
        with self._lock:
            if time.monotonic() < self._down_until:
                return f"endpoint cooling down after {self._down_reason}"
        return None

    def _mark_down(self, exc: Exception) -> str:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        reason = f"sagemaker {code or type(exc).__name__}"
        with self._lock:
            self._down_until = time.monotonic() + COOLDOWN_S
            self._down_reason = reason
        return reason

    def _invoke(self, endpoint: str, context: list[float], values: list[float]) -> tuple[list[float | None], int]:
        """The endpoint's surprise per value, and the window it forecasts from."""
        with subsegment("sagemaker endpoint", endpoint=endpoint, values=len(values)):
            response = self.client().invoke_endpoint(
                EndpointName=endpoint,
                ContentType="application/json",
                Accept="application/json",
                Body=json.dumps({"context": context, "values": values}).encode(),
            )
            answer = json.loads(response["Body"].read())
        surprise = answer["surprise"]
        if len(surprise) != len(values):
            raise ValueError(f"endpoint returned {len(surprise)} surprises for {len(values)} values")
        return [None if s is None else float(s) for s in surprise], int(answer["window"])


@hookimpl
def register_detectors(register):
    register(SageMakerDetector())
