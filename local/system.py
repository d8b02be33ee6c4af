"""`iops local`: start the emulator, the API on loopback, and the stream pump; stop them cleanly."""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass, field

from handlers.definitions import IB_EVENTS, METRICS
from iops.settings import AiSettings, IbProcessSettings
from local import alerts as local_alerts
from local import emulator
from local import kinesis as local_kinesis
from local.pump import StreamPump
from local.server import LocalApi


@dataclass
class LocalSystem:
    port: int = 8000
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    host: str = "127.0.0.1"
    public_url: str | None = None
    """The URL users reach the system at (printed, in ``config.json``, in alert links); None = http://host:port."""
    extra_env: dict[str, str] = field(default_factory=dict)
    emu: emulator.Emulator | None = None
    api: LocalApi | None = None
    pump: StreamPump | None = None
    kinesis: bool = field(default_factory=lambda: os.environ.get("IOPS_STREAMING") == "1")
    """Also run the streaming tier: the Kinesis stream and its poller into the process handler."""
    poller: local_kinesis.KinesisPoller | None = None
    alerts_webhook: str | None = None
    """POST every alert here as an SNS HTTP notification; None prints alerts to the console."""
    alerts: local_alerts.AlertForwarder | None = None
    kinesis_stream: str | None = None
    _thread: threading.Thread | None = None

    def start(self) -> LocalSystem:
        self.emu = emulator.start()
        emulator.apply_environment(self.emu, self.extra_env)
        if self.kinesis:
            self._start_kinesis()
        self.api = LocalApi(self.port, self.api_key, host=self.host, public_url=self.public_url)
        # alerts link to the insight here
        os.environ.setdefault(AiSettings.env_name("dashboard_url"), self.api.public_url)
        assert self.emu.alerts is not None
        self.alerts = local_alerts.AlertForwarder(
            self.emu.client("sqs"), self.emu.client("sns"), self.emu.alerts, webhook=self.alerts_webhook
        )
        self.alerts.start()
        from handlers import ai  # imported after the environment points at the emulator

        self.pump = StreamPump(
            ddb=self.emu.client("dynamodb"),
            streams=self.emu.client("dynamodbstreams"),
            sqs=self.emu.client("sqs"),
            table=self.emu.table_name(METRICS.logical),
            handler=ai.handler,
            dlq_url=self.emu.client("sqs").get_queue_url(QueueName=emulator.AI_DLQ)["QueueUrl"],
        )
        self.pump.start()
        self._thread = threading.Thread(target=self.api.serve_forever, name="local-api", daemon=True)
        self._thread.start()
        return self

    def _start_kinesis(self) -> None:
        """Create the stream, state table and failure queue; poll the stream into the process handler."""
        assert self.emu is not None
        env = local_kinesis.create_resources(self.emu)
        os.environ.update(env)
        from handlers import ib_process  # imported after the environment points at the emulator

        ib_process.reset()
        self.kinesis_stream = env[IB_EVENTS.env_var]
        self.poller = local_kinesis.KinesisPoller(
            kinesis=self.emu.client("kinesis"),
            sqs=self.emu.client("sqs"),
            stream=self.kinesis_stream,
            handler=ib_process.handler,
            dlq_url=env[IbProcessSettings.env_name("dlq_url")],
        )
        self.poller.start()

    @property
    def url(self) -> str:
        assert self.api is not None
        return self.api.public_url

    def stop(self) -> None:
        if self.alerts:
            self.alerts.stop()
            self.alerts.join(timeout=5)
        if self.poller:
            self.poller.stop()
            self.poller.join(timeout=5)
        if self.pump:
            self.pump.stop()
            self.pump.join(timeout=5)
        if self.api:
            self.api.shutdown()
            self.api.server_close()
        if self.emu:
            self.emu.stop()
