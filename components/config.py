"""The stack's configuration, typed, with every default taken from ``Pulumi.yaml``.

``Pulumi.yaml`` is the one place a key is declared (type, default, description); `StackConfig`
has one typed attribute per key (`Key`), and reading a key that is not declared there is an error,
so the program and its documentation cannot drift (tests/unit/test_settings.py checks both ways).

`BuildSettings` is the build's own environment (how `components.artifacts` packages the code).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import pulumi
import yaml

from iops.settings import Settings, var

PROJECT_FILE = Path(__file__).resolve().parents[1] / "Pulumi.yaml"
T = TypeVar("T", covariant=True)


@cache
def declared() -> dict[str, dict[str, Any]]:
    """Config keys declared in Pulumi.yaml: name -> {type, default, description}."""
    return yaml.safe_load(PROJECT_FILE.read_text())["config"]


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value]


def _limits(value: Any) -> dict[str, float]:
    """A JSON object (a string in Pulumi.yaml and on the command line) of name -> number."""
    obj = json.loads(value) if isinstance(value, str) else dict(value)
    return {str(k): float(v) for k, v in obj.items()}


def _optional_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")
TRACING_MODES = ("Active", "PassThrough")


def _log_level(value: Any) -> str:
    level = str(value).upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"config logLevel must be one of {LOG_LEVELS}, got {value!r}")
    return level


def _system_log_level(value: Any) -> str:
    level = str(value).upper()
    if level not in SYSTEM_LOG_LEVELS:
        raise ValueError(f"config lambdaSystemLogLevel must be one of {SYSTEM_LOG_LEVELS}, got {value!r}")
    return level


def _tracing_mode(value: Any) -> str:
    if value not in TRACING_MODES:
        raise ValueError(f"config lambdaTracingMode must be one of {TRACING_MODES}, got {value!r}")
    return str(value)


def _share(value: Any) -> float:
    share = float(value)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"expected a share between 0 and 1, got {value!r}")
    return share


MFA_MODES = {"off": "OFF", "optional": "OPTIONAL", "on": "ON", "false": "OFF", "true": "ON"}
"""``mfa`` -> the user pool's MfaConfiguration (YAML reads a bare ``off``/``on`` as a boolean: accepted)."""


def _mfa(value: Any) -> str:
    mode = MFA_MODES.get(str(value).lower())
    if mode is None:
        raise ValueError(f"config mfa must be off, optional or on, got {value!r}")
    return mode


def _names(value: Any) -> list[str]:
    """A list of distinct, non-empty names (writers, users): a duplicate would be two resources of one name."""
    names = _strings(value)
    if not all(n.strip() for n in names) or len(set(names)) != len(names):
        raise ValueError(f"expected distinct non-empty names, got {names}")
    return names


class Key(Generic[T]):
    """One ``Pulumi.yaml`` config key as a typed attribute of `StackConfig`: ``parse`` makes its value."""

    def __init__(self, key: str, parse: Callable[[Any], T]) -> None:
        self.key = key
        self.parse = parse

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Key[T]: ...
    @overload
    def __get__(self, obj: StackConfig, owner: type | None = None) -> T: ...
    def __get__(self, obj: StackConfig | None, owner: type | None = None) -> Key[T] | T:
        if obj is None:
            return self
        return self.parse(obj.get(self.key))


