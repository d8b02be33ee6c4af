"""Monthly bill of one stack for a fleet, itemised per service, from AWS's public unit prices.

Pure functions over three inputs: the fleet (`Fleet`), the stack's shape (`StackShape`), and
workload assumptions (`Assumptions`, each one documented where it is declared). Prices live in
``prices.json`` beside this module, with the date and region they were published for. A month is
730 hours, as AWS bills.

The stack's shape is read from what the program itself reads: config keys and their defaults
from ``Pulumi.yaml`` + ``Pulumi.<stack>.yaml`` (`StackShape.from_config`), the functions, tables,
queues and per-table DynamoDB operations from `handlers.definitions` (so the alarm count follows
`components.observability`), and the settings the components fix in code (the simulator's memory,
the Kinesis batching window, the SageMaker scaling target, API Gateway's detailed metrics).

What the stack does per metric point is the model (`Workload`): one host sample (all of a host's
metrics at one instant) is one Metrics item and one stream record; every series (host x metric) then
costs one detector-state read and one write per stream batch it appears in, and the state item is
about 2 KB (two write units), so that write is usually the largest single DynamoDB cost.
`estimate` prices the workload one service at a time (`SERVICES`).
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from handlers.definitions import (
    DEAD_LETTER_QUEUES,
    FUNCTIONS,
    INCIDENTS,
    INSIGHTS,
    ROUTES,
    SIMULATOR_FUNCTIONS,
    STREAM_CONSUMERS,
    STREAMING_DEAD_LETTER_QUEUES,
    STREAMING_FUNCTIONS,
    STREAMING_TABLES,
    TABLES,
    Table,
    simulator_interval_s,
)
from iops.logic.feedback import RULES_TTL_S
from iops.logic.ib_events import IbEvent, Window
from iops.telemetry import METRICS as EMF_METRICS
from iops.telemetry import SEVERITIES

PRICES_FILE = Path(__file__).with_name("prices.json")
ROOT = Path(__file__).resolve().parents[1]
HOURS = 730.0
MONTH_S = HOURS * 3600
DAYS = HOURS / 24
POLL_INTERVAL_S = 5.0
"""The web dashboard polls ``GET /insights/recent?limit=50`` every 5 s (dashboard/src/lib/polling.ts)."""
POLL_LIMIT = 50
BUSINESS_HOURS = 12 * 5 * 52 / 12
"""Weekdays 08:00-20:00, per month (the SageMaker business-hours schedule)."""
API_DETAILED_METRICS_PER_METHOD = 5
"""Count, 4XXError, 5XXError, Latency, IntegrationLatency per method: billed as custom metrics."""
ON_DEMAND_SHARDS = 4
"""An on-demand Kinesis stream starts with 4 MB/s of write capacity, i.e. 4 shards the mapping polls."""


def _ib_metrics_per_minute() -> int:
    """Metrics in one aggregated InfiniBand minute item (iops.logic.ib_events.Window.values)."""
    window = Window()
    window.add(IbEvent("ib", 0, 1.0, 1.0))
    return len(window.values())


IB_METRICS = _ib_metrics_per_minute()


@cache
def prices() -> dict[str, Any]:
    return json.loads(PRICES_FILE.read_text())


@dataclass(frozen=True)
class Fleet:
    hosts: int = 100
    metrics_per_host: int = 4
    """Numeric metrics per sample (cpuUsage, memoryUsage, diskIO, networkIO)."""
    interval_s: float = 60.0
    samples_per_request: int = 1
    """Host samples per POST /metrics: 1 when every host posts its own; up to 500 via a collector."""
    insights_per_host_day: float = 1.0
    alert_share: float = 0.25
    """Share of insights that are HIGH or CRITICAL (EventBridge -> SNS)."""
    email_subscribers: int = 1
    viewers: int = 1
    """Web dashboards open at once, each polling every 5 s."""
    viewer_hours: float = HOURS
    """Hours per month each viewer's dashboard is open (730 = a wall screen that never closes)."""
    ib_streams: int = 0
    """InfiniBand streams sending events through Kinesis (counted only when the stack has the streaming tier)."""
    ib_events_per_minute: float = 60.0
    """Events per InfiniBand stream per minute."""
    sagemaker: bool = False
    bedrock_calls: int = 0
    """Enricher calls per month (capped by enrichMaxCalls per AI invocation in the stack)."""
    free_tier: bool = False
    """Subtract AWS free-tier allowances (some only for an account's first 12 months)."""
    counter_metrics_per_host: int = 0
    """Of ``metrics_per_host``, those sent as cumulative counters (OTLP sums, Prometheus counters):
    each costs a read and a write of the counters table per sample (`iops.dal.counters`)."""
    metric_stream_metrics: int = 0
    """CloudWatch metrics the metric stream sends (stacks with ``metricStreamNamespaces``), one update a minute each."""


