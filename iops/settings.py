"""Runtime settings: one typed class per Lambda function, read from the environment the stack sets.

Every field is declared once, with `var`: its environment variable, its type (the annotation)
and its default; a field without a default is required. Then, for each function's class:

- ``from_env()`` reads the variables and fails at once with a `SettingsError` that names every
  variable that is missing or invalid (no fallback to some stack's resource names);
- ``to_env()`` is the function's environment: what the components pass to the Lambda (values may
  be Pulumi Outputs there) and what `local/` and the tests put in the process environment, so the
  stack and the local system share one definition.

Defaults are written here and nowhere else in the Lambda code. A field that the stack sets from a
``Pulumi.yaml`` config key names it (``config=``), and ``tests/unit/test_settings.py`` checks that
the key's declared default is this one.

The AI function's settings are grouped (`PluginSettings`, `PredictionSettings`,
`PatternSettings`): the modules that use a group take that group, and the plugins read theirs
with ``PluginSettings.from_env()``. Nothing else in ``handlers/``, ``detectors/`` or
``components/`` reads ``os.environ``. Kept light (stdlib and the shared definitions): every Lambda
package imports it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Self

from iops_detector_sdk.severity import ENRICH_MIN_SEVERITY

from handlers.definitions import (
    AI_FN,
    CORRELATION,
    COUNTERS,
    DETECTOR_STATE,
    FEEDBACK,
    IB_EVENTS,
    IB_PROCESS_FN,
    IB_SIMULATOR_FN,
    IB_WINDOWS,
    INCIDENT_SWEEPER_FN,
    INCIDENTS,
    INGEST_FN,
    INSIGHTS,
    INSIGHTS_FN,
    METRICS,
    QUERY_FN,
    SILENCES,
)

DEFAULT_ANOMALY_THRESHOLD = 0.5273
"""The default detectors' cross-validated threshold (docs/detection.md); Pulumi.yaml's ``anomalyThreshold``."""
DEFAULT_DETECTORS = ("statistical", "contextual", "lstm")
"""The detectors the AI function runs unless told otherwise (Pulumi.yaml's ``detectors``)."""
DEFAULT_BEDROCK_MODEL_ID = "anthropic.claude-3-5-haiku-20241022-v1:0"
"""Pulumi.yaml's ``bedrockModelId``."""
DEFAULT_ENRICH_MAX_CALLS = 10
"""Most enricher calls per AI invocation (``enrichMaxCalls``)."""
LOOKBACK_WINDOWS = 5
"""How far back (in pattern windows) a batch reads a correlation group, so a cluster that grew slowly is seen whole."""

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """Variables missing or invalid; the message names every one of them."""

    def __init__(self, settings: str, problems: list[str]) -> None:
        super().__init__(f"{settings}: " + "; ".join(problems))
        self.problems = problems


def var(
    name: str,
    default: Any = dataclasses.MISSING,
    *,
    config: str | None = None,
    blank: bool = False,
    doc: str = "",
) -> Any:
    """A settings field read from the environment variable ``name``.

    ``config`` is the Pulumi.yaml key the stack sets it from (its default must be this one).
    An empty value counts as unset, unless ``blank``: then it is the empty list.
    """
    metadata = {"env": name, "config": config, "blank": blank, "doc": doc}
    if isinstance(default, dict):
        frozen = dict(default)
        return dataclasses.field(default_factory=lambda: dict(frozen), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def group(cls: type[Settings], *, required: bool = False) -> Any:
    """A field holding another settings class, whose variables are this function's too."""
    metadata = {"group": True}
    if required:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default_factory=cls, metadata=metadata)


@dataclasses.dataclass(frozen=True, slots=True)
class Variable:
    """One environment variable of a settings class, as `Settings.variables` lists them."""

    env: str
    field: str
    kind: Any
    """The field's type (``int``, ``tuple[str, ...]``, ``str | None``...)."""
    default: Any
    """The default value, or `dataclasses.MISSING` for a required variable."""
    config: str | None
    doc: str

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING


def _base(kind: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); X -> (X, False)."""
    if typing.get_origin(kind) in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return kind, False


def _decode(kind: Any, raw: str) -> Any:
    if kind is str:
        return raw
    if kind is bool:
        low = raw.strip().lower()
        if low in TRUE:
            return True
        if low in FALSE:
            return False
        raise ValueError("expected true or false")
    if kind is int:
        return int(raw)
    if kind is float:
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError("expected a finite number")
        return value
    if kind == tuple[str, ...]:
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    if kind == dict[str, float]:
        obj = json.loads(raw)
        if not isinstance(obj, dict):
            raise ValueError("expected a JSON object")
        return {str(k): float(v) for k, v in obj.items()}
    raise TypeError(f"settings cannot read {kind!r}")


def _encode(kind: Any, value: Any) -> str:
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(int(value))
    if kind is float:
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if kind == tuple[str, ...]:
        return ",".join(str(v) for v in value)
    if kind == dict[str, float]:
        return json.dumps({str(k): float(v) for k, v in dict(value).items()})
    return str(value)


def _is_output(value: Any) -> bool:
    """A Pulumi Output (anything with ``apply`` that is not a plain value); pulumi is never imported here."""
    return callable(getattr(value, "apply", None)) and not isinstance(value, str | int | float | tuple | list | dict)


def _lifted(values: list[Any], fn: Callable[[list[Any]], str]) -> Any:
    """``fn(values)``, or an Output of it when some values are Outputs (an ``apply`` returning an
    Output is flattened by Pulumi, so nested applies need no ``Output.all``)."""
    for i, value in enumerate(values):
        if _is_output(value):
            return value.apply(lambda resolved, i=i: _lifted([*values[:i], resolved, *values[i + 1 :]], fn))
    return fn(values)


class Settings:
    """Base of every settings class (each a frozen, keyword-only dataclass of `var`/`group` fields)."""

    __slots__ = ()

    @classmethod
    def variables(cls) -> list[Variable]:
        """Every environment variable this class reads, its groups' included, in field order."""
        out: list[Variable] = []
        for f, kind in _fields(cls):
            if f.metadata.get("group"):
                out.extend(kind.variables())
                continue
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            out.append(Variable(f.metadata["env"], f.name, kind, default, f.metadata["config"], f.metadata["doc"]))
        return out

    @classmethod
    def env_name(cls, field_name: str) -> str:
        """The environment variable of field ``field_name`` (of this class, not of its groups)."""
        for f, _ in _fields(cls):
            if f.name == field_name and "env" in f.metadata:
                return f.metadata["env"]
        raise KeyError(f"{cls.__name__} has no variable field {field_name!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **values: Any) -> Self:
        """The settings in ``environ`` (default: ``os.environ``); fields given in ``values`` are not read.

        Raises `SettingsError` naming every variable that is missing or invalid (its groups' too).
        """
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        problems: list[str] = []
        for f, kind in _fields(cls):
            if f.name in values:
                kwargs[f.name] = values[f.name]
                continue
            if f.metadata.get("group"):
                try:
                    kwargs[f.name] = kind.from_env(env)
                except SettingsError as exc:
                    problems.extend(exc.problems)
                continue
            name = f.metadata["env"]
            raw = env.get(name)
            if raw is None or (raw.strip() == "" and not f.metadata["blank"]):
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    problems.append(f"{name} is not set")
                continue  # the dataclass default
            base, _ = _base(kind)
            try:
                kwargs[f.name] = _decode(base, raw)
            except (ValueError, TypeError) as exc:
                problems.append(f"{name}={raw!r} is invalid ({exc})")
        unknown = set(values) - {f.name for f, _ in _fields(cls)}
        if unknown:
            raise TypeError(f"{cls.__name__} has no fields {sorted(unknown)}")
        if problems:
            raise SettingsError(cls.__name__, problems)
        return cls(**kwargs)

    def to_env(self) -> dict[str, Any]:
        """The environment that makes ``from_env()`` return these settings (fields that are None are left out).

        Values are strings, or Pulumi Outputs of strings where a field holds Outputs (components).
        """
        env: dict[str, Any] = {}
        for f, kind in _fields(type(self)):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.metadata.get("group"):
                env.update(value.to_env())
                continue
            base, _ = _base(kind)
            if base == tuple[str, ...]:
                env[f.metadata["env"]] = _lifted(list(value), lambda vs, b=base: _encode(b, vs))
            else:
                env[f.metadata["env"]] = _lifted([value], lambda vs, b=base: _encode(b, vs[0]))
        return env


@cache
def _fields(cls: type) -> tuple[tuple[dataclasses.Field, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f, hints[f.name]) for f in dataclasses.fields(cls))


# --- groups of the AI function's settings -------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class PluginSettings(Settings):
    """What the plugin manager loads and the AI function runs (`detectors.plugins` and the built-in plugins)."""

    plugins: tuple[str, ...] | None = var("IOPS_PLUGINS", None, doc="plugins that load (default: every installed one)")
    detectors: tuple[str, ...] = var("IOPS_DETECTORS", DEFAULT_DETECTORS, config="detectors")
    weights: dict[str, float] = var(
        "IOPS_DETECTOR_WEIGHTS",
        {},
        config="detectorWeights",
        doc="JSON object detector -> weight in the combination (default 1 each; 0 mutes one)",
    )
    enrichers: tuple[str, ...] | None = var(
        "IOPS_ENRICHERS", None, blank=True, doc="enrichers that run (default: every loaded one; empty: none)"
    )
    lstm_model: str | None = var("IOPS_LSTM_MODEL", None, doc="the lstm detector's artifact (default: the shipped one)")
    sagemaker_endpoint: str | None = var("SAGEMAKER_ENDPOINT_NAME", None, doc="unset: the built-in LSTM")
    bedrock_enabled: bool = var(
        "BEDROCK_ENABLED",
        False,
        doc="off unless the stack turns it on (Pulumi.yaml's bedrockEnabled, default true): local runs never call Bedrock",
    )
    bedrock_model_id: str = var("BEDROCK_MODEL_ID", DEFAULT_BEDROCK_MODEL_ID, config="bedrockModelId")


@dataclasses.dataclass(frozen=True, kw_only=True)
class PredictionSettings(Settings):
    """Capacity predictions (`iops.logic.predictions`)."""

    limits: dict[str, float] = var(
        "PREDICTION_LIMITS",
        {"memoryUsage": 95.0, "diskUsage": 95.0, "cpuUsage": 98.0, "ibLatencyUs": 5.0},
        config="predictionLimits",
        doc="JSON object metric -> the limit a forecast crossing of which is an insight",
    )
    horizon_hours: float = var("PREDICTION_HORIZON_HOURS", 12.0, config="predictionHorizonHours")
    every_points: int = var("FORECAST_EVERY_POINTS", 10, config="forecastEveryPoints")

    @property
    def horizon_s(self) -> float:
        return self.horizon_hours * 3600


@dataclasses.dataclass(frozen=True, kw_only=True)
class PatternSettings(Settings):
    """Pattern insights across series (`iops.logic.patterns`)."""

    table: str = var(CORRELATION.env_var, doc="the correlation table")
    window_s: float = var("PATTERN_WINDOW_SECONDS", 120.0, config="patternWindowSeconds")
    min_hosts: int = var("PATTERN_MIN_HOSTS", 3, config="patternMinHosts")

    @property
    def ttl_s(self) -> int:
        """Correlation items live a little longer than anything still reads them."""
        return int(max(3600, 2 * LOOKBACK_WINDOWS * self.window_s))


@dataclasses.dataclass(frozen=True, kw_only=True)
class IncidentSettings(Settings):
    """Incidents, their notifications, silences and feedback (`iops.logic.incidents`, `iops.logic.feedback`)."""

    table: str = var(INCIDENTS.env_var, doc="the incidents table")
    silences_table: str = var(SILENCES.env_var)
    feedback_table: str = var(FEEDBACK.env_var)
    quiet_minutes: float = var(
        "INCIDENT_QUIET_MINUTES", 15.0, config="incidentQuietMinutes", doc="no new insight this long: resolved"
    )
    repeat_hours: float = var(
        "INCIDENT_REPEAT_HOURS", 4.0, config="incidentRepeatHours", doc="reminders while open and not acknowledged"
    )
    ttl_days: int = var("INCIDENT_TTL_DAYS", 180, doc="resolved incidents are kept this long")

    @property
    def quiet_ms(self) -> int:
        return int(self.quiet_minutes * 60_000)

    @property
    def repeat_ms(self) -> int:
        return int(self.repeat_hours * 3_600_000)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PaginationSettings(Settings):
    """The secret that signs the read APIs' ``nextToken``s (`iops.dal.pagination`)."""

    token_secret: str | None = var(
        "PAGINATION_TOKEN_SECRET", None, doc="unset: a random key per process (tokens valid in that process only)"
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class RuntimeSettings(Settings):
    """What Lambda (and the stack, for every function) sets on every function: read, never written here."""

    service_name: str | None = var("POWERTOOLS_SERVICE_NAME", None, doc="the stack sets the function's name")
    log_level: str = var(
        "POWERTOOLS_LOG_LEVEL", "INFO", doc="the stack sets its logLevel; Powertools' Logger reads it (iops.logs)"
    )
    function_name: str | None = var("AWS_LAMBDA_FUNCTION_NAME", None)


# --- one class per function ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class ApiSettings(Settings):
    """What every function behind the REST API has (`handlers.api.build_resolver`)."""

    allowed_origins: tuple[str, ...] = var(
        "ALLOWED_ORIGINS",
        ("*",),
        doc="the stack always sets it (the dashboard's origin, then allowedOrigins; never *): * is iops local's",
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class IngestSettings(ApiSettings):
    """The ingest function (``POST /metrics``, `handlers.ingest`)."""

    metrics_table: str = var(METRICS.env_var)
    metrics_ttl_days: int = var("METRICS_TTL_DAYS", 90, config="metricsTtlDays")
    max_metrics_per_request: int = var("MAX_METRICS_PER_REQUEST", 500, config="maxMetricsPerRequest")
    counters_table: str = var(COUNTERS.env_var)
    """Each cumulative counter's last reading (OTLP sums, Prometheus counters): `iops.dal.counters`."""
    firehose_key_secret_arn: str | None = var(
        "FIREHOSE_KEY_SECRET_ARN",
        None,
        doc='the secret ({"api_key": ...}) Firehose sends in X-Amz-Firehose-Access-Key (metricStreamNamespaces)',
    )
    firehose_access_key: str | None = var(
        "FIREHOSE_ACCESS_KEY",
        None,
        doc="the key itself, iops local's only (the stack keeps it in the secret); neither set: the route refuses all",
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class QuerySettings(ApiSettings):
    """The query function (``GET /metrics``, ``GET /openapi.json``, `handlers.query`)."""

    metrics_table: str = var(METRICS.env_var)
    pagination: PaginationSettings = group(PaginationSettings)


@dataclasses.dataclass(frozen=True, kw_only=True)
class InsightsApiSettings(ApiSettings):
    """The insights function (``GET /insights...``, `handlers.insights_api`)."""

    insights_table: str = var(INSIGHTS.env_var)
    pagination: PaginationSettings = group(PaginationSettings)
    incidents: IncidentSettings = group(IncidentSettings, required=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AiSettings(Settings):
    """The AI function (metrics stream -> detectors -> insights -> alerts, `handlers.ai`)."""

    insights_table: str = var(INSIGHTS.env_var)
    state_table: str = var(DETECTOR_STATE.env_var)
    metrics_table: str | None = var(
        METRICS.env_var,
        None,
        doc="where points since a state checkpoint are read back; unset: state written every batch",
    )
    checkpoint_points: int = var(
        "STATE_CHECKPOINT_POINTS",
        15,
        config="stateCheckpointPoints",
        doc="a series' state is written once this many points were scored since it was last written",
    )
    checkpoint_seconds: int = var(
        "STATE_CHECKPOINT_SECONDS",
        900,
        config="stateCheckpointSeconds",
        doc="... or once its newest point is this much newer than the written state's",
    )
    insights_ttl_days: int = var("INSIGHTS_TTL_DAYS", 180, config="insightsTtlDays")
    anomaly_threshold: float = var("ANOMALY_THRESHOLD", DEFAULT_ANOMALY_THRESHOLD, config="anomalyThreshold")
    event_bus: str | None = var("EVENT_BUS_NAME", None, doc="unset: insights are stored, not alerted")
    dashboard_url: str | None = var("DASHBOARD_URL", None, doc="alerts link to the insight there")
    enrich_min_severity: str = var("ENRICH_MIN_SEVERITY", ENRICH_MIN_SEVERITY, config="enrichMinSeverity")
    enrich_max_calls: int = var("ENRICH_MAX_CALLS", DEFAULT_ENRICH_MAX_CALLS, config="enrichMaxCalls")
    plugins: PluginSettings = group(PluginSettings)
    predictions: PredictionSettings = group(PredictionSettings)
    patterns: PatternSettings = group(PatternSettings, required=True)
    incidents: IncidentSettings = group(IncidentSettings, required=True)

    def __post_init__(self) -> None:
        if isinstance(self.dashboard_url, str):
            object.__setattr__(self, "dashboard_url", self.dashboard_url.rstrip("/") or None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class IncidentSweeperSettings(Settings):
    """The incident sweeper (every minute: auto-resolve, reminders, pending notifications, `handlers.incident_sweeper`)."""

    event_bus: str | None = var("EVENT_BUS_NAME", None, doc="unset: incidents are resolved, nobody is notified")
    dashboard_url: str | None = var("DASHBOARD_URL", None, doc="notifications link to the incident there")
    incidents: IncidentSettings = group(IncidentSettings, required=True)

    def __post_init__(self) -> None:
        if isinstance(self.dashboard_url, str):
            object.__setattr__(self, "dashboard_url", self.dashboard_url.rstrip("/") or None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class IbProcessSettings(Settings):
    """The InfiniBand process function (Kinesis -> per-minute metrics, `handlers.ib_process`)."""

    metrics_table: str = var(METRICS.env_var)
    state_table: str = var(IB_WINDOWS.env_var)
    dlq_url: str = var("IB_DLQ_URL", doc="where invalid records go")
    metrics_ttl_days: int = var("METRICS_TTL_DAYS", 90, config="metricsTtlDays")
    lateness_s: float = var("IB_LATENESS_S", 30.0, config="ibLatenessS")
    max_future_s: float = var("IB_MAX_FUTURE_S", 300.0, doc="events stamped further ahead are invalid")


@dataclasses.dataclass(frozen=True, kw_only=True)
class IbSimulatorSettings(Settings):
    """The InfiniBand simulator function (`handlers.ib_simulator`)."""

    stream: str = var(IB_EVENTS.env_var)
    interval_s: float = var("SIM_INTERVAL_S", 60.0, doc="the schedule's period (simulatorSchedule)")
    streams: int = var("SIM_STREAMS", 8, config="simulatorStreams")
    events_per_minute: float = var("SIM_EVENTS_PER_MINUTE", 60.0, config="simulatorEventsPerMinute")
    seed: int = var("SIM_SEED", 0)
    degradation_rate: float = var("SIM_DEGRADATION_RATE", 0.02, config="simulatorDegradationRate")


FUNCTION_SETTINGS: dict[str, type[Settings]] = {
    INGEST_FN: IngestSettings,
    QUERY_FN: QuerySettings,
    INSIGHTS_FN: InsightsApiSettings,
    AI_FN: AiSettings,
    IB_PROCESS_FN: IbProcessSettings,
    IB_SIMULATOR_FN: IbSimulatorSettings,
    INCIDENT_SWEEPER_FN: IncidentSweeperSettings,
}
"""Function key (`handlers.definitions`) -> its settings class."""
