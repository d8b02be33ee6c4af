"""Contextual novelty detector: how new is the recent pattern of quantised values?

The idea is that of the Contextual Anomaly Detector (CAD OSE, Smirnov and Andreev, a leading
entry of the Numenta Anomaly Benchmark): a series is turned into a stream of discrete facts
(here: the bucket of each value), the detector remembers which short *contexts* of facts it
has seen (a bucket, the pair "previous bucket -> bucket", the triple of the last three), and
a point is anomalous in proportion to how many of its contexts are new. Written from that
description, not from its code; the differences are deliberate, for a stream of unknown range:

* Buckets are set from the series itself once a warm-up has been seen (the range is not known
  in advance): width = ``BUCKET_B`` mean absolute deviations of the warm-up around its median,
  never below 0.1 % of the level. They stay fixed, so a value never seen before lands in a
  bucket never seen before.
* Memory fades with elapsed time (half-life ``HALF_LIFE_S``), so a context seen once long ago
  counts less than one seen yesterday; the table keeps at most ``MAX_CONTEXTS`` entries
  per order, plus up to ``PRUNE`` before the weakest are dropped in one go, which bounds the
  JSON state.
* Novelty of a context is ``1 / (1 + count)``: 1 for never seen, 0.5 for seen once; the raw
  score is the mean over the three orders, smoothed (EWMA weight ``SMOOTH``) and reported on the
  scale of its own fading record (like the statistical detector) so one threshold serves all
  series: ``score = e / (1 + e)``, ``e = smoothed / record``, with a floor on the record so a
  series whose contexts are all familiar scores 0.
* ``NOVEL_WEIGHT`` is what a point scoring at or above 0.5 adds to its contexts' counts (and
  the share of the way its smoothed novelty raises the record). Under cross-validation on both
  development corpora 1.0 (learn novel contexts like any other) beat 0.25, so an incident is
  learned here; recurrences are left to the statistical detector.
* ``YOUNG_S``: no score during a series' first day (every context is new to a young model).

Chosen by cross-validation (leave-one-category-out on ../shared/nab and grouped 5-fold on the
generated corpus, the combination with the statistical detector): ``BUCKET_B`` 5 (2, 4, 5 and 6
tried), ``SMOOTH`` 0.5 (0.2 and 1.0 tried), ``NOVEL_WEIGHT`` 1.0 (0.25 tried); the table size
(``MAX_CONTEXTS`` 100 + ``PRUNE`` 20 rather than 160 + 40) for a smaller state, CV no worse.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from iops_detector_sdk.contract import Point, SeriesKey, State
from iops_detector_sdk.hookspecs import hookimpl

WARMUP = 60
"""Points used to set the buckets; scored 0."""
BUCKET_B = 5.0
"""Bucket width in mean absolute deviations of the warm-up (about 4 standard deviations)."""
HALF_LIFE_S = 7 * 86400.0
MAX_CONTEXTS = 100
PRUNE = 20
SMOOTH = 0.5
"""EWMA weight of the raw novelty (a context that stays new keeps the score up)."""
RECORD_FLOOR = 0.3
MEMORY_PER_S = 0.5 ** (1.0 / (12 * 86400.0))
"""Fade of the novelty record: half-life 12 days, as the statistical detector's records."""
NOVEL_WEIGHT = 1.0
YOUNG_S = 86400.0
"""No score until the series has been seen this long: a young model finds every context new."""


def _count(table: dict, key: str, t: float, decay: float) -> float:
    """The faded count of ``key`` at time ``t``."""
    entry = table.get(key)
    return 0.0 if entry is None else entry[0] * decay ** (t - entry[1])


def _add(table: dict, key: str, before: float, t: float, weight: float, decay: float) -> None:
    """Set ``key``'s count to ``before + weight`` at ``t``; past ``MAX_CONTEXTS`` + ``PRUNE``
    entries, drop the ``PRUNE`` weakest at once (one sort, not one scan per new context)."""
    fresh = key not in table
    table[key] = [round(before + weight, 4), t]
    if fresh and len(table) > MAX_CONTEXTS + PRUNE:
        ranked = sorted(table, key=lambda k: table[k][0] * decay ** (t - table[k][1]))
        for k in ranked[: len(table) - MAX_CONTEXTS]:
            del table[k]


class ContextualDetector:
    name = "contextual"
    remote = False
    calibrated = True
    """Scores fitted to the stack threshold by cross-validation (docs/detection.md): no runtime calibration."""

    def new_state(self, series: SeriesKey) -> State:
        return {
            "warm": [],
            "c": None,
            "w": None,
            "q": [],
            "c1": {},
            "c2": {},
            "c3": {},
            "sm": 0.0,
            "rec": 0.0,
            "last": None,
            "t0": None,
        }

    def score(self, series: SeriesKey, state: State, points: Sequence[Point]) -> list[float]:
        decay = 0.5 ** (1.0 / HALF_LIFE_S)
        c1, c2, c3 = state["c1"], state["c2"], state["c3"]
        q, sm, rec, last = state["q"], state["sm"], state["rec"], state["last"]
        out: list[float] = []
        for p in points:
            x, t = p.value, p.timestamp
            if not math.isfinite(x):
                out.append(0.0)
                continue
            if state["t0"] is None:
                state["t0"] = t
            if state["w"] is None:
                warm = state["warm"]
                warm.append(x)
                out.append(0.0)
                if len(warm) >= WARMUP:
                    srt = sorted(warm)
                    med = srt[len(srt) // 2]
                    mad = sum(abs(v - med) for v in warm) / len(warm)
                    state["c"], state["w"] = med, max(BUCKET_B * mad, 1e-3 * abs(med), 1e-9)
                    state["warm"] = []
                    q = [math.floor((v - med) / state["w"]) for v in warm[-2:]]
                    for v in warm:
                        key = str(math.floor((v - med) / state["w"]))
                        _add(c1, key, _count(c1, key, t, decay), t, 1.0, decay)
                    last = t
                continue
            b = math.floor((x - state["c"]) / state["w"])
            k1 = str(b)
            k2 = f"{q[-1]},{b}" if len(q) >= 1 else None
            k3 = f"{q[-2]},{q[-1]},{b}" if len(q) >= 2 else None
            n1 = _count(c1, k1, t, decay)
            n2 = _count(c2, k2, t, decay) if k2 else 0.0
            n3 = _count(c3, k3, t, decay) if k3 else 0.0
            raw = (1.0 / (1.0 + n1) + 1.0 / (1.0 + n2) + 1.0 / (1.0 + n3)) / 3.0
            sm += SMOOTH * (raw - sm)
            fade = MEMORY_PER_S ** max(0.0, t - (last if last is not None else t))
            e = sm / max(rec * fade, RECORD_FLOOR)
            s = e / (1.0 + e) if t - state["t0"] >= YOUNG_S else 0.0
            weight = NOVEL_WEIGHT if e >= 1.0 else 1.0
            # a novel stretch raises the record only partly (NOVEL_WEIGHT), a familiar one fully
            rec = max(rec * fade, sm) if e < 1.0 else rec * fade + NOVEL_WEIGHT * (sm - rec * fade)
            _add(c1, k1, n1, t, weight, decay)
            if k2:
                _add(c2, k2, n2, t, weight, decay)
            if k3:
                _add(c3, k3, n3, t, weight, decay)
            q = (q + [b])[-2:]
            last = t
            out.append(s)
        state.update(q=q, sm=sm, rec=rec, last=last)
        return out


@hookimpl
def register_detectors(register):
    register(ContextualDetector())
