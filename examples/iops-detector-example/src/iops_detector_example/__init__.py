"""A jump detector: how unusual is the change from the previous point?

It keeps an exponentially weighted mean of absolute point-to-point changes and scores a new
change by how many of those typical changes it is. Small state (three numbers), causal,
fast: a complete example of the detector contract.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from iops_detector_sdk.contract import Point, SeriesKey, State
from iops_detector_sdk.hookspecs import hookimpl

ALPHA = 0.02
WARMUP = 30


class JumpDetector:
    """Scores the size of each step against the typical step size (a fading mean of |change|)."""

    name = "jump"
    remote = False

    def new_state(self, series: SeriesKey) -> State:
        return {"n": 0, "last": None, "mad": 0.0}

    def score(self, series: SeriesKey, state: State, points: Sequence[Point]) -> list[float]:
        out = []
        for p in points:
            last, mad = state["last"], state["mad"]
            if last is None:
                out.append(0.0)
            else:
                change = abs(p.value - last)
                ratio = change / (mad + 1e-9 + 1e-6 * abs(last))
                out.append(0.0 if state["n"] < WARMUP else 1.0 - math.exp(-((ratio / 8.0) ** 2)))
                state["mad"] = change if state["n"] == 1 else (1 - ALPHA) * mad + ALPHA * change
            state["last"] = p.value
            state["n"] += 1
        return out


@hookimpl
def register_detectors(register: Callable[..., None]) -> None:
    register(JumpDetector())
