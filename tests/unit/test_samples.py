"""The shared standard-format rules (`iops.logic.samples`) and their storage (`store_samples`, against moto)."""

from __future__ import annotations

import time

from iops.dal import metrics
from iops.logic import samples
from iops.logic.ingest import store_samples
from iops.models.common import MAX_METRICS_PER_ITEM
from iops.settings import IngestSettings

NOW_MS = int(time.time()) * 1000


def test_field_name_rule() -> None:
    assert samples.field_name("system.cpu.time", {"state": "user", "cpu": "0"}) == "system.cpu.time.cpu_0.state_user"
    assert samples.field_name("node_cpu_seconds_total", [("job", "node"), ("mode", "idle")]) == (
        "node_cpu_seconds_total.mode_idle"
    )
    assert samples.field_name("http server/latency", {"route": "/api/v1", "empty": ""}) == (
        "http_server_latency.route_api_v1"
    )
    assert samples.field_name("1xx") == "m_1xx" and samples.field_name("hostname") == "m_hostname"
    assert samples.field_name("...") == "m"


def test_long_field_names_stay_distinct_and_short() -> None:
    a = samples.field_name("k8s.container.memory.working_set", {"pod": "a" * 80 + "1"})
    b = samples.field_name("k8s.container.memory.working_set", {"pod": "a" * 80 + "2"})
    assert a != b and len(a) == len(b) == samples.MAX_FIELD_CHARS


def test_host_from_takes_the_first_present_key() -> None:
    keys = ("host.name", "host.id")
    assert samples.host_from({"host.id": "i-1", "host.name": "web-01"}, keys) == "web-01"
    assert samples.host_from({"host.name": "", "host.id": "i-1"}, keys) == "i-1"
    assert samples.host_from({"instance": "node-3:9100"}, ("instance",), strip_port=True) == "node-3"
    assert samples.host_from({"instance": "[fe80::1]:9100"}, ("instance",), strip_port=True) == "fe80::1"
    assert samples.host_from({"host.name": "bad host"}, keys) is None
    assert samples.host_from({}, keys) is None


def point(ts_s: int, value: float, start_s: int | None = None) -> samples.CounterPoint:
    return samples.CounterPoint(
        "h", "c", NOW_MS + ts_s * 1000, value, None if start_s is None else NOW_MS + start_s * 1000
    )


def test_rates_resets_and_replays() -> None:
    """Rates from consecutive readings; a lower value restarts the count; a reading not newer is a replay."""
    made, last = samples.rates([point(0, 100), point(10, 200), point(20, 50), point(20, 60)], {})
    assert [(s.timestamp_ms - NOW_MS, s.value) for s in made] == [(10_000, 10.0), (20_000, 5.0)]
    assert last["h|c"] == samples.Last(NOW_MS + 20_000, 50)
    replayed, changed = samples.rates([point(10, 200), point(20, 50)], last)
    assert replayed == [] and changed == {}


def test_rates_continue_from_a_previous_request_and_see_a_new_start() -> None:
    previous = {"h|c": samples.Last(NOW_MS, 1000, NOW_MS - 60_000)}
    made, _ = samples.rates([point(30, 1200, start_s=-60)], previous)
    assert [s.value for s in made] == [200 / 30]
    made, _ = samples.rates([point(30, 5000, start_s=20)], previous)  # restarted at +20 s, counted 5000 since
    assert [s.value for s in made] == [500.0]


def test_means_need_both_rates_and_a_growing_count() -> None:
    made = [
        samples.Sample("h", "d.count", 1, 4.0),
        samples.Sample("h", "d.sum", 1, 2.0),
        samples.Sample("h", "d.count", 2, 0.0),
        samples.Sample("h", "d.sum", 2, 0.0),
        samples.Sample("h", "d.count", 3, 1.0),
    ]
    assert samples.means(made, [samples.Mean("h", "d.mean", "d.sum", "d.count")]) == [
        samples.Sample("h", "d.mean", 1, 0.5)
    ]


def test_guard_limits_series_and_fields_per_host() -> None:
    guard, out = samples.Guard(max_series=3, max_fields_per_host=2), samples.Decoded()
    admitted = [guard.admit(h, f, out) for h, f in [("a", "x"), ("a", "y"), ("a", "z"), ("a", "x"), ("b", "x")]]
    assert admitted == [True, True, False, True, True]
    assert not guard.admit("c", "x", out)
    assert out.rejected == 2 and len(out.errors) == 2


def test_decoded_lists_each_reason_once() -> None:
    out = samples.Decoded()
    for _ in range(3):
        out.reject("same", 2)
    assert (out.rejected, out.errors) == (6, ["same"])


def stored(ddb, host: str) -> list[dict]:
    return metrics.query_metrics(ddb, IngestSettings.from_env().metrics_table, host, None, None, 1000, None)["metrics"]


def store(ddb, decoded: samples.Decoded) -> samples.StoreResult:
    s = IngestSettings.from_env()
    return store_samples(ddb, s.metrics_table, s.counters_table, decoded, 90, time.monotonic() + 10)


def test_store_samples_rates_across_requests_and_means(ddb) -> None:
    def histogram(ts_s: int, count: float, total: float) -> samples.Decoded:
        return samples.Decoded(
            samples=[samples.Sample("web-01", "cpu", NOW_MS + ts_s * 1000, 40.0)],
            counters=[
                samples.CounterPoint("web-01", "lat.count", NOW_MS + ts_s * 1000, count),
                samples.CounterPoint("web-01", "lat.sum", NOW_MS + ts_s * 1000, total),
            ],
            means=[samples.Mean("web-01", "lat.mean", "lat.sum", "lat.count")],
        )

    first = store(ddb, histogram(0, 100, 10.0))
    assert (first.stored, first.rejected, first.unstored) == (1, 0, 0)  # the counters only set their baseline
    second = store(ddb, histogram(10, 150, 60.0))
    assert (second.stored, second.rejected, second.unstored) == (4, 0, 0)
    newest = stored(ddb, "web-01")[0]
    assert newest == {
        "hostname": "web-01",
        "timestamp": newest["timestamp"],
        "cpu": 40.0,
        "lat.count": 5.0,
        "lat.sum": 5.0,
        "lat.mean": 1.0,
    }


def test_store_samples_refuses_invalid_values_and_keeps_the_rest(ddb) -> None:
    far_future = NOW_MS + 400 * 86_400_000
    decoded = samples.Decoded(
        samples=[samples.Sample("db-1", "ok", NOW_MS, 1.0), samples.Sample("db-1", "late", far_future, 2.0)],
        rejected=3,
        errors=["from the decoder"],
    )
    result = store(ddb, decoded)
    assert (result.stored, result.rejected) == (1, 4)
    assert result.errors[0] == "from the decoder" and result.errors[1].startswith("db-1: ")
    assert [p["ok"] for p in stored(ddb, "db-1")] == [1.0]


def test_store_samples_splits_wide_items_without_losing_fields(ddb) -> None:
    """More fields than one write takes: every chunk lands in the one item (chunks of an item never race)."""
    n = MAX_METRICS_PER_ITEM * 2 + 3
    decoded = samples.Decoded(samples=[samples.Sample("wide", f"f{i}", NOW_MS, float(i)) for i in range(n)])
    assert store(ddb, decoded).stored == n
    (item,) = stored(ddb, "wide")
    assert len(item) == n + 2 and item[f"f{n - 1}"] == n - 1
