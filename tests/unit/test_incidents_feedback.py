"""Feedback through the AI tier's real batch processing: a benign daily job stops alerting, a real incident does not."""

from __future__ import annotations

import dataclasses
import random
import time

from detectors.contract import Point
from iops.logic import feedback
from iops.logic.ai import Processor, process_batch
from iops.settings import AiSettings
from local.pattern_eval import SpikeOracle, stream_record
from tests.unit.test_incidents import Events

DAY = 86_400
STEP = 300
START = 1_767_225_600  # 2026-01-01 00:00 UTC


class AboveSixty(SpikeOracle):
    """Flags every value above 60 (the detector that flags the job, without the real detectors' learning)."""

    def score(self, series, state, points) -> list[float]:
        return [0.95 if p.value > 60 else 0.0 for p in points]


def series(days: int = 4) -> list[dict]:
    """cpuUsage every 5 minutes: ~30 %, a job at 03:00-03:20 every day (~70 %), and two real incidents on day 3."""
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
        out.append({"hostname": "batch-01", "timestamp": t, "cpuUsage": round(value, 3)})
    return out


def run(ddb, verdict: str | None) -> tuple[list, int]:
    """Day by day through `process_batch`; after day 1, ``verdict`` on the first flagged job point."""
    base = AiSettings.from_env()
    settings = dataclasses.replace(base, event_bus="bus")
    clock = {"now": START}
    events = Events()
    proc = Processor(
        ddb=ddb,
        events=events,
        settings=settings,
        detectors={"above-60": AboveSixty()},
        enrichers={},
        feedback=feedback.RulesCache(ttl_s=0),
        clock=lambda: clock["now"],
    )
    records = [stream_record(i + 1, m) for i, m in enumerate(series())]
    flagged = []
    per_day = DAY // STEP
    for day in range(4):
        for i in range(day * per_day, (day + 1) * per_day, 12):  # one batch per hour
            clock["now"] = int(records[i + 11]["dynamodb"]["NewImage"]["timestamp"]["N"]) / 1000
            out = process_batch(proc, records[i : i + 12], time.monotonic() + 60)
            flagged += [i for i in out.insights if i.type == "anomaly"]
        if day == 0 and verdict is not None:
            job = next(i for i in flagged if i.observed and i.observed < 80)
            feedback.record(ddb, base.incidents.feedback_table, job, verdict, "nightly backup", "ana", 0)
    return flagged, len(events.sent)


def job(insight) -> bool:
    tod = (insight.timestamp_ms // 1000 - START) % DAY
    return 3 * 3600 <= tod < 3 * 3600 + 20 * 60 and insight.observed < 90


def later(insights) -> list:
    return [i for i in insights if i.timestamp_ms // 1000 >= START + DAY]


def job_days(insights) -> set[int]:
    return {(i.timestamp_ms // 1000 - START) // DAY for i in insights if job(i)}


def test_without_feedback_the_job_is_flagged_and_notified_every_day(ddb) -> None:
    flagged, notified = run(ddb, None)
    assert job_days(flagged) == {0, 1, 2, 3}
    assert notified >= 4  # a new incident per nightly run (more than the quiet time apart)


def test_not_an_anomaly_on_the_job_stops_it_from_the_next_day_and_real_incidents_stay(ddb) -> None:
    flagged, notified = run(ddb, "not_an_anomaly")
    assert job_days(flagged) == {0}  # only the run the feedback was given on
    real = [i for i in flagged if not job(i)]
    assert [i.observed for i in real if i.observed > 90] == [98.0]  # the job's time of day, another kind
    assert len([i for i in real if i.observed < 90]) == 3  # the job's level at another time of day
    assert notified == 1 + 2  # day 1's job, then the two real incidents of day 3


def test_too_sensitive_raises_the_series_threshold_above_what_the_detector_scores(ddb) -> None:
    flagged, _ = run(ddb, "too_sensitive")
    assert job_days(flagged) == {0, 1, 2, 3}  # one step (+0.1) stays below the oracle's 0.95
    raised = feedback.rules_of({"boost": 0.5})
    assert raised.threshold(0.5273) == feedback.MAX_THRESHOLD
    assert not raised.flags(Point(START, 50.0), 0.9, 0.5273) and raised.flags(Point(START, 50.0), 0.96, 0.5273)
