"""The prediction and pattern parts of ``iops evaluate`` (``--predictions``, ``--patterns``).

Kept beside the NAB report: the NAB score says how well points are flagged; these say how early
and how often right the capacity predictions are (`detectors.forecast_eval`) and how many
multi-host incidents become one pattern, with how many fewer alerts (`local.pattern_eval`).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--predictions",
        action="store_true",
        help="also report prediction lead time, precision and cost (corpus + generated capacity traces)",
    )
    p.add_argument(
        "--patterns",
        action="store_true",
        help="also report pattern incident recall and alert reduction (generated multi-host incidents)",
    )


def run(args: argparse.Namespace, corpus: Path | None) -> dict:
    """The requested reports, keyed ``predictions`` / ``patterns``, with the production settings."""
    out: dict = {}
    if args.predictions:
        from detectors import forecast_eval
        from iops.settings import PredictionSettings

        settings = PredictionSettings.from_env()
        out["predictions"] = forecast_eval.evaluate(corpus, settings.horizon_s, settings.every_points)
    if args.patterns:
        from local import pattern_eval

        out["patterns"] = {
            "grouping_alone": pattern_eval.evaluate(oracle=True),
            "end_to_end": pattern_eval.evaluate(),
        }
    return out


def _row(name: str, s: dict) -> str:
    def fmt(value, spec: str = "") -> str:
        return "  n/a" if value is None else format(value, spec)

    return (
        f"    {name:<16} predictions {s['predictions']:4d}  precision {fmt(s['precision'], '.3f')}  "
        f"crossings {s['crossings']:3d}  recall {fmt(s['recall'], '.3f')}  "
        f"lead median {fmt(s['median_lead_min'])} min (p25 {fmt(s['p25_lead_min'])})  "
        f"ETA error median {fmt(s['median_eta_error_min'])} min  {fmt(s['us_per_point'])} us/point"
    )


def print_report(out: dict) -> None:
    if "predictions" in out:
        pred = out["predictions"]
        print(f"\npredictions (horizon {pred['horizon_hours']:g} h, refresh every {pred['every_points']} points)")
        for part in ("corpus", "generated"):
            if part in pred:
                print(f"  {part}")
                for name, summary in pred[part].items():
                    print(_row(name, summary))
    if "patterns" in out:
        print("\npatterns (generated multi-host incidents)")
        for name, p in out["patterns"].items():
            print(
                f"  {name:<15} [{p['detectors']}] incidents {p['incidents']}  recall {p['incident_recall']}  "
                f"(of detected {p['recall_of_detected']})  false patterns {p['false_patterns']}  "
                f"alerts {p['alerts_per_host']} -> {p['alerts_published']} (reduction {p['alert_reduction']}; "
                f"within incidents {p['incident_alerts_per_host']} -> {p['incident_alerts_published']}, "
                f"{p['incident_alert_reduction']})"
            )
