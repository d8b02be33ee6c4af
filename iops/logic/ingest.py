"""Ingest logic: a request body -> validated metrics (`iops.models.metric`) -> stored, each rejection by index."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from iops import models
from iops.dal import counters, dynamo
from iops.dal.metrics import update_request
from iops.errors import BadRequest
from iops.logic import samples
from iops.models.common import MAX_LISTED_ITEMS, MAX_METRICS_PER_ITEM, InvalidMetric, Metric

MAX_BODY_BYTES = 1_048_576
MAX_LISTED_ERRORS = 5
"""Messages listed per rejected item; the rest are counted."""


def validate_metric(raw: Any) -> Metric:
    """One metric object as stored, or `InvalidMetric` listing everything wrong with it (`models.MetricIn`)."""
    return models.MetricIn.parse(raw)


@dataclass(slots=True)
class ItemError:
    index: int
    errors: list[str]


@dataclass(slots=True)
class IngestResult:
    accepted: int = 0
    rejected: list[ItemError] = field(default_factory=list)
    unstored: list[ItemError] = field(default_factory=list)

    def body(self) -> dict:
        return {
            "accepted": self.accepted,
            "rejected": len(self.rejected) + len(self.unstored),
            "errors": [_listed(e) for e in sorted(self.rejected + self.unstored, key=lambda e: e.index)][
                :MAX_LISTED_ITEMS
            ],
            "errorsNotListed": max(0, len(self.rejected) + len(self.unstored) - MAX_LISTED_ITEMS),
        }


def _listed(error: ItemError) -> dict:
    """One item's errors, at most MAX_LISTED_ERRORS of them, each at most 200 characters."""
    shown = [m[:200] for m in error.errors[:MAX_LISTED_ERRORS]]
    if len(error.errors) > MAX_LISTED_ERRORS:
        shown.append(f"... and {len(error.errors) - MAX_LISTED_ERRORS} more")
    return {"index": error.index, "errors": shown}


def parse_body(body: str | None, max_items: int) -> list[Any]:
    """The request body as a list of raw metric objects (one object, a list, or {"metrics": [...]})."""
    if body is None or not body.strip():
        raise BadRequest('request body is required: a metric object or {"metrics": [...]}')
    if len(body.encode()) > MAX_BODY_BYTES:
        raise BadRequest(f"request body larger than {MAX_BODY_BYTES} bytes", status=413)
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if isinstance(data, dict) and "metrics" in data:
        data = data["metrics"]
        if not isinstance(data, list):
            raise BadRequest("'metrics' must be a list of metric objects")
    elif isinstance(data, dict):
        data = [data]
    elif not isinstance(data, list):
        raise BadRequest('body must be a metric object, a list, or {"metrics": [...]}')
    if not data:
        raise BadRequest("no metrics in the request")
    if len(data) > max_items:
        raise BadRequest(f"at most {max_items} metrics per request, got {len(data)}", status=413)
    return data


def ingest(ddb: Any, table: str, body: str | None, max_items: int, ttl_days: int, deadline: float) -> IngestResult:
    """Validate every metric, store the valid ones, report each rejected one by index.

    Metrics of the same host and timestamp, in this request or in others, are merged into one
    item (each metric its own attribute); the same metric twice in one request: the last wins.
    """
    raw_items = parse_body(body, max_items)
    result = IngestResult()
    merged: dict[tuple[str, int], tuple[list[int], Metric]] = {}
    for index, raw in enumerate(raw_items):
        try:
            metric = validate_metric(raw)
        except InvalidMetric as exc:
            result.rejected.append(ItemError(index, exc.errors))
            continue
        key = (metric.hostname, metric.timestamp_ms)
        if key in merged:
            merged[key][0].append(index)
            merged[key][1].values.update(metric.values)
        else:
            merged[key] = ([index], metric)
    if not merged:
        return result
    now = time.time()
    groups = list(merged.values())
    requests = [update_request(m, now, ttl_days) for _, m in groups]
    failed = dynamo.update_each(ddb, table, requests, dynamo.UNTIL_DEADLINE.until(deadline))
    for i in failed:
        for index in groups[i][0]:
            result.unstored.append(ItemError(index, ["not stored: the database is busy, retry this metric"]))
    result.accepted = len(raw_items) - len(result.rejected) - len(result.unstored)
    return result


def store_samples(
    ddb: Any, table: str, counters_table: str, decoded: samples.Decoded, ttl_days: int, deadline: float
) -> samples.StoreResult:
    """Store a decoded request the way ``POST /metrics`` stores metrics: counters become rates first.

    Samples of one host and time share an item, at most `MAX_METRICS_PER_ITEM` fields per write;
    each goes through the metric model's validation. A counter's new reading is kept only when
    nothing of its request failed to store, so a retried request gives the same rates again.
    """
    result = samples.StoreResult(rejected=decoded.rejected, errors=list(decoded.errors))
    points = list(decoded.samples)
    policy = dynamo.UNTIL_DEADLINE.until(deadline)
    changed: dict[str, samples.Last] = {}
    if decoded.counters:
        previous, unread = counters.load_last(ddb, counters_table, [p.series for p in decoded.counters], policy)
        result.unstored += sum(p.series in unread for p in decoded.counters)
        made, changed = samples.rates([p for p in decoded.counters if p.series not in unread], previous)
        points += made + samples.means(made, decoded.means)
    by_item: dict[tuple[str, int], dict[str, float]] = {}
    for s in points:
        by_item.setdefault((s.host, s.timestamp_ms), {})[s.field] = s.value
    # Round k holds the k-th chunk of each item, so two writes of one item never run at once:
    # the emulator's UpdateItem is not atomic, and concurrent SETs on one item lose fields.
    rounds: list[list[Metric]] = []
    for (host, ts_ms), values in by_item.items():
        names = list(values)
        for k, start in enumerate(range(0, len(names), MAX_METRICS_PER_ITEM)):
            chunk = {n: values[n] for n in names[start : start + MAX_METRICS_PER_ITEM]}
            try:
                metric = validate_metric({"hostname": host, "timestamp": ts_ms / 1000, **chunk})
            except InvalidMetric as exc:
                result.rejected += len(chunk)
                for message in exc.errors:
                    if len(result.errors) < samples.MAX_LISTED and message not in result.errors:
                        result.errors.append(f"{host}: {message}")
                continue
            while len(rounds) <= k:
                rounds.append([])
            rounds[k].append(metric)
    now = time.time()
    any_failed = False
    for metrics in rounds:
        failed = dynamo.update_each(ddb, table, [update_request(m, now, ttl_days) for m in metrics], policy)
        unstored = sum(len(metrics[i].values) for i in failed)
        result.unstored += unstored
        result.stored += sum(len(m.values) for m in metrics) - unstored
        any_failed = any_failed or bool(failed)
    if not any_failed and changed:
        unwritten = counters.save_last(ddb, counters_table, changed, policy)
        if unwritten:  # the next reading of these series only sets a baseline again: one rate is lost, no data
            result.errors.append(f"{len(unwritten)} counter baselines not saved (the database is busy)")
    return result
