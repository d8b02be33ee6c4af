"""Prediction insights: capacity metrics forecast to cross their limit within the horizon.

Only series whose metric has a limit get a forecast (the others pay nothing). The forecast state
lives in the series' state item beside the detectors' (`SeriesState.forecast`), so it costs no
extra read or write, and a replayed batch (points already scored) never predicts twice. The id
of a prediction is derived from the point it was made at, like an anomaly's.
"""

from __future__ import annotations

from datetime import UTC, datetime

from detectors import forecast
from detectors.runtime import SeriesResult, risk_and_severity
from iops import models
from iops.logic.explain import family
from iops.models.common import insight_id, iso
from iops.settings import PredictionSettings

PREDICTION_TYPES = {
    "memory": "memory_exhaustion",
    "disk": "disk_exhaustion",
    "cpu": "cpu_saturation",
    "latency": "latency_slo_breach",
}
ACTIONS = {
    "memory": [
        "Find the process whose resident memory grows on {host} (ps/smem over time, container memory stats) before the OOM killer picks one",
        "Schedule a restart or roll back the service that leaks, in a quiet window before {eta}",
        "Raise the memory limit or move workload off {host} if the growth is legitimate load",
    ],
    "disk": [
        "Find what grows on {host} (du on data and log directories, rotated logs, core dumps) and clean or rotate it",
        "Extend the volume or move data before {eta}; check log rotation and retention jobs",
    ],
    "cpu": [
        "Add capacity for {host}'s workload (scale out, larger instance) before {eta}",
        "Check what drives the growth: new traffic, a runaway job, or a deploy that made requests more expensive",
    ],
    "latency": [
        "Check the fabric path of {host} for rising congestion or link errors (perfquery, ibdiagnet) before the SLO is breached",
        "Move heavy flows off the congested switch or rebalance routes before {eta}",
    ],
}
GENERIC_ACTIONS = ["Watch {metric} on {host}: this forecast is refreshed as new points arrive"]


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float) -> str:
    minutes = max(0, int(round(seconds / 60)))
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def risk(hit: forecast.Crossing, horizon_s: float) -> int:
    """Surer and sooner is riskier: a sure crossing now is 100, an even bet at the horizon's end 37.

    ``0.5 + 0.5 * confidence`` because a prediction is only raised at confidence >= 0.5 (the mean
    crosses); urgency goes from 1 (now) down to 0.5 (at the horizon).
    """
    urgency = 1 - 0.5 * min(1.0, max(0.0, (hit.eta - hit.made_at) / max(horizon_s, 1.0)))
    return int(round(100 * (0.5 + 0.5 * hit.confidence) * urgency))


def build_prediction(entity: str, metric: str, hit: forecast.Crossing, horizon_s: float) -> models.Insight:
    """The prediction insight of one forecast crossing."""
    ts_ms = int(round(hit.made_at * 1000))
    score = risk(hit, horizon_s)
    kind = family(metric) or ""
    latest = f"{_when(hit.latest)}" if hit.latest is not None else "beyond the forecast horizon"
    model = "holt-winters (daily seasonal, damped trend)" if hit.seasonal else "holt-winters (damped trend)"
    explanation = (
        f"{metric} on {entity} is {hit.current:.4g} and forecast to reach its limit of {hit.limit:g} "
        f"at {_when(hit.eta)}, in {_duration(hit.eta - hit.made_at)} "
        f"(90 % interval: {_when(hit.earliest)} to {latest}; {hit.confidence:.0%} sure to cross within the horizon)."
    )
    actions = ACTIONS.get(kind, []) + GENERIC_ACTIONS
    fill = {"host": entity, "metric": metric, "eta": _when(hit.eta)}
    interval = {"earliest": iso(int(hit.earliest * 1000))}
    if hit.latest is not None:
        interval["latest"] = iso(int(hit.latest * 1000))
    return models.Insight(
        alert_id=insight_id(entity, metric, ts_ms, "prediction"),
        timestamp_ms=ts_ms,
        entity_id=entity,
        type="prediction",
        prediction_type=PREDICTION_TYPES.get(kind, "capacity_exhaustion"),
        severity=risk_and_severity(score / 100)[1],
        risk_score=score,
        confidence=hit.confidence,
        explanation=explanation,
        recommendations=[a.format(**fill) for a in actions],
        model_used=model,
        affected_hosts=[entity],
        metric=metric,
        observed=round(hit.current, 6),
        expected=round(hit.heading_to, 6),
        scores={"forecast": hit.confidence},
        eta=iso(int(hit.eta * 1000)),
        eta_interval=interval,
        limit=hit.limit,
    )


def predict(result: SeriesResult, settings: PredictionSettings) -> list[models.Insight]:
    """Feed a series' new points to its forecast; the prediction insights that are new."""
    limit = settings.limits.get(result.series.metric)
    if limit is None or not result.results:
        return []
    state = result.state.forecast or forecast.new_state()
    result.state.forecast = state
    hits = forecast.observe(state, (r.point for r in result.results), limit, settings.horizon_s, settings.every_points)
    return [build_prediction(result.series.entity, result.series.metric, h, settings.horizon_s) for h in hits]
