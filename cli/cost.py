"""Monthly bill of one stack for a fleet, itemised per service, from AWS's public unit prices.

Pure functions over three inputs: the fleet (`Fleet`), the stack's settings (`StackShape`, read
from ``Pulumi.yaml`` + ``Pulumi.<stack>.yaml``), and workload assumptions (`Assumptions`, each
one documented where it is declared). Prices live in ``prices.json`` beside this module, with
the date and region they were published for. A month is 730 hours, as AWS bills.

What the stack does per metric point is the model: one host sample (all of a host's metrics at
one instant) is one Metrics item and one stream record; every series (host x metric) then costs
one detector-state read and one write per stream batch it appears in, and the state item is
several KB, so that write is usually the largest single DynamoDB cost.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from handlers.definitions import INSIGHTS, ROUTES, simulator_interval_s
from handlers.ib_events import IbEvent, Window
from handlers.telemetry import METRICS as EMF_METRICS
from handlers.telemetry import SEVERITIES

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
    """Metrics in one aggregated InfiniBand minute item (handlers.ib_events.Window.values)."""
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
    metric_item_overhead_bytes: int = 60
    """hostname, timestamp, ttl attributes (names + values)."""
    bytes_per_metric: int = 20
    state_bytes: int | None = None
    """Detector-state item size; None = measure it by running the enabled detectors (`measure_state_bytes`)."""
    insight_bytes: int = 1500
    lambda_platform_log_bytes: int = 400
    """START, END and REPORT lines (REPORT carries the X-Ray trace id)."""
    ingest_app_log_bytes: int = 650
    """The INFO "ingest" line with Lambda context and correlation id."""
    emf_bytes_per_ingest: int = 420
    ai_app_log_bytes: int = 800
    """The INFO "batch" line per AI invocation."""
    emf_bytes_per_detector: int = 420
    access_log_bytes: int = 360
    """One JSON API Gateway access log line (components/api.py ACCESS_LOG_FORMAT)."""
    log_storage_ratio: float = 0.15
    """CloudWatch Logs bills stored data compressed."""
    xray_reservoir_per_s: float = 1.0
    xray_rate: float = 0.05
    """Default sampling rule: the first request each second, then 5 %."""
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
    events/min (handlers.ib_events.StreamState), plus key, version and ttl."""
    process_ms: float = 40.0
    """One process Lambda batch (benchmarks/ib_aggregation.py: 40.5 ms per 100 events on moto)."""
    simulator_ms: float = 300.0
    """One scheduled simulator run: generate a minute of events, PutRecords."""
    ib_app_log_bytes: int = 300
    """The process Lambda's INFO line per batch."""


DEFAULT_ASSUMPTIONS = Assumptions()


