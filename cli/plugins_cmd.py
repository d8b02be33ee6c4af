"""``iops plugins``: every discovered plugin, its detectors and enrichers, and what is enabled;
``iops plugins new`` writes a plugin package, ``iops plugins build`` checks the AI package a stack deploys."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli import plugin_build, plugin_template
from components.artifacts import UNZIPPED_LIMIT
from detectors import plugins

ENABLE_HINT = "enable a detector: stack config `detectors` (pulumi config set --path 'detectors[N]' NAME) or `iops local --detectors statistical,NAME`"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list detector plugins (built-in or from which distribution); new; build")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    new = actions.add_parser("new", help="write a detector plugin package that passes the contract kit")
    new.add_argument("name", help="plugin and detector name: lower case, letters, digits, '_'")
    new.add_argument("--dir", type=Path, help="where to write it (default ./iops-NAME; must not exist)")
    new.set_defaults(func=run_new)
    build = actions.add_parser("build", help="build and check the AI Lambda package with the stack's extra plugins")
    build.add_argument("--stack", default="dev", help="stack whose extraDetectorPackages to use (Pulumi.<stack>.yaml)")
    build.add_argument("--extra", action="append", default=[], metavar="REQ", help="also install REQ (repeatable)")
    build.add_argument("--out", type=Path, help="keep the package's zip in this directory")
    build.add_argument(
        "--python",
        help=f"interpreter for the import check (default: one of Python {plugin_build.artifacts.LAMBDA_PYTHON})",
    )
    build.add_argument("--json", action="store_true", help="print the report as JSON")
    build.add_argument("--verbose", action="store_true", help="show pip's output")
    build.set_defaults(func=run_build)


def run(args: argparse.Namespace) -> int:
    owners = plugins.detector_owners()
    enricher_owners = plugins.enricher_owners()
    rule_owners = plugins.grouping_rule_owners()
    enabled = set(plugins.enabled_detector_names())
    rows = []
    for info in plugins.plugin_infos():
        # a plugin that registers only when switched on names its switch (bedrock: BEDROCK_ENABLED)
        switch = getattr(plugins.get_plugin_manager().get_plugin(info.name), "ENABLED_ENV", None)
        rows.append(
            {
                "plugin": info.name,
                "source": "built-in" if info.builtin else f"{info.distribution or '?'} {info.version or ''}".strip(),
                "module": info.module,
                "detectors": [
                    {"name": d, "enabled": d in enabled} for d, owner in sorted(owners.items()) if owner == info.name
                ],
                "enrichers": sorted(e for e, owner in enricher_owners.items() if owner == info.name),
                "grouping_rules": sorted(r for r, owner in rule_owners.items() if owner == info.name),
                "switch": switch,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        dets = ", ".join(f"{d['name']}{' (enabled)' if d['enabled'] else ''}" for d in row["detectors"]) or "-"
        line = f"{row['plugin']:<14} {row['source']:<28} detectors: {dets}; enrichers: {', '.join(row['enrichers']) or '-'}"
        if row["grouping_rules"]:
            line += f"; grouping rules: {', '.join(row['grouping_rules'])}"
        if row["switch"] and not (row["detectors"] or row["enrichers"] or row["grouping_rules"]):
            line += f" (off: set {row['switch']}=true)"
        print(line)
    if any(not d["enabled"] for row in rows for d in row["detectors"]):
        print(ENABLE_HINT)
    return 0


def run_new(args: argparse.Namespace) -> int:
    taken = {i.name for i in plugins.plugin_infos()} | set(plugins.all_detectors())
    problem = plugin_template.check_name(args.name, taken)
    if problem:
        print(f"iops plugins new: {problem}", file=sys.stderr)
        return 2
    directory = args.dir or Path(f"iops-{args.name.replace('_', '-')}")
    try:
        written = plugin_template.write(args.name, directory)
    except FileExistsError as exc:
        print(f"iops plugins new: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files to {directory}/ (plugin and detector {args.name!r})")
    print(f"  pip install -e '{directory}[test]' && pytest {directory}   # the contract kit")
    print(f"  iops plugins   # lists {args.name}, then enable it (stack config detectors or iops local --detectors)")
    return 0


def run_build(args: argparse.Namespace) -> int:
    extras = plugin_build.extra_packages(args.stack) + args.extra
    report = plugin_build.check(extras, args.out, args.python, quiet=not args.verbose)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        mib = 2**20
        print(f"AI package for stack {args.stack}: {report.package}")
        print(f"  extra packages: {', '.join(extras) or '-'}")
        print(
            f"  size: {report.unzipped / mib:.1f} MiB unzipped (Lambda's limit {UNZIPPED_LIMIT / mib:.0f} MiB), "
            f"{report.zipped / mib:.1f} MiB zipped" + (f" ({report.zip_path})" if report.zip_path else "")
        )
        print(f"  entry points: {', '.join(f'{n} = {m}' for n, m in report.entry_points.items()) or '-'}")
        if report.python:
            print(
                f"  imports: handler and every entry point under Python {report.python} (Lambda: {plugin_build.LAMBDA_RUNTIME})"
                + (": ok" if not report.import_errors else "")
            )
        for note in report.notes:
            print(f"  note: {note}")
        for problem in report.problems:
            print(f"  PROBLEM: {problem}", file=sys.stderr)
    return 1 if report.problems else 0
