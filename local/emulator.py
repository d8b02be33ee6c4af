"""The embedded AWS: moto's server on loopback, with the stack's resources created in it."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass

import boto3
from botocore.config import Config

from handlers.definitions import TABLES
from handlers.metrics import TOKEN_SECRET_ENV
from local import alerts as local_alerts

REGION = "us-east-1"
LOCAL_PREFIX = "iops-local"
AI_DLQ = f"{LOCAL_PREFIX}-ai-dlq"


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
        """Environment the handlers read: the same variables the stack sets on the Lambdas."""
        env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "POWERTOOLS_METRICS_NAMESPACE": "IOpsDashboard",
            "POWERTOOLS_SERVICE_NAME": "iops-local",
            # EMF documents are for CloudWatch; locally they would only flood the server's stdout.
            "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            "EVENT_BUS_NAME": local_alerts.bus_name(self.prefix),
            # one secret per run signs pagination tokens, as the stack's random secret does
            TOKEN_SECRET_ENV: os.environ.get(TOKEN_SECRET_ENV) or secrets.token_hex(32),
        }
        for table in TABLES:
            env[table.env_var] = self.table_name(table.logical)
        return env

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