@dataclass(frozen=True)
class Assumptions:
    """Workload figures that are not prices. Sizes in bytes, durations in billed milliseconds."""

    ingest_ms: float = 40.0
    """One POST /metrics: validation + one BatchWriteItem round trip (~10 ms) + Powertools."""
    query_ms: float = 60.0
    """One dashboard poll: a 50-item GSI query and JSON encoding."""
    ai_base_ms: float = 60.0
    """Per AI invocation: state BatchGet + BatchWrite round trips, insight writes."""
    ai_ms_per_series_point: float = 0.3
    """Detector scoring per (series, point) with the statistical detector."""
    state_codec_ms: float = 3.0
    """Decoding and encoding one series' state per batch (`iops.dal.detector_state`, JSON included):
    1.0 + 1.8 ms for the statistical detector's, about 5 ms for prod's three, as ``iops cost
    --state-size`` measured them on a shared 2-core machine (zlib of the JSON took 0.3 ms)."""
    metric_item_overhead_bytes: int = 60
    """hostname, timestamp, ttl attributes (names + values)."""
    bytes_per_metric: int = 20
    state_bytes: int | None = None
    """Detector-state item size; None = measure it by running the enabled detectors (`measure_state_bytes`)."""
    sample_decimals: int = 2
    """Decimals of the values agents report (node exporter, CloudWatch and OTLP gauges are rounded
    or integral); the measured state stores the recent values as given."""
    insight_bytes: int = 1500
    lambda_platform_log_bytes: int = 400
    """START, END and REPORT lines (REPORT carries the X-Ray trace id)."""
    ingest_app_log_bytes: int = 650
    """The INFO "ingest" line with Lambda context and correlation id."""
    emf_bytes_per_ingest: int = 420
    ai_app_log_bytes: int = 800
    """The INFO "batch" line per AI invocation."""
    emf_bytes_per_detector: int = 420
    emf_bytes_per_ai_batch: int = 300
    """The AI batch's own EMF document (LatePoints, DetectorsMissing), beside one per detector."""
    access_log_bytes: int = 360
    """One JSON API Gateway access log line (components/api.py ACCESS_LOG_FORMAT)."""
    log_storage_ratio: float = 0.15
    """CloudWatch Logs bills stored data compressed."""
    lambda_default_xray_reservoir_per_s: float = 1.0
    lambda_default_xray_rate: float = 0.05
    """What an Active function samples of runs nothing upstream sampled (stream, schedule): AWS's fixed
    1 per second + 5 %, which no sampling rule changes."""
    sweeper_ms: float = 80.0
    """One incident-sweeper run: a query of open incidents (usually none), the due notices."""
    incident_bytes: int = 1200
    """One incident item (members, hosts, times), written with its 2 index copies."""
    counter_item_bytes: int = 120
    """A counter series' last reading (series key, value, time, ttl)."""
    metric_stream_update_bytes: int = 600
    """One metric update in the stream's JSON output format (a Firehose record is billed as 5 KB at least)."""
    artifact_gb: float = 0.15
    """Lambda code packages in the code bucket (the AI package is ~63 MB zipped)."""
    training_hours: float = 0.5
    """One retraining per month on ml.m5.xlarge when SageMaker is on."""
    bedrock_input_tokens: int = 800
    bedrock_output_tokens: int = 300
    ib_event_bytes: int = 166
    """One simulator event as JSON (median, measured); Kinesis on-demand bills each record as 1 KB."""
    ib_state_bytes: int = 600
    """A stream's window-state item: at most 458 bytes of state JSON seen over 10 minutes at 60
    events/min (iops.logic.ib_events.StreamState), plus key, version and ttl."""
    process_ms: float = 40.0
    """One process Lambda batch (benchmarks/ib_aggregation.py: 40.5 ms per 100 events on moto)."""
    simulator_ms: float = 300.0
    """One scheduled simulator run: generate a minute of events, PutRecords."""
    ib_app_log_bytes: int = 300
    """The process Lambda's INFO line per batch."""


DEFAULT_ASSUMPTIONS = Assumptions()


# --- The stack's shape ------------------------------------------------------------------------