@dataclass(frozen=True)
class StackShape:
    """What of the stack's configuration the bill depends on (defaults are Pulumi.yaml's)."""

    ingest_memory_mb: int = 512
    query_memory_mb: int = 256
    ai_memory_mb: int = 1024
    batch_size: int = 100
    batching_window_s: float = 1.0
    metrics_ttl_days: int = 90
    insights_ttl_days: int = 180
    log_retention_days: int = 30
    detectors: tuple[str, ...] = ("statistical",)
    sagemaker_instance_type: str = "ml.t2.medium"
    sagemaker_min_instances: int = 1
    sagemaker_max_instances: int = 3
    sagemaker_business_hours_only: bool = False
    sagemaker_target_per_instance_minute: int = 100
    api_detailed_metrics: bool = True
    """MethodSettings metrics_enabled on */* (components/api.py)."""
    streaming: bool = False
    """The Kinesis tier (``streamingEnabled``)."""
    kinesis_shards: int = 0
    """0 = on-demand capacity (``kinesisShardCount``)."""
    kinesis_batch_size: int = 100
    kinesis_batching_window_s: float = 1.0
    """The process mapping's batching window (components/streaming.py; not a config key)."""
    process_memory_mb: int = 256
    simulator: bool = False
    simulator_streams: int = 8
    simulator_events_per_minute: float = 60.0
    simulator_interval_s: float = 60.0
    base_alarm_metrics: int = 42
    """Metrics behind the observability tier's alarms without the streaming tier."""
    streaming_alarm_metrics: int = 10
    """Added by the streaming tier (process function, mapping, failure queue)."""
    simulator_alarm_metrics: int = 4
    """Added by the simulator (its function and its schedule's DLQ)."""
    kms_keys: int = 1
    """The alerting tier's key and the alarm topic's."""
    budgets: int = 1

    @property
    def alarm_metrics(self) -> int:
        """Metrics behind every alarm of the stack (tests/infra/test_observability.py checks it)."""
        return (
            self.base_alarm_metrics
            + (self.streaming_alarm_metrics if self.streaming else 0)
            + (self.simulator_alarm_metrics if self.streaming and self.simulator else 0)
        )

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

        def get(key: str, default: Any) -> Any:
            return config.get(key, default)

        base = cls()
        return cls(
            ingest_memory_mb=int(get("ingestMemoryMb", base.ingest_memory_mb)),
            query_memory_mb=int(get("queryMemoryMb", base.query_memory_mb)),
            ai_memory_mb=int(get("aiMemoryMb", base.ai_memory_mb)),
            batch_size=int(get("streamBatchSize", base.batch_size)),
            batching_window_s=float(get("streamBatchingWindowS", base.batching_window_s)),
            metrics_ttl_days=int(get("metricsTtlDays", base.metrics_ttl_days)),
            insights_ttl_days=int(get("insightsTtlDays", base.insights_ttl_days)),
            log_retention_days=int(get("logRetentionDays", base.log_retention_days)),
            detectors=tuple(get("detectors", base.detectors)),
            sagemaker_instance_type=str(get("sagemakerInstanceType", base.sagemaker_instance_type)),
            sagemaker_min_instances=int(get("sagemakerMinInstances", base.sagemaker_min_instances)),
            sagemaker_max_instances=int(get("sagemakerMaxInstances", base.sagemaker_max_instances)),
            sagemaker_business_hours_only=_true(get("sagemakerBusinessHoursOnly", False)),
            streaming=_true(get("streamingEnabled", False)),
            kinesis_shards=int(get("kinesisShardCount", base.kinesis_shards)),
            kinesis_batch_size=int(get("kinesisBatchSize", base.kinesis_batch_size)),
            process_memory_mb=int(get("processMemoryMb", base.process_memory_mb)),
            simulator=stack == "dev" if get("simulatorEnabled", None) is None else _true(get("simulatorEnabled", False)),
            simulator_streams=int(get("simulatorStreams", base.simulator_streams)),
            simulator_events_per_minute=float(get("simulatorEventsPerMinute", base.simulator_events_per_minute)),
            simulator_interval_s=simulator_interval_s(str(get("simulatorSchedule", "rate(1 minute)"))),
        )


def _true(value: Any) -> bool:
    return str(value).lower() in ("true", "1", "yes")


