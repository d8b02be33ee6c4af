"""The detector contract: the one module a plugin author imports.

A *detector* scores every new point of one series (an entity such as a host or an
InfiniBand stream, plus one metric name) with a number in [0, 1], causally: the score
of a point may depend on that point and earlier ones only. The runtime hands the
detector the series' state (whatever `new_state` returned, after earlier calls) and
stores it between invocations, so a detector never reads AWS itself unless it is a
remote detector (SageMaker, Bedrock), marked with ``remote = True``.

State must survive a JSON round trip (dicts, lists, str, float, int, bool, None):
the runtime persists it per series in DynamoDB between Lambda invocations and
`iops_detector_sdk.testing` checks that scoring after a round trip equals scoring without one.

An *enricher* turns a finding (a point the runtime decided is anomalous) into words
for people: an explanation, concrete recommendations, optionally a revised risk score
and prediction type. Enrichers are called only for findings at or above their
``min_severity`` and must return before the given deadline (``time.monotonic()`` value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from iops_detector_sdk.severity import SEVERITIES as SEVERITIES  # defined there; a plugin may import them from here
from iops_detector_sdk.severity import severity_rank as severity_rank

STREAM_PREFIX = "ib/"
"""An InfiniBand stream's entity is ``ib/<stream>`` (its minute items' key): no hostname can contain
'/', so a stream and a host of the same name never share items, series or insights."""

State = dict[str, Any]
"""Per-series detector state; must survive ``json.loads(json.dumps(state))``.

A detector that can score with more than one model (SageMaker falling back to the built-in
LSTM) records which one it used in ``state["model_used"]``; insights report it."""


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """One series: the entity (host or stream) and the metric name."""

    entity: str
    metric: str

    def __str__(self) -> str:
        return f"{self.entity}#{self.metric}"

    @classmethod
    def parse(cls, text: str) -> SeriesKey:
        entity, _, metric = text.rpartition("#")
        return cls(entity, metric)


@dataclass(frozen=True, slots=True)
class Point:
    """One observation: epoch seconds and a finite value."""

    timestamp: float
    value: float


@runtime_checkable
class Detector(Protocol):
    """Scores new points of a series in [0, 1], causally, from per-series state.

    Optional: ``calibrated = True`` says the scores already mean what the stack's threshold
    means (checked with ``iops evaluate --threshold``); without it the runtime calibrates them
    per series by their rarity before combining (docs/plugins.md, "Calibration"). Not a
    protocol member, so detectors written before it stay valid.
    """

    name: str
    """Unique, lowercase; used in config (``IOPS_DETECTORS``) and in ``model_used``."""

    remote: bool
    """True when the detector calls an AWS service (the runtime then isolates it harder)."""

    def new_state(self, series: SeriesKey) -> State:
        """The state of a series this detector has never seen."""
        ...

    def score(self, series: SeriesKey, state: State, points: Sequence[Point]) -> list[float]:
        """Score ``points`` (oldest first, strictly after every point seen before).

        Mutates ``state`` in place to remember what it needs; returns one score per point.
        """
        ...


@dataclass(slots=True)
class Finding:
    """A point the runtime judged anomalous, with what an enricher needs to explain it."""

    series: SeriesKey
    point: Point
    score: float
    """Combined detector score in [0, 1]."""
    scores: dict[str, float]
    """Each detector's own score for this point."""
    expected: float | None
    """What the series usually looks like here (median of recent history)."""
    risk_score: int
    severity: str
    confidence: float
    context: list[Point] = field(default_factory=list)
    """Recent history of the series, oldest first, ending with ``point``."""
    insight_type: str = "anomaly"
    prediction_type: str = "performance_degradation"
    model_used: str = ""


@dataclass(slots=True)
class Enrichment:
    """What an enricher adds to a finding."""

    explanation: str
    recommendations: list[str]
    model_used: str
    risk_score: int | None = None
    prediction_type: str | None = None


@runtime_checkable
class Enricher(Protocol):
    """Explains findings for people (e.g. an LLM); falls back rather than raising."""

    name: str
    min_severity: str

    def enrich(self, finding: Finding, deadline: float) -> Enrichment | None:
        """Explain ``finding``; return None to leave it to the next enricher."""
        ...


@dataclass(frozen=True, slots=True)
class Member:
    """An anomaly insight as a grouping rule sees it (one point of one series)."""

    alert_id: str
    entity: str
    metric: str
    timestamp: float
    severity: str
    risk_score: int
    observed: float | None = None
    expected: float | None = None


@runtime_checkable
class GroupingRule(Protocol):
    """Groups anomalies of several series into one ``pattern`` insight with a shared cause.

    The runtime keeps every anomaly's group (per rule) for ``patternWindowSeconds`` in a
    correlation store, across stream batches, and asks the rule whether the anomalies of one
    group inside the window form a pattern.
    """

    name: str
    """Unique, lowercase; part of the pattern's id and ``model_used``."""

    def group(self, member: Member) -> str | None:
        """The group this anomaly belongs to under this rule (e.g. its metric), or None."""
        ...

    def is_pattern(self, members: Sequence[Member], min_members: int) -> bool:
        """Whether these anomalies of one group, within the window, form a pattern.

        ``min_members`` is the configured ``patternMinHosts``: distinct hosts or streams
        (or whatever the rule counts) that make a pattern.
        """
        ...

    def describe(self, group: str, members: Sequence[Member]) -> tuple[str, list[str]]:
        """An explanation naming the shared cause to look at, and recommendations."""
        ...
