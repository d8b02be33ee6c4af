"""``iops``: one entry point, one module per subcommand.

Each module in `COMMANDS` defines ``add_parser(subparsers)``, which adds its subparser and
sets ``func`` (called with the parsed args, returns an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = (
    "cli.local_cmd",
    "cli.demo_cmd",
    "cli.plugins_cmd",
    "cli.evaluate_cmd",
    "cli.train_cmd",
    "cli.cost_cmd",
    "cli.replay_cmd",
    "cli.token_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iops", description="IOps Dashboard: serverless AIOps on AWS or locally.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
