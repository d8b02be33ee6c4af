"""`iops local`: start the emulator, the API on loopback, and the stream pump; stop them cleanly."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from handlers.definitions import METRICS
from local import emulator
from local.pump import StreamPump
from local.server import LocalApi


@dataclass
class LocalSystem:
    port: int = 8000
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    host: str = "127.0.0.1"
    extra_env: dict[str, str] = field(default_factory=dict)
    emu: emulator.Emulator | None = None
    api: LocalApi | None = None
    pump: StreamPump | None = None
    _thread: threading.Thread | None = None

    def start(self) -> LocalSystem:
        self.emu = emulator.start()
        emulator.apply_environment(self.emu, self.extra_env)
        self.api = LocalApi(self.port, self.api_key, host=self.host)
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

    @property
    def url(self) -> str:
        assert self.api is not None
        return self.api.base_url

    def stop(self) -> None:
        if self.pump:
            self.pump.stop()
            self.pump.join(timeout=5)
        if self.api:
            self.api.shutdown()
            self.api.server_close()
        if self.emu:
            self.emu.stop()
