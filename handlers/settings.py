"""Runtime settings, read from environment variables the stack (or `iops local`) sets."""

from __future__ import annotations

import os
from dataclasses import dataclass

from handlers.definitions import DETECTOR_STATE, INSIGHTS, METRICS

DEFAULT_ANOMALY_THRESHOLD = 0.5273
"""The default detectors' cross-validated threshold (docs/detection.md); Pulumi.yaml has the same."""


@dataclass(frozen=True, slots=True)
class Settings:
    metrics_table: str
    insights_table: str
    state_table: str
    event_bus: str
    anomaly_threshold: float
    metrics_ttl_days: int
    insights_ttl_days: int
    max_metrics_per_request: int
    allowed_origins: tuple[str, ...]
    dashboard_url: str

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        return cls(
            metrics_table=env(METRICS.env_var, "iops-dev-metrics"),
            insights_table=env(INSIGHTS.env_var, "iops-dev-insights"),
            state_table=env(DETECTOR_STATE.env_var, "iops-dev-detector-state"),
            event_bus=env("EVENT_BUS_NAME", ""),
            anomaly_threshold=float(env("ANOMALY_THRESHOLD", str(DEFAULT_ANOMALY_THRESHOLD))),
            metrics_ttl_days=int(env("METRICS_TTL_DAYS", "90")),
            insights_ttl_days=int(env("INSIGHTS_TTL_DAYS", "180")),
            max_metrics_per_request=int(env("MAX_METRICS_PER_REQUEST", "500")),
            allowed_origins=tuple(o.strip() for o in env("ALLOWED_ORIGINS", "*").split(",") if o.strip()),
            dashboard_url=env("DASHBOARD_URL", "").rstrip("/"),
        )