class StackConfig:
    """Typed access to the project's config: one attribute per key of ``Pulumi.yaml``."""

    # Ingest tier
    api_throttle_rate_limit = Key("apiThrottleRateLimit", int)
    api_throttle_burst_limit = Key("apiThrottleBurstLimit", int)
    ingest_memory_mb = Key("ingestMemoryMb", int)
    ingest_timeout_s = Key("ingestTimeoutS", int)
    ingest_reserved_concurrency = Key("ingestReservedConcurrency", int)
    query_memory_mb = Key("queryMemoryMb", int)
    query_timeout_s = Key("queryTimeoutS", int)
    query_reserved_concurrency = Key("queryReservedConcurrency", int)
    insights_reserved_concurrency = Key("insightsReservedConcurrency", int)
    max_metrics_per_request = Key("maxMetricsPerRequest", int)
    metrics_ttl_days = Key("metricsTtlDays", int)
    allowed_origins = Key("allowedOrigins", _strings)
    log_retention_days = Key("logRetentionDays", int)
    log_level = Key("logLevel", _log_level)
    lambda_system_log_level = Key("lambdaSystemLogLevel", _system_log_level)
    api_detailed_metrics = Key("apiDetailedMetrics", bool)
    lambda_tracing_mode = Key("lambdaTracingMode", _tracing_mode)
    xray_sampling_rate = Key("xraySamplingRate", _share)
    xray_reservoir_per_second = Key("xrayReservoirPerSecond", int)
    # AI tier
    ai_memory_mb = Key("aiMemoryMb", int)
    ai_timeout_s = Key("aiTimeoutS", int)
    ai_reserved_concurrency = Key("aiReservedConcurrency", int)
    stream_batch_size = Key("streamBatchSize", int)
    stream_batching_window_s = Key("streamBatchingWindowS", int)
    stream_max_retries = Key("streamMaxRetries", int)
    insights_ttl_days = Key("insightsTtlDays", int)
    anomaly_threshold = Key("anomalyThreshold", float)
    detectors = Key("detectors", _strings)
    detector_weights = Key("detectorWeights", _limits)
    extra_detector_packages = Key("extraDetectorPackages", _strings)
    enrich_min_severity = Key("enrichMinSeverity", str)
    enrich_max_calls = Key("enrichMaxCalls", int)
    state_checkpoint_points = Key("stateCheckpointPoints", int)
    state_checkpoint_seconds = Key("stateCheckpointSeconds", int)
    prediction_limits = Key("predictionLimits", _limits)
    prediction_horizon_hours = Key("predictionHorizonHours", int)
    forecast_every_points = Key("forecastEveryPoints", int)
    pattern_window_seconds = Key("patternWindowSeconds", int)
    pattern_min_hosts = Key("patternMinHosts", int)
    bedrock_enabled = Key("bedrockEnabled", bool)
    bedrock_model_id = Key("bedrockModelId", str)
    # Who may do what
    writers = Key("writers", _names)
    writer_rate_limit = Key("writerRateLimit", int)
    writer_burst_limit = Key("writerBurstLimit", int)
    writer_quota_per_day = Key("writerQuotaPerDay", int)
    dashboard_users = Key("dashboardUsers", _names)
    mfa = Key("mfa", _mfa)
    """The user pool's MfaConfiguration: OFF, OPTIONAL or ON."""
    waf_enabled = Key("wafEnabled", bool)
    waf_rate_limit = Key("wafRateLimit", int)
    # CloudWatch Metric Streams (docs/ingest.md)
    metric_stream_namespaces = Key("metricStreamNamespaces", _names)
    # Alerting tier
    alert_emails = Key("alertEmails", _strings)
    alert_sms_numbers = Key("alertSmsNumbers", _strings)
    alert_webhooks = Key("alertWebhooks", _strings)
    alert_min_risk_score = Key("alertMinRiskScore", int)
    incident_quiet_minutes = Key("incidentQuietMinutes", int)
    incident_repeat_hours = Key("incidentRepeatHours", int)
    incident_sweeper_reserved_concurrency = Key("incidentSweeperReservedConcurrency", int)
    # Streaming tier
    streaming_enabled = Key("streamingEnabled", bool)
    kinesis_shard_count = Key("kinesisShardCount", int)
    kinesis_retention_hours = Key("kinesisRetentionHours", int)
    kinesis_parallelization_factor = Key("kinesisParallelizationFactor", int)
    kinesis_batch_size = Key("kinesisBatchSize", int)
    kinesis_max_retries = Key("kinesisMaxRetries", int)
    ib_lateness_s = Key("ibLatenessS", int)
    process_memory_mb = Key("processMemoryMb", int)
    process_reserved_concurrency = Key("processReservedConcurrency", int)
    simulator_reserved_concurrency = Key("simulatorReservedConcurrency", int)
    simulator_enabled = Key("simulatorEnabled", _optional_bool)
    """None (unset): only on the dev stack."""
    simulator_schedule = Key("simulatorSchedule", str)
    simulator_streams = Key("simulatorStreams", int)
    simulator_events_per_minute = Key("simulatorEventsPerMinute", int)
    simulator_degradation_rate = Key("simulatorDegradationRate", float)
    # Observability tier
    monthly_budget_usd = Key("monthlyBudgetUsd", int)
    ops_alert_emails = Key("opsAlertEmails", _strings)
    alarm_email = Key("alarmEmail", str)
    error_rate_threshold_pct = Key("errorRateThresholdPct", int)
    duration_threshold_ms = Key("durationThresholdMs", int)
    api5xx_threshold = Key("api5xxThreshold", int)
    iterator_age_threshold_ms = Key("iteratorAgeThresholdMs", int)
    # ML training tier
    ml_enabled = Key("mlEnabled", bool)
    sagemaker_endpoint_enabled = Key("sagemakerEndpointEnabled", bool)
    sagemaker_model_data_url = Key("sagemakerModelDataUrl", str)
    sagemaker_image_uri = Key("sagemakerImageUri", str)
    sagemaker_instance_type = Key("sagemakerInstanceType", str)
    sagemaker_min_instances = Key("sagemakerMinInstances", int)
    sagemaker_max_instances = Key("sagemakerMaxInstances", int)
    sagemaker_business_hours_only = Key("sagemakerBusinessHoursOnly", bool)
    # Dashboard site tier
    dashboard_enabled = Key("dashboardEnabled", bool)
    dashboard_price_class = Key("dashboardPriceClass", str)

    def __init__(self, config: pulumi.Config | None = None) -> None:
        self._config = config or pulumi.Config()
        self.read: set[str] = set()

    @classmethod
    def keys(cls) -> dict[str, Key]:
        """Attribute name -> `Key`, for every config key."""
        return {name: value for name, value in vars(cls).items() if isinstance(value, Key)}

    def get(self, key: str) -> Any:
        """The value of ``key`` as its declared type (integer, boolean, array, string), or its default."""
        spec = declared().get(key)
        if spec is None:
            raise KeyError(f"config key {key!r} is not declared in Pulumi.yaml")
        self.read.add(key)
        raw = self._config.get(key)
        if raw is None:
            return spec.get("default")
        kind = spec.get("type", "string")
        if kind == "integer":
            return int(raw)
        if kind == "boolean":
            return str(raw).lower() in ("true", "1", "yes")
        if kind == "array":
            return list(json.loads(raw)) if raw.strip().startswith("[") else [v for v in raw.split(",") if v]
        return raw

    @property
    def stack(self) -> str:
        return pulumi.get_stack()

    @property
    def prefix(self) -> str:
        """Prefix of every physical resource name: one stack, one namespace."""
        return f"iops-{self.stack}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class BuildSettings(Settings):
    """How ``pulumi up`` (and the tests) build the Lambda packages."""

    with_deps: bool = var(
        "IOPS_ARTIFACT_DEPS", True, doc="0: package the sources only, no dependencies (the infra tests under mocks)"
    )
    lambda_python: str = var(
        "IOPS_LAMBDA_PYTHON",
        "",
        doc="An interpreter of the Lambda runtime's Python (3.12) to compile the packages' bytecode with "
        "(default: python3.12 on PATH; none: sources only)",
    )
    pyenv_root: str = var("PYENV_ROOT", "", doc="pyenv's interpreters are looked for there too (default ~/.pyenv)")
