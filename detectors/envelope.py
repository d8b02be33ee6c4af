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


EPISODE_ON = 1.0
"""Evidence at or above the series' own record (score 0.5) opens an episode."""


def snapshot(rec: list[float], hi: list[float], lo: list[float], scales: list[float]) -> list[list[float]]:
    """What an episode may have to give back: records, envelope and residual scales as they were."""
    return [rec[:], hi[:], lo[:], scales[:]]


def forget(
    incident: list,
    rec: list[float],
    hi: list[float],
    lo: list[float],
    sm: list[float],
    scales: list[float],
    level: float,
    fade: float,
    keep: float,
) -> list[float]:
    """Give back (in place) what an incident (a closed episode from ``episode_step``) added to the
    records and the envelope, all but the share ``keep``, the old values faded by ``fade`` since its
    start; returns the residual scales treated the same way. Only ever lowers."""
    s_rec, s_hi, s_lo, s_scales = incident[3]

    def back(now: float, then: float) -> float:
        return min(now, then + keep * (now - then))

    for k in range(len(rec)):
        rec[k] = back(rec[k], s_rec[k] * fade)
        hi[k] = max(sm[k], back(hi[k], level + (s_hi[k] - level) * fade))
        lo[k] = min(sm[k], -back(-lo[k], -(level + (s_lo[k] - level) * fade)))
    return [back(now, then) for now, then in zip(scales, s_scales, strict=True)]


def held(ep: list, avgs: list[float], floors: tuple[float, ...]) -> bool:
    """Still in the episode: a surprise average at or above its record as it was before the episode
    (the record itself has risen with the episode, so on a plateau the ratio to it falls below 1)."""
    return any(a >= max(r, f) for a, r, f in zip(avgs, ep[3][0], floors, strict=True))


def episode_step(
    ep: list | None,
    ratio: float,
    now: float,
    snap: list[list[float]] | None,
    avgs: list[float],
    floors: tuple[float, ...],
    quiet: float,
    longest: float,
    peak: float,
) -> tuple[list | None, list | None]:
    """Follow the series' flagged episodes; returns (open episode or None, closed incident to forget or None).

    An episode opens at the first point whose evidence reaches the record (``snap`` is what the
    state was just before it) and closes after ``quiet`` without such a point and without a surprise
    average (``avgs``) at the records it had before (``held``). A closed episode that
    reached ``peak`` and lasted less than ``longest`` was an incident: its snapshot is returned so the
    caller forgets it (``forget``), and the same incident recurring is news again. One that lasts longer is a new
    normal and is kept; one that never reached ``peak`` was noise setting records, and is kept too.
    ``ep`` is ``[start, last flagged, peak evidence, snapshot]`` (plain lists: JSON state)."""
    if ep is None:
        if ratio >= EPISODE_ON and snap is not None:
            return [now, now, ratio, snap], None
        return None, None
    if ratio >= EPISODE_ON:
        ep[1], ep[2] = now, max(ep[2], ratio)
    elif held(ep, avgs, floors):
        ep[1] = now
    if now - ep[0] > longest:
        return None, None
    if now - ep[1] >= quiet:
        return None, (ep if ep[2] >= peak else None)
    return ep, None
