"""Incident sweeper Lambda (EventBridge schedule, every minute): auto-resolve, reminders, pending notices.

Time has to pass without new insights for an incident to resolve or a reminder to fall due, so no
stream record would ever trigger them; `iops local` calls `sweep` from a thread the same way.
"""

from __future__ import annotations

import time

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from iops.dal import aws
from iops.logic import incidents
from iops.logs import structured
from iops.settings import IncidentSweeperSettings
from iops.tracing import tracer

logger = Logger(service="iops-incident-sweeper")
structured(logger)


def sweep(settings: IncidentSweeperSettings, now_s: float | None = None) -> dict:
    """One pass over the open incidents (``now_s``: wall-clock seconds, default now)."""
    return incidents.sweep(
        aws.client("dynamodb"),
        aws.client("events"),
        settings.event_bus,
        settings.dashboard_url,
        settings.incidents,
        int((time.time() if now_s is None else now_s) * 1000),
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    outcome = sweep(IncidentSweeperSettings.from_env())
    logger.info("incident sweep", extra=outcome)
    return outcome
