"""Notifications per incident on `local.pattern_eval`'s generated fleet (multi-host incidents, lone spikes).

The same records, batches and in-process moto as the pattern evaluation, with a simulated clock: each
batch is processed at its last point's time, and the incident sweeper runs after each batch at that
time, so quiet times pass as they would live. Reports how many notifications went out (by kind), how
many incidents were opened, and how many notifications each generated incident got.

    python -m local.incident_eval [--oracle]
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter


def evaluate(oracle: bool = False, **fleet: int) -> dict:
    import os

    from moto import mock_aws

    from local.offline import OFFLINE_AWS

    for var, value in OFFLINE_AWS.items():
        os.environ.setdefault(var, value)
    from detectors import plugins
    from local import pattern_eval as pe

    metrics, truth, lone = pe.generate(**fleet)
    with mock_aws():
        from handlers.definitions import AI_FN, TABLES
        from iops.dal import aws
        from iops.logic import incidents
        from iops.logic.ai import Processor, process_batch
        from local.emulator import function_settings

        aws.reset()
        ddb = aws.client("dynamodb")
        settings = function_settings(pe.EVAL_PREFIX, event_bus="eval-bus")[AI_FN]
        for table in TABLES:
            ddb.create_table(**table.create_table_kwargs(table.physical_name(pe.EVAL_PREFIX)))
        events = pe.CountingEvents()
        clock = {"now": 0.0}
        proc = Processor(
            ddb=ddb,
            events=events,
            settings=settings,
            detectors={"spike-oracle": pe.SpikeOracle()} if oracle else plugins.enabled_detectors(),
            enrichers={},
            pattern_settings=settings.patterns,
            clock=lambda: clock["now"],
        )
        per_host_alerts = 0
        records = [pe.stream_record(i + 1, m) for i, m in enumerate(metrics)]
        for i in range(0, len(records), pe.BATCH):
            chunk = records[i : i + pe.BATCH]
            clock["now"] = int(chunk[-1]["dynamodb"]["NewImage"]["timestamp"]["N"]) / 1000
            out = process_batch(proc, chunk, time.monotonic() + 60)
            per_host_alerts += sum(
                1 for x in out.insights if x.type == "anomaly" and x.severity in ("HIGH", "CRITICAL")
            )
            incidents.sweep(ddb, events, "eval-bus", None, settings.incidents, int(clock["now"] * 1000))
        for extra in range(1, 40):  # let the last incidents go quiet
            incidents.sweep(ddb, events, "eval-bus", None, settings.incidents, int((clock["now"] + 60 * extra) * 1000))
        stored = incidents.store.open_incidents(ddb, settings.incidents.table, incidents.STATUSES)
        aws.reset()
    kinds = Counter(d["notification"] for d in events.details)
    notified = {d["incident_id"] for d in events.details}

    def covering(inc: pe.Incident) -> set[str]:
        start_ms = int(inc.start * 1000)
        return {
            s["incidentId"]
            for s in stored
            if set(s["hosts"]) & set(inc.hosts) and s["opened_at"] - 180_000 <= start_ms <= s["last_seen"] + 180_000
        }

    per_truth = [sum(1 for d in events.details if d["incident_id"] in covering(t)) for t in truth]
    incidents_per_truth = [len(covering(t) & notified) for t in truth]
    return {
        "detectors": "spike-oracle" if oracle else ",".join(plugins.enabled_detector_names()),
        "generated_incidents": len(truth),
        "lone_spikes": len(lone),
        "per_host_alerts_high_or_critical": per_host_alerts,
        "incidents_opened": len(stored),
        "incidents_notified": len(notified),
        "notifications": sum(kinds.values()),
        "by_kind": dict(kinds),
        "notified_incidents_per_generated_incident": incidents_per_truth,
        "notifications_per_generated_incident": per_truth,
    }


if __name__ == "__main__":
    print(json.dumps(evaluate(oracle="--oracle" in sys.argv[1:]), indent=1))
