"""Feedback on insights: stored and counted, and two verdicts change what the series does next.

- ``not_an_anomaly``: the flagged point is learned as normal for its series: a profile (time of
  day +- `NORMAL_WINDOW_S`, value band around the point) inside which later points are not flagged.
  A benign daily job stops alerting from its next run; an incident of another kind on that series
  (another time of day, or well outside the band) is still flagged.
- ``too_sensitive``: the series' threshold rises by `BOOST_STEP` (up to `MAX_THRESHOLD`), so only
  stronger anomalies of that series are flagged.

``useful`` and ``expected_change`` are stored and counted only. The rules live in the feedback
table (one item per series), which the AI tier re-reads at most every `RULES_TTL_S` seconds (one
Query for all series, not one read per batch).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from iops_detector_sdk.contract import Point, SeriesKey

from iops import models
from iops.dal import feedback as store
from iops.models.common import iso

VERDICTS = ("useful", "not_an_anomaly", "too_sensitive", "expected_change")
NORMAL_WINDOW_S = 3600
"""A learned-normal profile covers this long either side of the flagged point's time of day."""
BAND_SHARE = 0.25
"""The profile's value band: the point +- this share of its distance from the expected value (at least 5 %)."""
BOOST_STEP = 0.1
MAX_THRESHOLD = 0.95
RULES_TTL_S = 60.0
FEEDBACK_TTL_DAYS = 365
DAY_S = 86_400


def series_key(insight: models.Insight) -> str | None:
    """The one series an anomaly is about (patterns and predictions change no series)."""
    if insight.type != "anomaly" or not insight.metric:
        return None
    return str(SeriesKey(insight.entity_id, insight.metric))


def profile_for(insight: models.Insight) -> dict[str, Any] | None:
    if insight.observed is None:
        return None
    value = float(insight.observed)
    spread = max(
        abs(value - float(insight.expected)) * BAND_SHARE if insight.expected is not None else 0.0,
        0.05 * abs(value),
        1e-9,
    )
    return {"tod": int(insight.timestamp_ms / 1000) % DAY_S, "lo": value - spread, "hi": value + spread}


@dataclass(frozen=True, slots=True)
class SeriesRules:
    normal: tuple[tuple[int, float, float], ...] = ()
    boost: float = 0.0

    def threshold(self, base: float) -> float:
        return min(MAX_THRESHOLD, base + self.boost) if self.boost else base

    def learned_normal(self, point: Point) -> bool:
        tod = int(point.timestamp) % DAY_S
        for center, lo, hi in self.normal:
            gap = abs(tod - center)
            if min(gap, DAY_S - gap) <= NORMAL_WINDOW_S and lo <= point.value <= hi:
                return True
        return False

    def flags(self, point: Point, combined: float, base: float) -> bool:
        return combined >= self.threshold(base) and not self.learned_normal(point)


NO_RULES = SeriesRules()


def rules_of(item: dict[str, Any]) -> SeriesRules:
    return SeriesRules(
        tuple((int(p["tod"]), float(p["lo"]), float(p["hi"])) for p in item.get("normal", [])),
        float(item.get("boost", 0.0)),
    )


@dataclass(slots=True)
class RulesCache:
    """The series' rules, re-read at most every ``ttl_s`` (an AI container keeps one)."""

    ttl_s: float = RULES_TTL_S
    clock: Any = time.monotonic
    rules: dict[str, SeriesRules] = field(default_factory=dict)
    loaded_at: float | None = None

    def get(self, ddb: Any, table: str) -> dict[str, SeriesRules]:
        now = self.clock()
        if self.loaded_at is None or now - self.loaded_at >= self.ttl_s:
            self.rules = {i["seriesKey"]: rules_of(i) for i in store.load_rules(ddb, table)}
            self.loaded_at = now
        return self.rules


def record(
    ddb: Any, table: str, insight: models.Insight, verdict: str, comment: str, user: str, now_ms: int
) -> dict[str, Any]:
    """Store one verdict (who, when) and apply it to the insight's series; the API's answer."""
    ttl = now_ms // 1000 + FEEDBACK_TTL_DAYS * DAY_S
    store.put_feedback(
        ddb,
        table,
        {
            "insightId": insight.alert_id,
            "createdAt": now_ms,
            "verdict": verdict,
            "comment": comment,
            "user": user,
            "ttl": ttl,
        },
    )
    key = series_key(insight)
    answer: dict[str, Any] = {
        "insight_id": insight.alert_id,
        "verdict": verdict,
        "comment": comment,
        "by": user,
        "at": iso(now_ms),
        "series": key,
        "effect": "none",
        "counts": {},
    }
    if key is None:
        return answer
    profile = profile_for(insight) if verdict == "not_an_anomaly" else None
    boost = BOOST_STEP if verdict == "too_sensitive" else 0.0
    item = store.update_series(ddb, table, key, verdict, profile, boost, ttl)
    answer["counts"] = {v: int(item.get(f"count_{v}", 0)) for v in VERDICTS}
    if profile is not None:
        answer["effect"] = "learned_normal"
    elif boost:
        answer["effect"] = "threshold_raised"
    return answer