def stack_config(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """Pulumi.yaml defaults overlaid with Pulumi.<stack>.yaml, keys without the project prefix."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    values = project_defaults(root)
    path = root / f"Pulumi.{stack}.yaml"
    if path.exists():
        for key, value in ((yaml.safe_load(path.read_text()) or {}).get("config") or {}).items():
            namespace, _, name = key.rpartition(":")
            if namespace in ("", project["name"]):
                values[name] = value
    return values


def project_defaults(root: Path = ROOT) -> dict[str, Any]:
    """Every config key's default, as ``Pulumi.yaml`` declares it."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    return {k: spec.get("default") for k, spec in (project.get("config") or {}).items()}


PROJECT_DEFAULTS = project_defaults()


def _true(value: Any) -> bool:
    return str(value).lower() in ("true", "1", "yes")


def _names(value: Any) -> tuple[str, ...]:
    """A config array: a YAML list, or the comma-separated string the engine may hand over."""
    return tuple(v for v in value.split(",") if v) if isinstance(value, str) else tuple(value)


def _configured(key: str, parse: Callable[[Any], Any], default: Any = None) -> Any:
    """A `StackShape` field read from config ``key``; its default is Pulumi.yaml's unless given."""
    return field(
        default=parse(PROJECT_DEFAULTS[key]) if default is None else default,
        metadata={"config": key, "parse": parse},
    )


def _component(module: str, *names: str) -> Any:
    """``components.<module>.<name>...``, imported when first needed: the components import the
    Pulumi SDK (half a second), and every ``iops`` command imports this module to build its parser."""
    value: Any = importlib.import_module(f"components.{module}")
    for name in names:
        value = getattr(value, name)
    return value


def _from_components(module: str, *names: str, parse: Callable[[Any], Any] = lambda v: v) -> Any:
    """A `StackShape` field whose value a component fixes in code: a constant, or the default of an
    argument ``__main__.py`` does not pass (a dataclass field's default is its class attribute)."""
    return field(default_factory=lambda: parse(_component(module, *names)))


@dataclass(frozen=True)
class StackShape:
    """What of the stack the bill depends on. Defaults: Pulumi.yaml's (the detectors excepted)."""

    ingest_memory_mb: int = _configured("ingestMemoryMb", int)
    query_memory_mb: int = _configured("queryMemoryMb", int)
    ai_memory_mb: int = _configured("aiMemoryMb", int)
    batch_size: int = _configured("streamBatchSize", int)
    batching_window_s: float = _configured("streamBatchingWindowS", float)
    metrics_ttl_days: int = _configured("metricsTtlDays", int)
    checkpoint_points: int = _configured("stateCheckpointPoints", int)
    checkpoint_seconds: float = _configured("stateCheckpointSeconds", float)
    """A series' state is written every this many points or seconds; in between, batches replay (iops.logic.checkpoint)."""
    insights_ttl_days: int = _configured("insightsTtlDays", int)
    log_retention_days: int = _configured("logRetentionDays", int)
    detectors: tuple[str, ...] = _configured("detectors", _names, default=("statistical",))
    """The AI function's detectors; the default is one (the dev stack's), `from_config` reads a stack's."""
    sagemaker_endpoint: bool = _configured("sagemakerEndpointEnabled", _true)
    """Whether the stack serves the model (``iops cost`` prices the endpoint then, unless ``--no-sagemaker``)."""
    sagemaker_instance_type: str = _configured("sagemakerInstanceType", str)
    sagemaker_min_instances: int = _configured("sagemakerMinInstances", int)
    sagemaker_max_instances: int = _configured("sagemakerMaxInstances", int)
    sagemaker_business_hours_only: bool = _configured("sagemakerBusinessHoursOnly", _true)
    sagemaker_target_per_instance_minute: int = _from_components(
        "ml", "MlTrainingArgs", "target_invocations_per_instance"
    )
    """The endpoint's scaling target (components/ml.py)."""
    api_detailed_metrics: bool = _configured("apiDetailedMetrics", _true)
    """MethodSettings metrics_enabled on */* (components/api.py)."""
    log_level: str = _configured("logLevel", lambda v: str(v).upper())
    lambda_system_log_level: str = _configured("lambdaSystemLogLevel", lambda v: str(v).upper())
    """WARN: the platform's START/END/REPORT lines are not written (nor billed)."""
    """Above INFO, the per-request and per-batch INFO lines are not written (nor billed)."""
    lambda_tracing_mode: str = _configured("lambdaTracingMode", str)
    """Active: stream- and schedule-triggered runs are sampled too (AWS's 1/s + 5 %); PassThrough: only what the API sampled."""
    xray_sampling_rate: float = _configured("xraySamplingRate", float)
    xray_reservoir_per_s: float = _configured("xrayReservoirPerSecond", float)
    """The stack's sampling rule on its API stage (components/api.py)."""
    waf: bool = _configured("wafEnabled", _true)
    dashboard_site: bool = _configured("dashboardEnabled", _true)
    """The CloudFront site: with WAF on, it gets its own web ACL."""
    dashboard_users: tuple[str, ...] = _configured("dashboardUsers", _names, default=())
    """Invited readers: Cognito bills monthly active users (counted as all invited)."""
    metric_stream_namespaces: tuple[str, ...] = _configured("metricStreamNamespaces", _names, default=())
    sweeper_interval_s: float = _from_components(
        "ai", "SWEEPER_SCHEDULE", parse=lambda s: float(simulator_interval_s(s))
    )
    """The incident sweeper's schedule (components/ai.py)."""
    streaming: bool = _configured("streamingEnabled", _true)
    """The Kinesis tier (``streamingEnabled``)."""
    kinesis_shards: int = _configured("kinesisShardCount", int)
    """0 = on-demand capacity (``kinesisShardCount``)."""
    kinesis_batch_size: int = _configured("kinesisBatchSize", int)
    kinesis_batching_window_s: float = _from_components("streaming", "StreamingArgs", "batching_window_s", parse=float)
    """The process mapping's batching window (components/streaming.py; not a config key)."""
    process_memory_mb: int = _configured("processMemoryMb", int)
    simulator_memory_mb: int = _from_components("streaming", "SIMULATOR_MEMORY_MB")
    """The simulator function's memory (components/streaming.py; not a config key)."""
    simulator: bool = False
    """Whether the simulator runs (``simulatorEnabled``; unset, only on the dev stack: `from_config`)."""
    simulator_streams: int = _configured("simulatorStreams", int)
    simulator_events_per_minute: float = _configured("simulatorEventsPerMinute", float)
    simulator_interval_s: float = _configured("simulatorSchedule", lambda s: float(simulator_interval_s(s)))
    kms_keys: int = 1
    """Customer managed keys: the alerting tier's (the ops topic shares it, so the observability tier makes none)."""
    budgets: int = 1
    """The observability tier's monthly budget."""

    @property
    def functions(self) -> tuple[str, ...]:
        """Keys of the stack's Lambda functions."""
        if not self.streaming:
            return FUNCTIONS
        return FUNCTIONS + STREAMING_FUNCTIONS + (SIMULATOR_FUNCTIONS if self.simulator else ())

    @property
    def tables(self) -> tuple[Table, ...]:
        return TABLES + (STREAMING_TABLES if self.streaming else ())

    @property
    def dead_letter_queues(self) -> tuple[str, ...]:
        return DEAD_LETTER_QUEUES + (STREAMING_DEAD_LETTER_QUEUES if self.streaming else ())

    @property
    def alarm_metrics(self) -> int:
        """Metrics behind every alarm of the stack (tests/infra/test_observability.py checks it)."""
        return _component("observability", "alarm_metric_count")(
            functions=len(self.functions),
            tables=self.tables,
            stream_consumers=len([f for f in STREAM_CONSUMERS if f in self.functions]),
            dead_letter_queues=len(self.dead_letter_queues),
        )

    @property
    def info_logs(self) -> bool:
        return self.log_level in ("DEBUG", "INFO")

    @property
    def platform_logs(self) -> bool:
        return self.lambda_system_log_level in ("DEBUG", "INFO")

    @property
    def waf_rules(self) -> int:
        """Rules of one web ACL (components/waf.py: the managed groups and the rate rule)."""
        return len(_component("waf", "rules")("stack", 1))

    @property
    def api_methods(self) -> int:
        """Every route plus the OPTIONS preflight of every path."""
        return len(ROUTES) + len({r.path for r in ROUTES})

    @property
    def custom_metrics(self) -> int:
        """EMF metrics (each severity and detector is its own metric) + API detailed metrics."""
        emf = 0
        for spec in EMF_METRICS.values():
            if "severity" in spec.dimensions:
                emf += len(SEVERITIES)
            elif "detector" in spec.dimensions:
                emf += len(self.detectors)
            else:
                emf += 1
        return emf + (self.api_methods * API_DETAILED_METRICS_PER_METHOD if self.api_detailed_metrics else 0)

    @classmethod
    def from_config(cls, config: dict[str, Any], stack: str = "dev") -> StackShape:
        """From config values keyed as in Pulumi.yaml (camelCase, project namespace stripped).

        ``simulatorEnabled`` unset means on for the dev stack only, as ``__main__.py`` reads it.
        """
        values = {
            f.name: f.metadata["parse"](config[f.metadata["config"]])
            for f in fields(cls)
            if "config" in f.metadata and config.get(f.metadata["config"]) is not None
        }
        simulator = config.get("simulatorEnabled")
        values["simulator"] = stack == "dev" if simulator is None else _true(simulator)
        return cls(**values)


MEASURE_DAYS = 8
"""Days of synthetic points `measure_state_series` scores: past a week, so the statistical
detector's hour-of-week profile is full and the state has reached its steady size."""
MEASURE_BATCH_S = 3600
"""Points are scored an hour per call (the stack scores one per call at a 1 s window): 20 times
faster, and the stored size differs by under 1 % (tests/unit/test_cost.py checks it)."""


def measure_state_series(
    detectors: tuple[str, ...],
    interval_s: float,
    decimals: int,
    days: float = MEASURE_DAYS,
    batch_s: float = MEASURE_BATCH_S,
) -> Any:
    """The state of one series after `MEASURE_DAYS` of a daily + weekly pattern with noise, its
    values rounded to ``decimals`` as an agent reports them, scored by ``detectors`` as the AI tier does."""
    import random

    from iops_detector_sdk.contract import Point, SeriesKey

    from detectors import plugins
    from detectors.runtime import SeriesState, score_series

    available = {name: plugins.get_detector(name) for name in detectors}
    rng = random.Random(7)
    points = []
    for i in range(int(days * 86_400 / interval_s)):
        t = i * interval_s
        value = 50 + 15 * math.sin(2 * math.pi * t / 86_400) + 5 * math.sin(2 * math.pi * t / (7 * 86_400))
        points.append(Point(1.7e9 + t, round(value + rng.gauss(0, 2), decimals)))
    series, state = SeriesKey("host-0001", "cpuUsage"), SeriesState()
    step = max(1, int(batch_s / interval_s))
    for i in range(0, len(points), step):
        state = score_series(available, series, state, points[i : i + step]).state
    return series, state


def measure_state_bytes(detectors: tuple[str, ...], interval_s: float, decimals: int) -> int:
    """The state item's size as the AI tier stores it (`iops.dal.detector_state.stored_bytes`):
    the size DynamoDB bills its writes and reads by."""
    from iops.dal.detector_state import stored_bytes

    return stored_bytes(*measure_state_series(detectors, interval_s, decimals))


@dataclass
class Line:
    service: str
    usd: float
    notes: str


@dataclass
class Estimate:
    fleet: Fleet
    lines: list[Line] = field(default_factory=list)
    quantities: dict[str, float] = field(default_factory=dict)
    parts: dict[str, float] = field(default_factory=dict)
    """Finer cost drivers inside the lines (USD), for "what dominates"."""

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    def line(self, service: str) -> Line:
        return next(x for x in self.lines if x.service == service)

    def dominant(self) -> Line:
        return max(self.lines, key=lambda x: x.usd)

    def driver(self) -> tuple[str, float]:
        return max(self.parts.items(), key=lambda kv: kv[1])

    def as_dict(self) -> dict[str, Any]:
        return {
            "fleet": asdict(self.fleet),
            "total_usd": round(self.total, 2),
            "lines": [{"service": x.service, "usd": round(x.usd, 2), "notes": x.notes} for x in self.lines],
            "quantities": {k: round(v, 3) for k, v in self.quantities.items()},
            "parts": {k: round(v, 2) for k, v in self.parts.items()},
        }


def _tiered(quantity: float, tiers: list[list[float | None]], per: float) -> float:
    """Cost of ``quantity`` units under ``[[tier size or None, price per ``per`` units], ...]``."""
    cost, left = 0.0, quantity
    for size, price in tiers:
        take = left if size is None else min(left, size)
        cost += take / per * price
        left -= take
        if left <= 0:
            break
    return cost


def _free(value: float, allowance: float, on: bool) -> float:
    return max(0.0, value - allowance) if on else value


# --- What the fleet makes the stack do ---------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """A month of traffic through the stack: the quantities the prices multiply."""

    host_samples: float
    """POSTed host samples (all of one host's metrics at one instant)."""
    ib: IbFlow
    series_points: float
    """Points scored: host samples x metrics, plus InfiniBand minutes x their metrics."""
    ingest_requests: float
    dashboard_polls: float
    insights: float
    alerts: float
    metric_item_bytes: int
    ib_item_bytes: int
    metrics_gb: float
    """The Metrics table's size at steady state (items live ``metrics_ttl_days``)."""
    stream_shards: int
    ai_invocations: float
    sweeper_runs: float
    series_points_per_batch: float
    state_reads: float
    """Detector-state reads: once per series per batch it appears in."""
    state_writes: float
    """Detector-state writes: at a checkpoint (`StackShape.checkpoint_points`), at most once per batch."""
    replayed_points: float
    """Points scored again from the Metrics table to rebuild a state between checkpoints."""
    replay_queries: float
    """Consistent Queries of the Metrics table for them: one per host per batch between checkpoints."""
    replay_query_rru: int
    """Read units of one such Query (half a checkpoint's items, 4 KB per unit)."""

    def quantities(self) -> dict[str, float]:
        return {
            "host_samples": self.host_samples,
            **{f"ib_{k}": v for k, v in asdict(self.ib).items() if k != "kinesis_usd"},
            "series_points": self.series_points,
            "ingest_requests": self.ingest_requests,
            "dashboard_polls": self.dashboard_polls,
            "insights": self.insights,
            "alerts": self.alerts,
            "stream_shards": self.stream_shards,
            "ai_invocations": self.ai_invocations,
            "sweeper_runs": self.sweeper_runs,
            "state_reads": self.state_reads,
            "state_writes": self.state_writes,
            "replayed_points": self.replayed_points,
            "replay_queries": self.replay_queries,
        }


def workload(fleet: Fleet, stack: StackShape, assumptions: Assumptions) -> Workload:
    host_samples = fleet.hosts * MONTH_S / fleet.interval_s
    ib = _ib_flow(fleet, stack, assumptions, prices()["kinesis"])
    # An InfiniBand stream's aggregated minute is a Metrics item like a host sample: the AI tier scores it.
    samples = host_samples + ib.minute_items
    series_points = host_samples * fleet.metrics_per_host + ib.minute_items * IB_METRICS
    insights = (fleet.hosts + ib.streams) * fleet.insights_per_host_day * DAYS

    # Stream: one shard per DynamoDB partition (1,000 WCU or 10 GB each); a Lambda invocation per
    # shard per batching window while records flow, or per full batch, whichever is more.
    metric_item = assumptions.metric_item_overhead_bytes + assumptions.bytes_per_metric * fleet.metrics_per_host
    ib_item = assumptions.metric_item_overhead_bytes + assumptions.bytes_per_metric * IB_METRICS
    metrics_gb = (host_samples * metric_item + ib.minute_items * ib_item) * stack.metrics_ttl_days / DAYS / 1e9
    shards = max(1, math.ceil(samples / MONTH_S * math.ceil(metric_item / 1024) / 1000), math.ceil(metrics_gb / 10))
    window = max(stack.batching_window_s, 0.25)
    # A POST's samples reach the stream together, so one window of each shard they hash to takes them.
    arrivals = host_samples / fleet.samples_per_request * min(shards, fleet.samples_per_request) + ib.minute_items
    ai_invocations = max(samples / stack.batch_size, min(arrivals, shards * MONTH_S / window))
    # A series' state is read and written once per batch it appears in: once per point unless a
    # batch spans several of its intervals (the window is long and the batch size does not cut it).
    batch_span_s = min(window, stack.batch_size / (samples / MONTH_S / shards))
    points_per_batch = max(1.0, batch_span_s / fleet.interval_s)
    # ... and written only at a checkpoint: every `checkpoint_points` points or `checkpoint_seconds`
    checkpoint = max(1.0, min(stack.checkpoint_points, stack.checkpoint_seconds / fleet.interval_s))
    points_per_state_write = max(points_per_batch, math.ceil(checkpoint / points_per_batch) * points_per_batch)
    # Between checkpoints a batch first replays the series' points since (on average half a checkpoint's
    # worth), read back with one consistent Query per host and batch.
    replayed = (points_per_state_write - points_per_batch) / 2
    return Workload(
        host_samples=host_samples,
        ib=ib,
        series_points=series_points,
        ingest_requests=host_samples / fleet.samples_per_request,
        dashboard_polls=fleet.viewers * fleet.viewer_hours * 3600 / POLL_INTERVAL_S,
        insights=insights,
        alerts=insights * fleet.alert_share,
        metric_item_bytes=metric_item,
        ib_item_bytes=ib_item,
        metrics_gb=metrics_gb,
        stream_shards=shards,
        ai_invocations=ai_invocations,
        sweeper_runs=MONTH_S / stack.sweeper_interval_s,
        series_points_per_batch=series_points / ai_invocations,
        state_reads=series_points / points_per_batch,
        state_writes=series_points / points_per_state_write,
        replayed_points=series_points / points_per_batch * replayed,
        replay_queries=host_samples / points_per_batch if replayed else 0.0,
        replay_query_rru=math.ceil(max(1.0, replayed) * metric_item / 4096),
    )


# --- The bill, one service at a time ---------------------------------------------------------


@dataclass
class _Bill:
    """What the per-service functions read (the inputs and the workload) and add to (lines, parts, quantities)."""

    fleet: Fleet
    stack: StackShape
    assumptions: Assumptions
    work: Workload
    prices: dict[str, Any]
    lines: list[Line] = field(default_factory=list)
    parts: dict[str, float] = field(default_factory=dict)
    quantities: dict[str, float] = field(default_factory=dict)

    def free(self, value: float, allowance: float) -> float:
        """``value`` less the free-tier ``allowance`` when the fleet asks for the free tier."""
        return _free(value, allowance, self.fleet.free_tier)


def _api_gateway(bill: _Bill) -> None:
    work, price = bill.work, bill.prices["apigateway"]
    requests = bill.quantities["api_requests"] = work.ingest_requests + work.dashboard_polls
    usd = _tiered(bill.free(requests, price["free_tier_requests"]), price["rest_requests_per_million_tiers"], 1e6)
    bill.parts["API Gateway requests (POST /metrics)"] = usd * work.ingest_requests / requests
    bill.parts["API Gateway requests (dashboard polls)"] = usd * work.dashboard_polls / requests
    bill.lines.append(
        Line(
            "API Gateway",
            usd,
            f"{requests / 1e6:,.1f}M REST requests ({work.ingest_requests / 1e6:,.1f}M POST, "
            f"{work.dashboard_polls / 1e6:,.2f}M polls)",
        )
    )


def _lambda(bill: _Bill) -> None:
    work, stack, assumed, price = bill.work, bill.stack, bill.assumptions, bill.prices["lambda"]
    ai_ms = (
        assumed.ai_base_ms
        + assumed.ai_ms_per_series_point * (work.series_points + work.replayed_points) / work.ai_invocations
        + assumed.state_codec_ms * work.state_reads / work.ai_invocations
    )
    gb_s = bill.quantities["lambda_gb_seconds"] = (
        work.ingest_requests * assumed.ingest_ms / 1000 * stack.ingest_memory_mb / 1024
        + work.dashboard_polls * assumed.query_ms / 1000 * stack.query_memory_mb / 1024
        + work.ai_invocations * ai_ms / 1000 * stack.ai_memory_mb / 1024
        + work.sweeper_runs * assumed.sweeper_ms / 1000 * stack.query_memory_mb / 1024
        + work.ib.lambda_gb_s
    )
    invocations = bill.quantities["lambda_invocations"] = (
        work.ingest_requests
        + work.dashboard_polls
        + work.ai_invocations
        + work.sweeper_runs
        + work.ib.lambda_invocations
    )
    usd = bill.parts["Lambda"] = (
        bill.free(invocations, price["free_tier_requests"]) / 1e6 * price["requests_per_million"]
        + bill.free(gb_s, price["free_tier_gb_seconds"]) * price["gb_second_x86"]
    )
    bill.lines.append(
        Line(
            "Lambda",
            usd,
            f"{invocations / 1e6:,.1f}M invocations ({work.ai_invocations / 1e6:,.2f}M AI), {gb_s / 1e3:,.0f}k GB-s",
        )
    )


def _dynamodb(bill: _Bill) -> None:
    work, stack, assumed, fleet, price = bill.work, bill.stack, bill.assumptions, bill.fleet, bill.prices["dynamodb"]
    state_bytes = assumed.state_bytes or 0
    indexes = len(INSIGHTS.indexes)
    # the process Lambda writes a stream's closed minutes in a transaction: 2 WRU per KB
    metric_wru = work.host_samples * math.ceil(work.metric_item_bytes / 1024) + work.ib.minute_items * 2 * math.ceil(
        work.ib_item_bytes / 1024
    )
    state_wru = work.state_writes * math.ceil(state_bytes / 1024)
    insight_wru = work.insights * 2 * (1 + indexes) * math.ceil(assumed.insight_bytes / 1024)  # put, then mark alerted
    # every insight joins its incident: read the host's pointer and the incident, write both (the
    # incident with its index copies), and a notified incident reads the active silences once
    incident_wru = work.insights * ((1 + len(INCIDENTS.indexes)) * math.ceil(assumed.incident_bytes / 1024) + 1)
    incident_rru = work.insights * 2 * 0.5 + work.alerts * 0.5
    # the sweeper queries open incidents each run; each AI shard re-reads the feedback rules a minute
    housekeeping_rru = (work.sweeper_runs + work.stream_shards * MONTH_S / RULES_TTL_S) * 0.5
    counter_points = work.host_samples * fleet.counter_metrics_per_host
    counter_wru = counter_points * math.ceil(assumed.counter_item_bytes / 1024)
    replay_rru = work.replay_queries * work.replay_query_rru  # consistent: 1 RRU per 4 KB
    rru = (
        work.state_reads * math.ceil(state_bytes / 4096) * 0.5
        + replay_rru
        + work.dashboard_polls * math.ceil(POLL_LIMIT * assumed.insight_bytes / 4096) * 0.5
        + incident_rru
        + housekeeping_rru
        + counter_points * 0.5
    )
    rru += work.ib.state_rru
    bill.quantities.update(
        wru_metrics=metric_wru,
        wru_state=state_wru,
        wru_insights=insight_wru,
        wru_incidents=incident_wru,
        wru_counters=counter_wru,
        rru=rru,
    )
    state_gb = (fleet.hosts * fleet.metrics_per_host + work.ib.streams * IB_METRICS) * state_bytes / 1e9
    insights_gb = work.insights * stack.insights_ttl_days / DAYS * assumed.insight_bytes * (1 + indexes) / 1e9
    stored_gb = bill.quantities["dynamodb_gb"] = work.metrics_gb + state_gb + insights_gb
    wru_price, rru_price = price["write_request_units_per_million"] / 1e6, price["read_request_units_per_million"] / 1e6
    parts = {
        "DynamoDB detector-state writes": state_wru * wru_price,
        "DynamoDB metric writes": metric_wru * wru_price,
        "DynamoDB incident writes": incident_wru * wru_price,
        "DynamoDB counter writes": counter_wru * wru_price,
        "DynamoDB reads (state + replays + polls)": rru * rru_price,
    }
    if stack.streaming:
        parts["DynamoDB InfiniBand window-state writes"] = work.ib.state_wru * wru_price
    parts["DynamoDB storage + PITR"] = (
        bill.free(stored_gb, price["free_tier_storage_gb"]) * price["storage_gb_month"]
        + stored_gb * price["pitr_gb_month"]
    )
    bill.parts.update(parts)
    bill.lines.append(
        Line(
            "DynamoDB",
            insight_wru * wru_price + sum(parts.values()),
            f"WRU {metric_wru / 1e6:,.1f}M metrics + {state_wru / 1e6:,.1f}M detector state "
            f"({math.ceil(state_bytes / 1024)} WRU/write) + {insight_wru / 1e6:,.2f}M insights"
            f" + {incident_wru / 1e6:,.2f}M incidents + {counter_wru / 1e6:,.1f}M counters"
            + (f" + {work.ib.state_wru / 1e6:,.1f}M InfiniBand window state" if stack.streaming else "")
            + f"; RRU {rru / 1e6:,.1f}M; {stored_gb:,.1f} GB (+PITR)",
        )
    )


def _cloudwatch(bill: _Bill) -> None:
    work, stack, assumed, price = bill.work, bill.stack, bill.assumptions, bill.prices["cloudwatch"]
    info = 1 if stack.info_logs else 0
    platform = assumed.lambda_platform_log_bytes if stack.platform_logs else 0
    log_bytes = (
        work.ingest_requests
        * (
            platform
            + info * assumed.ingest_app_log_bytes
            + assumed.emf_bytes_per_ingest
            + assumed.access_log_bytes
        )
        + work.dashboard_polls * (platform + assumed.access_log_bytes)
        + work.ai_invocations
        * (
            platform
            + info * assumed.ai_app_log_bytes
            + assumed.emf_bytes_per_ai_batch
            + assumed.emf_bytes_per_detector * len(stack.detectors)
        )
        + work.insights * assumed.emf_bytes_per_detector
        + work.sweeper_runs * platform
        + work.ib.log_bytes
        - (0 if info else work.ib.lambda_invocations * assumed.ib_app_log_bytes)
    )
    logs_gb = bill.quantities["logs_gb"] = log_bytes / 1e9
    stored_logs_gb = logs_gb * assumed.log_storage_ratio * stack.log_retention_days / DAYS
    custom_metrics = bill.quantities["custom_metrics"] = stack.custom_metrics
    # the observability tier's system dashboard, and its SageMaker one when the endpoint is served
    dashboards = bill.quantities["dashboards"] = 1 + (1 if bill.fleet.sagemaker else 0)
    logs_usd = (
        bill.free(logs_gb, price["free_tier_logs_gb"]) * price["logs_ingest_gb"]
        + stored_logs_gb * price["logs_storage_gb_month"]
    )
    metrics_usd = bill.free(custom_metrics, price["free_tier_custom_metrics"]) * price["custom_metric_month"]
    alarms_usd = bill.free(stack.alarm_metrics, price["free_tier_alarm_metrics"]) * price["alarm_metric_month"]
    dashboards_usd = bill.free(dashboards, price["free_tier_dashboards"]) * price["dashboard_month"]
    bill.parts["CloudWatch Logs"] = logs_usd
    bill.parts["CloudWatch custom metrics"] = metrics_usd
    bill.lines.append(
        Line(
            "CloudWatch",
            logs_usd + metrics_usd + alarms_usd + dashboards_usd,
            f"logs {logs_gb:,.1f} GB ${logs_usd:,.2f}; {custom_metrics} custom metrics ${metrics_usd:,.2f}; "
            f"{stack.alarm_metrics} alarm metrics ${alarms_usd:,.2f}; {dashboards} dashboards ${dashboards_usd:,.2f}",
        )
    )


def _sampled(requests: float, reservoir_per_s: float, rate: float) -> float:
    """Traces a sampling rule records of ``requests`` a month: the reservoir each second, then the rate."""
    reservoir = reservoir_per_s * MONTH_S
    return min(requests, reservoir) + rate * max(0.0, requests - reservoir)


def _xray(bill: _Bill) -> None:
    work, stack, assumed, price = bill.work, bill.stack, bill.assumptions, bill.prices["xray"]
    api = _sampled(work.ingest_requests + work.dashboard_polls, stack.xray_reservoir_per_s, stack.xray_sampling_rate)
    unprompted = 0.0
    if stack.lambda_tracing_mode == "Active":
        unprompted = _sampled(
            work.ai_invocations + work.sweeper_runs + work.ib.lambda_invocations,
            assumed.lambda_default_xray_reservoir_per_s,
            assumed.lambda_default_xray_rate,
        )
    traces = bill.quantities["xray_traces"] = api + unprompted
    usd = bill.parts["X-Ray traces"] = (
        bill.free(traces, price["free_tier_traces"]) / 1e6 * price["traces_recorded_per_million"]
    )
    bill.lines.append(
        Line(
            "X-Ray",
            usd,
            f"{traces / 1e6:,.2f}M traces: API {stack.xray_reservoir_per_s:g}/s + {stack.xray_sampling_rate:.0%}"
            + (", stream/schedule runs 1/s + 5 %" if unprompted else ", stream/schedule runs untraced (PassThrough)"),
        )
    )


def _kinesis(bill: _Bill) -> None:
    if bill.stack.streaming:
        bill.parts["Kinesis"] = bill.work.ib.kinesis_usd
        bill.lines.append(Line("Kinesis", bill.work.ib.kinesis_usd, ib_note(bill.work.ib, bill.stack)))


def _eventbridge(bill: _Bill) -> None:
    alerts = bill.work.alerts
    usd = alerts / 1e6 * bill.prices["eventbridge"]["custom_events_per_million"]
    bill.lines.append(Line("EventBridge", usd, f"{alerts:,.0f} alert events"))


def _sns(bill: _Bill) -> None:
    price, alerts = bill.prices["sns"], bill.work.alerts
    emails = alerts * bill.fleet.email_subscribers
    usd = (
        bill.free(alerts, price["free_tier_publishes"]) / 1e6 * price["publishes_per_million"]
        + bill.free(emails, price["free_tier_emails"]) / 1e5 * price["email_per_100k"]
    )
    bill.lines.append(Line("SNS", usd, f"{alerts:,.0f} publishes, {emails:,.0f} emails"))


def _kms(bill: _Bill) -> None:
    price, keys = bill.prices["kms"], bill.stack.kms_keys
    usd = (
        keys * price["key_month"]
        + bill.free(bill.work.alerts, price["free_tier_requests"]) / 1e4 * price["requests_per_10k"]
    )
    bill.lines.append(
        Line("KMS", usd, f"{keys} customer key (the alert topic, which alarms share), one data-key request per alert")
    )


def _s3_and_sqs(bill: _Bill) -> None:
    gb, price = bill.assumptions.artifact_gb, bill.prices["s3"]
    usd = bill.free(gb, price["free_tier_gb"]) * price["standard_gb_month"]
    bill.lines.append(Line("S3 + SQS", usd, f"{gb:.2f} GB code/artifacts; DLQs idle when healthy"))


def _budgets(bill: _Bill) -> None:
    price, budgets = bill.prices["budgets"], bill.stack.budgets
    usd = max(0, budgets - price["free_budgets"]) * price["budget_day"] * DAYS
    bill.lines.append(Line("Budgets", usd, f"{budgets} budget (first {price['free_budgets']} free)"))


def _waf(bill: _Bill) -> None:
    stack, price = bill.stack, bill.prices["waf"]
    if not stack.waf:
        return
    acls = 1 + (1 if stack.dashboard_site else 0)  # the API stage's, and the dashboard CloudFront's
    requests = bill.quantities["api_requests"]
    usd = bill.parts["WAF"] = (
        acls * (price["web_acl_month"] + stack.waf_rules * price["rule_month"])
        + requests / 1e6 * price["requests_per_million"]
    )
    bill.lines.append(
        Line("WAF", usd, f"{acls} web ACLs x {stack.waf_rules} rules; {requests / 1e6:,.1f}M API requests inspected")
    )


def _cognito(bill: _Bill) -> None:
    users, price = len(bill.stack.dashboard_users), bill.prices["cognito"]
    usd = max(0, users - price["free_mau"]) * price["essentials_mau"]
    bill.lines.append(Line("Cognito", usd, f"{users} invited readers (first {price['free_mau']:,} MAU free)"))


def _metric_stream(bill: _Bill) -> None:
    if not bill.stack.metric_stream_namespaces:
        return
    price, assumed = bill.prices["metric_stream"], bill.assumptions
    updates = bill.fleet.metric_stream_metrics * MONTH_S / 60
    record_bytes = max(assumed.metric_stream_update_bytes, price["firehose_record_rounding_bytes"])
    usd = bill.parts["Metric stream + Firehose"] = (
        updates / 1000 * price["updates_per_thousand"] + updates * record_bytes / 1e9 * price["firehose_ingest_gb"]
    )
    bill.lines.append(
        Line(
            "Metric stream",
            usd,
            f"{bill.fleet.metric_stream_metrics:,} metrics of {', '.join(bill.stack.metric_stream_namespaces)}: "
            f"{updates / 1e6:,.1f}M updates through Firehose (its buffered POSTs, and the AI tier scoring the "
            "streamed series, are not counted)",
        )
    )


def _sagemaker(bill: _Bill) -> None:
    if not bill.fleet.sagemaker:
        return
    stack, price = bill.stack, bill.prices["sagemaker"]
    # one endpoint invocation per series per batch, and one more for the points it replays since its checkpoint
    calls = bill.work.state_reads * (2 if bill.work.replay_queries else 1)
    per_minute = calls / (MONTH_S / 60)
    needed = bill.quantities["sagemaker_instances_needed"] = math.ceil(
        per_minute / stack.sagemaker_target_per_instance_minute
    )
    instances = min(max(needed, stack.sagemaker_min_instances), stack.sagemaker_max_instances)
    if stack.sagemaker_business_hours_only:
        hours = stack.sagemaker_min_instances * HOURS + (instances - stack.sagemaker_min_instances) * BUSINESS_HOURS
    else:
        hours = instances * HOURS
    bill.quantities["sagemaker_instance_hours"] = hours
    hosting_usd = bill.parts["SageMaker endpoint"] = hours * price["hosting_hour"][stack.sagemaker_instance_type]
    training_usd = bill.assumptions.training_hours * price["training_hour"]["ml.m5.xlarge"]
    saturated = (
        f"; SATURATED: load needs {needed} instances, max is {stack.sagemaker_max_instances}"
        if needed > instances
        else ""
    )
    bill.lines.append(
        Line(
            "SageMaker",
            hosting_usd + training_usd,
            f"{instances} x {stack.sagemaker_instance_type} ({hours:,.0f} h) + "
            f"{bill.assumptions.training_hours} h training{saturated}",
        )
    )


def _bedrock(bill: _Bill) -> None:
    calls, assumed, price = bill.fleet.bedrock_calls, bill.assumptions, bill.prices["bedrock"]
    if not calls:
        return
    per_call = assumed.bedrock_input_tokens * price["input_tokens_per_million"] + (
        assumed.bedrock_output_tokens * price["output_tokens_per_million"]
    )
    bill.lines.append(
        Line(
            "Bedrock",
            calls * per_call / 1e6,
            f"{calls:,} calls x ({assumed.bedrock_input_tokens} in + {assumed.bedrock_output_tokens} out tokens), {price['model']}",
        )
    )


SERVICES: tuple[Callable[[_Bill], None], ...] = (
    _api_gateway,
    _lambda,
    _dynamodb,
    _cloudwatch,
    _xray,
    _kinesis,
    _eventbridge,
    _sns,
    _kms,
    _s3_and_sqs,
    _budgets,
    _waf,
    _cognito,
    _metric_stream,
    _sagemaker,
    _bedrock,
)
"""Each adds its line (if the stack and fleet have the service) in the bill's order."""


def estimate(fleet: Fleet, stack: StackShape | None = None, assumptions: Assumptions = DEFAULT_ASSUMPTIONS) -> Estimate:
    """The itemised monthly bill (``stack``: the project defaults' shape). ``assumptions.state_bytes``
    must be set (see `measure_state_bytes`)."""
    if assumptions.state_bytes is None:
        raise ValueError("Assumptions.state_bytes is None: measure it with measure_state_bytes first")
    stack = stack if stack is not None else StackShape()
    work = workload(fleet, stack, assumptions)
    bill = _Bill(fleet, stack, assumptions, work, prices(), quantities=work.quantities())
    for service in SERVICES:
        service(bill)
    return Estimate(fleet, bill.lines, bill.quantities, bill.parts)


@dataclass(frozen=True)
class IbFlow:
    """The streaming tier's monthly traffic and its own Kinesis cost (all zero without the tier)."""

    streams: float = 0.0
    events: float = 0.0
    shards: float = 0.0
    minute_items: float = 0.0
    """Aggregated (stream, minute) Metrics items: the AI tier scores them like host samples."""
    lambda_invocations: float = 0.0
    lambda_gb_s: float = 0.0
    state_wru: float = 0.0
    state_rru: float = 0.0
    log_bytes: float = 0.0
    kinesis_usd: float = 0.0


def _ib_flow(fleet: Fleet, stack: StackShape, assumptions: Assumptions, kinesis: dict[str, Any]) -> IbFlow:
    """The streaming tier's traffic and its own costs.

    The process Lambda's mapping polls every shard about once per ``kinesis_batching_window_s``
    and is invoked whenever the shard has records, so at low rates the invocation count follows
    the shards, not the events; every invocation then writes the window state of each stream
    it saw (a transaction: 2 WRU per KB) after reading it.
    """
    if not stack.streaming:
        return IbFlow()
    sim_streams = stack.simulator_streams if stack.simulator else 0
    streams = fleet.ib_streams + sim_streams
    events = (
        (fleet.ib_streams * fleet.ib_events_per_minute + sim_streams * stack.simulator_events_per_minute) * MONTH_S / 60
    )
    shards = stack.kinesis_shards or ON_DEMAND_SHARDS
    window = max(stack.kinesis_batching_window_s, 1.0)
    invocations = max(events / stack.kinesis_batch_size, min(events, shards * MONTH_S / window)) if events else 0.0
    streams_per_invocation = min(events / invocations, max(1.0, streams / shards)) if invocations else 0.0
    state_writes = invocations * streams_per_invocation
    sim_runs = MONTH_S / stack.simulator_interval_s if stack.simulator else 0.0
    if stack.kinesis_shards:
        kinesis_usd = (
            shards * HOURS * kinesis["provisioned_shard_hour"]
            + events
            * math.ceil(assumptions.ib_event_bytes / (25 * 1024))
            / 1e6
            * kinesis["provisioned_put_units_per_million"]
        )
    else:
        gb = events * math.ceil(assumptions.ib_event_bytes / 1024) / (1024 * 1024)
        kinesis_usd = (
            HOURS * kinesis["on_demand_stream_hour"]
            + gb * kinesis["on_demand_ingest_gb"]
            + gb * kinesis["on_demand_retrieval_gb"]
        )
    return IbFlow(
        streams=float(streams),
        events=events,
        shards=float(shards),
        minute_items=streams * MONTH_S / 60,
        lambda_invocations=invocations + sim_runs,
        lambda_gb_s=(
            invocations * assumptions.process_ms / 1000 * stack.process_memory_mb
            + sim_runs * assumptions.simulator_ms / 1000 * stack.simulator_memory_mb
        )
        / 1024,
        state_wru=state_writes * 2 * math.ceil(assumptions.ib_state_bytes / 1024),
        state_rru=state_writes * 0.5 * math.ceil(assumptions.ib_state_bytes / 4096),
        log_bytes=(invocations + sim_runs)
        * (assumptions.lambda_platform_log_bytes * stack.platform_logs + assumptions.ib_app_log_bytes),
        kinesis_usd=kinesis_usd,
    )


def ib_note(ib: IbFlow, stack: StackShape) -> str:
    mode = (
        f"{stack.kinesis_shards} provisioned shards"
        if stack.kinesis_shards
        else f"on demand ({ib.shards:.0f} shards polled)"
    )
    return (
        f"{ib.streams:,.0f} InfiniBand streams, {ib.events / 1e6:,.1f}M events, {mode}; "
        f"{ib.lambda_invocations / 1e6:,.2f}M process/simulator invocations"
    )


@dataclass
class Lever:
    name: str
    before: float
    after: float


def levers(fleet: Fleet, stack: StackShape, assumptions: Assumptions) -> list[Lever]:
    """What the main cost cuts would save, each alone, computed by re-running the estimate."""
    base = estimate(fleet, stack, assumptions).total
    options = [
        (
            "stream batching window 300 s, batch size 10,000 (insights up to 5 min later)",
            estimate(fleet, replace(stack, batching_window_s=300, batch_size=10_000), assumptions),
        ),
        (
            "detector state under 1 KB (one write unit; e.g. fewer history slots)",
            estimate(fleet, stack, replace(assumptions, state_bytes=1000)),
        ),
    ]
    if fleet.samples_per_request < 100:
        options.append(
            (
                "a collector batches 100 host samples per POST",
                estimate(replace(fleet, samples_per_request=100), stack, assumptions),
            )
        )
    if stack.api_detailed_metrics:
        options.append(
            (
                "API Gateway detailed (per-method) metrics off (apiDetailedMetrics false)",
                estimate(fleet, replace(stack, api_detailed_metrics=False), assumptions),
            )
        )
    if stack.info_logs:
        options.append(
            (
                "logLevel WARNING (no per-request and per-batch INFO lines)",
                estimate(fleet, replace(stack, log_level="WARNING"), assumptions),
            )
        )
    if stack.streaming and not stack.kinesis_shards:
        options.append(
            (
                "Kinesis: one provisioned shard instead of on demand (kinesisShardCount 1: up to 1,000 events/s)",
                estimate(fleet, replace(stack, kinesis_shards=1), assumptions),
            )
        )
    return [Lever(name, base, e.total) for name, e in options]


def render(estimates: list[Estimate]) -> str:
    """One table: a column per fleet, a row per service, then the total and what dominates."""
    head = ["Service", *[f"{e.fleet.hosts:,} hosts" for e in estimates]]
    services = list(dict.fromkeys(line.service for e in estimates for line in e.lines))
    rows = [
        [s, *[f"${e.line(s).usd:,.2f}" if any(x.service == s for x in e.lines) else "-" for e in estimates]]
        for s in services
    ]
    rows.append(["TOTAL", *[f"${e.total:,.2f}" for e in estimates]])
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row))

    out = [fmt(head), "-" * (sum(widths) + 2 * (len(widths) - 1))]
    out += [fmt(r) for r in rows[:-1]]
    out += ["-" * (sum(widths) + 2 * (len(widths) - 1)), fmt(rows[-1])]
    return "\n".join(out)
