"""The AI tier on stream batches against moto: insights, replay, failing plugins, poison records."""

from __future__ import annotations

import time
from collections.abc import Sequence

from iops_detector_sdk.contract import Point, SeriesKey, State

from detectors.statistical import StatisticalDetector
from handlers.definitions import METRICS
from iops.dal import insights as insight_store
from iops.dal import metrics
from iops.logic.ai import Processor, process_batch
from iops.models.common import Metric
from iops.settings import AiSettings

START = time.time() - 4 * 3600


def record(seq: int, host: str, ts: float, **values: float) -> dict:
    item = metrics.to_item(Metric(host, int(ts * 1000), values), time.time(), 90)
    return {
        "eventID": str(seq),
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/m/stream/x",
        "dynamodb": {
            "Keys": {},
            "NewImage": item,
            "SequenceNumber": f"{seq:021d}",
            "StreamViewType": METRICS.stream_view,
        },
    }


def spiky_batches(host: str = "web-01", n: int = 300, spike_at: int = 250, batch: int = 100) -> list[list[dict]]:
    recs = []
    for i in range(n):
        cpu = 95.0 if i == spike_at else 30 + (i % 7) * 0.5
        recs.append(record(i + 1, host, START + 60 * i, cpuUsage=cpu))
    return [recs[i : i + batch] for i in range(0, n, batch)]


def processor(ddb, detectors=None) -> Processor:
    return Processor(
        ddb=ddb,
        events=None,
        settings=AiSettings.from_env(),
        detectors=detectors or {"statistical": StatisticalDetector()},
        enrichers={},
    )


def all_insights(ddb) -> list[dict]:
    return insight_store.query_insights(ddb, AiSettings.from_env().insights_table, limit=100)["insights"]


def test_spike_becomes_one_insight_with_explanation(ddb) -> None:
    proc = processor(ddb)
    for batch in spiky_batches():
        out = process_batch(proc, batch, time.monotonic() + 60)
        assert not out.failed
    found = all_insights(ddb)
    spikes = [i for i in found if i["observed"] == 95.0]
    assert len(spikes) == 1
    ins = spikes[0]
    assert ins["entity_id"] == "web-01" and ins["metric"] == "cpuUsage" and ins["type"] == "anomaly"
    assert ins["severity"] in ("MEDIUM", "HIGH", "CRITICAL") and ins["risk_score"] >= 70
    assert "web-01" in ins["explanation"] and "95" in ins["explanation"] and ins["recommendations"]
    assert (
        insight_store.get_insight(ddb, AiSettings.from_env().insights_table, ins["alert_id"])["alert_id"]
        == ins["alert_id"]
    )


def test_replayed_batch_creates_no_duplicates(ddb) -> None:
    proc = processor(ddb)
    batches = spiky_batches()
    for batch in batches:
        process_batch(proc, batch, time.monotonic() + 60)
    before = all_insights(ddb)
    out = process_batch(proc, batches[-1], time.monotonic() + 60)
    assert out.skipped == len(batches[-1]) and not out.insights
    assert all_insights(ddb) == before


class Exploding:
    name = "exploding"
    remote = False
    calibrated = True  # scores as they are: the runtime does not calibrate them

    def new_state(self, series: SeriesKey) -> State:
        return {}

    def score(self, series: SeriesKey, state: State, points: Sequence[Point]) -> list[float]:
        raise RuntimeError("plugin bug")


class Hanging(Exploding):
    name = "hanging"

    def score(self, series, state, points):
        time.sleep(30)
        return [0.0] * len(points)


def test_failing_and_hanging_plugins_do_not_stop_the_others(ddb) -> None:
    proc = processor(ddb, {"exploding": Exploding(), "hanging": Hanging(), "statistical": StatisticalDetector()})
    for batch in spiky_batches():
        out = process_batch(proc, batch, time.monotonic() + 1.0)  # detectors get half: 0.5 s
        assert not out.failed
        assert out.detector_failures == {"exploding": 1}
        assert out.detector_timeouts == {"hanging": 1}  # then skipped while its worker still runs
    assert any(i["observed"] == 95.0 for i in all_insights(ddb))


def test_poison_record_is_reported_and_the_rest_succeeds(ddb) -> None:
    proc = processor(ddb)
    batch = spiky_batches(n=50)[0]
    poison = {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "poison", "NewImage": {"cpuUsage": {"N": "1"}}}}
    out = process_batch(proc, batch[:25] + [poison] + batch[25:], time.monotonic() + 60)
    assert out.failed == {"poison"}
    assert out.points == 50


def test_one_state_read_and_write_per_series_per_batch(ddb) -> None:
    calls = {"batch_get_item": 0, "batch_write_item": 0}

    class Counting:
        def __init__(self, real):
            self.real = real
            self.exceptions = real.exceptions

        def __getattr__(self, name):
            fn = getattr(self.real, name)
            if name in calls:

                def wrapped(**kw):
                    calls[name] += 1
                    return fn(**kw)

                return wrapped
            return fn

    recs = [record(i, f"h{i % 10}", START + 60 * (i // 10), cpuUsage=10.0, memoryUsage=20.0) for i in range(100)]
    out = process_batch(processor(Counting(ddb)), recs, time.monotonic() + 60)
    assert out.points == 200 and not out.failed
    assert calls == {"batch_get_item": 1, "batch_write_item": 1}  # 20 series: one call each way


def test_state_is_stored_compressed_and_old_json_state_still_reads(ddb) -> None:
    from iops.dal.detector_state import decode_state, encode_state

    proc = processor(ddb)
    for batch in spiky_batches():
        process_batch(proc, batch, time.monotonic() + 60)
    item = ddb.get_item(TableName=AiSettings.from_env().state_table, Key={"seriesKey": {"S": "web-01#cpuUsage"}})[
        "Item"
    ]
    stored = item["state"]["B"]
    state = decode_state(item["state"])
    plain = state.to_json()
    assert len(stored) < len(plain) / 2, (len(stored), len(plain))
    assert decode_state({"S": plain}).to_json() == plain == decode_state(encode_state(state)).to_json()
