"""The deterministic explanation every insight gets when no enricher (e.g. Bedrock) answers."""

from __future__ import annotations

from datetime import UTC, datetime

from iops_detector_sdk.contract import Enrichment, Finding

ADVICE: dict[str, list[str]] = {
    "cpu": [
        "Find the processes using the CPU on {host} (top -o %CPU, or per-container CPU) and compare with the last deploy",
        "Check whether load shifted to {host} from other hosts behind the same balancer",
        "If the load is legitimate, scale out or raise the instance size before saturation",
    ],
    "memory": [
        "Look for a leaking process on {host}: RSS growth per process over the last hour",
        "Check swap activity and OOM-killer messages in the kernel log of {host}",
        "Restart or roll back the service whose memory grew, then watch {metric} for a repeat",
    ],
    "disk": [
        "Find the processes doing I/O on {host} (iotop, /proc/*/io) and check for runaway logs or compactions",
        "Check the volume's queue depth and burst balance; move hot data to faster storage if it persists",
    ],
    "network": [
        "Compare {metric} on {host} with its peers to tell a traffic surge from a faulty NIC or link",
        "Check for retransmits and errors on the interface (ethtool -S, netstat -s) and on the switch port",
    ],
    "latency": [
        "Check the switch port and cabling of {host} for link errors or flaps (ibstat, perfquery, ibdiagnet)",
        "Look for congestion: other streams on the same switch degrading at the same time",
        "Review recent fabric topology or subnet manager changes",
    ],
}
GENERIC = [
    "Compare {metric} on {host} with the same time yesterday and with similar hosts",
    "Check recent deploys, configuration changes and scheduled jobs on {host} around {time}",
]


def family(metric: str) -> str | None:
    name = metric.lower()
    for key, words in {
        "cpu": ("cpu",),
        "memory": ("mem", "swap"),
        "disk": ("disk", "iops", "io_"),
        "network": ("network", "net", "bandwidth", "rx", "tx"),
        "latency": ("latency", "ib_", "infiniband", "rtt"),
    }.items():
        if any(w in name for w in words):
            return key
    return None


def _fmt(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"


def template_enrichment(finding: Finding) -> Enrichment:
    """Names the metric, host, observed and expected values, and what to look at first."""
    host, metric = finding.series.entity, finding.series.metric
    when = datetime.fromtimestamp(finding.point.timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
    observed, expected = finding.point.value, finding.expected
    if expected not in (None, 0):
        change = (observed - expected) / abs(expected) * 100
        delta = f" ({change:+.0f} % against the recent median of {_fmt(expected)})"
    else:
        delta = f" (recent median {_fmt(expected)})"
    top = max(finding.scores, key=finding.scores.get) if finding.scores else "detectors"
    explanation = (
        f"{metric} on {host} was {_fmt(observed)} at {when}{delta}. "
        f"The {top} detector scored it {finding.score:.2f}, a {finding.severity} risk of {finding.risk_score}/100."
    )
    advice = ADVICE.get(family(metric) or "", []) + GENERIC
    recommendations = [a.format(host=host, metric=metric, time=when) for a in advice[:4]]
    return Enrichment(explanation=explanation, recommendations=recommendations, model_used=finding.model_used or top)
