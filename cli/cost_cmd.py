"""``iops cost``: the monthly bill of a stack for a fleet, itemised per service, and what dominates.

Prices come from ``cli/prices.json`` (AWS public prices, us-east-1, with their date); the stack's
shape from ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml`` and the definitions the program builds from
(`cost.StackShape`); the detector-state size is measured by running the stack's detectors.
Everything else is a stated assumption (``--assumptions``).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace

from cli import cost

CODEC_RUNS = 50
"""Repetitions behind the codec timing ``--state-size`` prints."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cost", help="estimate the monthly AWS bill for a fleet (itemised, per host count)")
    p.add_argument("--stack", default="dev", help="stack whose config to read (Pulumi.<stack>.yaml; default dev)")
    p.add_argument(
        "--hosts", type=int, nargs="+", default=[100, 1000, 10000], help="fleet sizes (default 100 1000 10000)"
    )
    p.add_argument("--metrics-per-host", type=int, default=cost.Fleet.metrics_per_host)
    p.add_argument("--interval", type=float, default=cost.Fleet.interval_s, help="seconds between a host's samples")
    p.add_argument(
        "--samples-per-request",
        type=int,
        default=cost.Fleet.samples_per_request,
        help="host samples per POST (collector batching)",
    )
    p.add_argument("--insights-per-host-day", type=float, default=cost.Fleet.insights_per_host_day)
    p.add_argument(
        "--alert-share", type=float, default=cost.Fleet.alert_share, help="share of insights that are HIGH/CRITICAL"
    )
    p.add_argument("--email-subscribers", type=int, default=cost.Fleet.email_subscribers)
    p.add_argument("--viewers", type=int, default=cost.Fleet.viewers, help="dashboards open at once, polling every 5 s")
    p.add_argument("--viewer-hours", type=float, default=cost.Fleet.viewer_hours, help="hours per month each is open")
    p.add_argument(
        "--sagemaker",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="SageMaker endpoint on/off (default: stack config)",
    )
    p.add_argument(
        "--ib-streams",
        type=int,
        default=cost.Fleet.ib_streams,
        help="InfiniBand streams sending through Kinesis, besides the simulator's (stacks with streamingEnabled)",
    )
    p.add_argument("--ib-events-per-minute", type=float, default=cost.Fleet.ib_events_per_minute)
    p.add_argument("--bedrock-calls", type=int, default=0, help="Bedrock enricher calls per month")
    p.add_argument(
        "--counter-metrics-per-host",
        type=int,
        default=cost.Fleet.counter_metrics_per_host,
        help="of the metrics per host, those sent as cumulative counters (OTLP sums, Prometheus counters)",
    )
    p.add_argument(
        "--metric-stream-metrics",
        type=int,
        default=cost.Fleet.metric_stream_metrics,
        help="CloudWatch metrics the metric stream sends (stacks with metricStreamNamespaces)",
    )
    p.add_argument("--free-tier", action="store_true", help="subtract AWS free-tier allowances")
    p.add_argument("--state-bytes", type=int, help="detector-state item size (default: measured)")
    p.add_argument(
        "--state-size",
        action="store_true",
        help="measure one series' and one host's detector state as stored (bytes, write units) and exit",
    )
    p.add_argument("--detail", action="store_true", help="also print each fleet's itemised notes")
    p.add_argument("--assumptions", action="store_true", help="print the workload assumptions and exit")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.assumptions:
        print(json.dumps(asdict(cost.DEFAULT_ASSUMPTIONS), indent=2))
        return 0
    stack = cost.StackShape.from_config(cost.stack_config(args.stack), args.stack)
    if args.state_size:
        return _state_size(stack, args)
    sagemaker = stack.sagemaker_endpoint if args.sagemaker is None else args.sagemaker
    state_bytes = args.state_bytes or cost.measure_state_bytes(
        stack.detectors, args.interval, cost.DEFAULT_ASSUMPTIONS.sample_decimals
    )
    assumptions = replace(cost.DEFAULT_ASSUMPTIONS, state_bytes=state_bytes)
    fleets = [
        cost.Fleet(
            hosts=h,
            metrics_per_host=args.metrics_per_host,
            interval_s=args.interval,
            samples_per_request=args.samples_per_request,
            insights_per_host_day=args.insights_per_host_day,
            alert_share=args.alert_share,
            email_subscribers=args.email_subscribers,
            viewers=args.viewers,
            viewer_hours=args.viewer_hours,
            sagemaker=sagemaker,
            bedrock_calls=args.bedrock_calls,
            free_tier=args.free_tier,
            ib_streams=args.ib_streams,
            ib_events_per_minute=args.ib_events_per_minute,
            counter_metrics_per_host=args.counter_metrics_per_host,
            metric_stream_metrics=args.metric_stream_metrics,
        )
        for h in args.hosts
    ]
    estimates = [cost.estimate(f, stack, assumptions) for f in fleets]
    cuts = [cost.levers(f, stack, assumptions) for f in fleets] if not args.state_bytes else []
    if args.json:
        print(
            json.dumps(
                {
                    "prices": {k: cost.prices()[k] for k in ("region", "currency", "as_of")},
                    "state_bytes": state_bytes,
                    "estimates": [e.as_dict() for e in estimates],
                    "levers": [[asdict(x) for x in per_fleet] for per_fleet in cuts],
                },
                indent=2,
            )
        )
        return 0
    p = cost.prices()
    f0 = fleets[0]
    print(
        f"Monthly estimate, stack {args.stack}: {p['region']} list prices of {p['as_of']} ({cost.PRICES_FILE.name}), {p['currency']}"
    )
    print(
        f"Fleet: {f0.metrics_per_host} metrics per host every {f0.interval_s:g} s, {f0.samples_per_request} host sample(s) per POST, "
        f"{f0.insights_per_host_day:g} insight/host/day ({f0.alert_share:.0%} alerted), {f0.viewers} dashboard viewer(s) x "
        f"{f0.viewer_hours:g} h polling every 5 s, SageMaker {'on' if sagemaker else 'off'}, {f0.bedrock_calls:,} Bedrock calls, "
        f"free tier {'applied' if f0.free_tier else 'not applied'}"
    )
    if stack.streaming:
        sim = f" + the simulator's {stack.simulator_streams}" if stack.simulator else ""
        print(
            f"Streaming tier: {f0.ib_streams} InfiniBand streams x {f0.ib_events_per_minute:g} events/min{sim}, "
            f"Kinesis {f'{stack.kinesis_shards} shards' if stack.kinesis_shards else 'on demand'}"
        )
    print(f"Detector state per series: {state_bytes:,} bytes (measured, detectors: {', '.join(stack.detectors)})\n")
    print(cost.render(estimates))
    print()
    for e in estimates:
        line = e.dominant()
        driver, usd = e.driver()
        print(
            f"{e.fleet.hosts:>7,} hosts: ${e.total:,.2f}; largest service {line.service} ({line.usd / e.total:.0%}); "
            f"largest driver {driver} ${usd:,.2f} ({usd / e.total:.0%})"
        )
        if args.detail:
            for x in e.lines:
                print(f"          {x.service:<12} ${x.usd:>10,.2f}  {x.notes}")
    first = estimates[0]
    print(
        f"\nSeeds' claim without ML: $5-25/month. This design at {first.fleet.hosts:,} hosts: ${first.total:,.2f}, "
        f"of which detector-state writes ${first.parts['DynamoDB detector-state writes']:,.2f} (no line for them in the seeds)."
    )
    if cuts:
        print("\nWhat would cut it (each change alone; new monthly total):")
        width = max(len(lever.name) for lever in cuts[0])
        print(f"  {'':<{width}}  " + "  ".join(f"{f'{f.hosts:,} hosts':>18}" for f in fleets))
        for i, lever in enumerate(cuts[0]):
            cells = [f"${c[i].after:>10,.2f} ({(c[i].after - c[i].before) / c[i].before:+.0%})" for c in cuts]
            print(f"  {lever.name:<{width}}  " + "  ".join(cells))
        print(
            f"  (detector state measured at {state_bytes:,} bytes per series as stored; a 300 s window needs iteratorAgeThresholdMs above 300,000)"
        )
    print(
        "\nNot modelled: the correlation table's writes (a few per anomaly), Kinesis retention beyond 24 h, the dashboard "
        "site's CloudFront traffic (within the always-free 1 TB), data transfer out, tax. `--assumptions` lists the rest."
    )
    return 0


