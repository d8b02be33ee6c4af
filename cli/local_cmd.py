"""``iops local``: the whole system on this machine, on an embedded AWS emulator."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from local import runfile
from local.system import LocalSystem


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("local", help="run the whole system locally (embedded AWS emulator)")
    p.add_argument("--port", type=int, default=8000, help="API and dashboard port (default 8000)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--public-url",
        metavar="URL",
        help="URL browsers reach this system at, for config.json and alert links (default http://HOST:PORT)",
    )
    p.add_argument("--api-key", help="API key POST /metrics requires (default: generated)")
    p.add_argument("--demo", action="store_true", help="also send demo traffic with injected anomalies")
    p.add_argument("--demo-minutes", type=int, default=120, help="history the demo backfills (default 120)")
    p.add_argument("--kinesis", action="store_true", help="also run the streaming tier (Kinesis stream + process handler)")
    p.add_argument("--detectors", help="comma-separated detectors to run (env IOPS_DETECTORS)")
    p.add_argument(
        "--alerts-webhook",
        metavar="URL",
        help="POST each HIGH/CRITICAL alert to URL as an SNS HTTP notification (default: print alerts)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    extra = {"IOPS_DETECTORS": args.detectors} if args.detectors else {}
    system = LocalSystem(
        port=args.port,
        host=args.host,
        public_url=args.public_url,
        extra_env=extra,
        alerts_webhook=args.alerts_webhook,
    )
    system.kinesis = system.kinesis or args.kinesis
    if args.api_key:
        system.api_key = args.api_key
    try:
        system.start()
    except OSError as exc:
        print(f"iops local: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    runfile.write(args.port, system.url, system.api_key, system.emu.environment() | extra)
    print(f"IOps Dashboard (local) at {system.url}", flush=True)
    print(f"  dashboard  {system.url}/", flush=True)
    print(f"  API        {system.url}  (POST /metrics needs x-api-key: {system.api_key})", flush=True)
    print(f"  emulator   {system.emu.endpoint}", flush=True)
    print(f"  alerts     {args.alerts_webhook or 'printed here'}", flush=True)
    if system.kinesis_stream:
        print(f"  kinesis    {system.kinesis_stream}  (feed it: iops demo --kinesis --endpoint {system.emu.endpoint})", flush=True)
    stop = threading.Event()
    # Ctrl-C and kill both stop cleanly, also when a shell started this in the background with SIGINT ignored
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if args.demo:
        from cli.demo_cmd import backfill, live
        from local.traffic import Fleet

        def demo() -> None:
            fleet = Fleet()
            try:
                backfill(system.url, system.api_key, fleet, args.demo_minutes)
                print("demo: history sent; injected " + ", ".join(f"{i.kind} on {i.entity} {i.metric}" for i in fleet.injected), flush=True)
                live(system.url, system.api_key, fleet, 5.0, stop)
            except Exception as exc:  # noqa: BLE001
                print(f"demo traffic stopped: {exc}", file=sys.stderr)

        threading.Thread(target=demo, name="demo", daemon=True).start()
    stop.wait()
    print("stopping...", flush=True)
    runfile.remove(args.port)
    system.stop()
    return 0
