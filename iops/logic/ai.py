"""The AI tier's work on one batch of DynamoDB stream records, as plain functions.

Records are grouped by series so each series costs one state read per batch, and a state write
only every few points (`iops.logic.checkpoint`: in between, the points since the written state are
replayed from the Metrics table first, so scores are the same); detectors run through `detectors.runtime.score_batch` under one deadline taken from the
Lambda's remaining time; points whose combined score passes the threshold become insights with
deterministic ids (feedback on a series, `iops.logic.feedback`, can raise its threshold or teach it
what is normal); every insight joins its incident (`iops.logic.incidents`), and incidents, not
insights, are notified through EventBridge, each notification claimed before it is published so
a retried batch never publishes it twice. The result is the set of stream sequence numbers that
must be retried: only those of the series that failed.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from iops_detector_sdk import severity as severities
from iops_detector_sdk.contract import Detector, Enricher, Enrichment, Finding, GroupingRule, Point, SeriesKey

from detectors import plugins
from detectors.runtime import SeriesResult, confidence, risk_and_severity, score_batch
from iops import models
from iops.dal.detector_state import load_states, save_states
from iops.dal.insights import store_insight
from iops.logic import incidents
from iops.logic.checkpoint import CheckpointPolicy, replay_points
from iops.logic.explain import template_enrichment
from iops.logic.feedback import NO_RULES, RulesCache, SeriesRules
from iops.logic.patterns import Correlation, correlate
from iops.logic.predictions import predict
from iops.logs import get_logger
from iops.models.common import RESERVED, insight_id
from iops.settings import DEFAULT_ENRICH_MAX_CALLS, AiSettings, PatternSettings, PredictionSettings

log = get_logger(__name__)

ENRICH_MARGIN_S = 10.0
"""Stop calling enrichers this long before the Lambda's deadline (storing and publishing follow)."""
SCORING_SHARE = 0.5
"""Detectors get this share of the time left when the batch starts; a detector still running then
is skipped for this batch (counted), and the others' insights are stored and published."""


@dataclass(slots=True)
class BatchOutcome:
    failed: set[str] = field(default_factory=set)
    """Sequence numbers to report as batch item failures."""
    insights: list[models.Insight] = field(default_factory=list)
    published: int = 0
    """Incident notifications put on the bus."""
    incidents: int = 0
    """Incidents this batch's insights joined or opened."""
    points: int = 0
    skipped: int = 0
    detector_failures: dict[str, int] = field(default_factory=dict)
    detector_seconds: dict[str, float] = field(default_factory=dict)
    detector_timeouts: dict[str, int] = field(default_factory=dict)
    """Detector -> series it did not score before the scoring deadline (hung or too slow)."""
    late: int = 0
    """Points older than their series' last scored point: skipped, or scored without learning in a replay."""


@dataclass(slots=True)
class Processor:
    """Everything one batch needs; built once per Lambda container."""

    ddb: Any
    events: Any
    settings: AiSettings
    detectors: dict[str, Detector]
    enrichers: dict[str, Enricher]
    enrich_min_severity: str = severities.ENRICH_MIN_SEVERITY
    enrich_max_calls: int = DEFAULT_ENRICH_MAX_CALLS
    prediction_settings: PredictionSettings = field(default_factory=PredictionSettings.from_env)
    pattern_settings: PatternSettings = field(default_factory=PatternSettings.from_env)
    missing_detectors: tuple[str, ...] = ()
    """Configured detectors no installed plugin provides: reported every batch, the others run."""
    grouping_rules: dict[str, GroupingRule] = field(default_factory=plugins.all_grouping_rules)
    feedback: RulesCache = field(default_factory=RulesCache)
    """What feedback changed per series (`iops.logic.feedback`), re-read every minute."""
    clock: Any = time.time
    """Wall-clock seconds: incident times (a simulation passes its own)."""


def parse_record(record: dict) -> list[tuple[SeriesKey, Point]]:
    """The (series, point) pairs in one stream record; ValueError for a record we cannot read."""
    if record.get("eventName") == "REMOVE":
        return []
    image = record.get("dynamodb", {}).get("NewImage")
    if not image:
        raise ValueError("stream record without NewImage (the stream must carry new images)")
    try:
        host = image["hostname"]["S"]
        ts = int(image["timestamp"]["N"]) / 1000
    except (KeyError, ValueError) as exc:
        raise ValueError(f"stream record without hostname/timestamp: {exc}") from None
    old = record["dynamodb"].get("OldImage") or {}
    pairs = []
    for name, value in image.items():
        # a MODIFY (another metric merged into this host and timestamp) re-sends the whole item:
        # only the attributes it added or changed are new points
        if name not in RESERVED and "N" in value and old.get(name) != value:
            pairs.append((SeriesKey(host, name), Point(ts, float(value["N"]))))
    return pairs