def _state_size(stack: cost.StackShape, args: argparse.Namespace) -> int:
    """One series' state after `cost.MEASURE_DAYS` of points, stored as the AI tier stores it, beside
    the formats earlier versions stored; a host's state is one item per metric."""
    import zlib

    from iops.dal.detector_state import decode_state, encode_state, stored_bytes, write_units

    series, state = cost.measure_state_series(stack.detectors, args.interval, cost.DEFAULT_ASSUMPTIONS.sample_decimals)
    item = stored_bytes(series, state)
    encoded = encode_state(state)
    started = time.perf_counter()
    for _ in range(CODEC_RUNS):
        encode_state(state)
    encode_ms = (time.perf_counter() - started) / CODEC_RUNS * 1000
    started = time.perf_counter()
    for _ in range(CODEC_RUNS):
        decode_state(encoded)
    decode_ms = (time.perf_counter() - started) / CODEC_RUNS * 1000
    # state is written at checkpoints (stateCheckpointPoints/Seconds), as the bill counts the writes
    work = cost.workload(
        cost.Fleet(hosts=1, metrics_per_host=args.metrics_per_host, interval_s=args.interval),
        stack,
        replace(cost.DEFAULT_ASSUMPTIONS, state_bytes=item),
    )
    samples_per_write = work.series_points / work.state_writes
    text = state.to_json()
    overhead = item - len(encoded["B"])  # key, ttl and attribute names
    formats = {
        "plain JSON (before 606a08e)": len(text.encode()) + overhead,
        "zlib of the JSON (606a08e)": len(zlib.compress(text.encode(), 6)) + overhead,
        "state codec (now)": item,
    }
    result = {
        "detectors": list(stack.detectors),
        "points": int(cost.MEASURE_DAYS * 86_400 / args.interval),
        "series": {name: {"bytes": b, "write_units": write_units(b)} for name, b in formats.items()},
        "host": {
            "metrics": args.metrics_per_host,
            "bytes": item * args.metrics_per_host,
            "write_units_per_write": write_units(item) * args.metrics_per_host,
            "samples_per_write": round(samples_per_write, 2),
            "write_units_per_sample": round(write_units(item) * args.metrics_per_host / samples_per_write, 3),
        },
        "codec_ms": {"encode": round(encode_ms, 3), "decode": round(decode_ms, 3)},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"Detector state of one series after {result['points']:,} points every {args.interval:g} s "
        f"(detectors: {', '.join(stack.detectors)}), as one DynamoDB item:"
    )
    for name, size in result["series"].items():
        print(f"  {name:<28} {size['bytes']:>6,} bytes  {size['write_units']} write units")
    host = result["host"]
    print(
        f"One host ({host['metrics']} metrics, one item each): {host['bytes']:,} bytes, "
        f"{host['write_units_per_write']} write units per state write, written every {host['samples_per_write']:g} "
        f"samples (stateCheckpointPoints/Seconds): {host['write_units_per_sample']:g} write units per sample"
    )
    print(
        f"Decoding + encoding one series' state on this machine: {decode_ms:.2f} + {encode_ms:.2f} ms "
        f"(the model assumes {cost.DEFAULT_ASSUMPTIONS.state_codec_ms:g} ms: Assumptions.state_codec_ms)"
    )
    return 0
