"""``iops evaluate``: NAB-score detectors on a NAB-layout corpus through the streaming path.

``--cv K`` adds cross-validated scores (`detectors.cv`), ``--detector default`` scores what the
stack deploys (Pulumi.yaml), ``--recurrence`` scores recurring incidents and noise on generated
series (`detectors.recurrence`, no corpus needed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli import insight_eval
from detectors import nab
from detectors.evaluate import evaluate, stack_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="NAB-score detectors on a corpus (data/<category>/*.csv + labels)")
    p.add_argument("--corpus", type=Path, help="NAB-layout directory (required unless --recurrence)")
    p.add_argument(
        "--detector",
        action="append",
        metavar="NAME",
        help="detector to score, repeatable; 'a+b' scores their combination (the runtime's max), "
        "'0.7*a+0.3*b' their weighted max (as detectorWeights), 'w:a+b' with fitted weights, 'default' "
        "what the stack deploys (Pulumi.yaml) (default: every local detector; with --recurrence: default)",
    )
    p.add_argument(
        "--cv",
        type=int,
        metavar="K",
        help="also cross-validate: thresholds (and fitted weights) fitted without each fold; folds are "
        "leave-one-category-out when >= 2 categories have windows (K is then ignored), else K folds by file",
    )
    p.add_argument("--stack", metavar="NAME", help="for 'default': apply Pulumi.NAME.yaml's overrides")
    p.add_argument(
        "--threshold",
        type=float,
        help="also score at this fixed threshold (at_threshold); with --recurrence: the alert threshold "
        "(default: the stack's anomalyThreshold)",
    )
    p.add_argument(
        "--recurrence",
        action="store_true",
        help="score recurring incidents, persistent changes and noise on generated series at the deployed threshold",
    )
    p.add_argument(
        "--feedback",
        action="store_true",
        help="how much feedback changes alerts: a generated benign nightly job and real incidents, per verdict",
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
    if args.recurrence:
        return run_recurrence(args)
    if args.feedback:
        from local import feedback_eval

        out = feedback_eval.evaluate()
        if args.json:
            print(json.dumps(out))
        else:
            feedback_eval.print_report(out)
        return 0
    if args.corpus is None:
        print("error: --corpus is required (unless --recurrence or --feedback)", file=sys.stderr)
        return 2
    if not (args.corpus / "data").is_dir():
        print(f"error: {args.corpus}/data not found (expected NAB layout)", file=sys.stderr)
        return 2
    try:
        stack = stack_config(stack=args.stack) if args.detector and "default" in args.detector else None
        out = evaluate(
            args.corpus,
            args.detector,
            args.results_dir,
            progress=not args.no_progress,
            cv=args.cv,
            stack=stack,
            threshold=args.threshold,
        )
    except (LookupError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out |= insight_eval.run(args, args.corpus)
    if args.json:
        print(json.dumps(out))
        return 0
    profiles = args.profile or list(nab.PROFILES)
    print(f"{out['points']} points in {out['seconds']:.1f}s")
    if "cv" in out:
        cv = out["cv"]
        note = (
            ""
            if cv["method"] != "leave-one-category-out"
            else f" (K = {cv['k']} categories; --cv {cv['requested_k']} ignored)"
        )
        print(f"cross-validation: {cv['method']}, {cv['k']} folds{note}")
    for name, entry in out["detectors"].items():
        extra = ""
        if "members" in entry:
            extra = f"  = {' + '.join(entry['members'])} ({entry['combine']})"
        if "weights" in entry:
            extra += "  weights " + ", ".join(f"{k} {v:g}" for k, v in entry["weights"].items())
        print(f"\n{name}{extra}")
        for profile in profiles:
            best = entry[profile]
            line = f"  {profile:<20} score {best['score']:7.2f}  threshold {best['threshold']:.6g}"
            if "cv" in entry:
                c = entry["cv"][profile]
                cv_score = "   n/a " if c["score"] is None else f"{c['score']:7.2f}"
                thr = ", ".join(f"{f['fold']} {f['threshold']:.4g}" for f in c["folds"])
                line += f"  | cv {cv_score}  (fold thresholds: {thr})"
            for key in ("at_stack_threshold", "at_threshold"):
                if key in entry:
                    at = entry[key]
                    shown = "n/a" if at[profile]["score"] is None else f"{at[profile]['score']:.2f}"
                    line += f"  | {key} {at['threshold']:g}: {shown}"
            print(line)
            for category, cat in entry["by_category"].items():
                score = cat[profile]["score"]
                shown = "   n/a " if score is None else f"{score:7.2f}"
                print(f"    {category:<26} score {shown}  raw {cat[profile]['raw']:8.3f}  windows {cat['windows']}")
        for key in ("at_stack_threshold", "at_threshold"):
            if key in entry:
                at = entry[key]
                print(
                    f"  {key} {at['threshold']:g}: {at['windows_found']}/{at['windows']} windows found, "
                    f"{at['false_positive_points']} false-positive points"
                )
        for failure in entry["failures"]:
            print(f"  failed: {failure}", file=sys.stderr)
    insight_eval.print_report(out)
    return 0


def run_recurrence(args: argparse.Namespace) -> int:
    from detectors import recurrence

    try:
        stack = stack_config(stack=args.stack)
        out = recurrence.evaluate(
            names=args.detector, threshold=args.threshold, stack=stack, progress=not args.no_progress
        )
    except (LookupError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out))
        return 0
    recurrence.print_report(out)
    return 0
