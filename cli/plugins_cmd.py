"""``iops plugins``: every discovered plugin, its detectors and enrichers, and what is enabled."""

from __future__ import annotations

import argparse
import json

from detectors import plugins


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list detector plugins (built-in or from which distribution)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


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
    return 0
