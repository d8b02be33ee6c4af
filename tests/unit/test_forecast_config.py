"""The handlers' defaults for predictions and patterns are the stack's (Pulumi.yaml) defaults."""

from __future__ import annotations

import json

from components.config import declared
from iops.settings import PatternSettings, PredictionSettings


def test_handler_defaults_match_pulumi_yaml(monkeypatch) -> None:
    for name in (
        "PREDICTION_LIMITS",
        "PREDICTION_HORIZON_HOURS",
        "FORECAST_EVERY_POINTS",
        "PATTERN_WINDOW_SECONDS",
        "PATTERN_MIN_HOSTS",
    ):
        monkeypatch.delenv(name, raising=False)
    config = declared()
    pred, pat = PredictionSettings.from_env(), PatternSettings.from_env()
    assert pred.limits == {k: float(v) for k, v in json.loads(config["predictionLimits"]["default"]).items()}
    assert pred.horizon_s == config["predictionHorizonHours"]["default"] * 3600
    assert pred.every_points == config["forecastEveryPoints"]["default"]
    assert pat.window_s == config["patternWindowSeconds"]["default"]
    assert pat.min_hosts == config["patternMinHosts"]["default"]


def test_environment_overrides(monkeypatch) -> None:
    monkeypatch.setenv("PREDICTION_LIMITS", '{"diskUsage": 90}')
    monkeypatch.setenv("PATTERN_MIN_HOSTS", "2")
    assert PredictionSettings.from_env().limits == {"diskUsage": 90.0}
    assert PatternSettings.from_env().min_hosts == 2
