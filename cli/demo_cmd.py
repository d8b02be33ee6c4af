"""``iops demo``: realistic traffic with injected anomalies, to any API (local or deployed)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

from tqdm import tqdm

from handlers.definitions import IB_EVENTS
from local import runfile
from local.emulator import LOCAL_PREFIX
from local.traffic import Fleet, post

BATCH = 250


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="send demo metrics with injected anomalies to an API")
    p.add_argument(
        "--api", help="API base URL, e.g. http://127.0.0.1:8000 or `pulumi stack output apiUrl`"
    )
    p.add_argument(
        "--kinesis", action="store_true", help="put InfiniBand events on the Kinesis stream instead of calling the API"
    )
    p.add_argument(
        "--endpoint", help="with --kinesis: the emulator URL `iops local --kinesis` prints (default: your AWS account)"
    )
    p.add_argument(
        "--stream",
        default=IB_EVENTS.physical_name(LOCAL_PREFIX),
        help="with --kinesis: stream name (default: the local one; deployed: `pulumi stack output kinesisStreamName`)",
    )
    p.add_argument("--events-per-minute", type=float, default=60, help="with --kinesis: events per stream per minute")
    p.add_argument(
        "--api-key",
        default=os.environ.get("IOPS_API_KEY"),
        help="x-api-key for POST /metrics (env IOPS_API_KEY; default for a loopback URL: the key of that `iops local`)",
    )
    p.add_argument("--hosts", type=int, default=5, help="number of hosts (default 5)")
    p.add_argument("--streams", type=int, default=3, help="number of InfiniBand streams (default 3)")
    p.add_argument(
        "--minutes", type=int, default=120, help="minutes of history to backfill, one point per minute (default 120)"
    )
    p.add_argument(
        "--live", type=float, default=0, metavar="SECONDS", help="then keep sending one point per entity every SECONDS"
    )
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=run)


def backfill(api: str, api_key: str | None, fleet: Fleet, minutes: int, progress: bool = True) -> int:
    points = list(fleet.history(minutes, end=time.time() - 60))
    with tqdm(total=len(points), unit="pt", desc="demo history", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(points), BATCH):
            chunk = points[start : start + BATCH]
            post(api, api_key, chunk)
            bar.update(len(chunk))
    return len(points)


def live(api: str, api_key: str | None, fleet: Fleet, every: float, stop: threading.Event) -> None:
    """One point per entity every ``every`` seconds, a fresh anomaly now and then."""
    rng = fleet.rng
    while not stop.wait(every):
        now = time.time()
        if rng.random() < every / 60:
            entity = rng.choice(list(fleet.entities))
            metric = rng.choice(list(fleet.entities[entity]))
            fleet.inject(entity, metric, "spike", now, now + every)
            print(f"demo: injected a spike on {entity} {metric}", file=sys.stderr)
        try:
            post(api, api_key, fleet.sample(now))
        except Exception as exc:  # noqa: BLE001 - keep the demo going through a hiccup
            print(f"demo: send failed: {exc}", file=sys.stderr)


def run_kinesis(args: argparse.Namespace) -> int:
    """InfiniBand events onto the Kinesis stream, from the generator the simulator Lambda uses."""
    from iops.logic.ib_simulator import IbGenerator, put_events
    from local import kinesis

    gen = IbGenerator(streams=args.streams, events_per_minute=args.events_per_minute, seed=args.seed)
    client = kinesis.client(args.endpoint)
    sent = put_events(client, args.stream, gen.history(args.minutes, time.time()))
    print(f"put {sent} events for {len(gen.names)} InfiniBand streams on {args.stream}; injected:")
    for d in gen.injected:
        print(f"  {d.kind:<12} {d.stream:<14} {time.strftime('%H:%M', time.gmtime(d.start))}-{time.strftime('%H:%M', time.gmtime(d.end))} UTC")
    if args.live > 0:
        print(f"live: events every {args.live:g}s (Ctrl-C to stop)")
        kinesis.live(client, args.stream, gen, args.live, threading.Event())
    return 0


def run(args: argparse.Namespace) -> int:
    if args.kinesis:
        return run_kinesis(args)
    if not args.api:
        print("iops demo: --api URL is required (or --kinesis)", file=sys.stderr)
        return 2
    if not args.api_key:
        args.api_key = runfile.local_api_key(args.api)
        if args.api_key:
            print(f"demo: using the API key of the iops local at {args.api}", file=sys.stderr)
    fleet = Fleet(hosts=args.hosts, streams=args.streams, seed=args.seed)
    try:
        sent = backfill(args.api, args.api_key, fleet, args.minutes)
    except (RuntimeError, OSError) as exc:
        hint = "" if args.api_key else " (no API key: pass --api-key or set IOPS_API_KEY)"
        print(f"iops demo: {exc}{hint}", file=sys.stderr)
        return 1
    print(f"sent {sent} points for {len(fleet.entities)} entities; injected:")
    for inj in fleet.injected:
        print(f"  {inj.kind:<12} {inj.entity:<14} {inj.metric}")
    if args.live > 0:
        print(f"live: one point per entity every {args.live:g}s (Ctrl-C to stop)")
        live(args.api, args.api_key, fleet, args.live, threading.Event())
    return 0
