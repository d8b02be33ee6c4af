"""SageMaker inference entry for the LSTM forecaster (PyTorch serving image, script mode).

The model is the same framework-free artifact the built-in detector runs, scored by the same
``lstm_model`` module (copied beside this file into the model's ``code/`` folder), so the
endpoint and the Lambda fallback give the same forecasts for the same input.

The endpoint is stateless: for each new value it answers the forecast residual
``value - forecast`` in the series' units (the ``surprise`` field; null while fewer than
``window`` earlier values are known); the caller keeps the per-series state and turns residuals
into scores (`lstm_model.likelihood_scores`, given the values too), exactly as the built-in
detector does.

Request (``application/json``), one series: ``{"context": [earlier values], "values": [new values]}``
or several: ``{"series": [{"id": ..., "context": [...], "values": [...]}, ...]}``.
Response: ``{"surprise": [...], "window": W, "model_version": ...}``, or for several series
``{"series": [{"id": ..., "surprise": [...]}], "window": W, "model_version": ...}``.
"""

from __future__ import annotations

import json
import os
from typing import Any

try:
    from detectors import lstm_model
except ImportError:  # inside the serving container: flat code/ directory
    import lstm_model  # type: ignore[no-redef]

CONTENT_TYPE = "application/json"


def model_fn(model_dir: str) -> lstm_model.LstmModel:
    return lstm_model.LstmModel.load(os.path.join(model_dir, "model"))


def input_fn(request_body: str | bytes, content_type: str = CONTENT_TYPE) -> dict[str, Any]:
    if content_type.split(";")[0].strip() != CONTENT_TYPE:
        raise ValueError(f"unsupported content type {content_type!r}; send {CONTENT_TYPE}")
    body = json.loads(request_body)
    if not isinstance(body, dict) or not ("values" in body or "series" in body):
        raise ValueError('expected {"context": [...], "values": [...]} or {"series": [...]}')
    return body


def predict_fn(data: dict[str, Any], model: lstm_model.LstmModel) -> dict[str, Any]:
    def one(item: dict[str, Any]) -> list[float | None]:
        return model.surprise([float(v) for v in item.get("context", [])], [float(v) for v in item["values"]])

    about = {"window": model.window, "model_version": model.version}
    if "series" in data:
        return {"series": [{"id": s.get("id"), "surprise": one(s)} for s in data["series"]], **about}
    return {"surprise": one(data), **about}


def output_fn(prediction: dict[str, Any], accept: str = CONTENT_TYPE) -> str:
    return json.dumps(prediction)
