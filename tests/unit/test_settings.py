"""Runtime settings (`iops.settings`) and the stack's config (`components.config`): one definition each."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from components.config import BuildSettings, Key, StackConfig, declared
from handlers.definitions import AI_FN, INGEST_FN, INSIGHTS_FN, QUERY_FN, simulator_interval_s
from iops.settings import (
    FUNCTION_SETTINGS,
    AiSettings,
    IbProcessSettings,
    IbSimulatorSettings,
    IngestSettings,
    PaginationSettings,
    PatternSettings,
    PluginSettings,
    PredictionSettings,
    QuerySettings,
    Settings,
    SettingsError,
)
from local.emulator import Emulator, function_environment, function_settings

ROOT = Path(__file__).resolve().parents[2]
ALL_SETTINGS = (*FUNCTION_SETTINGS.values(), BuildSettings)
YAML_TYPES = {"integer": (int,), "boolean": (bool,), "array": (list,), "string": (str, float, dict)}
"""What a `StackConfig` attribute may be for each Pulumi.yaml type (strings may carry numbers or JSON)."""


def minimal(cls: type[Settings]) -> dict[str, str]:
    """The required variables of ``cls``, each set to a value of its type."""
    return {v.env: f"x-{v.field}" for v in cls.variables() if v.required}


def test_every_settings_default_bound_to_config_is_pulumi_yamls() -> None:
    bound = [(cls, v) for cls in ALL_SETTINGS for v in cls.variables() if v.config]
    assert {v.config for _, v in bound} >= {"anomalyThreshold", "detectors", "metricsTtlDays", "predictionLimits"}
    keys = {key.key: key for key in StackConfig.keys().values()}
    for cls, v in bound:
        spec = declared()[v.config]
        expected = keys[v.config].parse(spec["default"])
        default = list(v.default) if isinstance(v.default, tuple) else v.default
        assert default == expected, f"{cls.__name__}.{v.field} default {v.default!r} != Pulumi.yaml {v.config}"


def test_defaults_derived_from_config_agree_too() -> None:
    interval = next(v for v in IbSimulatorSettings.variables() if v.field == "interval_s")
    assert interval.default == simulator_interval_s(declared()["simulatorSchedule"]["default"])
    # bedrockEnabled is on by default for a stack; a function without the variable (iops local) never calls Bedrock
    assert declared()["bedrockEnabled"]["default"] is True
    assert PluginSettings().bedrock_enabled is False


def test_stack_config_has_one_typed_attribute_per_pulumi_yaml_key() -> None:
    keys = StackConfig.keys()
    assert sorted(k.key for k in keys.values()) == sorted(declared())
    for name, key in keys.items():
        head, *rest = name.split("_")
        assert key.key == head + "".join(p[:1].upper() + p[1:] for p in rest), name  # the name says the key
        spec = declared()[key.key]
        if spec["default"] is not None:
            assert isinstance(key.parse(spec["default"]), YAML_TYPES[spec["type"]]), key.key
    assert not hasattr(StackConfig, "__getattr__")
    assert isinstance(StackConfig.ingest_memory_mb, Key)


def test_from_env_fails_naming_every_missing_and_invalid_variable() -> None:
    with pytest.raises(SettingsError) as err:
        AiSettings.from_env({"ANOMALY_THRESHOLD": "high", "PATTERN_MIN_HOSTS": "3.5", "BEDROCK_ENABLED": "maybe"})
    message = str(err.value)
    for name in ("INSIGHTS_TABLE", "STATE_TABLE", "CORRELATION_TABLE", "ANOMALY_THRESHOLD", "PATTERN_MIN_HOSTS"):
        assert name in message
    assert "BEDROCK_ENABLED" in message and "iops-dev" not in message
    with pytest.raises(SettingsError, match="METRICS_TABLE is not set"):
        IngestSettings.from_env({})
    with pytest.raises(SettingsError, match="IB_DLQ_URL"):
        IbProcessSettings.from_env({"METRICS_TABLE": "m", "IB_STATE_TABLE": "w"})


@pytest.mark.parametrize("cls", ALL_SETTINGS, ids=lambda c: c.__name__)
def test_to_env_is_what_from_env_reads_back(cls: type[Settings]) -> None:
    settings = cls.from_env(minimal(cls))
    assert cls.from_env(settings.to_env()) == settings
    assert set(settings.to_env()) <= {v.env for v in cls.variables()}


def test_values_are_typed_and_empty_means_unset() -> None:
    env = {
        **minimal(AiSettings),
        "IOPS_DETECTORS": " statistical , lstm ",
        "IOPS_ENRICHERS": "",
        "DASHBOARD_URL": "https://d/",
    }
    s = AiSettings.from_env({**env, "EVENT_BUS_NAME": "", "PREDICTION_LIMITS": '{"cpuUsage": 90}'})
    assert s.plugins.detectors == ("statistical", "lstm") and s.plugins.enrichers == ()
    assert s.event_bus is None and s.dashboard_url == "https://d"
    assert s.predictions.limits == {"cpuUsage": 90.0} and s.predictions.horizon_s == 12 * 3600
    assert AiSettings.from_env(minimal(AiSettings)).plugins.enrichers is None  # unset: every enricher
    assert (
        AiSettings.from_env({**minimal(AiSettings), "IOPS_DETECTORS": ""}).plugins.detectors
        == PluginSettings().detectors
    )
    assert AiSettings.from_env(minimal(AiSettings), anomaly_threshold=0.9).anomaly_threshold == 0.9


class FakeOutput:
    """What `to_env` needs of a Pulumi Output: ``apply`` (whose callback may return another Output)."""

    def __init__(self, value: object) -> None:
        self.value = value

    def apply(self, fn):
        out = fn(self.value)
        return out if isinstance(out, FakeOutput) else FakeOutput(out)


def test_to_env_takes_outputs_where_components_have_them() -> None:
    s = QuerySettings(
        metrics_table=FakeOutput("iops-dev-metrics"),
        allowed_origins=(FakeOutput("https://d.cloudfront.net"), "https://ops.example.com"),
        pagination=PaginationSettings(token_secret=FakeOutput("s3cret")),
    )
    env = s.to_env()
    assert {k: v.value for k, v in env.items()} == {
        "METRICS_TABLE": "iops-dev-metrics",
        "ALLOWED_ORIGINS": "https://d.cloudfront.net,https://ops.example.com",
        "PAGINATION_TOKEN_SECRET": "s3cret",
    }
    sim = IbSimulatorSettings(stream="s", interval_s=300, degradation_rate=0.02).to_env()
    assert (sim["SIM_INTERVAL_S"], sim["SIM_DEGRADATION_RATE"], sim["SIM_EVENTS_PER_MINUTE"]) == ("300", "0.02", "60")


def test_the_local_system_sets_every_functions_to_env() -> None:
    env = Emulator(endpoint="http://127.0.0.1:1", prefix="iops-local").environment()
    for key, settings in function_settings("iops-local", env).items():
        assert settings.to_env().items() <= env.items(), key
    ai = AiSettings.from_env(env)
    assert ai.insights_table == "iops-local-insights" and ai.patterns.table == "iops-local-correlation"
    assert ai.event_bus and QuerySettings.from_env(env).pagination.token_secret
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    tuned = function_settings("p", {"ANOMALY_THRESHOLD": "0.7", "IOPS_DETECTORS": "statistical"})
    assert tuned[AI_FN].anomaly_threshold == 0.7 and tuned[AI_FN].plugins.detectors == ("statistical",)
    assert {INGEST_FN, QUERY_FN, INSIGHTS_FN} <= set(tuned)
    with pytest.raises(ValueError, match="METRICS_TABLE"):
        function_environment(IngestSettings(metrics_table="a", counters_table="c"), QuerySettings(metrics_table="b"))


def test_prediction_and_pattern_groups_are_the_ai_functions() -> None:
    groups = {f.name: f.type for f in dataclasses.fields(AiSettings) if f.metadata.get("group")}
    assert groups == {
        "plugins": "PluginSettings",
        "predictions": "PredictionSettings",
        "patterns": "PatternSettings",
        "incidents": "IncidentSettings",
    }
    names = {v.env for v in AiSettings.variables()}
    for group in (PluginSettings, PredictionSettings, PatternSettings):
        assert {v.env for v in group.variables()} <= names
    assert json.loads(PredictionSettings().to_env()["PREDICTION_LIMITS"]) == PredictionSettings().limits


def test_only_settings_modules_read_the_environment() -> None:
    pattern = re.compile(r"os\.environ|os\.getenv|\bgetenv\(")
    readers = sorted(
        str(path.relative_to(ROOT))
        for package in ("handlers", "detectors", "components", "iops")
        for path in (ROOT / package).rglob("*.py")
        if pattern.search(path.read_text())
    )
    assert readers == ["iops/settings.py"]
