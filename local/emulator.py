"""The embedded AWS: moto's server on loopback, with the stack's resources created in it."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass

import boto3
from botocore.config import Config

from handlers.definitions import (
    AI_FN,
    CORRELATION,
    COUNTERS,
    DETECTOR_STATE,
    FEEDBACK,
    INCIDENT_SWEEPER_FN,
    INCIDENTS,
    INGEST_FN,
    INSIGHTS,
    INSIGHTS_FN,
    METRICS,
    QUERY_FN,
    SILENCES,
    TABLES,
)
from iops.settings import (
    AiSettings,
    IncidentSettings,
    IncidentSweeperSettings,
    IngestSettings,
    InsightsApiSettings,
    PaginationSettings,
    PatternSettings,
    QuerySettings,
    Settings,
)
from local import alerts as local_alerts
from local.offline import OFFLINE_AWS

REGION = "us-east-1"
LOCAL_PREFIX = "iops-local"
AI_DLQ = f"{LOCAL_PREFIX}-ai-dlq"


def function_settings(
    prefix: str,
    environ: Mapping[str, str] | None = None,
    *,
    event_bus: str | None = None,
    token_secret: str | None = None,
    firehose_key: str | None = None,
) -> dict[str, Settings]:
    """The settings of the API and AI functions (`iops.settings`) for the tables named with ``prefix``.

    The tables, ``event_bus``, ``token_secret`` and ``firehose_key`` (the access key
    ``POST /firehose/cloudwatch`` demands, which the stack keeps in Secrets Manager) are given;
    everything else is read from ``environ`` (default ``os.environ``) with the settings' defaults,
    so ``IOPS_DETECTORS=... iops local`` works.
    """
    env = os.environ if environ is None else environ
    pagination = PaginationSettings.from_env(env, **({"token_secret": token_secret} if token_secret else {}))
    ai_values = {"event_bus": event_bus} if event_bus else {}
    incidents = IncidentSettings.from_env(
        env,
        table=INCIDENTS.physical_name(prefix),
        silences_table=SILENCES.physical_name(prefix),
        feedback_table=FEEDBACK.physical_name(prefix),
    )
    return {
        INGEST_FN: IngestSettings.from_env(
            env,
            metrics_table=METRICS.physical_name(prefix),
            counters_table=COUNTERS.physical_name(prefix),
            **({"firehose_access_key": firehose_key} if firehose_key else {}),
        ),
        QUERY_FN: QuerySettings.from_env(env, metrics_table=METRICS.physical_name(prefix), pagination=pagination),
        INSIGHTS_FN: InsightsApiSettings.from_env(
            env, insights_table=INSIGHTS.physical_name(prefix), pagination=pagination, incidents=incidents
        ),
        AI_FN: AiSettings.from_env(
            env,
            insights_table=INSIGHTS.physical_name(prefix),
            state_table=DETECTOR_STATE.physical_name(prefix),
            metrics_table=METRICS.physical_name(prefix),
            patterns=PatternSettings.from_env(env, table=CORRELATION.physical_name(prefix)),
            incidents=incidents,
            **ai_values,
        ),
        INCIDENT_SWEEPER_FN: IncidentSweeperSettings.from_env(env, incidents=incidents, **ai_values),
    }


def function_environment(*settings: Settings) -> dict[str, str]:
    """One process environment for several functions (`to_env` of each; shared variables agree)."""
    env: dict[str, str] = {}
    for s in settings:
        for key, value in s.to_env().items():
            if env.get(key, value) != value:
                raise ValueError(f"{key}: {env[key]!r} for one function, {value!r} for another")
            env[key] = value
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(slots=True)
class Emulator:
    """A running moto server and the names of what was created in it."""

    endpoint: str
    prefix: str
    server: object | None = None
    alerts: local_alerts.AlertResources | None = None

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 2}, account_id_endpoint_mode="disabled"),
        )

    def table_name(self, logical: str) -> str:
        return f"{self.prefix}-{logical}"

    def environment(self) -> dict[str, str]:
        """Environment the handlers read: each function's settings' ``to_env()``, as the stack sets them
        (tables of this run, the local alert bus, one token secret per run), and the emulator's AWS."""
        functions = function_settings(
            self.prefix,
            event_bus=local_alerts.bus_name(self.prefix),
            # one secret per run signs pagination tokens, as the stack's random secret does
            token_secret=PaginationSettings.from_env().token_secret or secrets.token_hex(32),
            # Firehose's access key: FIREHOSE_ACCESS_KEY if set (to point a test delivery at it), else one per run
            firehose_key=os.environ.get(IngestSettings.env_name("firehose_access_key")) or secrets.token_urlsafe(32),
        )
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            **OFFLINE_AWS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_METRICS_NAMESPACE": "IOpsDashboard",
            "POWERTOOLS_SERVICE_NAME": "iops-local",
            # EMF documents are for CloudWatch; locally they would only flood the server's stdout.
            "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            # no X-Ray daemon here (Powertools also turns tracing off outside Lambda)
            "POWERTOOLS_TRACE_DISABLED": "true",
            **function_environment(*functions.values()),
        }

    def create_resources(self) -> None:
        """Create every table (from `handlers.definitions`), the AI tier's dead-letter queue and the alert bus."""
        ddb = self.client("dynamodb")
        existing = set(ddb.list_tables().get("TableNames", []))
        for table in TABLES:
            name = self.table_name(table.logical)
            if name not in existing:
                ddb.create_table(**table.create_table_kwargs(name))
            if table.ttl_attribute:
                ddb.update_time_to_live(
                    TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
                )
        self.client("sqs").create_queue(QueueName=f"{self.prefix}-ai-dlq")
        self.alerts = local_alerts.create_resources(self)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def start(port: int | None = None, prefix: str = LOCAL_PREFIX) -> Emulator:
    """Start moto's server on 127.0.0.1 and create the resources."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    emu = Emulator(endpoint=f"http://127.0.0.1:{port}", prefix=prefix, server=server)
    emu.create_resources()
    return emu


def apply_environment(emu: Emulator, extra: dict[str, str] | None = None) -> None:
    """Point this process (and the handlers it imports) at the emulator."""
    os.environ.update(emu.environment())
    os.environ.update(extra or {})
