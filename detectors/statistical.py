"""Built-in statistical detector (first version): robust deviation from a smoothed level.

Keeps an exponentially weighted mean and a robust spread per series and scores how far a
new point lies from what the recent past predicts. Its quality is tuned and measured with
``iops evaluate``.
"""

from __future__ import annotations

import math
from typing import Sequence

from detectors.contract import Point, SeriesKey, State
from detectors.hookspecs import hookimpl

ALPHA = 0.05
WARMUP = 20


class StatisticalDetector:
    name = "statistical"
    remote = False

    def new_state(self, series: SeriesKey) -> State:
        return {"n": 0, "mean": 0.0, "var": 0.0}

    def score(self, series: SeriesKey, state: State, points: Sequence[Point]) -> list[float]:
        out: list[float] = []
        n, mean, var = state["n"], state["mean"], state["var"]
        for p in points:
            if n < WARMUP:
                out.append(0.0)
            else:
                z = abs(p.value - mean) / math.sqrt(var + 1e-12 + (1e-3 * abs(mean)) ** 2)
                out.append(1.0 - math.exp(-((z / 4.0) ** 2)))
            n += 1
            if n == 1:
                mean = p.value
            else:
                delta = p.value - mean
                mean += ALPHA * delta
                var = (1 - ALPHA) * (var + ALPHA * delta * delta)
        state.update(n=n, mean=mean, var=var)
        return out


@hookimpl
def register_detectors(register):
    register(StatisticalDetector())
