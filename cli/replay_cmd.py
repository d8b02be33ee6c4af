"""``iops replay``: re-score stored metrics of a time range (what a DLQ message points at).

Against a deployed stack the batches go to the AI function itself (``lambda:InvokeFunction``),
so they are scored with the stack's own detectors and settings; against a running ``iops local``
they go to the same handler in this process, pointed at that run's emulator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from tqdm import tqdm

from iops.logic import replay
from iops.models.common import parse_timestamp
from local import runfile


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="re-score stored metrics of a time range (after a DLQ message)")
    p.add_argument("--from", dest="start", required=True, help="start, ISO 8601 or epoch seconds")
    p.add_argument("--to", dest="end", required=True, help="end, ISO 8601 or epoch seconds")
    p.add_argument("--host", help="only this host (or ib/<stream>); default: every host (a table scan)")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--local", type=int, metavar="PORT", help="the iops local on this port (default 8000)")
    target.add_argument("--function", help="a deployed stack's AI function (pulumi stack output aiFunction)")
    p.add_argument("--metrics-table", help="with --function: pulumi stack output metricsTable")
    p.add_argument("--json", action="store_true", help="print the totals as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        start_ms, end_ms = parse_timestamp(args.start), parse_timestamp(args.end)
    except ValueError as exc:
        print(f"iops replay: {exc}", file=sys.stderr)
        return 2
    if args.function:
        if not args.metrics_table:
            print("iops replay: --function needs --metrics-table", file=sys.stderr)
            return 2
        import boto3

        ddb, table, send = boto3.client("dynamodb"), args.metrics_table, _lambda_sender(args.function)
    else:
        port = args.local or 8000
        env = runfile.local_environment(port)
        if env is None:
            print(f"iops replay: no iops local running on port {port} (start it, or use --function)", file=sys.stderr)
            return 2
        os.environ.update(env)
        from handlers.definitions import METRICS
        from iops.dal import aws

        ddb, table, send = aws.client("dynamodb"), env[METRICS.env_var], _local_sender()
    try:
        items = replay.stored_items(ddb, table, start_ms, end_ms, args.host)
    except ValueError as exc:
        print(f"iops replay: {exc}", file=sys.stderr)
        return 2
    totals = {"items": len(items), "points": 0, "late": 0, "insights": 0, "published": 0, "failed_records": 0}
    with tqdm(total=len(items), unit="item", file=sys.stderr, desc="replay", disable=args.json) as bar:
        for event in replay.replay_events(items):
            got = send(event)
            for key, value in got.items():
                totals[key] += value
            bar.update(len(event["Records"]))
    if args.json:
        print(json.dumps(totals))
    else:
        print(
            f"replayed {totals['items']} items ({totals['points']} points, {totals['late']} late): "
            f"{totals['insights']} insights, {totals['published']} alerts published, "
            f"{totals['failed_records']} records failed"
        )
    return 1 if totals["failed_records"] else 0


def _lambda_sender(function: str) -> Any:
    import boto3

    client = boto3.client("lambda")

    def send(event: dict) -> dict:
        resp = client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        payload = json.loads(resp["Payload"].read() or b"{}")
        if resp.get("FunctionError"):
            raise SystemExit(f"iops replay: {function} failed: {payload}")
        return payload["replay"]

    return send


def _local_sender() -> Any:
    from handlers import ai
    from local.lambda_runtime import LocalContext

    def send(event: dict) -> dict:
        return ai.handler(event, LocalContext("iops-local-ai", timeout_s=60.0))["replay"]

    return send
