"""Built-in lstm detector: the exported LSTM forecaster, run in numpy (no torch in the Lambda).

Per-series state (JSON, about 1 KB): the recurrent window (the last ``window`` raw values) and
the calibration's running figures (residual scale, level, records, envelope; see
`detectors.lstm_model`). A batch of points is forecast in one vectorised pass, so a batch costs
little more than one point. The first ``window`` points of a series, and the following
``warmup`` ones, score 0.

The model is the shipped default (``detectors/models/lstm-default.{npz,json}``, made by
``make model``: ``iops train local`` on the generator's data, the NAB development corpus and the
generated NAB-layout corpus, fixed seed) unless ``PluginSettings.lstm_model`` (``IOPS_LSTM_MODEL``)
names another artifact (path of the ``.json``/``.npz`` or their common stem).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from iops_detector_sdk.contract import Point, SeriesKey, State
from iops_detector_sdk.hookspecs import hookimpl

from detectors.lstm_model import LstmModel, new_series_state
from iops.settings import PluginSettings

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "lstm-default"
MODEL_ENV = PluginSettings.env_name("lstm_model")

_lock = threading.Lock()
_models: dict[str, LstmModel] = {}


def load_model(path: str | Path | None = None) -> LstmModel:
    """The artifact at ``path`` (default: the settings' ``lstm_model`` or the shipped one), loaded once."""
    key = str(path or PluginSettings.from_env().lstm_model or DEFAULT_MODEL)
    with _lock:
        if key not in _models:
            _models[key] = LstmModel.load(key)
        return _models[key]


class LstmDetector:
    name = "lstm"
    remote = False
    calibrated = True
    """Scores fitted to the stack threshold by cross-validation (docs/detection.md): no runtime calibration."""

    def __init__(self, model_path: str | Path | None = None) -> None:
        self._model_path = model_path or PluginSettings.from_env().lstm_model or DEFAULT_MODEL

    @property
    def model(self) -> LstmModel:
        return load_model(self._model_path)

    def new_state(self, series: SeriesKey) -> State:
        return new_series_state()

    def score(self, series: SeriesKey, state: State, points: Sequence[Point]) -> list[float]:
        return self.model.score_values(state, [p.value for p in points])


@hookimpl
def register_detectors(register):
    register(LstmDetector())
