"""InfiniBand event validation and per-minute aggregation arithmetic (pure, no AWS)."""

from __future__ import annotations

import json
import math
import random
import time

import pytest

from iops.logic.ib_events import (
    MINUTE_MS,
    IbEvent,
    InvalidEvent,
    StreamState,
    Window,
    fold,
    parse_event,
)
from iops.logic.ib_simulator import IbGenerator

NOW_MS = int(time.time() * 1000)
M0 = NOW_MS - NOW_MS % MINUTE_MS - 60 * MINUTE_MS


def ev(t_ms: int, lat: float = 2.0, bw: float = 180.0, errs: int = 0, flaps: int = 0, stream: str = "ib_stream_1"):
    return IbEvent(stream, t_ms, lat, bw, errs, flaps)


def nearest_rank(values: list[float], q: float) -> float:
    return sorted(values)[math.ceil(q * len(values)) - 1]


def test_window_arithmetic_is_exact_except_p95_within_one_percent() -> None:
    rng = random.Random(1)
    lats = [rng.lognormvariate(0.6, 0.3) for _ in range(997)]
    bws = [rng.uniform(150, 200) for _ in lats]
    w = Window()
    for i, (lat, bw) in enumerate(zip(lats, bws, strict=True)):
        w.add(ev(M0 + i, lat, bw, errs=i % 3, flaps=int(i == 500)))
    v = w.values()
    assert v["eventCount"] == 997
    assert v["ibLatencyUsMean"] == pytest.approx(sum(lats) / 997, abs=1e-4)
    assert v["ibLatencyUsMax"] == pytest.approx(max(lats), abs=1e-4)
    assert v["ibBandwidthGbps"] == pytest.approx(sum(bws) / 997, abs=1e-3)
    assert v["ibPacketErrors"] == sum(i % 3 for i in range(997))
    assert v["ibLinkFlaps"] == 1
    exact = nearest_rank(lats, 0.95)
    assert abs(v["ibLatencyUsP95"] - exact) / exact <= 0.01


def test_small_windows_and_zero_latency() -> None:
    w = Window()
    for lat in (0.0, 1.0, 2.0, 3.0):
        w.add(ev(M0, lat))
    assert w.quantile(0.25) == 0.0
    assert w.quantile(0.95) == pytest.approx(3.0, rel=0.01) and w.quantile(0.95) <= 3.0
    one = Window()
    one.add(ev(M0, 7.5))
    assert one.values()["ibLatencyUsP95"] == 7.5  # clamped to [min, max]: exact for one event


def test_window_survives_its_json_round_trip() -> None:
    state = StreamState(version=3)
    for i in range(50):
        fold(state, "shard-0", str(i + 1), ev(M0 + i * 1000, 1 + i / 10), lateness_ms=30_000)
    again = StreamState.from_json(state.to_json(), 3)
    assert again == state


def test_minute_closes_at_watermark_plus_lateness() -> None:
    state = StreamState()
    assert not fold(state, "s", "1", ev(M0 + 10_000), 30_000).closed
    assert not fold(state, "s", "2", ev(M0 + MINUTE_MS + 29_999), 30_000).closed
    out = fold(state, "s", "3", ev(M0 + MINUTE_MS + 30_000), 30_000)
    assert [m for m, _ in out.closed] == [M0]
    assert out.closed[0][1].count == 1
    assert state.closed_through_ms == M0 and list(state.windows) == [M0 + MINUTE_MS]


def test_out_of_order_within_lateness_counts_and_later_is_late() -> None:
    state = StreamState()
    fold(state, "s", "1", ev(M0 + 50_000), 30_000)
    fold(state, "s", "2", ev(M0 + MINUTE_MS + 5_000), 30_000)
    assert not fold(state, "s", "3", ev(M0 + 59_000), 30_000).late  # 6 s out of order: still counted
    closed = fold(state, "s", "4", ev(M0 + 2 * MINUTE_MS), 30_000).closed
    assert closed[0][1].count == 2
    late = fold(state, "s", "5", ev(M0 + 1_000), 30_000)
    assert late.late and state.late == 1


