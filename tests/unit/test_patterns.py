"""Grouping rules and clustering: which anomalies form one pattern, and the hook a third party uses."""

from __future__ import annotations

import sys
import types
from importlib import metadata

import pytest
from iops_detector_sdk.contract import GroupingRule, Member
from iops_detector_sdk.hookspecs import hookimpl

from detectors import plugins
from detectors.patterns import IbFabric, SameHost, SameMetric, ib_group, relative_change
from iops.logic.patterns import build_pattern, clusters, pattern_id

T = 1_700_000_000.0


def m(
    entity: str, metric: str = "cpuUsage", dt: float = 0.0, risk: int = 85, obs: float = 95.0, exp: float = 50.0
) -> Member:
    severity = "CRITICAL" if risk >= 90 else "HIGH" if risk >= 80 else "MEDIUM"
    return Member(f"ins-{entity}-{metric}-{dt}", entity, metric, T + dt, severity, risk, obs, exp)


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch):
    monkeypatch.delenv("IOPS_PLUGINS", raising=False)
    plugins.reset()
    yield
    plugins.reset()


def test_same_metric_needs_enough_distinct_hosts() -> None:
    rule = SameMetric()
    assert rule.group(m("web-01")) == "cpuUsage" and rule.group(m("ib/ib_stream_1", "ibLatencyUs")) is None
    two = [m("web-01"), m("web-02"), m("web-02", dt=60)]
    assert not rule.is_pattern(two, 3)
    assert rule.is_pattern([*two, m("db-03")], 3)


def test_hosts_must_move_the_same_way() -> None:
    rule = SameMetric()
    mixed = [m("a", obs=60.0), m("b", obs=40.0), m("c", obs=61.0), m("d", obs=39.0)]  # expected 50: 2 up, 2 down
    assert not rule.is_pattern(mixed, 3)
    assert rule.is_pattern([*mixed, m("e", obs=70.0)], 3)
    assert IbFabric().is_pattern([m(f"ib/ib_s_{i}", "ibLatencyUs", obs=1.0, exp=2.0) for i in range(3)], 3)


def test_same_host_counts_metrics_not_points() -> None:
    rule = SameHost()
    same_metric_twice = [m("web-01", "cpuUsage"), m("web-01", "cpuUsage", dt=60), m("web-01", "diskIO")]
    assert not rule.is_pattern(same_metric_twice, 3)
    assert rule.is_pattern([*same_metric_twice, m("web-01", "memoryUsage")], 3)
    assert rule.is_pattern([m("h", "a"), m("h", "b")], 1), "never fewer than two metrics"
    assert not rule.is_pattern([m("h", "a")], 1)


def test_ib_streams_group_by_switch_name() -> None:
    assert ib_group("ib/ib_stream_3") == "ib_stream" and ib_group("ib/ib_sw1_p12") == "ib_sw1_p"
    rule = IbFabric()
    assert rule.group(m("web-01")) is None
    streams = [m(f"ib/ib_stream_{i}", "ibLatencyUs", obs=2.6, exp=1.8) for i in range(1, 6)]
    assert rule.is_pattern(streams, 3)
    text, recs = rule.describe("ib_stream", streams)
    assert text.startswith("5 InfiniBand streams of ib_stream degrade together") and "+44 %" in text and recs


def test_clusters_split_on_gaps_longer_than_the_window() -> None:
    ms = [m("a", dt=0), m("b", dt=100), m("c", dt=190), m("d", dt=500), m("e", dt=610), m("a", dt=0)]
    got = clusters(ms, 120)
    assert [[x.entity for x in c] for c in got] == [["a", "b", "c"], ["d", "e"]], "duplicates collapse, gaps split"


def test_pattern_names_hosts_cause_and_members() -> None:
    members = [m("web-01", risk=82), m("web-02", dt=30, risk=93), m("db-03", dt=60, risk=85, obs=75.0)]
    start = int(T * 1000)
    pid = pattern_id("same-metric", "cpuUsage", start)
    p = build_pattern(SameMetric(), "cpuUsage", members, start, pid)
    assert p.type == "pattern" and p.alert_id == pid and p.timestamp_ms == start
    assert p.entity_id == "3 hosts: db-03, web-01, web-02" and p.observed == 95.0 and p.expected == 50.0
    assert p.affected_hosts == ["db-03", "web-01", "web-02"]
    assert p.related == sorted(x.alert_id for x in members)
    assert p.severity == "CRITICAL" and p.risk_score == 93
    assert p.explanation.startswith("3 hosts show cpuUsage anomalies within 1 min (+90 % against")
    assert relative_change(members) == pytest.approx(90.0)
    assert pid == pattern_id("same-metric", "cpuUsage", start) != pattern_id("same-metric", "cpuUsage", start + 1)


def test_builtin_rules_come_through_the_hook() -> None:
    rules = plugins.all_grouping_rules()
    assert {"same-metric", "same-host", "ib-fabric"} <= set(rules)
    assert all(isinstance(r, GroupingRule) for r in rules.values())


class SameRack:
    """A third party's rule: hosts named rackN-... share a rack."""

    name = "same-rack"

    def group(self, member: Member) -> str | None:
        return member.entity.split("-")[0] if member.entity.startswith("rack") else None

    def is_pattern(self, members, min_members: int) -> bool:
        return len({x.entity for x in members}) >= 2

    def describe(self, group, members):
        return f"{group}: {len(members)} anomalies", ["check the rack's power and top-of-rack switch"]


def test_a_third_party_grouping_rule_is_discovered(monkeypatch) -> None:
    module = types.ModuleType("rack_rules_for_test")

    @hookimpl
    def register_grouping_rules(register):
        register(SameRack())

    module.register_grouping_rules = register_grouping_rules
    sys.modules[module.__name__] = module
    real = metadata.entry_points

    def entry_points(**kw):
        found = list(real(**kw))
        if kw.get("group") == plugins.ENTRY_POINT_GROUP:
            found.append(metadata.EntryPoint("racks", module.__name__, plugins.ENTRY_POINT_GROUP))
        return found

    monkeypatch.setattr(plugins.metadata, "entry_points", entry_points)
    rules = plugins.all_grouping_rules()
    assert isinstance(rules["same-rack"], SameRack) and "same-metric" in rules
    assert {i.name: i.builtin for i in plugins.plugin_infos()}["racks"] is False
