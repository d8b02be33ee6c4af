"""Simulator Lambda: on a schedule, the last interval's InfiniBand events onto the Kinesis stream."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from iops.dal import aws
from iops.logic.ib_simulator import IbGenerator, put_events
from iops.settings import IbSimulatorSettings
from iops.tracing import tracer


def window_end(event: dict) -> float:
    """The scheduled time of an EventBridge scheduled event (now, when invoked by hand)."""
    raw = event.get("time")
    if isinstance(raw, str):
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    return time.time()


@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: Any) -> dict:
    """One scheduled run: the last interval's events for every stream onto the Kinesis stream."""
    settings = IbSimulatorSettings.from_env()
    end = window_end(event)
    interval = settings.interval_s
    gen = IbGenerator(
        streams=settings.streams,
        events_per_minute=settings.events_per_minute,
        seed=settings.seed,
        degradation_rate=settings.degradation_rate,
    )
    gen.rng.seed(f"window:{end}")
    events = gen.events(end - interval, end)
    sent = put_events(aws.client("kinesis"), settings.stream, events)
    degraded = sorted({f"{d.kind} on {d.stream}" for d in gen.scheduled(end - interval, end)})
    print(json.dumps({"message": "simulated", "events": sent, "windowEnd": end, "degraded": degraded}))
    return {"events": sent, "degraded": degraded}
