"""Custom CloudWatch metrics the handlers emit as EMF (Powertools Metrics), declared in one place.

`METRICS` is the contract between the handlers and the observability tier: the dashboards are
built from it, and a CloudWatch metric exists only under the exact dimension set that was
emitted, so the handlers emit through `emit` (which checks the spec) and nothing else.

Every document carries ``service`` = the Lambda's ``POWERTOOLS_SERVICE_NAME``, which the stack
sets to the function's name (so the stack is part of the identity without another dimension).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from iops_detector_sdk.severity import SEVERITIES

from iops.settings import RuntimeSettings

if TYPE_CHECKING:  # the ingest function, which imports this too, has no insights
    from iops.models.insight import Insight

NAMESPACE = "IOpsDashboard"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    unit: MetricUnit
    emitter: str
    """Which function emits it: "ingest" or "ai" (the dashboard puts its service dimension)."""
    dimensions: tuple[str, ...] = ()
    """Dimensions beyond ``service``."""


METRICS = {
    spec.name: spec
    for spec in (
        MetricSpec("MetricsIngested", MetricUnit.Count, "ingest"),
        MetricSpec("MetricsRejected", MetricUnit.Count, "ingest"),
        MetricSpec("MetricsUnstored", MetricUnit.Count, "ingest"),
        MetricSpec("Insights", MetricUnit.Count, "ai", ("severity",)),
        MetricSpec("DetectorLatency", MetricUnit.Milliseconds, "ai", ("detector",)),
        MetricSpec("DetectorFailures", MetricUnit.Count, "ai", ("detector",)),
        MetricSpec("DetectorTimeouts", MetricUnit.Count, "ai", ("detector",)),
        MetricSpec("LatePoints", MetricUnit.Count, "ai"),
        MetricSpec("DetectorsMissing", MetricUnit.Count, "ai"),
    )
}


def service_name() -> str:
    """The ``service`` dimension: the function's name in AWS (set by the stack), else "local"."""
    runtime = RuntimeSettings.from_env()
    return runtime.service_name or runtime.function_name or "local"


def emit(values: dict[str, float], **dimensions: str) -> None:
    """Print one EMF document: ``values`` (metric name -> value) under service + ``dimensions``.

    Each call is its own document because EMF gives all metrics of a document the same
    dimension set; `EphemeralMetrics` keeps no state shared with other Metrics instances.
    """
    metrics = EphemeralMetrics(namespace=NAMESPACE, service=service_name())
    for name, value in values.items():
        spec = METRICS[name]
        if set(spec.dimensions) != set(dimensions):
            raise ValueError(f"{name} takes dimensions {spec.dimensions}, got {sorted(dimensions)}")
        metrics.add_metric(name=name, unit=spec.unit, value=value)
    for key, value in dimensions.items():
        metrics.add_dimension(name=key, value=value)
    metrics.flush_metrics()


def ingest_result(accepted: int, rejected: int, unstored: int) -> None:
    """One POST /metrics: items stored, rejected as invalid, and valid but not stored (503)."""
    emit({"MetricsIngested": accepted, "MetricsRejected": rejected, "MetricsUnstored": unstored})


def ai_batch(
    insights: list[Insight],
    detector_seconds: dict[str, float],
    detector_failures: dict[str, int],
    detector_timeouts: dict[str, int] | None = None,
    late: int = 0,
    missing: int = 0,
) -> None:
    """One AI batch: insights per severity (only severities that occurred), per detector its time,
    failures and series it did not finish by the deadline (zero included, so a healthy detector
    shows 0, not a gap), the late points (older than their series' last scored point), and how many
    configured detectors are not installed (every batch, so the alarm on it stays on while they are missing)."""
    timeouts = detector_timeouts or {}
    emit({"LatePoints": late, "DetectorsMissing": missing})
    counts: dict[str, int] = {}
    for insight in insights:
        counts[insight.severity] = counts.get(insight.severity, 0) + 1
    for severity in SEVERITIES:
        if counts.get(severity):
            emit({"Insights": counts[severity]}, severity=severity)
    for detector in sorted(set(detector_seconds) | set(detector_failures) | set(timeouts)):
        emit(
            {
                "DetectorLatency": round(detector_seconds.get(detector, 0.0) * 1000, 3),
                "DetectorFailures": detector_failures.get(detector, 0),
                "DetectorTimeouts": timeouts.get(detector, 0),
            },
            detector=detector,
        )
