"""``iops evaluate``: NAB-score detectors on a NAB-layout corpus through the streaming path."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli import insight_eval
from detectors import nab
from detectors.evaluate import evaluate


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="NAB-score detectors on a corpus (data/<category>/*.csv + labels)")
    p.add_argument("--corpus", required=True, type=Path, help="NAB-layout directory")
    p.add_argument(
        "--detector",
        action="append",
        metavar="NAME",
        help="detector to score, repeatable; 'a+b' scores their combination (default: every local detector)",
    )
    p.add_argument(
        "--profile",
        action="append",
        choices=list(nab.PROFILES),
        help="profile(s) to show in the report (default: all; --json always carries all three)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--results-dir", type=Path, help="also write NAB-style result CSVs here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    insight_eval.add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not (args.corpus / "data").is_dir():
        print(f"error: {args.corpus}/data not found (expected NAB layout)", file=sys.stderr)
        return 2
    try:
        out = evaluate(args.corpus, args.detector, args.results_dir, progress=not args.no_progress)
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out |= insight_eval.run(args, args.corpus)
    if args.json:
        print(json.dumps(out))
        return 0
    profiles = args.profile or list(nab.PROFILES)
    print(f"{out['points']} points in {out['seconds']:.1f}s")
    for name, entry in out["detectors"].items():
        print(f"\n{name}")
        for profile in profiles:
            best = entry[profile]
            print(f"  {profile:<20} score {best['score']:7.2f}  threshold {best['threshold']:.6g}")
            for category, cat in entry["by_category"].items():
                score = cat[profile]["score"]
                shown = "   n/a " if score is None else f"{score:7.2f}"
                print(f"    {category:<26} score {shown}  raw {cat[profile]['raw']:8.3f}  windows {cat['windows']}")
        for failure in entry["failures"]:
            print(f"  failed: {failure}", file=sys.stderr)
    insight_eval.print_report(out)
    return 0
