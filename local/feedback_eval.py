"""How much feedback changes alerts: a generated series with a benign nightly job and real incidents.

cpuUsage every 5 minutes for 4 days: about 30 %, a job at 03:00-03:20 every night (about 70 %), and
on day 3 two real incidents: a spike to 98 % during the job and the job's level at 15:00. A detector
that flags everything above 60 % runs through the AI tier's real batch processing (hourly batches,
a simulated clock, in-process moto); after day 1 a person gives a verdict on the first flagged job
point. Reported per verdict: on which days the job was still flagged, the real incidents' insights,
and the notifications sent.

    iops evaluate --feedback [--json]       (or: python -m local.feedback_eval)
"""

from __future__ import annotations

import dataclasses
import json
import random
import sys
import time
from typing import Any

from iops_detector_sdk.contract import Point, SeriesKey, State

DAY = 86_400
STEP = 300
START = 1_767_225_600  # 2026-01-01 00:00 UTC
HOST = "batch-01"
VERDICTS = (None, "not_an_anomaly", "too_sensitive")


class AboveSixty:
    """Flags every value above 60 (the detector that flags the job, without the real detectors' learning)."""

    name = "above-60"
    remote = False
    calibrated = True

    def new_state(self, series: SeriesKey) -> State:
        return {}

    def score(self, series: SeriesKey, state: State, points: list[Point]) -> list[float]:
        return [0.95 if p.value > 60 else 0.0 for p in points]


def series(days: int = 4) -> list[dict]:
    """The metrics (module docstring), seeded."""
    rng = random.Random(7)
    out = []
    for t in range(START, START + days * DAY, STEP):
        tod = (t - START) % DAY
        value = 30 + rng.gauss(0, 2)
        if 3 * 3600 <= tod < 3 * 3600 + 20 * 60:
            value = 70 + rng.gauss(0, 2)
        if t == START + 2 * DAY + 3 * 3600 + 10 * 60:
            value = 98.0  # same time as the job, another kind: far above it
        if START + 2 * DAY + 15 * 3600 <= t < START + 2 * DAY + 15 * 3600 + 15 * 60:
            value = 71 + rng.gauss(0, 2)  # the job's level, at another time of day
        out.append({"hostname": HOST, "timestamp": t, "cpuUsage": round(value, 3)})
    return out


def is_job(insight: Any) -> bool:
    tod = (insight.timestamp_ms // 1000 - START) % DAY
    return 3 * 3600 <= tod < 3 * 3600 + 20 * 60 and insight.observed < 90


def job_days(insights: list) -> set[int]:
    return {(i.timestamp_ms // 1000 - START) // DAY for i in insights if is_job(i)}


def run(ddb: Any, settings: Any, verdict: str | None) -> tuple[list, list[dict]]:
    """Day by day through `process_batch`; returns the anomaly insights and the notifications sent."""
    from iops.logic import feedback
    from iops.logic.ai import Processor, process_batch
    from local.pattern_eval import CountingEvents, stream_record

    clock = {"now": float(START)}
    events = CountingEvents()
    proc = Processor(
        ddb=ddb,
        events=events,
        settings=dataclasses.replace(settings, event_bus=settings.event_bus or "bus"),
        detectors={AboveSixty.name: AboveSixty()},
        enrichers={},
        feedback=feedback.RulesCache(ttl_s=0),
        prediction_settings=settings.predictions,
        pattern_settings=settings.patterns,
        clock=lambda: clock["now"],
    )
    records = [stream_record(i + 1, m) for i, m in enumerate(series())]
    flagged: list = []
    per_day = DAY // STEP
    for day in range(4):
        for i in range(day * per_day, (day + 1) * per_day, 12):  # one batch per hour
            clock["now"] = int(records[i + 11]["dynamodb"]["NewImage"]["timestamp"]["N"]) / 1000
            out = process_batch(proc, records[i : i + 12], time.monotonic() + 60)
            flagged += [x for x in out.insights if x.type == "anomaly"]
        if day == 0 and verdict is not None:
            job = next(x for x in flagged if x.observed and x.observed < 80)
            feedback.record(ddb, settings.incidents.feedback_table, job, verdict, "nightly backup", "eval", 0)
    return flagged, events.details


def evaluate() -> dict:
    """Every verdict's run in a fresh in-process emulator."""
    import os

    from moto import mock_aws

    from local.offline import OFFLINE_AWS

    for var, value in OFFLINE_AWS.items():
        os.environ.setdefault(var, value)
    from handlers.definitions import AI_FN, TABLES
    from iops.dal import aws
    from local.emulator import function_settings

    out: dict = {"series": f"{HOST} cpuUsage, 4 days at 5 min", "verdicts": {}}
    for verdict in VERDICTS:
        with mock_aws():
            aws.reset()
            ddb = aws.client("dynamodb")
            for table in TABLES:
                ddb.create_table(**table.create_table_kwargs(table.physical_name("fb-eval")))
            settings = function_settings("fb-eval", event_bus="fb-eval-bus")[AI_FN]
            flagged, sent = run(ddb, settings, verdict)
            aws.reset()
        real = [x for x in flagged if not is_job(x)]
        out["verdicts"][verdict or "none"] = {
            "job_flagged_on_days": sorted(job_days(flagged)),
            "job_insights": sum(1 for x in flagged if is_job(x)),
            "real_incident_insights": len(real),
            "notifications": len(sent),
        }
    return out


def print_report(out: dict) -> None:
    print(f"feedback on {out['series']}: a benign nightly job, two real incidents on day 3 (day numbers from 0)")
    print(f"  {'verdict after day 0':<22}{'job flagged on days':<22}{'job insights':>13}{'real':>6}{'notified':>10}")
    for verdict, v in out["verdicts"].items():
        days = ",".join(map(str, v["job_flagged_on_days"])) or "-"
        print(
            f"  {verdict:<22}{days:<22}{v['job_insights']:>13}{v['real_incident_insights']:>6}{v['notifications']:>10}"
        )


if __name__ == "__main__":
    result = evaluate()
    if "--json" in sys.argv[1:]:
        print(json.dumps(result, indent=1))
    else:
        print_report(result)
