"""Range novelty, shared by the statistical detector and the LSTM's calibration.

A value's smoothed versions (one per averaging horizon) leaving the envelope of their recent
extremes is evidence in itself, measured in envelope widths. The envelope is never narrower than
what noise reaches around its middle (``reach``), and it fades toward the level so that old
extremes stop masking new ones. Plain floats and lists only: the SageMaker endpoint imports it.
"""

from __future__ import annotations

from collections.abc import Sequence


def range_novelty(
    sm: list[float],
    hi: list[float],
    lo: list[float],
    x: float,
    steps: Sequence[float],
    reach: Sequence[float],
    level: float,
    fade: float,
    floor: float,
    scored: bool,
) -> float:
    """Update the smoothed values and the envelope with ``x`` (in place); the strongest evidence, 0 if inside.

    ``reach[k]``: the noise reach of horizon k in the series' units; ``scored`` False only learns."""
    ratio = 0.0
    for k, step in enumerate(steps):
        sm[k] += step * (x - sm[k])
        if scored:
            mid = 0.5 * (hi[k] + lo[k])
            top, bottom = max(hi[k], mid + reach[k]), min(lo[k], mid - reach[k])
            beyond = max(sm[k] - top, bottom - sm[k])
            if beyond > 0:
                ratio = max(ratio, 1.0 + beyond / (top - bottom + floor))
        hi[k] = max(sm[k], level + (hi[k] - level) * fade)
        lo[k] = min(sm[k], level + (lo[k] - level) * fade)
    return ratio
