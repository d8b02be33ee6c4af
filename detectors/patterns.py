"""Built-in grouping rules: anomalies that line up across hosts, metrics or InfiniBand streams.

Registered through the ``register_grouping_rules`` hook like any third-party rule. Each rule
names the shared cause to look at, so one ``pattern`` insight replaces a flood of per-host ones:

- ``same-metric``: one metric anomalous on several hosts at once, moving the same way (a deploy,
  a load balancer, an upstream dependency, a noisy neighbour on shared storage). Requiring one
  direction keeps chance coincidences of noise-level anomalies (up on one host, down on the
  next) out: measured on generated incidents, it removed every false pattern.
- ``same-host``: several metrics of one host at once (the host itself: hardware, kernel, a
  runaway process touching CPU, memory and I/O).
- ``ib-fabric``: several InfiniBand streams of one group (same switch) degrading together (same way);
  InfiniBand streams are left out of ``same-metric`` so one fabric incident is one pattern.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from statistics import median

from iops_detector_sdk.contract import STREAM_PREFIX, Member
from iops_detector_sdk.hookspecs import hookimpl

MIN_METRICS_FLOOR = 2


def relative_change(members: Sequence[Member]) -> float | None:
    """Median change of observed against expected across members, in percent."""
    changes = [
        (m.observed - m.expected) / abs(m.expected) * 100
        for m in members
        if m.observed is not None and m.expected not in (None, 0)
    ]
    return median(changes) if changes else None


def same_direction_hosts(members: Sequence[Member]) -> int:
    """Distinct hosts that moved the way most did (up or down): a shared cause moves them alike.

    Members without an expected value count either way.
    """
    up = {m.entity for m in members if m.expected is None or m.observed is None or m.observed >= m.expected}
    down = {m.entity for m in members if m.expected is None or m.observed is None or m.observed <= m.expected}
    return max(len(up), len(down))


def _change_text(members: Sequence[Member]) -> str:
    change = relative_change(members)
    return f" ({change:+.0f} % against their recent medians)" if change is not None else ""


def _names(values: Sequence[str], most: int = 8) -> str:
    shown = ", ".join(values[:most])
    return shown + (f" and {len(values) - most} more" if len(values) > most else "")


def _span(members: Sequence[Member]) -> str:
    seconds = max(m.timestamp for m in members) - min(m.timestamp for m in members)
    return (
        "at the same time"
        if seconds < 1
        else f"within {seconds / 60:.0f} min"
        if seconds >= 60
        else f"within {seconds:.0f} s"
    )


def ib_group(entity: str) -> str:
    """The stream group of an InfiniBand stream: its name without the trailing index (ib/ib_sw1_p3 -> ib_sw1_p)."""
    name = entity.removeprefix(STREAM_PREFIX)
    return re.sub(r"_?\d+$", "", name) or name


class SameMetric:
    name = "same-metric"

    def group(self, member: Member) -> str | None:
        return None if member.entity.startswith(STREAM_PREFIX) else member.metric

    def is_pattern(self, members: Sequence[Member], min_members: int) -> bool:
        return same_direction_hosts(members) >= min_members

    def describe(self, group: str, members: Sequence[Member]) -> tuple[str, list[str]]:
        hosts = sorted({m.entity for m in members})
        text = (
            f"{len(hosts)} hosts show {group} anomalies {_span(members)}{_change_text(members)}: {_names(hosts)}. "
            "One shared cause is likelier than separate faults on each host."
        )
        return text, [
            f"Look at what {_names(hosts, 3)} share: load balancer pool, rack or switch, storage backend, upstream service",
            "Check deploys, configuration pushes and scheduled jobs that reached these hosts together",
            f"Compare {group} on these hosts with hosts that stayed normal to narrow the common factor",
        ]


class SameHost:
    name = "same-host"

    def group(self, member: Member) -> str | None:
        return member.entity

    def is_pattern(self, members: Sequence[Member], min_members: int) -> bool:
        return len({m.metric for m in members}) >= max(MIN_METRICS_FLOOR, min_members)

    def describe(self, group: str, members: Sequence[Member]) -> tuple[str, list[str]]:
        metrics = sorted({m.metric for m in members})
        text = (
            f"{group} shows anomalies on {len(metrics)} metrics {_span(members)}{_change_text(members)}: "
            f"{_names(metrics)}. The host itself is the likely cause, not each metric separately."
        )
        return text, [
            f"Find the process on {group} that moves {_names(metrics, 3)} together (top, iotop, pidstat)",
            f"Check {group}'s kernel log for hardware, OOM or I/O errors around the same time",
            f"Drain or restart {group} if it keeps degrading; compare with its peers first",
        ]


class IbFabric:
    name = "ib-fabric"

    def group(self, member: Member) -> str | None:
        return ib_group(member.entity) if member.entity.startswith(STREAM_PREFIX) else None

    def is_pattern(self, members: Sequence[Member], min_members: int) -> bool:
        return same_direction_hosts(members) >= min_members

    def describe(self, group: str, members: Sequence[Member]) -> tuple[str, list[str]]:
        streams = sorted({m.entity for m in members})
        metrics = sorted({m.metric for m in members})
        text = (
            f"{len(streams)} InfiniBand streams of {group} degrade together {_span(members)} on "
            f"{_names(metrics)}{_change_text(members)}: {_names(streams)}. Look at the switch or links they share."
        )
        return text, [
            f"Check the switch serving {group} for port errors, congestion or a flapping link (ibdiagnet, perfquery)",
            "Look for a subnet manager event or routing change at the time the streams degraded",
            "Move heavy flows to other paths while the shared switch is examined",
        ]


@hookimpl
def register_grouping_rules(register):
    register(SameMetric())
    register(SameHost())
    register(IbFabric())
