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

import contextlib
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import median
from typing import Any

from detectors.contract import GroupingRule, Member, SeriesKey
from detectors.runtime import risk_and_severity
from handlers import dynamo
from iops import models
from iops.models.common import insight_id
from iops.settings import LOOKBACK_WINDOWS, PatternSettings

PATTERN_ITEM = "~pattern"
"""Sort key of a group's open pattern; sorts after every member key (digits)."""


@dataclass(slots=True)
class Correlation:
    patterns: list[tuple[SeriesKey, models.Insight]] = field(default_factory=list)
    """New pattern insights to store and alert (once), with a member series to retry on failure."""
    suppressed: set[str] = field(default_factory=set)
    """Anomaly ids of this batch that belong to a pattern: stored and linked, not alerted."""
    joined: int = 0
    """Patterns from earlier batches that this batch's anomalies joined (updated in place)."""


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


def member_key(member: Member) -> str:
    return f"{int(round(member.timestamp * 1000)):015d}#{member.alert_id}"


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


def _num(value: float | None) -> dict | None:
    return None if value is None else {"N": str(Decimal(repr(float(value))))}


def _member_item(key: str, member: Member, ttl: int) -> dict:
    item = {
        "groupKey": {"S": key},
        "member": {"S": member_key(member)},
        "alertId": {"S": member.alert_id},
        "entity": {"S": member.entity},
        "metric": {"S": member.metric},
        "ts": {"N": repr(member.timestamp)},
        "severity": {"S": member.severity},
        "risk": {"N": str(member.risk_score)},
        "ttl": {"N": str(ttl)},
    }
    for name, value in (("observed", member.observed), ("expected", member.expected)):
        if value is not None:
            item[name] = _num(value)
    return item


def _from_item(item: dict) -> Member:
    return Member(
        alert_id=item["alertId"]["S"],
        entity=item["entity"]["S"],
        metric=item["metric"]["S"],
        timestamp=float(item["ts"]["N"]),
        severity=item["severity"]["S"],
        risk_score=int(item["risk"]["N"]),
        observed=float(item["observed"]["N"]) if "observed" in item else None,
        expected=float(item["expected"]["N"]) if "expected" in item else None,
    )


def _write(ddb: Any, table: str, items: list[dict]) -> None:
    """BatchWriteItem of the items, throttles and unprocessed items retried; raises if some never go in."""
    unwritten = dynamo.put_all(ddb, table, items)
    if unwritten:
        raise RuntimeError(f"could not write {len(unwritten)} correlation items")


def _read_group(ddb: Any, table: str, key: str, since: float) -> tuple[list[Member], dict | None]:
    """The group's members from ``since`` on, and its open pattern item (if any)."""
    members: list[Member] = []
    pattern = None
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "groupKey = :k AND #m >= :from",
        "ExpressionAttributeNames": {"#m": "member"},
        "ExpressionAttributeValues": {":k": {"S": key}, ":from": {"S": f"{max(0, int(since * 1000)):015d}"}},
    }
    while True:
        resp = ddb.query(**kwargs)
        for item in resp.get("Items", []):
            if item["member"]["S"] == PATTERN_ITEM:
                pattern = item
            else:
                members.append(_from_item(item))
        if "LastEvaluatedKey" not in resp:
            return members, pattern
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def _link(ddb: Any, insights_table: str, member: Member, pid: str) -> None:
    """Add the pattern id to an already stored anomaly's ``related`` (idempotent)."""
    with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):
        ddb.update_item(
            TableName=insights_table,
            Key={"insightId": {"S": member.alert_id}, "timestamp": {"N": str(int(round(member.timestamp * 1000)))}},
            UpdateExpression="SET related = list_append(if_not_exists(related, :empty), :p)",
            ConditionExpression="attribute_exists(insightId) AND NOT contains(related, :pid)",
            ExpressionAttributeValues={":empty": {"L": []}, ":p": {"L": [{"S": pid}]}, ":pid": {"S": pid}},
        )


def _update_pattern(ddb: Any, insights_table: str, pattern: models.Insight) -> bool:
    """Refresh a stored pattern with its grown membership; False when it was never stored."""
    item = pattern.to_item(1)
    names = [
        n
        for n in ("entity_id", "affected_hosts", "related", "explanation", "recommendations", "risk_score", "severity")
        + ("confidence", "metric", "observed", "expected")
        if n in item
    ]
    try:
        ddb.update_item(
            TableName=insights_table,
            Key={"insightId": item["insightId"], "timestamp": item["timestamp"]},
            UpdateExpression="SET " + ", ".join(f"#{n} = :{n}" for n in names),
            ConditionExpression="attribute_exists(insightId)",
            ExpressionAttributeNames={f"#{n}": n for n in names},
            ExpressionAttributeValues={f":{n}": item[n] for n in names},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True


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
    _write(ddb, settings.table, [_member_item(f"{r}|{g}", m, ttl) for (r, g), ms in groups.items() for m in ms])
    for (rule_name, group), fresh in groups.items():
        rule, key = rules[rule_name], f"{rule_name}|{group}"
        since = min(m.timestamp for m in fresh) - LOOKBACK_WINDOWS * settings.window_s
        stored, open_item = _read_group(ddb, settings.table, key, since)
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
            if joined and _update_pattern(ddb, insights_table, pattern):
                result.joined += 1
            else:
                result.patterns.append((SeriesKey(first.entity, first.metric), pattern))
            for m in members:
                if m.alert_id in by_id:
                    insight = by_id[m.alert_id]
                    insight.related = sorted(set(insight.related or ()) | {pid})
                    result.suppressed.add(m.alert_id)
                elif m.alert_id not in known:
                    _link(ddb, insights_table, m, pid)
            open_item = {
                "groupKey": {"S": key},
                "member": {"S": PATTERN_ITEM},
                "patternId": {"S": pid},
                "startMs": {"N": str(start_ms)},
                "lastTs": {"N": repr(max(m.timestamp for m in members))},
                "memberIds": {"L": [{"S": a} for a in pattern.related or ()]},
                "hosts": {"L": [{"S": h} for h in pattern.affected_hosts]},
                "ttl": {"N": str(ttl)},
            }
            ddb.put_item(TableName=settings.table, Item=open_item)
    return result
