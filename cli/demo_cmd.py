"""``iops demo``: realistic traffic with injected anomalies, to any API (local or deployed)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

from tqdm import tqdm

from local.traffic import Fleet, post

BATCH = 250


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="send demo metrics with injected anomalies to an API")
    p.add_argument(
        "--api", required=True, help="API base URL, e.g. http://127.0.0.1:8000 or `pulumi stack output apiUrl`"
    )
    p.add_argument(
        "--api-key", default=os.environ.get("IOPS_API_KEY"), help="x-api-key for POST /metrics (env IOPS_API_KEY)"
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


def run(args: argparse.Namespace) -> int:
    fleet = Fleet(hosts=args.hosts, streams=args.streams, seed=args.seed)
    sent = backfill(args.api, args.api_key, fleet, args.minutes)
    print(f"sent {sent} points for {len(fleet.entities)} entities; injected:")
    for inj in fleet.injected:
        print(f"  {inj.kind:<12} {inj.entity:<14} {inj.metric}")
    if args.live > 0:
        print(f"live: one point per entity every {args.live:g}s (Ctrl-C to stop)")
        live(args.api, args.api_key, fleet, args.live, threading.Event())
    return 0
