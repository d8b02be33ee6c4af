"""State checkpoints (`iops.logic.checkpoint`): writing a series' state every N points instead of every
batch changes no score, because the points in between are replayed from the Metrics table."""

from __future__ import annotations

import dataclasses
import random
import time

import pytest

from detectors.plugins import enabled_detectors
from handlers.definitions import DETECTOR_STATE, INSIGHTS, TABLES
from iops.dal import metrics
from iops.dal.detector_state import decode_state
from iops.logic.ai import Processor, process_batch
from iops.models import Insight
from iops.models.common import Metric
from iops.settings import AiSettings, IngestSettings, PluginSettings
from tests.local.test_stream_processing import record

START = time.time() - 8 * 3600
POINTS = 360


def values(i: int, rng: random.Random) -> dict[str, float]:
    """Two series of one host: noise, three spikes, a level shift at 2/3."""
    cpu = 30 + rng.gauss(0, 1.5) + (25 if i in (150, 200, 300) else 0) + (10 if i > 240 else 0)
    return {"cpuUsage": round(cpu, 3), "memoryUsage": round(50 + 0.02 * i + rng.gauss(0, 0.3), 3)}


@pytest.fixture
def stream(ddb) -> list[list[dict]]:
    """The points stored in the Metrics table (as ingest does), then delivered in batches of 1-3 records."""
    rng = random.Random(11)
    table = IngestSettings.from_env().metrics_table
    records = []
    for i in range(POINTS):
        ts = START + 60 * i
        point = values(i, rng)
        ddb.put_item(TableName=table, Item=metrics.to_item(Metric("web-01", int(ts * 1000), point), time.time(), 90))
        records.append(record(i + 1, "web-01", ts, **point))
    batches, i = [], 0
    while i < len(records):
        n = rng.choice((1, 1, 2, 3))
        batches.append(records[i : i + n])
        i += n
    return batches


class CountingPuts:
    """The DynamoDB client, counting the state items written."""

    def __init__(self, real, state_table: str) -> None:
        self.real, self.state_table, self.state_puts = real, state_table, 0
        self.exceptions = real.exceptions

    def batch_write_item(self, **kw):
        self.state_puts += len(kw["RequestItems"].get(self.state_table, []))
        return self.real.batch_write_item(**kw)

    def __getattr__(self, name):
        return getattr(self.real, name)


def run(ddb, batches: list[list[dict]], points: int, replay: bool = True) -> tuple[dict, int, dict]:
    """Insights (id -> risk, scores), state items written, and the stored states, for one policy."""
    settings = dataclasses.replace(AiSettings.from_env(), checkpoint_points=points, checkpoint_seconds=10**6)
    if not replay:
        settings = dataclasses.replace(settings, metrics_table=None)
    client = CountingPuts(ddb, settings.state_table)
    detectors = enabled_detectors(PluginSettings(detectors=("statistical", "contextual", "lstm")))
    proc = Processor(ddb=client, events=None, settings=settings, detectors=detectors, enrichers={})
    for batch in batches:
        out = process_batch(proc, batch, time.monotonic() + 60)
        assert not out.failed
    items = ddb.scan(TableName=settings.insights_table)["Items"]
    stored = [Insight.from_item(i) for i in items]
    insights = {i.alert_id: (i.risk_score, i.scores) for i in stored if i.type == "anomaly"}
    states = {
        i["seriesKey"]["S"]: decode_state(i["state"]) for i in ddb.scan(TableName=settings.state_table)["Items"]
    }
    return insights, client.state_puts, states


def reset(ddb) -> None:
    """Empty the tables a run writes (the Metrics table stays: it is the input)."""
    for table in TABLES:
        if table.logical in (DETECTOR_STATE.logical, INSIGHTS.logical) or table.logical in ("incidents", "correlation"):
            name = {
                DETECTOR_STATE.logical: AiSettings.from_env().state_table,
                INSIGHTS.logical: AiSettings.from_env().insights_table,
                "correlation": AiSettings.from_env().patterns.table,
            }.get(table.logical, table.physical_name("iops-dev"))
            ddb.delete_table(TableName=name)
            ddb.create_table(**table.create_table_kwargs(name))


@pytest.mark.slow
def test_a_checkpoint_every_15_points_gives_the_same_insights_with_a_fifteenth_of_the_writes(ddb, stream) -> None:
    every_batch, writes_every_batch, _ = run(ddb, stream, points=1)
    reset(ddb)
    checkpointed, writes_checkpointed, states = run(ddb, stream, points=15)
    assert every_batch, "the spikes and the shift must give insights for the comparison to mean anything"
    assert checkpointed == every_batch
    assert writes_every_batch == 2 * len(stream)
    assert writes_checkpointed <= 2 * (POINTS // 15 + 1), writes_checkpointed
    # what is stored is at most 15 points behind the newest
    for state in states.values():
        assert state.last_timestamp >= START + 60 * (POINTS - 15)


@pytest.mark.slow
def test_without_the_replay_the_checkpointed_states_would_score_differently(ddb, stream) -> None:
    """The comparison above can fail: dropping the points between checkpoints changes the insights."""
    every_batch, _, _ = run(ddb, stream, points=1)
    reset(ddb)
    settings = AiSettings.from_env()
    lossy, _, _ = run(ddb, stream, points=15, replay=False)
    assert lossy == every_batch  # without a Metrics table the policy falls back to a write per batch
    reset(ddb)
    from iops.logic import ai

    original = ai.replay_points
    ai.replay_points = lambda *a, **k: ({}, set())
    try:
        skipped, _, _ = run(ddb, stream, points=15)
    finally:
        ai.replay_points = original
    assert skipped != every_batch and settings.metrics_table