def findings_for(result: SeriesResult, threshold: float, rules: SeriesRules = NO_RULES) -> list[Finding]:
    """The points of one series whose combined score reaches its threshold, minus what feedback made normal."""
    out = []
    for r in result.results:
        if not rules.flags(r.point, r.combined, threshold):
            continue
        risk, severity = risk_and_severity(r.combined)
        top = max(r.scores, key=r.scores.get)
        out.append(
            Finding(
                series=result.series,
                point=r.point,
                score=r.combined,
                scores=r.scores,
                expected=r.expected,
                risk_score=risk,
                severity=severity,
                confidence=confidence(r.scores, threshold),
                context=r.context,
                # A detector may say which model scored (e.g. SageMaker or its LSTM fallback) in its state.
                model_used=str(result.state.detectors.get(top, {}).get("model_used") or top),
            )
        )
    return out


def enrich(processor: Processor, findings: list[Finding], deadline: float) -> list[Enrichment]:
    """Enrich findings (most severe first) within the call cap and deadline; template otherwise."""
    calls = 0
    chosen: dict[int, Enrichment] = {}
    order = sorted(range(len(findings)), key=lambda i: -findings[i].risk_score)
    for i in order:
        finding = findings[i]
        for name, enricher in processor.enrichers.items():
            if calls >= processor.enrich_max_calls or time.monotonic() >= deadline - ENRICH_MARGIN_S:
                break
            floor = getattr(enricher, "min_severity", severities.ENRICH_MIN_SEVERITY)
            if severities.severity_rank(finding.severity) < severities.severity_rank(floor):
                continue
            if severities.severity_rank(finding.severity) < severities.severity_rank(processor.enrich_min_severity):
                continue
            calls += 1
            try:
                got = enricher.enrich(finding, deadline - ENRICH_MARGIN_S)
            except Exception as exc:  # noqa: BLE001 - an enricher never loses the batch
                log.warning("enricher failed", enricher=name, error=exc)
                got = None
            if got is not None:
                chosen[i] = got
                break
    return [chosen.get(i) or template_enrichment(f) for i, f in enumerate(findings)]


def build_insight(finding: Finding, enrichment: Enrichment) -> models.Insight:
    """The anomaly insight of one finding, as its enricher (or the template) explained it."""
    ts_ms = int(round(finding.point.timestamp * 1000))
    risk = enrichment.risk_score if enrichment.risk_score is not None else finding.risk_score
    risk = max(0, min(100, int(risk)))
    severity = risk_and_severity(risk / 100)[1]
    return models.Insight(
        alert_id=insight_id(finding.series.entity, finding.series.metric, ts_ms, finding.insight_type),
        timestamp_ms=ts_ms,
        entity_id=finding.series.entity,
        type=finding.insight_type,
        prediction_type=enrichment.prediction_type or finding.prediction_type,
        severity=severity,
        risk_score=risk,
        confidence=finding.confidence,
        explanation=enrichment.explanation,
        recommendations=enrichment.recommendations,
        model_used=enrichment.model_used,
        affected_hosts=[finding.series.entity],
        metric=finding.series.metric,
        observed=finding.point.value,
        expected=finding.expected,
        scores={k: round(v, 4) for k, v in finding.scores.items()},
    )


