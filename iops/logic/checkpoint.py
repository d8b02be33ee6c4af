"""State checkpoints: a series' detector state is written every few points, not after every batch.

Writing the state is the largest DynamoDB cost of the stack (one put of 1-2 KB per series per
batch, for a point a minute). Instead the AI tier writes it once `CheckpointPolicy` says so, and
every batch in between starts from the written state and first replays the points since, read
back from the Metrics table (they are there: the stream delivered them from it). The detectors
are deterministic and causal, so the replayed state is the one the earlier batches reached and
every score is the same as with a write per batch; only insights of this batch's points are made.

What replay cannot reproduce: a point the stream delivered late (older than the series' newest),
which was skipped when it came but sits in time order in the table, and a value overwritten at the
same host and timestamp. Both change the state a little, as a re-ordered delivery would.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from iops_detector_sdk.contract import Point, SeriesKey

from detectors.runtime import SeriesResult, SeriesState
from iops.dal.metrics import points_between
from iops.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    points: int
    """Write once this many points were scored since the written state (1: every batch)."""
    seconds: float
    """... or once the newest point is this much newer than the written state's."""

    def due(self, written_at: float | None, replayed: int, result: SeriesResult) -> bool:
        """Whether ``result``'s state must be written: a new series, or enough points or time since."""
        if written_at is None:
            return True
        newest = result.state.last_timestamp or written_at
        return replayed + len(result.results) >= self.points or newest - written_at >= self.seconds


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def replay_points(
    ddb: Any, table: str, states: Mapping[SeriesKey, SeriesState], batch: Mapping[SeriesKey, Sequence[Point]]
) -> tuple[dict[SeriesKey, list[Point]], set[SeriesKey]]:
    """Per series, the stored points after its written state and before this batch's first point.

    One Query per host covers all its series. Returns the points and the series whose points could
    not be read (retried with their records, like a state that could not be read).
    """
    spans: dict[str, dict[SeriesKey, tuple[int, int]]] = defaultdict(dict)
    for series, points in batch.items():
        state = states.get(series)
        if state is None or state.last_timestamp is None or not points:
            continue
        after, before = _ms(state.last_timestamp), _ms(min(p.timestamp for p in points))
        if before - after > 1:
            spans[series.entity][series] = (after, before)
    out: dict[SeriesKey, list[Point]] = {}
    unread: set[SeriesKey] = set()
    for host, series_spans in spans.items():
        lo = min(a for a, _ in series_spans.values())
        hi = max(b for _, b in series_spans.values())
        try:
            rows = points_between(ddb, table, host, lo, hi)
        except Exception as exc:  # noqa: BLE001 - this host's series are retried, the others go on
            log.error("could not read points since the state checkpoint", host=host, error=exc)
            unread |= set(series_spans)
            continue
        for series, (after, before) in series_spans.items():
            points = [
                Point(ts / 1000, values[series.metric])
                for ts, values in sorted(rows.items())
                if after < ts < before and series.metric in values
            ]
            if points:
                out[series] = points
    return out, unread
