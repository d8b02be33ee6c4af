"""``iops local``: the whole system on this machine, on an embedded AWS emulator.

As in the stack, writers send with their own API key and readers sign in: each writer (``--writer``,
default the dev stack's ``writers`` config, else one named ``local``) gets a key, generated unless
given (``--api-key`` for the first, ``--writer-keys FILE`` for any), and the emulator's user pool gets
one user (``--user``/``--password`` or ``IOPS_LOCAL_USER``/``IOPS_LOCAL_PASSWORD``, else ``admin`` and
a generated password). The banner prints the user and password; the run file keeps everything.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from local import cognito, runfile
from local.system import LocalSystem, configured_writers, writer_keys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("local", help="run the whole system locally (embedded AWS emulator)")
    p.add_argument("--port", type=int, default=8000, help="API and dashboard port (default 8000)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--public-url",
        metavar="URL",
        help="URL browsers reach this system at, for config.json and alert links (default http://HOST:PORT)",
    )
    p.add_argument("--api-key", help="the first writer's API key for POST /metrics (default: generated)")
    p.add_argument(
        "--writer",
        action="append",
        metavar="NAME",
        help="a writer that gets its own API key; repeat for more (default: the writers of Pulumi.dev.yaml, else 'local')",
    )
    p.add_argument(
        "--writer-keys",
        type=Path,
        metavar="FILE",
        help='JSON {"writer": "key", ...}: keys for the writers named there (others get a generated key)',
    )
    p.add_argument(
        "--user",
        default=os.environ.get("IOPS_LOCAL_USER", cognito.DEFAULT_USER),
        help="the user who signs in to the dashboard (env IOPS_LOCAL_USER; default admin)",
    )
    p.add_argument(
        "--password",
        default=os.environ.get("IOPS_LOCAL_PASSWORD"),
        help="that user's password (better: env IOPS_LOCAL_PASSWORD; default: generated)",
    )
    p.add_argument("--demo", action="store_true", help="also send demo traffic with injected anomalies")
    p.add_argument("--demo-minutes", type=int, default=120, help="history the demo backfills (default 120)")
    p.add_argument(
        "--kinesis", action="store_true", help="also run the streaming tier (Kinesis stream + process handler)"
    )
    p.add_argument("--detectors", help="comma-separated detectors to run (env IOPS_DETECTORS)")
    p.add_argument(
        "--alerts-webhook",
        metavar="URL",
        help="POST each HIGH/CRITICAL alert to URL as an SNS HTTP notification (default: print alerts)",
    )
    p.set_defaults(func=run)


def known_keys(path: Path | None) -> dict[str, str]:
    """The writer keys of a ``--writer-keys`` file (a JSON object of names to keys)."""
    if path is None:
        return {}
    try:
        keys = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"--writer-keys {path}: {exc}") from None
    if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in keys.items()):
        raise ValueError(f"--writer-keys {path}: expected a JSON object of writer names to keys")
    return keys


def run(args: argparse.Namespace) -> int:
    extra = {"IOPS_DETECTORS": args.detectors} if args.detectors else {}
    problem = _unknown_plugins(extra)
    if problem:
        print(f"iops local: {problem}; see `iops plugins`", file=sys.stderr)
        return 2
    try:
        writers = writer_keys(args.writer or configured_writers(), known_keys(args.writer_keys), args.api_key)
    except ValueError as exc:
        print(f"iops local: {exc}", file=sys.stderr)
        return 2
    system = LocalSystem(
        port=args.port,
        writers=writers,
        user=args.user,
        host=args.host,
        public_url=args.public_url,
        extra_env=extra,
        alerts_webhook=args.alerts_webhook,
    )
    if args.password:
        system.password = args.password
    system.kinesis = system.kinesis or args.kinesis
    try:
        system.start()
    except ValueError as exc:  # a password the pool's policy refuses
        print(f"iops local: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"iops local: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    assert system.pool is not None
    sign_in = runfile.SignIn(
        user=system.user,
        password=system.password,
        user_pool_id=system.pool.user_pool_id,
        client_id=system.pool.client_id,
        region=system.pool.region,
        cognito_endpoint=system.pool.endpoint,
    )
    kept = runfile.write(
        args.port, system.url, system.api_key, system.emu.environment() | extra, writers=writers, sign_in=sign_in
    )
    first, *others = writers
    print(f"IOps Dashboard (local) at {system.url}", flush=True)
    print(f"  dashboard  {system.url}/", flush=True)
    print(
        f"  sign in    user {system.user}, password {system.password}  (a token for curl: iops token --api {system.url})",
        flush=True,
    )
    print(f"  API        {system.url}  (POST /metrics needs x-api-key: {system.api_key})", flush=True)
    print(f"  writers    {first} (the key above)" + "".join(f", {w}" for w in others) + f"; keys in {kept}", flush=True)
    print(f"  emulator   {system.emu.endpoint}", flush=True)
    print(f"  alerts     {args.alerts_webhook or 'printed here'}", flush=True)
    if system.kinesis_stream:
        print(
            f"  kinesis    {system.kinesis_stream}  (feed it: iops demo --kinesis --endpoint {system.emu.endpoint})",
            flush=True,
        )
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
                print(
                    "demo: history sent; injected "
                    + ", ".join(f"{i.kind} on {i.entity} {i.metric}" for i in fleet.injected),
                    flush=True,
                )
                live(system.url, system.api_key, fleet, 5.0, stop)
            except Exception as exc:  # noqa: BLE001
                print(f"demo traffic stopped: {exc}", file=sys.stderr)

        threading.Thread(target=demo, name="demo", daemon=True).start()
    stop.wait()
    print("stopping...", flush=True)
    runfile.remove(args.port)
    busy = system.stop()
    if busy:
        # a batch still running would hold the interpreter's exit (its DynamoDB pool retries against
        # the stopped emulator); what it was writing is gone with the emulator anyway
        print(f"stopped; abandoned the batch in flight in {', '.join(busy)}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(0)
    return 0


def _unknown_plugins(extra: dict[str, str]) -> str | None:
    """A typo in the detectors or enrichers must stop the start, not every AI batch after it."""
    from detectors import plugins
    from iops.settings import PluginSettings, SettingsError

    try:
        settings = PluginSettings.from_env({**os.environ, **extra})
    except SettingsError as exc:
        return str(exc)
    return plugins.unknown_names(settings)
