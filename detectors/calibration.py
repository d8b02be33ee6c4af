"""The runtime's calibration of a plugin's raw scores, so that one threshold means the same for every detector.

A detector that does not declare ``calibrated = True`` has its raw scores mapped, per series and
causally, through the fading distribution of its own earlier scores on that series: a score whose
tail probability ``p`` (the share of its recent scores at or above it, its own bin included) equals
`TAIL_AT_THRESHOLD` lands exactly on the stack's default ``anomalyThreshold``, rarer scores above it,
commoner ones below (``s = threshold * ln p / ln TAIL_AT_THRESHOLD``, at most 1). The scale of the
raw scores does not matter, only their order and rarity, so a plugin that returns 0.6 for every
ordinary point cannot flood the feed, and one whose scores never pass 0.1 can still be heard.

Until a series has seen ``1 / TAIL_AT_THRESHOLD`` points no score can reach the threshold: the
warm-up comes with the method. Built-in detectors were calibrated against the threshold by
cross-validation (docs/detection.md) and declare ``calibrated = True``; so may a plugin whose
`iops evaluate --threshold` figures hold at the stack's threshold. Measured in docs/plugins.md.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from iops.settings import DEFAULT_ANOMALY_THRESHOLD

TAIL_AT_THRESHOLD = 5e-4
"""The tail probability that maps to the threshold: 1 in 2,000 of the series' recent scores.
Picked from 1e-3, 5e-4, 3e-4 on the two development corpora (docs/plugins.md): not cross-validated."""
HALF_LIFE_POINTS = 10_000
"""How fast old scores fade from the distribution (about a week of one-minute points)."""
BINS = 100
EDGES = [0.0] + [10 ** (-4 + 4 * i / (BINS - 1)) for i in range(BINS)]
"""Bin lower edges: 0, then log-spaced from 1e-4 to 1 (a score of exactly 1 has its own bin)."""
_DECAY = 0.5 ** (1 / HALF_LIFE_POINTS)
_LOG_TAIL = math.log(TAIL_AT_THRESHOLD)
_RESCALE_ABOVE = 1e12
"""Masses grow by 1/decay per point instead of all decaying; past this they are rescaled."""


def new_state() -> dict:
    """``h``: bin -> mass (scaled by ``g``, the growth since the last rescale)."""
    return {"h": {}, "g": 1.0}


def calibrate(state: dict, raw: Sequence[float], threshold: float = DEFAULT_ANOMALY_THRESHOLD) -> list[float]:
    """Calibrated scores of ``raw`` (each in [0, 1]), learning each one after it is scored."""
    masses = [0.0] * (BINS + 1)
    for k, v in state.get("h", {}).items():
        masses[int(k)] = float(v)
    growth = float(state.get("g", 1.0))
    total = sum(masses)
    out: list[float] = []
    for x in raw:
        b = bisect.bisect_right(EDGES, x) - 1
        if total > 0:
            p = (sum(masses[b:]) + growth) / (total + growth)
            out.append(min(1.0, threshold * math.log(p) / _LOG_TAIL) if p < 1.0 else 0.0)
        else:
            out.append(0.0)
        growth /= _DECAY
        masses[b] += growth
        total += growth
        if growth > _RESCALE_ABOVE:
            masses = [m / growth for m in masses]
            total /= growth
            growth = 1.0
    state["h"] = {str(i): float(f"{m / growth:.6g}") for i, m in enumerate(masses) if m / growth >= 1e-6}
    state["g"] = 1.0
    return out