def test_redelivered_records_are_skipped_per_shard() -> None:
    state = StreamState()
    fold(state, "shard-a", "100", ev(M0), 30_000)
    assert fold(state, "shard-a", "100", ev(M0), 30_000).duplicate
    assert fold(state, "shard-a", "99", ev(M0), 30_000).duplicate
    assert not fold(state, "shard-b", "5", ev(M0), 30_000).duplicate  # another shard's numbering
    assert state.windows[M0].count == 2


def test_aggregates_do_not_depend_on_batch_boundaries() -> None:
    gen = IbGenerator(streams=1, events_per_minute=120, seed=3)
    events = gen.events(M0 / 1000, M0 / 1000 + 600)
    parsed = [ev(int(e["timestamp"] * 1000), e["latencyUs"], e["bandwidthGbps"], e["packetErrors"]) for e in events]

    def run(cut: int, replay: bool) -> list[tuple[int, dict]]:
        state, out = StreamState(), []
        for start in range(0, len(parsed), cut):
            chunk = list(enumerate(parsed))[start : start + cut]
            for _ in range(2 if replay else 1):  # a retried batch delivers the same records again
                for i, e in chunk:
                    out += [(m, w.values()) for m, w in fold(state, "s", str(i + 1), e, 30_000).closed]
        return out

    reference = run(len(parsed), replay=False)
    assert len(reference) == 9
    assert sum(v["eventCount"] for _, v in reference) == sum(1 for e in parsed if e.timestamp_ms < M0 + 9 * MINUTE_MS)
    assert run(7, replay=True) == reference
    assert run(100, replay=True) == reference


def payload(**over) -> bytes:
    base = {"stream": "ib_stream_2", "timestamp": NOW_MS / 1000, "latencyUs": 1.9, "bandwidthGbps": 180.5}
    base.update(over)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


def test_parse_event_accepts_the_documented_shape() -> None:
    e = parse_event(payload(packetErrors=2, linkFlaps=1.0, eventId="x", port=7), NOW_MS, 300_000)
    assert (e.stream, e.timestamp_ms, e.latency_us, e.bandwidth_gbps, e.packet_errors, e.link_flaps) == (
        "ib_stream_2",
        NOW_MS,
        1.9,
        180.5,
        2,
        1,
    )


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (payload(stream=...), "stream"),
        (payload(stream="bad stream!"), "stream"),
        (payload(timestamp="yesterday-ish"), "timestamp"),
        (payload(timestamp=NOW_MS / 1000 + 3600), "after the record reached Kinesis"),
        (payload(latencyUs=...), "latencyUs"),
        (payload(latencyUs=-1), "latencyUs"),
        (payload(latencyUs=True), "latencyUs"),
        (payload(bandwidthGbps="fast"), "bandwidthGbps"),
        (payload(packetErrors=1.5), "packetErrors"),
        (payload(linkFlaps=-1), "linkFlaps"),
    ],
)
def test_parse_event_rejects(data: bytes, why: str) -> None:
    with pytest.raises(InvalidEvent, match=why):
        parse_event(data, NOW_MS, 300_000)


def test_generator_counts_vary_and_degradation_shows() -> None:
    gen = IbGenerator(streams=2, events_per_minute=60, seed=5)
    start = M0 / 1000
    gen.inject("ib_stream_2", "latency", start + 300, start + 600)
    events = gen.events(start, start + 600)
    per_minute: dict[tuple[str, int], list[float]] = {}
    for e in events:
        per_minute.setdefault((e["stream"], int(e["timestamp"] - start) // 60), []).append(e["latencyUs"])
    counts = {len(v) for k, v in per_minute.items()}
    assert len(counts) > 2  # Poisson arrivals, not a constant (a constant would make eventCount var 0)
    healthy = [sum(v) / len(v) for (s, m), v in per_minute.items() if s == "ib_stream_2" and m < 5]
    degraded = [sum(v) / len(v) for (s, m), v in per_minute.items() if s == "ib_stream_2" and m >= 5]
    assert min(degraded) > 2 * max(healthy)


def test_scheduled_episodes_agree_across_invocations() -> None:
    a = IbGenerator(streams=8, seed=0, degradation_rate=0.2)
    b = IbGenerator(streams=8, seed=0, degradation_rate=0.2)
    t0 = 1_764_000_000.0
    assert a.scheduled(t0, t0 + 60) == b.scheduled(t0 + 10, t0 + 70)
    assert 0 < len(a.scheduled(t0, t0 + 3600 * 4)) < 8 * 48