def stack_config(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """Pulumi.yaml defaults overlaid with Pulumi.<stack>.yaml, keys without the project prefix."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    values = {k: spec.get("default") for k, spec in (project.get("config") or {}).items()}
    path = root / f"Pulumi.{stack}.yaml"
    if path.exists():
        for key, value in ((yaml.safe_load(path.read_text()) or {}).get("config") or {}).items():
            namespace, _, name = key.rpartition(":")
            if namespace in ("", project["name"]):
                values[name] = value
    return values


def measure_state_bytes(detectors: tuple[str, ...], interval_s: float) -> int:
    """Run the enabled detectors over a day of one synthetic series; the state item's size as the
    AI tier stores it (compressed state + key + ttl): the size DynamoDB bills writes by."""
    import random

    from detectors import plugins
    from detectors.contract import Point, SeriesKey
    from detectors.runtime import SeriesState, score_series
    from handlers.stream import encode_state

    available = {name: plugins.get_detector(name) for name in detectors}
    rng = random.Random(7)
    series, state = SeriesKey("host-0001", "cpuUsage"), SeriesState()
    steps = max(60, int(86_400 / interval_s))
    for i in range(steps):
        value = 50 + 15 * math.sin(2 * math.pi * i * interval_s / 86_400) + rng.gauss(0, 2)
        state = score_series(available, series, state, [Point(1.7e9 + i * interval_s, value)]).state
    overhead = len("seriesKey") + len(str(series)) + len("state") + len("ttl") + 10
    return len(encode_state(state)["B"]) + overhead


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


def estimate(fleet: Fleet, stack: StackShape = StackShape(), a: Assumptions = DEFAULT_ASSUMPTIONS) -> Estimate:
    """The itemised monthly bill. ``a.state_bytes`` must be set (see `measure_state_bytes`)."""
    if a.state_bytes is None:
        raise ValueError("Assumptions.state_bytes is None: measure it with measure_state_bytes first")
    p, ft = prices(), fleet.free_tier
    q: dict[str, float] = {}
    host_samples = q["host_samples"] = fleet.hosts * MONTH_S / fleet.interval_s
    ib = _ib_flow(fleet, stack, a, p["kinesis"])
    q.update({f"ib_{k}": v for k, v in asdict(ib).items() if k != "kinesis_usd"})
    # An InfiniBand stream's aggregated minute is a Metrics item like a host sample: the AI tier scores it.
    samples = host_samples + ib.minute_items
    series_points = q["series_points"] = host_samples * fleet.metrics_per_host + ib.minute_items * IB_METRICS
    ingest_requests = q["ingest_requests"] = host_samples / fleet.samples_per_request
    polls = q["dashboard_polls"] = fleet.viewers * fleet.viewer_hours * 3600 / POLL_INTERVAL_S
    insights = q["insights"] = (fleet.hosts + ib.streams) * fleet.insights_per_host_day * DAYS
    alerts = q["alerts"] = insights * fleet.alert_share

    # Stream: one shard per DynamoDB partition (1,000 WCU or 10 GB each); a Lambda invocation per
    # shard per batching window while records flow, or per full batch, whichever is more.
    metric_item = a.metric_item_overhead_bytes + a.bytes_per_metric * fleet.metrics_per_host
    ib_item = a.metric_item_overhead_bytes + a.bytes_per_metric * IB_METRICS
    metrics_gb = (host_samples * metric_item + ib.minute_items * ib_item) * stack.metrics_ttl_days / DAYS / 1e9
    shards = q["stream_shards"] = max(
        1, math.ceil(samples / MONTH_S * math.ceil(metric_item / 1024) / 1000), math.ceil(metrics_gb / 10)
    )
    window = max(stack.batching_window_s, 0.25)
    ai_invocations = q["ai_invocations"] = max(samples / stack.batch_size, min(samples, shards * MONTH_S / window))
    series_points_per_batch = series_points / ai_invocations
    # A series' state is read and written once per batch it appears in: once per point unless a
    # batch spans several of its intervals (the window is long and the batch size does not cut it).
    batch_span_s = min(window, stack.batch_size / (samples / MONTH_S / shards))
    points_per_state_write = max(1.0, batch_span_s / fleet.interval_s)
    state_ops = q["state_writes"] = series_points / points_per_state_write

    lines: list[Line] = []

    api_requests = q["api_requests"] = ingest_requests + polls
    billable = _free(api_requests, p["apigateway"]["free_tier_requests"], ft)
    api_cost = _tiered(billable, p["apigateway"]["rest_requests_per_million_tiers"], 1e6)
    parts: dict[str, float] = {
        "API Gateway requests (POST /metrics)": api_cost * ingest_requests / api_requests,
        "API Gateway requests (dashboard polls)": api_cost * polls / api_requests,
    }
    lines.append(
        Line(
            "API Gateway",
            api_cost,
            f"{api_requests / 1e6:,.1f}M REST requests ({ingest_requests / 1e6:,.1f}M POST, {polls / 1e6:,.2f}M polls)",
        )
    )

    gb_s = q["lambda_gb_seconds"] = (
        ingest_requests * a.ingest_ms / 1000 * stack.ingest_memory_mb / 1024
        + polls * a.query_ms / 1000 * stack.query_memory_mb / 1024
        + ai_invocations * (a.ai_base_ms + a.ai_ms_per_series_point * series_points_per_batch) / 1000 * stack.ai_memory_mb / 1024
        + ib.lambda_gb_s
    )
    invocations = q["lambda_invocations"] = ingest_requests + polls + ai_invocations + ib.lambda_invocations
    lam = p["lambda"]
    parts["Lambda"] = (
        _free(invocations, lam["free_tier_requests"], ft) / 1e6 * lam["requests_per_million"]
        + _free(gb_s, lam["free_tier_gb_seconds"], ft) * lam["gb_second_x86"]
    )
    lines.append(
        Line(
            "Lambda",
            parts["Lambda"],
            f"{invocations / 1e6:,.1f}M invocations ({ai_invocations / 1e6:,.2f}M AI), {gb_s / 1e3:,.0f}k GB-s",
        )
    )

    gsis = len(INSIGHTS.indexes)
    # the process Lambda writes a stream's closed minutes in a transaction: 2 WRU per KB
    wru_metric = host_samples * math.ceil(metric_item / 1024) + ib.minute_items * 2 * math.ceil(ib_item / 1024)
    wru_state = state_ops * math.ceil(a.state_bytes / 1024)
    wru_insight = insights * 2 * (1 + gsis) * math.ceil(a.insight_bytes / 1024)  # put, then mark alerted
    rru = (
        state_ops * math.ceil(a.state_bytes / 4096) * 0.5 + polls * math.ceil(POLL_LIMIT * a.insight_bytes / 4096) * 0.5
    )
    rru += ib.state_rru
    q.update(wru_metrics=wru_metric, wru_state=wru_state, wru_insights=wru_insight, rru=rru)
    state_gb = (fleet.hosts * fleet.metrics_per_host + ib.streams * IB_METRICS) * a.state_bytes / 1e9
    insights_gb = insights * stack.insights_ttl_days / DAYS * a.insight_bytes * (1 + gsis) / 1e9
    stored_gb = q["dynamodb_gb"] = metrics_gb + state_gb + insights_gb
    ddb = p["dynamodb"]
    wru_price, rru_price = ddb["write_request_units_per_million"] / 1e6, ddb["read_request_units_per_million"] / 1e6
    parts["DynamoDB detector-state writes"] = wru_state * wru_price
    parts["DynamoDB metric writes"] = wru_metric * wru_price
    parts["DynamoDB reads (state + polls)"] = rru * rru_price
    if stack.streaming:
        parts["DynamoDB InfiniBand window-state writes"] = ib.state_wru * wru_price
    parts["DynamoDB storage + PITR"] = (
        _free(stored_gb, ddb["free_tier_storage_gb"], ft) * ddb["storage_gb_month"] + stored_gb * ddb["pitr_gb_month"]
    )
    lines.append(
        Line(
            "DynamoDB",
            wru_insight * wru_price + sum(v for k, v in parts.items() if k.startswith("DynamoDB")),
            f"WRU {wru_metric / 1e6:,.1f}M metrics + {wru_state / 1e6:,.1f}M detector state "
            f"({math.ceil(a.state_bytes / 1024)} WRU/write) + {wru_insight / 1e6:,.2f}M insights"
            + (f" + {ib.state_wru / 1e6:,.1f}M InfiniBand window state" if stack.streaming else "")
            + f"; RRU {rru / 1e6:,.1f}M; {stored_gb:,.1f} GB (+PITR)",
        )
    )

    log_bytes = (
        ingest_requests
        * (a.lambda_platform_log_bytes + a.ingest_app_log_bytes + a.emf_bytes_per_ingest + a.access_log_bytes)
        + polls * (a.lambda_platform_log_bytes + a.access_log_bytes)
        + ai_invocations
        * (a.lambda_platform_log_bytes + a.ai_app_log_bytes + a.emf_bytes_per_detector * len(stack.detectors))
        + insights * a.emf_bytes_per_detector
        + ib.log_bytes
    )
    logs_gb = q["logs_gb"] = log_bytes / 1e9
    stored_logs_gb = logs_gb * a.log_storage_ratio * stack.log_retention_days / DAYS
    cw = p["cloudwatch"]
    custom_metrics = q["custom_metrics"] = stack.custom_metrics
    dashboards = q["dashboards"] = 1 + (1 if fleet.sagemaker else 0)  # system (+ SageMaker)
    logs_cost = (
        _free(logs_gb, cw["free_tier_logs_gb"], ft) * cw["logs_ingest_gb"]
        + stored_logs_gb * cw["logs_storage_gb_month"]
    )
    metrics_cost = _free(custom_metrics, cw["free_tier_custom_metrics"], ft) * cw["custom_metric_month"]
    alarms_cost = _free(stack.alarm_metrics, cw["free_tier_alarm_metrics"], ft) * cw["alarm_metric_month"]
    dash_cost = _free(dashboards, cw["free_tier_dashboards"], ft) * cw["dashboard_month"]
    parts["CloudWatch Logs"] = logs_cost
    parts["CloudWatch custom metrics"] = metrics_cost
    lines.append(
        Line(
            "CloudWatch",
            logs_cost + metrics_cost + alarms_cost + dash_cost,
            f"logs {logs_gb:,.1f} GB ${logs_cost:,.2f}; {custom_metrics} custom metrics ${metrics_cost:,.2f}; "
            f"{stack.alarm_metrics} alarm metrics ${alarms_cost:,.2f}; {dashboards} dashboards ${dash_cost:,.2f}",
        )
    )

    entry = ingest_requests + polls + ai_invocations + ib.lambda_invocations
    reservoir = a.xray_reservoir_per_s * MONTH_S
    traces = q["xray_traces"] = min(entry, reservoir) + a.xray_rate * max(0.0, entry - reservoir)
    xr = p["xray"]
    parts["X-Ray traces"] = _free(traces, xr["free_tier_traces"], ft) / 1e6 * xr["traces_recorded_per_million"]
    lines.append(
        Line(
            "X-Ray",
            parts["X-Ray traces"],
            f"{traces / 1e6:,.2f}M traces recorded (1/s + 5 % sampling)",
        )
    )

    if stack.streaming:
        parts["Kinesis"] = ib.kinesis_usd
        lines.append(Line("Kinesis", ib.kinesis_usd, ib_note(ib, stack)))
    lines.append(
        Line("EventBridge", alerts / 1e6 * p["eventbridge"]["custom_events_per_million"], f"{alerts:,.0f} alert events")
    )
    sns = p["sns"]
    emails = alerts * fleet.email_subscribers
    lines.append(
        Line(
            "SNS",
            _free(alerts, sns["free_tier_publishes"], ft) / 1e6 * sns["publishes_per_million"]
            + _free(emails, sns["free_tier_emails"], ft) / 1e5 * sns["email_per_100k"],
            f"{alerts:,.0f} publishes, {emails:,.0f} emails",
        )
    )
    kms = p["kms"]
    lines.append(
        Line(
            "KMS",
            stack.kms_keys * kms["key_month"]
            + _free(alerts, kms["free_tier_requests"], ft) / 1e4 * kms["requests_per_10k"],
            f"{stack.kms_keys} customer key (the alert topic, which alarms share), one data-key request per alert",
        )
    )
    s3_gb = a.artifact_gb
    lines.append(
        Line(
            "S3 + SQS",
            _free(s3_gb, p["s3"]["free_tier_gb"], ft) * p["s3"]["standard_gb_month"],
            f"{s3_gb:.2f} GB code/artifacts; DLQs idle when healthy",
        )
    )
    bud = p["budgets"]
    lines.append(
        Line(
            "Budgets",
            max(0, stack.budgets - bud["free_budgets"]) * bud["budget_day"] * DAYS,
            f"{stack.budgets} budget (first {bud['free_budgets']} free)",
        )
    )

    if fleet.sagemaker:
        sm = p["sagemaker"]
        per_minute = state_ops / (MONTH_S / 60)
        needed = q["sagemaker_instances_needed"] = math.ceil(per_minute / stack.sagemaker_target_per_instance_minute)
        instances = min(max(needed, stack.sagemaker_min_instances), stack.sagemaker_max_instances)
        if stack.sagemaker_business_hours_only:
            hours = stack.sagemaker_min_instances * HOURS + (instances - stack.sagemaker_min_instances) * BUSINESS_HOURS
        else:
            hours = instances * HOURS
        q["sagemaker_instance_hours"] = hours
        parts["SageMaker endpoint"] = hours * sm["hosting_hour"][stack.sagemaker_instance_type]
        saturated = (
            f"; SATURATED: load needs {needed} instances, max is {stack.sagemaker_max_instances}"
            if needed > instances
            else ""
        )
        lines.append(
            Line(
                "SageMaker",
                hours * sm["hosting_hour"][stack.sagemaker_instance_type]
                + a.training_hours * sm["training_hour"]["ml.m5.xlarge"],
                f"{instances} x {stack.sagemaker_instance_type} ({hours:,.0f} h) + {a.training_hours} h training{saturated}",
            )
        )
    if fleet.bedrock_calls:
        br = p["bedrock"]
        lines.append(
            Line(
                "Bedrock",
                fleet.bedrock_calls
                * (
                    a.bedrock_input_tokens * br["input_tokens_per_million"]
                    + a.bedrock_output_tokens * br["output_tokens_per_million"]
                )
                / 1e6,
                f"{fleet.bedrock_calls:,} calls x ({a.bedrock_input_tokens} in + {a.bedrock_output_tokens} out tokens), {br['model']}",
            )
        )
    return Estimate(fleet, lines, q, parts)


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


def _ib_flow(fleet: Fleet, stack: StackShape, a: Assumptions, kinesis: dict[str, Any]) -> IbFlow:
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
    events = (fleet.ib_streams * fleet.ib_events_per_minute + sim_streams * stack.simulator_events_per_minute) * MONTH_S / 60
    shards = stack.kinesis_shards or ON_DEMAND_SHARDS
    window = max(stack.kinesis_batching_window_s, 1.0)
    invocations = max(events / stack.kinesis_batch_size, min(events, shards * MONTH_S / window)) if events else 0.0
    streams_per_invocation = min(events / invocations, max(1.0, streams / shards)) if invocations else 0.0
    state_writes = invocations * streams_per_invocation
    sim_runs = MONTH_S / stack.simulator_interval_s if stack.simulator else 0.0
    if stack.kinesis_shards:
        kinesis_usd = (
            shards * HOURS * kinesis["provisioned_shard_hour"]
            + events * math.ceil(a.ib_event_bytes / (25 * 1024)) / 1e6 * kinesis["provisioned_put_units_per_million"]
        )
    else:
        gb = events * math.ceil(a.ib_event_bytes / 1024) / (1024 * 1024)
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
        lambda_gb_s=(invocations * a.process_ms + sim_runs * a.simulator_ms) / 1000 * stack.process_memory_mb / 1024,
        state_wru=state_writes * 2 * math.ceil(a.ib_state_bytes / 1024),
        state_rru=state_writes * 0.5 * math.ceil(a.ib_state_bytes / 4096),
        log_bytes=(invocations + sim_runs) * (a.lambda_platform_log_bytes + a.ib_app_log_bytes),
        kinesis_usd=kinesis_usd,
    )


def ib_note(ib: IbFlow, stack: StackShape) -> str:
    mode = f"{stack.kinesis_shards} provisioned shards" if stack.kinesis_shards else f"on demand ({ib.shards:.0f} shards polled)"
    return (
        f"{ib.streams:,.0f} InfiniBand streams, {ib.events / 1e6:,.1f}M events, {mode}; "
        f"{ib.lambda_invocations / 1e6:,.2f}M process/simulator invocations"
    )


@dataclass
class Lever:
    name: str
    before: float
    after: float


def levers(fleet: Fleet, stack: StackShape, a: Assumptions) -> list[Lever]:
    """What the main cost cuts would save, each alone, computed by re-running the estimate."""
    base = estimate(fleet, stack, a).total
    options = [
        (
            "stream batching window 300 s, batch size 10,000 (insights up to 5 min later)",
            estimate(fleet, replace(stack, batching_window_s=300, batch_size=10_000), a),
        ),
        (
            "detector state under 1 KB (one write unit; e.g. fewer history slots)",
            estimate(fleet, stack, replace(a, state_bytes=1000)),
        ),
        ("a collector batches 100 host samples per POST", estimate(replace(fleet, samples_per_request=100), stack, a)),
        (
            "API Gateway detailed (per-method) metrics off",
            estimate(fleet, replace(stack, api_detailed_metrics=False), a),
        ),
    ]
    if stack.streaming and not stack.kinesis_shards:
        options.append(
            (
                "Kinesis: one provisioned shard instead of on demand (kinesisShardCount 1: up to 1,000 events/s)",
                estimate(fleet, replace(stack, kinesis_shards=1), a),
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
