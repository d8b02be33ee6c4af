"""Pattern insights: anomalies of several series that line up, within one stream batch and across batches.

Every anomaly insight is written, per grouping rule and group, to a short-lived correlation table
(TTL'd; key: rule|group, then zero-padded epoch ms, so one Query returns a time window). Then,
per touched group, one Query reads the recent window; the anomalies are clustered by time (a gap
longer than ``patternWindowSeconds`` ends a cluster) and the rule decides whether a cluster is a
pattern. An open pattern is kept in the same partition (sort key ``~pattern``, after every
timestamp) so a later batch joins it instead of starting another.

Alerting: a pattern is one insight and one alert. Anomalies that belong to a pattern are stored
with ``related`` = [pattern id] and are not published on their own; the pattern lists them in
``related`` and their hosts in ``affected_hosts``. An anomaly alerted in an earlier batch, before
its group reached the pattern's size, stays alerted (alerts are never held back waiting for peers);
it is linked to the pattern afterwards.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from iops_detector_sdk.contract import GroupingRule, Member, SeriesKey

from detectors.runtime import risk_and_severity
from iops import models
from iops.dal import correlation
from iops.dal import insights as insight_store
from iops.models.common import insight_id
from iops.settings import LOOKBACK_WINDOWS, PatternSettings


@dataclass(slots=True)
class Correlation:
    patterns: list[tuple[SeriesKey, models.Insight]] = field(default_factory=list)
    """New pattern insights to store and alert (once), with a member series to retry on failure."""
    suppressed: set[str] = field(default_factory=set)
    """Anomaly ids of this batch that belong to a pattern: stored and linked, not alerted."""
    joined: int = 0
    """Patterns from earlier batches that this batch's anomalies joined (updated in place)."""
    updated: list[tuple[SeriesKey, models.Insight]] = field(default_factory=list)
    """Those joined patterns as updated, with a member series of this batch: stored already, but their
    incident must learn the new hosts, so that a host joining a pattern joins its incident."""


def member_of(insight: models.Insight) -> Member:
    return Member(
        alert_id=insight.alert_id,
        entity=insight.entity_id,
        metric=insight.metric or "",
        timestamp=insight.timestamp_ms / 1000,
        severity=insight.severity,
        risk_score=int(insight.risk_score),
        observed=insight.observed,
        expected=insight.expected,
    )


def clusters(members: Sequence[Member], window_s: float) -> list[list[Member]]:
    """Members sorted by time, split wherever two consecutive ones are more than ``window_s`` apart."""
    out: list[list[Member]] = []
    for m in sorted({m.alert_id: m for m in members}.values(), key=lambda m: (m.timestamp, m.alert_id)):
        if out and m.timestamp - out[-1][-1].timestamp <= window_s:
            out[-1].append(m)
        else:
            out.append([m])
    return out


def pattern_id(rule: str, group: str, start_ms: int) -> str:
    return insight_id(f"pattern:{rule}", group, start_ms, "pattern")


def entity_label(hosts: Sequence[str], most: int = 4) -> str:
    """What a pattern is "on" (alerts read "<metric> on <entity>"): the host itself, or the hosts."""
    if len(hosts) == 1:
        return hosts[0]
    return f"{len(hosts)} hosts: " + ", ".join(hosts[:most]) + (", ..." if len(hosts) > most else "")


def build_pattern(rule: GroupingRule, group: str, members: Sequence[Member], start_ms: int, pid: str) -> models.Insight:
    """The pattern insight: one alert naming every host and the shared cause."""
    explanation, recommendations = rule.describe(group, members)
    hosts = sorted({m.entity for m in members})
    metrics = sorted({m.metric for m in members})
    risk = max(m.risk_score for m in members)
    observed = [m.observed for m in members if m.observed is not None]
    expected = [m.expected for m in members if m.expected is not None]
    one_metric = len(metrics) == 1
    return models.Insight(
        alert_id=pid,
        timestamp_ms=start_ms,
        entity_id=entity_label(hosts),
        type="pattern",
        prediction_type="shared_cause",
        severity=risk_and_severity(risk / 100)[1],
        risk_score=risk,
        confidence=round(min(0.99, 1 - 0.5 ** len(hosts)), 3),
        explanation=explanation,
        recommendations=recommendations,
        model_used=f"pattern:{rule.name}",
        affected_hosts=hosts,
        metric=",".join(metrics),
        observed=median(observed) if one_metric and observed else None,
        expected=median(expected) if one_metric and expected else None,
        scores={},
        related=sorted(m.alert_id for m in members),
    )


