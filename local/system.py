"""`iops local`: start the emulator, the API on loopback, and the stream pump; stop them cleanly.

Who may do what is as in the stack: each writer (agent) has its own API key, and readers sign in to
the emulator's user pool, which has one user (given, or generated).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from handlers.definitions import IB_EVENTS, METRICS
from iops.settings import AiSettings, IbProcessSettings, IncidentSweeperSettings
from local import alerts as local_alerts
from local import cognito, emulator
from local import kinesis as local_kinesis
from local.pump import StreamPump
from local.server import REPO_ROOT, LocalApi

log = logging.getLogger(__name__)

DEV_STACK_CONFIG = REPO_ROOT / "Pulumi.dev.yaml"
WRITERS_KEY = "iops-dashboard:writers"
"""The dev stack's writers (a YAML list of names): the stack gives each an API key, and so does `iops local`."""
STOP_GRACE_S = 10.0
"""How long `stop` lets in-flight batches finish, all workers together (a stop is bounded on a busy machine)."""
DEFAULT_WRITER = "local"


def new_key() -> str:
    return secrets.token_urlsafe(24)


def configured_writers(config: Path = DEV_STACK_CONFIG) -> list[str]:
    """The writers the dev stack's config names, else one writer, ``local``."""
    try:
        text = config.read_text()
    except FileNotFoundError:
        return [DEFAULT_WRITER]
    names = ((yaml.safe_load(text) or {}).get("config") or {}).get(WRITERS_KEY)
    if names is None:
        return [DEFAULT_WRITER]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"{config}: {WRITERS_KEY} must be a list of writer names")
    return names


def writer_keys(
    names: Iterable[str], known: dict[str, str] | None = None, first_key: str | None = None
) -> dict[str, str]:
    """An API key for each writer in ``names`` (in order): ``first_key`` for the first one if given, a
    writer's key from ``known`` if it has one there, else a new one. Keys of writers not named are dropped."""
    keys: dict[str, str] = {}
    for i, name in enumerate(names):
        if name in keys:
            raise ValueError(f"writer {name!r} named twice")
        keys[name] = first_key if (i == 0 and first_key) else (known or {}).get(name) or new_key()
    if not keys:
        raise ValueError("at least one writer is needed")
    if len(set(keys.values())) != len(keys):
        raise ValueError("two writers cannot share an API key")
    return keys


@dataclass
class LocalSystem:
    port: int = 8000
    writers: dict[str, str] = field(default_factory=lambda: {DEFAULT_WRITER: new_key()})
    """Each writer's API key, by name (the first one's is ``api_key``)."""
    user: str = cognito.DEFAULT_USER
    password: str = field(default_factory=cognito.generate_password)
    """The one user of the local user pool: its name and permanent password."""
    host: str = "127.0.0.1"
    public_url: str | None = None
    """The URL users reach the system at (printed, in ``config.json``, in alert links); None = http://host:port."""
    extra_env: dict[str, str] = field(default_factory=dict)
    emu: emulator.Emulator | None = None
    pool: cognito.UserPool | None = None
    api: LocalApi | None = None
    pump: StreamPump | None = None
    kinesis: bool = field(default_factory=lambda: os.environ.get("IOPS_STREAMING") == "1")
    """Also run the streaming tier: the Kinesis stream and its poller into the process handler."""
    poller: local_kinesis.KinesisPoller | None = None
    alerts_webhook: str | None = None
    """POST every alert here as an SNS HTTP notification; None prints alerts to the console."""
    alerts: local_alerts.AlertForwarder | None = None
    kinesis_stream: str | None = None
    sweep_interval_s: float = field(default_factory=lambda: float(os.environ.get("IOPS_SWEEP_SECONDS", "60")))
    """How often the incident sweeper runs (the stack's schedule: every minute)."""
    _thread: threading.Thread | None = None
    _sweeper: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> LocalSystem:
        cognito.check_password(self.password)
        self.emu = emulator.start()
        emulator.apply_environment(self.emu, self.extra_env)
        if self.kinesis:
            self._start_kinesis()
        self.pool = cognito.create_user_pool(self.emu, self.user, self.password)
        self.api = LocalApi(
            self.port, self.writers, self.pool, self.pool.verifier(), host=self.host, public_url=self.public_url
        )
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
        self._sweeper = threading.Thread(target=self._sweep_forever, name="incident-sweeper", daemon=True)
        self._sweeper.start()
        return self

    def _sweep_forever(self) -> None:
        """What the stack's schedule does: the sweeper function, every ``sweep_interval_s``."""
        from handlers import incident_sweeper  # imported after the environment points at the emulator

        settings = IncidentSweeperSettings.from_env()
        while not self._stopping.wait(self.sweep_interval_s):
            try:
                incident_sweeper.sweep(settings)
            except Exception:  # noqa: BLE001 - keep sweeping; the emulator may be stopping
                log.exception("incident sweep failed; retried at the next interval")

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
    def api_key(self) -> str:
        """The first writer's key (what `iops demo` and `iops replay` use against this system)."""
        return next(iter(self.writers.values()))

    @property
    def url(self) -> str:
        assert self.api is not None
        return self.api.public_url

    def stop(self, grace_s: float = STOP_GRACE_S) -> list[str]:
        """Stop taking work, give in-flight batches ``grace_s`` in all to finish against the running
        emulator, then stop the servers. Returns the workers still busy at the deadline: their batch is
        abandoned (the emulator keeps nothing after exit anyway), and the caller must not wait for them."""
        self._stopping.set()
        for worker in (self.alerts, self.poller, self.pump):
            if worker:
                worker.stop()
        deadline = time.monotonic() + grace_s
        workers = [w for w in (self._sweeper, self.alerts, self.poller, self.pump) if w]
        for worker in workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.api:
            self.api.shutdown()
            self.api.server_close()
        if self.emu:
            self.emu.stop()
        return [w.name for w in workers if w.is_alive()]