def process_batch(processor: Processor, records: list[dict], deadline: float, replay: bool = False) -> BatchOutcome:
    """Score, store and alert on one batch; report which records must be retried.

    ``deadline`` is ``time.monotonic()`` at which the invocation ends. ``replay`` (``iops replay``)
    also scores late points, without letting them change the series' state.
    """
    outcome = BatchOutcome()
    settings = processor.settings
    by_series: dict[SeriesKey, list[Point]] = defaultdict(list)
    seqs: dict[SeriesKey, set[str]] = defaultdict(set)
    for record in records:
        seq = record.get("dynamodb", {}).get("SequenceNumber", "")
        try:
            pairs = parse_record(record)
        except ValueError as exc:
            log.error("poison stream record", sequence_number=seq, error=exc)
            outcome.failed.add(seq)
            continue
        for series, point in pairs:
            by_series[series].append(point)
            seqs[series].add(seq)
            outcome.points += 1
    if not by_series:
        return outcome
    states, failed_series = load_states(processor.ddb, settings.state_table, list(by_series))
    scoring_deadline = time.monotonic() + SCORING_SHARE * max(0.0, deadline - time.monotonic())
    weights = processor.settings.plugins.weights
    written_at = {s: state.last_timestamp for s, state in states.items()}
    policy = CheckpointPolicy(settings.checkpoint_points if settings.metrics_table else 1, settings.checkpoint_seconds)
    replayed: dict[SeriesKey, list[Point]] = {}
    if policy.points > 1 and settings.metrics_table:
        replayed, unread = replay_points(processor.ddb, settings.metrics_table, states, by_series)
        failed_series |= unread
        caught_up = score_batch(
            processor.detectors, {s: (states[s], p) for s, p in replayed.items()}, scoring_deadline, weights=weights
        )
        if caught_up.timed_out:  # a detector did not catch up: these series are retried, not scored behind
            log.error("detectors did not replay the points since the checkpoint", detectors=caught_up.timed_out)
            failed_series |= set(replayed)
        for result in caught_up.results:
            predict(result, processor.prediction_settings)  # its forecast state; those insights exist
    work = {s: (states[s], by_series[s]) for s in by_series if s in states and s not in failed_series}
    scored = score_batch(processor.detectors, work, scoring_deadline, replay=replay, weights=weights)
    outcome.detector_timeouts = scored.timed_out
    outcome.late = scored.late
    results: list[SeriesResult] = scored.results
    try:
        series_rules = processor.feedback.get(processor.ddb, settings.incidents.feedback_table)
    except Exception as exc:  # noqa: BLE001 - feedback refines detection; without it the batch goes on
        log.error("could not read feedback rules", error=exc)
        series_rules = processor.feedback.rules
    findings: list[Finding] = []
    for result in results:
        outcome.skipped += result.skipped
        for f in result.failures:
            outcome.detector_failures[f.detector] = outcome.detector_failures.get(f.detector, 0) + 1
        for name, secs in result.seconds.items():
            outcome.detector_seconds[name] = outcome.detector_seconds.get(name, 0.0) + secs
        rules = series_rules.get(str(result.series), NO_RULES)
        findings.extend(findings_for(result, settings.anomaly_threshold, rules))
    enrichments = enrich(processor, findings, deadline)
    candidates = [(f.series, build_insight(f, e)) for f, e in zip(findings, enrichments, strict=True)]
    candidates += [(r.series, i) for r in results for i in predict(r, processor.prediction_settings)]
    try:  # patterns: members are linked; a pattern ties its hosts into one incident
        grouped = correlate(
            processor.ddb,
            settings.insights_table,
            processor.pattern_settings,
            processor.grouping_rules,
            [i for _, i in candidates],
        )
    except Exception as exc:  # noqa: BLE001 - anomalies still form incidents per host; their series are retried
        log.error("could not correlate anomalies", error=exc)
        grouped = Correlation()
        failed_series |= {s for s, i in candidates if i.type == "anomaly"}
    stored: list[tuple[SeriesKey, models.Insight]] = []
    for series, insight in candidates + grouped.patterns:
        try:
            store_insight(processor.ddb, settings.insights_table, insight, settings.insights_ttl_days)
            outcome.insights.append(insight)
            stored.append((series, insight))
        except Exception as exc:  # noqa: BLE001 - the series is retried, others go on
            log.error("could not store insight", series=series, error=exc)
            failed_series.add(series)
    # Every stored insight (a replayed one too: joining is idempotent) goes to its incident.
    now_ms = int(processor.clock() * 1000)
    to_assign = stored + grouped.updated  # a joined pattern brings its new hosts into its incident
    touched, unassigned = incidents.assign(processor.ddb, settings.incidents, [i for _, i in to_assign], now_ms)
    series_of = {i.alert_id: s for s, i in to_assign}
    failed_series |= {series_of[i.alert_id] for i in unassigned}
    outcome.incidents = len(touched)
    try:
        outcome.published = incidents.notify(
            processor.ddb,
            processor.events,
            settings.event_bus,
            settings.dashboard_url,
            settings.incidents,
            touched,
            now_ms,
        )
    except Exception as exc:  # noqa: BLE001 - what is due stays due: the sweeper sends it within a minute
        log.error("could not notify incidents", error=exc)
    ok_results = [
        r
        for r in results
        if r.series not in failed_series and policy.due(written_at[r.series], len(replayed.get(r.series, ())), r)
    ]
    failed_series |= save_states(processor.ddb, settings.state_table, ok_results)
    for series in failed_series:
        outcome.failed |= seqs[series]
    return outcome