def correlate(
    ddb: Any,
    insights_table: str,
    settings: PatternSettings,
    rules: dict[str, GroupingRule],
    insights: list[models.Insight],
    now: float | None = None,
) -> Correlation:
    """Group this batch's anomaly insights with recent ones; link members, return new patterns.

    Mutates the member insights of this batch (``related``); stores nothing in the insights
    table except updates of patterns and members from earlier batches.
    """
    result = Correlation()
    anomalies = [member_of(i) for i in insights if i.type == "anomaly"]
    if not anomalies or not rules:
        return result
    by_id = {i.alert_id: i for i in insights}
    groups: dict[tuple[str, str], list[Member]] = defaultdict(list)
    for member in anomalies:
        for rule in rules.values():
            group = rule.group(member)
            if group is not None:
                groups[(rule.name, group)].append(member)
    ttl = int((time.time() if now is None else now) + settings.ttl_s)
    correlation.write_members(
        ddb, settings.table, [correlation.member_item(f"{r}|{g}", m, ttl) for (r, g), ms in groups.items() for m in ms]
    )
    for (rule_name, group), fresh in groups.items():
        rule, key = rules[rule_name], f"{rule_name}|{group}"
        since = min(m.timestamp for m in fresh) - LOOKBACK_WINDOWS * settings.window_s
        stored, open_item = correlation.read_group(ddb, settings.table, key, since)
        fresh_ids = {m.alert_id for m in fresh}
        for cluster in clusters(stored + fresh, settings.window_s):
            if not fresh_ids & {m.alert_id for m in cluster} or not rule.is_pattern(cluster, settings.min_hosts):
                continue
            start_ms = int(round(cluster[0].timestamp * 1000))
            joined = (
                open_item is not None and float(open_item["lastTs"]["N"]) >= cluster[0].timestamp - settings.window_s
            )
            if joined:
                pid, start_ms = open_item["patternId"]["S"], int(open_item["startMs"]["N"])
                known = {a["S"] for a in open_item.get("memberIds", {}).get("L", [])}
                members = cluster + [m for m in stored if m.alert_id in known]
                members = list({m.alert_id: m for m in members}.values())
            else:
                pid, members, known = pattern_id(rule_name, group, start_ms), cluster, set()
            pattern = build_pattern(rule, group, members, start_ms, pid)
            if joined:  # members older than the lookback are no longer read but stay in the pattern
                pattern.related = sorted(known | set(pattern.related or ()))
                hosts = {a["S"] for a in open_item.get("hosts", {}).get("L", [])}
                pattern.affected_hosts = sorted(hosts | set(pattern.affected_hosts))
            first = next(m for m in cluster if m.alert_id in fresh_ids)
            if joined and insight_store.update_pattern(ddb, insights_table, pattern):
                result.joined += 1
                result.updated.append((SeriesKey(first.entity, first.metric), pattern))
            else:
                result.patterns.append((SeriesKey(first.entity, first.metric), pattern))
            for m in members:
                if m.alert_id in by_id:
                    insight = by_id[m.alert_id]
                    insight.related = sorted(set(insight.related or ()) | {pid})
                    result.suppressed.add(m.alert_id)
                elif m.alert_id not in known:
                    insight_store.link_related(ddb, insights_table, m, pid)
            open_item = {
                "groupKey": {"S": key},
                "member": {"S": correlation.PATTERN_ITEM},
                "patternId": {"S": pid},
                "startMs": {"N": str(start_ms)},
                "lastTs": {"N": repr(max(m.timestamp for m in members))},
                "memberIds": {"L": [{"S": a} for a in pattern.related or ()]},
                "hosts": {"L": [{"S": h} for h in pattern.affected_hosts]},
                "ttl": {"N": str(ttl)},
            }
            correlation.put_open_pattern(ddb, settings.table, open_item)
    return result
